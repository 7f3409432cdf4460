"""Whatever a caller passes to create_oco_order / create_oto_order / create_otoco_order, either a ccxt
exception (ccxt.BaseError) is raised before any request is sent, or exactly the expected request
goes out: the right fields and no others, amounts truncated to the lot and prices rounded to the
tick from the values given, extra params as given (Crypto.com: as strings), signed as the exchange
documents it. The transport is intercepted (tests/unit/exchange_wire.py): no sockets."""
import re
import sys
from decimal import Decimal
from pathlib import Path

import ccxt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'unit'))
from exchange_wire import SyncSession, Wire, cryptocom_check_signature, kucoin_check_signature, make  # noqa: E402

OWN = {'clientOrderId', 'stopLossLimitPrice', 'takeProfitLimitPrice', 'entryType', 'remark'}  # docs/exchange.md: not forwarded
GENERATED_ID = re.compile(r'bp[0-9a-f]{32}')
ANSWER = {'kucoin': {'code': '200000', 'data': {'orderId': 'o1'}},
          'cryptocom': {'id': 1, 'method': 'x', 'code': 0, 'result': {'list_id': '77'}}}
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- the inputs: coherent orders (sane numbers, levels ordered for the side) with a few fields
# ---- replaced by anything at all, and wholly arbitrary ones ----
BAD = st.sampled_from([float('nan'), float('inf'), float('-inf'), 'Infinity', 'NaN', True, False, 1e28, 2 ** 1024,
                       '1e400', [0.05], {'p': 1}, '', 'abc', ' 0.05', 0, -0.05, b'1', 1e-30, None])


def sane(lo, hi):
    return st.one_of(st.floats(lo, hi), st.decimals(Decimal(str(lo)), Decimal(str(hi)), places=8).map(str))


AMOUNTS = sane(0.002, 50)
PRICE = st.floats(0.01, 0.2)
HUGE = st.sampled_from([1e28, 1e24, 2 ** 1024, 10 ** 24, '1e400', '1e25'])   # beyond ccxt's 28 digits
ANY_NUMBER = st.one_of(sane(0.0005, 50), st.integers(-2, 5), BAD, HUGE)
ANY = {'symbol': st.sampled_from(['ETH/BTC', 'BTC/USDT', 'NOPE/BTC', 'ETH-BTC', '', None, 7]),
       'side': st.sampled_from(['buy', 'sell', 'BUY', 'long', '', None, 1, True])}
KEYS = st.one_of(st.sampled_from(['clientOrderId', 'remark', 'stopLossLimitPrice', 'takeProfitLimitPrice',
                                  'triggerPrice', 'entryType', 'timeInForce', 'stp', 'price', 'size', 'order_list']),
                 st.text(max_size=4), st.integers(-1, 1))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30), st.just(2 ** 1024),
                   st.floats(allow_nan=True, allow_infinity=True), PRICE, st.text(max_size=8),
                   st.sampled_from(['limit', 'market', 'c1', 'bp-list_1', 'GTC']),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
WILD_PARAMS = st.one_of(st.none(), st.dictionaries(KEYS, VALUES, max_size=4), st.just([1]), st.just('x'))
COLLIDING = st.sampled_from(['price', 'size', 'clientOid', 'symbol', 'order_list'])
SANE_PARAMS = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    'clientOrderId': st.sampled_from(['c1', 'bp-list_1', None]), 'remark': st.sampled_from(['r1', None]),
    'stopLossLimitPrice': PRICE, 'takeProfitLimitPrice': PRICE, 'entryType': st.sampled_from(['limit', 'market']),
    'triggerPrice': PRICE, 'timeInForce': st.just('GOOD_TILL_CANCEL'), 'stp': st.none(), 'flag': st.booleans(),
    'n': st.integers(0, 10 ** 20)}))


def anything(field):
    return ANY[field] if field in ANY else WILD_PARAMS if field == 'params' else ANY_NUMBER


def levels(draw, n):
    return sorted(draw(st.lists(PRICE, min_size=n, max_size=n, unique=True)))


