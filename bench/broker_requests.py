"""REST requests per bar cycle made by BracketStore + BracketFeed, with 1, 10 and 100 open brackets
over 1 and 5 symbols, against the simulator (KuCoin and Crypto.com dialects).

Counted at the transport (ccxt's `fetch`, one call per HTTP request). A cycle is what happens per
closed bar: each feed fetches its new bar, the store reads fills (one `fetch_my_trades` per symbol
with live orders). Brackets are OTOCOs whose entries rest far from the market, so nothing fills
and the cycle cost is the steady state. For comparison, the last column gives the open exchange
orders: what polling every order (one `fetch_order` each, as older ccxt bridges do) would cost.
`reconcile pass`: the requests of one scheduled read of the live orders and lists
(`BracketStore._reconcile_open`, every `reconcile_every` cycles, 12 by default), which is how an
out-of-band cancel is seen; `amortized` spreads it over its 12 cycles.

    .venv/bin/python bench/broker_requests.py [--cycles 5]
"""
from __future__ import annotations

import argparse
import collections

import backtrader as bt

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange
from bracket_plugin.backtrader.planner import ENTRY, LIMIT, OTOCO, STOP, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue

SYMBOLS = ['ETH/BTC', 'LTC/BTC', 'XRP/BTC', 'ADA/BTC', 'DOT/BTC']


def tick(x):
    return round(round(x / 1e-6) * 1e-6, 6)


def count_requests(exchange):
    counts = collections.Counter()
    real = exchange.fetch

    def fetch(url, method='GET', headers=None, body=None):
        path = url.split('?')[0]
        kind = 'fills' if ('fills' in path or 'get-trades' in path or 'trades' in path) else \
            'candles' if ('candles' in path or 'candlestick' in path) else 'other'
        counts[kind] += 1
        return real(url, method, headers, body)
    exchange.fetch = fetch
    return counts


def run(exchange_id, n_brackets, n_symbols, cycles, data):
    symbols = SYMBOLS[:n_symbols]
    with Venue(data={s: str(data) for s in symbols}, symbol=symbols[0], start=200, exchanges=(exchange_id,),
               fees={exchange_id: {'max_open_stops': None}}) as venue:
        ex = paper_exchange(venue, exchange_id)
        # the scheduled read is measured on its own below, not mixed into the per-cycle figures
        store = BracketStore(ex, journal=':memory:', reconcile_every=10 ** 9)
        feeds = [store.getdata(s, timeframe=bt.TimeFrame.Minutes, compression=5, advance=venue.step,
                               since=venue.engine_for(exchange_id).closed_bars(s, limit=1)[0].ts + 1) for s in symbols]
        engine = venue.engine_for(exchange_id)
        for i in range(n_brackets):
            s = symbols[i % n_symbols]
            px = float(engine.last_price(s)) * 0.5
            store.submit(BracketSpec(OTOCO, s, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=tick(px)),
                                                LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.99)),
                                                LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.02)))))
        counts = count_requests(ex)
        for _ in range(cycles):
            venue.step()
            bars = {}
            for f in feeds:   # what BracketFeed._load does per bar (no advance: we stepped above)
                new = f._fetch(f._last_ts + 1 if f._last_ts else f.p.since, f.p.limit)
                if new:
                    f._last_ts = new[-1][0]
                    bars[f.p.symbol] = tuple(new[-1][2:5])
            store.poll(bars)
        per_cycle = {k: v / cycles for k, v in counts.items()}
        before = sum(counts.values())
        store._reconcile_open()
        reconcile = sum(counts.values()) - before
        open_orders = len(engine.open_orders())
        return per_cycle, open_orders, reconcile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cycles', type=int, default=5)
    args = ap.parse_args()
    data = bundled_data_path()
    print(f'{"exchange":<10} {"brackets":>8} {"symbols":>7} {"req/cycle":>9} {"fills req":>9} '
          f'{"per symbol":>10} {"candles":>7} {"open orders":>11} {"reconcile pass":>14} {"amortized":>9}')
    for exchange_id in ('kucoin', 'cryptocom'):
        for n_symbols in (1, 5):
            for n in (1, 10, 100):
                c, open_orders, reconcile = run(exchange_id, n, n_symbols, args.cycles, data)
                total = sum(c.values())
                print(f'{exchange_id:<10} {n:>8} {n_symbols:>7} {total:>9.1f} {c["fills"]:>9.1f} '
                      f'{c["fills"] / n_symbols:>10.2f} {c["candles"]:>7.1f} {open_orders:>11} {reconcile:>14} '
                      f'{reconcile / 12:>9.2f}')


if __name__ == '__main__':
    main()
