"""Bad numbers and malformed params: one test per rule, on every create method (and create_order),
each asserting the ccxt class, a message naming the field and the rule, and zero requests sent.
Also: Crypto.com markets take their minimums from the instrument definitions."""
import asyncio

import ccxt
import pytest

from conformance import VENUES, facts
from exchange_wire import Wire, cryptocom_check_signature, make

OCO = dict(symbol='ETH/BTC', side='sell', amount=0.01, price=0.06, stop_price=0.05, stop_limit_price=0.0499)
OTO = dict(symbol='ETH/BTC', side='buy', amount=0.01, price=0.05, stop_loss_price=0.045)
OTOCO = dict(symbol='ETH/BTC', side='buy', amount=0.01, price=0.05, take_profit_price=0.06, stop_loss_price=0.045)
# (exchange, method, arguments, the trigger-price argument)
METHODS = [('kucoin', 'create_oco_order', OCO, 'stop_price'),
           ('cryptocom', 'create_oco_order', OCO, 'stop_price'),
           ('cryptocom', 'create_oto_order', OTO, 'stop_loss_price'),
           ('cryptocom', 'create_otoco_order', OTOCO, 'stop_loss_price')]
IDS = [f'{e}-{m[7:-6]}' for e, m, _, _ in METHODS]
ACCEPTED = {'kucoin': {'code': '200000', 'data': {'orderId': 'o1'}},
            'cryptocom': {'id': 1, 'method': 'x', 'code': 0, 'result': {'list_id': '77', 'order_id': '5'}}}
KUCOIN_ACCOUNT_MODE = {'code': '200000', 'data': {'selfAccountMode': 'CLASSIC'}}   # ccxt asks before create_order

BAD_NUMBERS = [  # (value, what the message says)
    (float('inf'), 'must be finite, got inf'),
    (float('-inf'), 'must be finite, got -inf'),
    ('Infinity', "must be a finite number, got 'Infinity'"),
    (float('nan'), 'must be finite, got nan'),
    ('NaN', "must be a finite number, got 'NaN'"),
    (True, 'must be a finite number, not a bool (True)'),
    (False, 'must be a finite number, not a bool (False)'),
    (1e28, 'must be at most'),
    (2 ** 1024, 'must be at most'),
    ('1e400', 'must be at most'),
    ([0.05], 'must be a finite number, got [0.05]'),
    (' 0.05', "must be a finite number, got ' 0.05'"),
    (-0.05, 'must be greater than 0'),
]


def refused(exchange_id, call, exc, *fragments):
    wire = Wire()
    with pytest.raises(exc) as info:
        call(make(exchange_id, wire))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    assert wire.sent == []
    return str(info.value)


def create(method, args, **changes):
    kw = dict(args, **changes)
    return lambda ex: getattr(ex, method)(**kw)


# ---- numbers: amount, price, trigger price ----
@pytest.mark.parametrize('value, rule', BAD_NUMBERS, ids=[repr(v)[:12] for v, _ in BAD_NUMBERS])
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
@pytest.mark.parametrize('which', ['amount', 'price', 'trigger'])
def test_bad_number_is_refused_before_any_request(exchange_id, method, args, trigger, which, value, rule):
    field = trigger if which == 'trigger' else which
    refused(exchange_id, create(method, args, **{field: value}), ccxt.InvalidOrder, f'{field}: {rule}')


def test_the_magnitude_bound_is_the_market_precision_times_1e18():
    # ETH/BTC: lot 0.0001, tick 0.000001; BTC/USDT: tick 0.1
    refused('kucoin', create('create_oco_order', OCO, amount=2e14), ccxt.InvalidOrder,
            'amount: must be at most 1e+14 (1e+18 steps of the market precision 0.0001)')
    refused('kucoin', create('create_oco_order', OCO, price=2e12), ccxt.InvalidOrder, 'price: must be at most 1e+12')
    # the same price is fine where the tick is coarser: the ordering rule is what refuses it here
    refused('kucoin', create('create_oco_order', OCO, symbol='BTC/USDT', price=2e12, stop_price=3e12,
                             stop_limit_price=3e12), ccxt.InvalidOrder, 'stop_price: must be below price')