@st.composite
def orders(draw, kind):
    side = draw(st.sampled_from(['buy', 'sell']))
    a = {'symbol': 'ETH/BTC', 'side': side, 'amount': draw(AMOUNTS)}
    if kind == 'oco':      # sell: stop limit < stop < price; buy: price < stop < stop limit
        lo, mid, hi = levels(draw, 3)
        a.update(price=hi, stop_price=mid, stop_limit_price=lo) if side == 'sell' else \
            a.update(price=lo, stop_price=mid, stop_limit_price=hi)
    elif kind == 'oto':    # one exit, on the far side of the entry
        lo, hi = levels(draw, 2)
        exit_field = draw(st.sampled_from(['stop_loss_price', 'take_profit_price']))
        below = (exit_field == 'stop_loss_price') == (side == 'buy')
        a.update({'price': hi if below else lo, exit_field: lo if below else hi,
                  'stop_loss_price' if exit_field == 'take_profit_price' else 'take_profit_price': None})
    else:                  # buy: stop loss < price < take profit; sell: the reverse
        lo, mid, hi = levels(draw, 3)
        a.update(price=mid, stop_loss_price=lo if side == 'buy' else hi, take_profit_price=hi if side == 'buy' else lo)
    a['params'] = draw(SANE_PARAMS)
    for field in draw(st.lists(st.sampled_from(sorted(a) + ['collide']), max_size=2, unique=True)):   # break a few
        if field == 'collide':   # an extra param named like a field of the request we build
            base = a['params'] if isinstance(a['params'], dict) else {}   # 'params' may have been broken first
            a['params'] = dict(base, **{draw(COLLIDING): draw(st.one_of(PRICE, st.just('x')))})
        else:
            a[field] = draw(anything(field))
    return a


def inputs(kind):
    return st.one_of(orders(kind), st.fixed_dictionaries({k: anything(k) for k in FIELDS[kind]}))


FIELDS = {'oco': ('symbol', 'side', 'amount', 'price', 'stop_price', 'stop_limit_price', 'params'),
          'oto': ('symbol', 'side', 'amount', 'price', 'stop_loss_price', 'take_profit_price', 'params'),
          'otoco': ('symbol', 'side', 'amount', 'price', 'take_profit_price', 'stop_loss_price', 'params')}


# ---- the oracle: what the request must carry, from the inputs alone ----
def exact(x) -> Decimal:
    return Decimal(repr(x)) if isinstance(x, float) else Decimal(x)   # repr: what a caller wrote


def assert_amount(text, x, market):
    lot = Decimal(repr(market['precision']['amount']))
    sent = Decimal(text)
    assert sent % lot == 0 and Decimal(0) <= exact(x) - sent < lot, (text, x)   # truncated to the lot


def assert_price(text, x, market):
    tick = Decimal(repr(market['precision']['price']))
    sent = Decimal(text)
    assert sent % tick == 0 and abs(sent - exact(x)) <= tick / 2, (text, x)     # rounded to the tick


def forwarded(params) -> dict:
    return {k: v for k, v in (params or {}).items() if k not in OWN and v is not None}


def assert_client_id(sent_id, params, suffix=''):
    given_id = (params or {}).get('clientOrderId')
    if given_id is None:
        assert GENERATED_ID.fullmatch(sent_id[:len(sent_id) - len(suffix)]), sent_id
    else:
        assert sent_id == given_id + suffix
    assert sent_id.endswith(suffix)


def assert_kucoin_oco(sent, ex, a):
    market = ex.markets[a['symbol']]
    body = sent.json
    remark = {'remark'} if (a['params'] or {}).get('remark') is not None else set()
    extra = forwarded(a['params'])
    assert set(body) == {'symbol', 'side', 'price', 'size', 'stopPrice', 'limitPrice', 'clientOid'} | remark | set(extra)
    assert (body['symbol'], body['side']) == (market['id'], a['side'])
    assert_amount(body['size'], a['amount'], market)
    for field, arg in (('price', 'price'), ('stopPrice', 'stop_price'), ('limitPrice', 'stop_limit_price')):
        assert_price(body[field], a[arg], market)
    assert_client_id(body['clientOid'], a['params'])
    if remark:
        assert body['remark'] == a['params']['remark']
    assert {k: body[k] for k in extra} == extra
    kucoin_check_signature(sent)


