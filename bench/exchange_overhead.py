"""CPU cost of create_oco_order (validation + request building + parsing + ccxt's request path)
against the raw implicit ccxt call that sends the same request, with the same stubbed transport.

Both run on the same instance, interleaved round by round (order alternating), each round a batch
of calls timed with process CPU time; the medians and their ratio are printed side by side.
Before timing, the requests both send are compared (method, URL, content without nonce/signature).

    .venv/bin/python bench/exchange_overhead.py [--rounds 60] [--batch 200]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import requests.cookies

import bracket_plugin


class StubResponse:
    status_code, reason = 200, 'OK'
    headers = {'Content-Type': 'application/json'}
    encoding = 'utf-8'

    def __init__(self, text):
        self.text = text
        self.content = text.encode()

    def raise_for_status(self):
        pass


class StubSession:
    """Answers every request with one canned body; below ccxt's fetch(), so ccxt's sign(),
    header preparation, JSON decoding and handle_errors() all run."""

    def __init__(self, answer: dict):
        self.text = json.dumps(answer)
        self.headers = {}
        self.cookies = requests.cookies.RequestsCookieJar()
        self.last = None

    def request(self, method, url, data=None, **kw):
        self.last = (method, url, data)
        return StubResponse(self.text)


def sent_content(session: StubSession):
    """What the last request asked for, without the per-request nonce, id and signature."""
    method, url, data = session.last
    body = json.loads(data)
    return method, url, body.get('params', body)   # Crypto.com: the signed params; KuCoin: the whole body


def market(symbol, id):
    base, quote = symbol.split('/')
    return {'id': id, 'symbol': symbol, 'base': base, 'quote': quote, 'baseId': base, 'quoteId': quote,
            'type': 'spot', 'spot': True, 'active': True, 'settle': None, 'contract': False,
            'precision': {'amount': 0.0001, 'price': 0.000001},
            'limits': {'amount': {'min': 0.001}, 'cost': {'min': 0.0001}, 'price': {}}, 'info': {}}


def setups():
    ku = bracket_plugin.kucoin({'apiKey': 'k', 'secret': 's', 'password': 'p', 'enableRateLimit': False})
    ku.session = StubSession({'code': '200000', 'data': {'orderId': '674c316e688dea0007c7b986'}})
    ku.set_markets([market('ETH/BTC', 'ETH-BTC')])
    ku_raw = {'symbol': 'ETH-BTC', 'side': 'sell', 'price': '0.06', 'size': '0.01', 'stopPrice': '0.05',
              'limitPrice': '0.0499', 'clientOid': 'bench-1'}

    cdc = bracket_plugin.cryptocom({'apiKey': 'k', 'secret': 's', 'enableRateLimit': False})
    cdc.session = StubSession({'id': 1, 'method': 'private/advanced/create-oco', 'code': 0,
                               'result': {'list_id': '6498090546073120100'}})
    cdc.set_markets([market('ETH/BTC', 'ETH_BTC')])
    cdc_raw = {'order_list': [
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'LIMIT', 'quantity': '0.01', 'price': '0.06',
         'client_oid': 'bench-1-t'},
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'STOP_LIMIT', 'quantity': '0.01', 'price': '0.0499',
         'ref_price': '0.05', 'ref_price_type': 'MARK_PRICE', 'client_oid': 'bench-1-s'}]}
    def formatted(ex, call, request):
        # what a careful raw caller does first: ccxt's own precision helpers on the four numbers
        def run():
            ex.amount_to_precision('ETH/BTC', 0.01)
            ex.price_to_precision('ETH/BTC', 0.06)
            ex.price_to_precision('ETH/BTC', 0.05)
            ex.price_to_precision('ETH/BTC', 0.0499)
            return call(request)
        return run

    return [
        ('kucoin', ku.session, lambda: ku.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499, {'clientOrderId': 'bench-1'}),
         lambda: ku.privatePostOcoOrder(ku_raw), formatted(ku, ku.privatePostOcoOrder, ku_raw)),
        ('cryptocom', cdc.session, lambda: cdc.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499, {'clientOrderId': 'bench-1'}),
         lambda: cdc.v1PrivatePostPrivateAdvancedCreateOco(cdc_raw),
         formatted(cdc, cdc.v1PrivatePostPrivateAdvancedCreateOco, cdc_raw)),
    ]


def batch_cpu(fn, n):
    t0 = time.process_time_ns()
    for _ in range(n):
        fn()
    return (time.process_time_ns() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=60)
    ap.add_argument('--batch', type=int, default=200)
    args = ap.parse_args()
    print(f'create_oco_order vs raw implicit call, stubbed transport, {args.rounds} interleaved rounds x {args.batch} calls')
    print('  raw       = the implicit ccxt call alone, request prebuilt')
    print('  raw+prec  = the same call after ccxt amount_to_precision/price_to_precision on the 4 numbers')
    print(f'{"exchange":<10} {"ours us":>8} {"raw us":>7} {"raw+prec us":>12} {"ours/raw":>9} {"ours/raw+prec":>14}')
    for name, session, ours, raw, raw_prec in setups():
        fns = (ours, raw, raw_prec)
        # a fair comparison: ours and the raw call send the same method, URL and request content
        ours()
        sent_ours = sent_content(session)
        raw()
        assert sent_content(session) == sent_ours, (sent_content(session), sent_ours)
        for _ in range(args.batch):    # warm-up (caches, lazy imports)
            for fn in fns:
                fn()
        times = ([], [], [])
        for r in range(args.rounds):
            order = (0, 1, 2) if r % 2 else (2, 1, 0)   # interleave, alternating order
            for i in order:
                times[i].append(batch_cpu(fns[i], args.batch))
        med = [statistics.median(t) / 1000 for t in times]
        r1 = statistics.median(a / b for a, b in zip(times[0], times[1]))
        r2 = statistics.median(a / b for a, b in zip(times[0], times[2]))
        print(f'{name:<10} {med[0]:>8.1f} {med[1]:>7.1f} {med[2]:>12.1f} {r1:>9.3f} {r2:>14.3f}')


if __name__ == '__main__':
    main()