@pytest.mark.parametrize('key', ['stopLossLimitPrice', 'takeProfitLimitPrice', 'triggerPrice'])
@pytest.mark.parametrize('value, rule', [(float('nan'), 'must be finite'), ('Infinity', 'must be a finite number'),
                                         (True, 'must be a finite number, not a bool'), (1e28, 'must be at most'),
                                         (0, 'must be greater than 0')])
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_price_params_are_numbers_like_the_arguments(exchange_id, method, args, trigger, key, value, rule):
    refused(exchange_id, create(method, args, params={key: value}), ccxt.InvalidOrder, f'params.{key}: {rule}')


# ---- params ----
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_params_none_is_no_params(exchange_id, method, args, trigger):
    wire = Wire().reply(ACCEPTED[exchange_id], ACCEPTED[exchange_id])
    ex = make(exchange_id, wire)
    getattr(ex, method)(**args, params=None)
    getattr(ex, method)(**args, params={})
    strip = (lambda b: {k: v for k, v in b.items() if k != 'clientOid'}) if exchange_id == 'kucoin' else \
        (lambda b: [{k: v for k, v in leg.items() if k != 'client_oid'} for leg in b['params']['order_list']])
    first, second = (strip(s.json) for s in wire.sent)
    assert first == second


@pytest.mark.parametrize('params', [[('clientOrderId', 'a')], 'clientOrderId=a', 5])
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_params_must_be_a_dict(exchange_id, method, args, trigger, params):
    refused(exchange_id, create(method, args, params=params), ccxt.BadRequest,
            f'params: must be a dict, got {type(params).__name__}')


@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_params_keys_must_be_strings(exchange_id, method, args, trigger):
    refused(exchange_id, create(method, args, params={1: 'a'}), ccxt.BadRequest, 'params: keys must be strings, got 1')


@pytest.mark.parametrize('value, kind', [([1, 2], 'list'), ({'a': 1}, 'dict'), ([[1]], 'list'), (b'x', 'bytes'),
                                         ((1,), 'tuple')])
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_params_values_must_be_scalars(exchange_id, method, args, trigger, value, kind):
    # a list of numbers used to crash ccxt's Crypto.com signer with AttributeError
    refused(exchange_id, create(method, args, params={'extra': value}), ccxt.BadRequest,
            f'params.extra: must be a str, int, float, bool or None, got {kind}')


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
@pytest.mark.parametrize('exchange_id, method, args, trigger', METHODS, ids=IDS)
def test_params_float_values_must_be_finite(exchange_id, method, args, trigger, value):
    refused(exchange_id, create(method, args, params={'extra': value}), ccxt.BadRequest,
            f'params.extra: must be finite, got {value!r}')


@pytest.mark.parametrize('exchange_id, method, args, key', [
    ('kucoin', 'create_oco_order', OCO, 'price'), ('kucoin', 'create_oco_order', OCO, 'clientOid'),
    ('kucoin', 'create_oco_order', OCO, 'size'), ('cryptocom', 'create_otoco_order', OTOCO, 'order_list')])
def test_params_may_not_replace_the_checked_request_fields(exchange_id, method, args, key):
    refused(exchange_id, create(method, args, params={key: 'abc'}), ccxt.BadRequest,
            f'params.{key}: would replace the request field built from the arguments')


def test_kucoin_extra_params_are_sent_as_given_without_none_values():
    wire = Wire().reply(ACCEPTED['kucoin'])
    create('create_oco_order', OCO, params={'clientOrderId': 'c1', 'tradeType': 'TRADE', 'stp': None})(
        make('kucoin', wire))
    assert wire.sent[0].json == {'symbol': 'ETH-BTC', 'side': 'sell', 'price': '0.06', 'size': '0.01',
                                 'stopPrice': '0.05', 'limitPrice': '0.0499', 'clientOid': 'c1', 'tradeType': 'TRADE'}