def assert_cryptocom_legs(sent, ex, a, kind):
    market = ex.markets[a['symbol']]
    params = a['params'] or {}
    side, other = a['side'], ('sell' if a['side'] == 'buy' else 'buy')
    if kind == 'oco':
        limit = a['stop_limit_price']
        expected = [('t', side, 'LIMIT', a['price'], None),
                    ('s', side, 'STOP_LIMIT' if limit is not None else 'STOP_LOSS', limit, a['stop_price'])]
    else:
        market_entry = params.get('entryType') == 'market'
        expected = [('e', side, 'MARKET', None, None) if market_entry else ('e', side, 'LIMIT', a['price'], None)]
        sl_limit, tp_limit = params.get('stopLossLimitPrice'), params.get('takeProfitLimitPrice')
        if a['stop_loss_price'] is not None:
            expected.append(('s', other, 'STOP_LIMIT' if sl_limit is not None else 'STOP_LOSS', sl_limit,
                             a['stop_loss_price']))
        if a['take_profit_price'] is not None:
            expected.append(('t', other, 'TAKE_PROFIT_LIMIT' if tp_limit is not None else 'TAKE_PROFIT', tp_limit,
                             a['take_profit_price']))
    body = sent.json['params']
    legs = body['order_list']
    assert len(legs) == len(expected)
    for got, (suffix, leg_side, type, price, ref) in zip(legs, expected):
        keys = {'instrument_name', 'side', 'type', 'quantity', 'client_oid'}
        if price is not None:
            keys.add('price')
        if ref is not None:
            keys |= {'ref_price', 'ref_price_type'} if kind == 'oco' else {'ref_price'}
        assert set(got) == keys, (got, keys)
        assert (got['instrument_name'], got['side'], got['type']) == (market['id'], leg_side.upper(), type)
        assert_amount(got['quantity'], a['amount'], market)
        if price is not None:
            assert_price(got['price'], price, market)
        if ref is not None:
            assert_price(got['ref_price'], ref, market)
            assert kind != 'oco' or got['ref_price_type'] == 'MARK_PRICE'
        assert_client_id(got['client_oid'], a['params'], '-' + suffix)
    extra = forwarded(a['params'])
    assert set(body) == {'order_list'} | set(extra)
    for k, v in extra.items():   # sent as strings
        assert isinstance(body[k], str)
        if isinstance(v, bool):
            assert body[k] == ('true' if v else 'false')
        elif isinstance(v, (int, float)):
            assert Decimal(body[k]) == exact(v)
        else:
            assert body[k] == v
    cryptocom_check_signature(sent)


# ---- the property ----
def check(ex, method, a, assert_request, outcomes):
    wire = Wire().reply(ANSWER[ex.id])
    ex.session = SyncSession(wire)
    try:
        result = getattr(ex, method)(**a)
    except ccxt.BaseError:
        assert wire.sent == [], 'refused, but a request went out'
        outcomes.add('refused')
        return
    [sent] = wire.sent
    assert_request(sent, ex, a)
    assert result['id'] in ('o1', '77') and result['status'] == 'open'
    outcomes.add('sent')


def run(exchange_id, method, args, assert_request):
    ex = make(exchange_id, Wire())
    outcomes = set()

    @SETTINGS
    @given(args)
    def prop(a):
        check(ex, method, a, assert_request, outcomes)
    prop()
    assert outcomes == {'refused', 'sent'}, f'only {outcomes}: the inputs must reach both outcomes'


def test_kucoin_create_oco_order_refuses_before_sending_or_sends_the_expected_request():
    run('kucoin', 'create_oco_order', inputs('oco'), assert_kucoin_oco)


def test_cryptocom_create_oco_order_refuses_before_sending_or_sends_the_expected_request():
    run('cryptocom', 'create_oco_order', inputs('oco'), lambda sent, ex, a: assert_cryptocom_legs(sent, ex, a, 'oco'))


def test_cryptocom_create_oto_order_refuses_before_sending_or_sends_the_expected_request():
    run('cryptocom', 'create_oto_order', inputs('oto'), lambda sent, ex, a: assert_cryptocom_legs(sent, ex, a, 'oto'))


def test_cryptocom_create_otoco_order_refuses_before_sending_or_sends_the_expected_request():
    run('cryptocom', 'create_otoco_order', inputs('otoco'),
        lambda sent, ex, a: assert_cryptocom_legs(sent, ex, a, 'otoco'))