def test_cryptocom_extra_params_are_sent_as_strings_and_signed_as_the_exchange_does():
    # ccxt's signer writes True as 'True' and None as 'None'; Crypto.com reads 'true' / null
    wire = Wire().reply(ACCEPTED['cryptocom'])
    create('create_otoco_order', OTOCO, params={'clientOrderId': 'L1', 'flag': True, 'n': 5, 'f': 1e-07,
                                                'gone': None, 'tif': 'GOOD_TILL_CANCEL'})(make('cryptocom', wire))
    [sent] = wire.sent
    params = sent.json['params']
    assert {k: v for k, v in params.items() if k != 'order_list'} == {
        'flag': 'true', 'n': '5', 'f': '0.0000001', 'tif': 'GOOD_TILL_CANCEL'}
    cryptocom_check_signature(sent)


@pytest.mark.parametrize('exchange_id', VENUES)
def test_list_queries_take_params_none(exchange_id):
    wire = Wire().reply(facts(exchange_id).LIST_CANCELED)
    assert make(exchange_id, wire).cancel_oco_order('L1', 'ETH/BTC', None)['status'] == 'canceled'
    assert len(wire.sent) == 1
    refused(exchange_id, lambda ex: ex.fetch_open_oco_orders('ETH/BTC', params={'x': [1]}), ccxt.BadRequest,
            'params.x: must be a str')


# ---- create_order: ccxt's own would send (KuCoin's account mode) and then fail outside ccxt ----
BAD_SINGLE = [
    (dict(amount=float('inf')), ccxt.InvalidOrder, 'amount: must be finite'),
    (dict(amount='Infinity'), ccxt.InvalidOrder, 'amount: must be a finite number'),
    (dict(price=float('nan')), ccxt.InvalidOrder, 'price: must be finite'),
    (dict(amount=True), ccxt.InvalidOrder, 'amount: must be a finite number, not a bool'),
    (dict(amount=1e28), ccxt.InvalidOrder, 'amount: must be at most'),
    (dict(price=2 ** 1024), ccxt.InvalidOrder, 'price: must be at most'),
    (dict(amount=None), ccxt.ArgumentsRequired, 'amount: is required'),
    (dict(params={'triggerPrice': float('inf')}), ccxt.InvalidOrder, 'params.triggerPrice: must be finite'),
    (dict(params={1: 'x'}), ccxt.BadRequest, 'params: keys must be strings'),
    (dict(params=[1]), ccxt.BadRequest, 'params: must be a dict'),
]


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('kw, exc, fragment', BAD_SINGLE, ids=[f'{e.__name__}-{f}'[:40] for _, e, f in BAD_SINGLE])
def test_create_order_bad_input_is_refused_before_any_request(exchange_id, is_async, kw, exc, fragment):
    wire = Wire()   # no reply queued: any request would fail the test with an AssertionError
    ex = make(exchange_id, wire, is_async=is_async)

    async def run_async():
        try:
            return await ex.create_order('ETH/BTC', 'limit', 'buy', kw.get('amount', 0.01), kw.get('price', 0.05),
                                         kw.get('params'))
        finally:
            await ex.close()
    with pytest.raises(exc) as info:
        if is_async:
            asyncio.run(run_async())
        else:
            ex.create_order('ETH/BTC', 'limit', 'buy', kw.get('amount', 0.01), kw.get('price', 0.05), kw.get('params'))
    assert fragment in str(info.value), str(info.value)
    assert wire.sent == []


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
def test_create_order_list_param_crashing_cryptocom_signer_is_refused(is_async):
    wire = Wire()
    ex = make('cryptocom', wire, is_async=is_async)

    async def run_async():
        try:
            return await ex.create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {'x': [1, 2]})
        finally:
            await ex.close()
    with pytest.raises(ccxt.BadRequest, match='params.x: must be a str, int, float, bool or None, got list'):
        asyncio.run(run_async()) if is_async else ex.create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {'x': [1, 2]})
    assert wire.sent == []


@pytest.mark.parametrize('exchange_id', VENUES)
def test_create_order_with_params_none_is_sent(exchange_id):
    replies = facts(exchange_id).SINGLE_CREATED
    wire = Wire().reply(*replies)
    assert make(exchange_id, wire).create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, None)['id'] == \
        facts(exchange_id).SINGLE_CREATED_ID
    assert len(wire.sent) == len(replies)


def test_kucoin_create_order_keeps_ccxt_nested_params():
    # ccxt's kucoin create_order takes dicts (stopLoss / takeProfit on contracts); ours lets them through
    wire = Wire().reply(KUCOIN_ACCOUNT_MODE, {'code': '200000', 'data': {'orderId': 'k1'}})
    make('kucoin', wire).create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {'tags': ['a'], 'meta': {'b': 1}})
    assert wire.sent[-1].json['tags'] == ['a'] and wire.sent[-1].json['meta'] == {'b': 1}


# ---- Crypto.com minimums from the instrument definitions ----
def instrument(**extra):
    return dict({'symbol': 'ETH_BTC', 'inst_type': 'CCY_PAIR', 'display_name': 'ETH/BTC', 'base_ccy': 'ETH',
                 'quote_ccy': 'BTC', 'quote_decimals': 6, 'quantity_decimals': 4, 'price_tick_size': '0.000001',
                 'qty_tick_size': '0.0001', 'max_leverage': '1', 'tradable': True, 'expiry_timestamp_ms': 0,
                 'beta_product': False, 'margin_buy_enabled': False, 'margin_sell_enabled': False}, **extra)


def market_answers(*instruments):
    return [{'id': 1, 'method': 'private/get-currency-networks', 'code': 0, 'result': {'currency_map': {}}},
            {'id': 1, 'method': 'public/get-instruments', 'code': 0, 'result': {'data': list(instruments)}}]


def loaded_cryptocom(wire, is_async=False):
    ex = make('cryptocom', wire, is_async=is_async)
    ex.markets = None          # load them through the wire, as a live instance does
    return ex


def test_cryptocom_market_minimums_come_from_the_instrument():
    wire = Wire().reply(*market_answers(instrument(min_quantity='0.001', min_notional='0.0001')))
    ex = loaded_cryptocom(wire)
    ex.load_markets()
    limits = ex.markets['ETH/BTC']['limits']
    assert (limits['amount']['min'], limits['cost']['min']) == (0.001, 0.0001)
    assert ex.markets['ETH/BTC']['precision'] == {'price': 0.000001, 'amount': 0.0001}


def test_cryptocom_minimum_quantity_is_qty_tick_size_when_the_instrument_has_no_other():
    # Crypto.com documents qty_tick_size as "Minimum trading quantity / tick size"
    wire = Wire().reply(*market_answers(instrument()))
    ex = loaded_cryptocom(wire)
    ex.load_markets()
    limits = ex.markets['ETH/BTC']['limits']
    assert (limits['amount']['min'], limits['cost']['min']) == (0.0001, None)


@pytest.mark.parametrize('is_async', [False, True], ids=['sync', 'async'])
@pytest.mark.parametrize('amount, price, rule', [
    (0.0009, 0.05, 'amount: 0.0009 is below the market minimum amount 0.001'),
    (0.001, 0.05, 'amount * price: cost 5e-05 is below the market minimum cost 0.0001')])
def test_cryptocom_order_under_the_minimum_is_refused_before_any_create(is_async, amount, price, rule):
    wire = Wire().reply(*market_answers(instrument(min_quantity='0.001', min_notional='0.0001')))
    ex = loaded_cryptocom(wire, is_async)

    async def run_async():
        try:
            return await ex.create_otoco_order('ETH/BTC', 'buy', amount, price, 0.06, 0.045)
        finally:
            await ex.close()
    with pytest.raises(ccxt.InvalidOrder) as info:
        asyncio.run(run_async()) if is_async else ex.create_otoco_order('ETH/BTC', 'buy', amount, price, 0.06, 0.045)
    assert rule in str(info.value), str(info.value)
    assert [s.url.rsplit('/', 1)[-1] for s in wire.sent] == ['get-currency-networks', 'get-instruments']
