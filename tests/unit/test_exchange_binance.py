"""Binance spot order lists: exact requests through ccxt's real sign path (signature recomputed from
Binance's documented algorithm), parsing into the unified order-list dict, input rules (no request
sent), error codes, credential masking, and the async class."""
import asyncio
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import ccxt
import pytest

import bracket_plugin
from bracket_plugin import async_support
from bracket_plugin.exchanges.binance import BINANCE_CODES, BINANCE_MESSAGES
from bracket_plugin.venues import profile
from exchange_wire import KEYS, AsyncSession, SyncSession, Wire

API = 'https://api.binance.com/api/v3/'
INFO = json.loads((Path(__file__).parents[1] / 'fixtures' / 'binance_exchange_info.json').read_text())


ASYNC_CLASS = profile('binance').exchange_class(asynchronous=True)


def make(wire, is_async=False, **config):
    ex = (ASYNC_CLASS if is_async else bracket_plugin.binance)({'apiKey': KEYS['apiKey'], 'secret': KEYS['secret'], **config})
    # markets through ccxt's own load (GET exchangeInfo answered from the fixture), then the test's wire
    if is_async:   # the markets a sync instance loaded (an event loop may be running already)
        ex.set_markets(list(make(Wire()).markets.values()))
        ex.session = AsyncSession(wire)
    else:
        ex.session = SyncSession(Wire().reply(INFO))
        ex.load_markets()
        ex.session = SyncSession(wire)
    return ex


def signed(sent):
    """The request's params, after checking its signature the way Binance documents it: HMAC-SHA256
    (hex) with the secret over totalParams = query string + body, `signature` last; key in X-MBX-APIKEY."""
    total = urlsplit(sent.url).query + (sent.body or '')
    payload, signature = total.rsplit('&signature=', 1)
    assert signature == hmac.new(KEYS['secret'].encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert sent.headers['X-MBX-APIKEY'] == KEYS['apiKey']
    params = dict(parse_qsl(payload, keep_blank_values=True))
    assert abs(int(params.pop('timestamp')) - time.time() * 1000) < 60_000
    assert params.pop('recvWindow') == '10000'
    return params


def where(sent):
    return sent.method, sent.url.split('?')[0]


def lst(list_id, kind, legs, status='EXECUTING', list_type='EXEC_STARTED', cid='L1', reports=None):
    out = {'orderListId': list_id, 'contingencyType': kind, 'listStatusType': list_type, 'listOrderStatus': status,
           'listClientOrderId': cid, 'transactionTime': 1700000000000, 'symbol': 'ETHBTC',
           'orders': [{'symbol': 'ETHBTC', 'orderId': oid, 'clientOrderId': c} for oid, c in legs]}
    if reports is not None:
        out['orderReports'] = reports
    return out


def order(oid, cid, type, side, status, price='0.00000000', stop=None, qty='0.01000000', filled='0.00000000',
          list_id=1):
    o = {'symbol': 'ETHBTC', 'orderId': oid, 'orderListId': list_id, 'clientOrderId': cid, 'price': price,
         'origQty': qty, 'executedQty': filled, 'cummulativeQuoteQty': '0.00000000', 'status': status,
         'timeInForce': 'GTC', 'type': type, 'side': side, 'time': 1700000000001, 'updateTime': 1700000000002,
         'workingTime': 1700000000001 if status != 'PENDING_NEW' else -1, 'isWorking': status != 'PENDING_NEW'}
    if stop is not None:
        o['stopPrice'] = stop
    return o


# ---- markets ----
def test_load_markets_reads_spot_exchange_info_only():
    wire = Wire().reply(INFO)
    ex = bracket_plugin.binance({'apiKey': KEYS['apiKey'], 'secret': KEYS['secret']})
    ex.session = SyncSession(wire)
    ex.load_markets()
    assert [where(s) for s in wire.sent] == [('GET', API + 'exchangeInfo')]
    assert sorted(ex.markets) == ['BTC/USDT', 'ETH/BTC']


def test_has_flags_and_factory():
    ex = bracket_plugin.exchange('binance', {})
    assert isinstance(ex, bracket_plugin.binance) and isinstance(ex, ccxt.binance)
    assert type(ex) is bracket_plugin.exchanges.binance.binance
    for flag in ('createOcoOrder', 'createOtoOrder', 'createOtocoOrder', 'cancelOcoOrder', 'cancelOtoOrder',
                 'cancelOtocoOrder', 'fetchOcoOrder', 'fetchOcoOrders', 'fetchOpenOcoOrders', 'cancelAllOcoOrders',
                 'createOtoOrderNetOfFee', 'createOtocoOrderNetOfFee'):
        assert ex.has[flag] is True, flag
    assert ex.createOtoOrderNetOfFee == ex.create_oto_order_net_of_fee


# ---- creates ----
def test_create_oco_sell_limit_maker_above_stop_loss_below():
    wire = Wire().reply(lst(7, 'OCO', [(10, 'L1-s'), (11, 'L1-t')]))
    r = make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, params={'clientOrderId': 'L1'})
    [sent] = wire.sent
    assert where(sent) == ('POST', API + 'orderList/oco') and '?' not in sent.url
    assert sent.headers['Content-Type'] == 'application/x-www-form-urlencoded'
    assert signed(sent) == {'symbol': 'ETHBTC', 'side': 'SELL', 'quantity': '0.01', 'listClientOrderId': 'L1',
                            'aboveType': 'LIMIT_MAKER', 'aboveClientOrderId': 'L1-t', 'abovePrice': '0.06',
                            'belowType': 'STOP_LOSS', 'belowClientOrderId': 'L1-s', 'belowStopPrice': '0.05'}
    assert (r['id'], r['clientOrderId'], r['type'], r['status'], r['symbol']) == ('7', 'L1', 'oco', 'open', 'ETH/BTC')
    assert [(o['role'], o['id'], o['clientOrderId'], o['type'], o['side'], o['price'], o['triggerPrice'], o['amount'])
            for o in r['orders']] == [('take_profit', '11', 'L1-t', 'limit_maker', 'sell', 0.06, None, 0.01),
                                      ('stop_loss', '10', 'L1-s', 'stop_loss', 'sell', None, 0.05, 0.01)]
    assert r['timestamp'] == 1700000000000


def test_create_oco_buy_stop_limit_above_limit_maker_below():
    wire = Wire().reply(lst(8, 'OCO', [(1, 'L2-s'), (2, 'L2-t')], cid='L2'))
    make(wire).create_oco_order('BTC/USDT', 'buy', 0.0123456, 50000.004, 51000.006, 51100.01, {'clientOrderId': 'L2'})
    assert signed(wire.sent[0]) == {
        'symbol': 'BTCUSDT', 'side': 'BUY', 'quantity': '0.01234', 'listClientOrderId': 'L2',
        'belowType': 'LIMIT_MAKER', 'belowClientOrderId': 'L2-t', 'belowPrice': '50000',
        'aboveType': 'STOP_LOSS_LIMIT', 'aboveClientOrderId': 'L2-s', 'abovePrice': '51100.01',
        'aboveStopPrice': '51000.01', 'aboveTimeInForce': 'GTC'}


def test_generated_client_ids_are_sent_for_the_list_and_every_leg():
    wire = Wire().reply(lst(9, 'OCO', []))
    r = make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    params = signed(wire.sent[0])
    cid = r['clientOrderId']
    assert len(cid) == 34 and params['listClientOrderId'] == cid
    assert (params['aboveClientOrderId'], params['belowClientOrderId']) == (cid + '-t', cid + '-s')


def test_create_oto_buy_with_stop_loss_exit():
    reports = [order(4, 'L3-e', 'LIMIT', 'BUY', 'NEW', price='0.05'),
               order(5, 'L3-s', 'STOP_LOSS', 'SELL', 'PENDING_NEW', stop='0.045')]
    wire = Wire().reply(lst(3, 'OTO', [(4, 'L3-e'), (5, 'L3-s')], cid='L3', reports=reports))
    r = make(wire).create_oto_order('ETH/BTC', 'buy', 0.01, 0.05, stop_loss_price=0.045, params={'clientOrderId': 'L3'})
    assert where(wire.sent[0]) == ('POST', API + 'orderList/oto')
    assert signed(wire.sent[0]) == {
        'symbol': 'ETHBTC', 'listClientOrderId': 'L3', 'workingSide': 'BUY', 'workingType': 'LIMIT',
        'workingClientOrderId': 'L3-e', 'workingPrice': '0.05', 'workingTimeInForce': 'GTC',
        'workingQuantity': '0.01', 'pendingSide': 'SELL', 'pendingQuantity': '0.01', 'pendingType': 'STOP_LOSS',
        'pendingClientOrderId': 'L3-s', 'pendingStopPrice': '0.045'}
    assert [(o['role'], o['id'], o['side'], o['status']) for o in r['orders']] == [
        ('entry', '4', 'buy', 'open'), ('stop_loss', '5', 'sell', 'open')]
    assert r['type'] == 'oto'


def test_create_oto_take_profit_rests_as_a_limit_and_a_filled_entry_shows_closed():
    reports = [order(4, 'L4-e', 'LIMIT', 'SELL', 'FILLED', price='0.05', filled='0.01000000'),
               order(5, 'L4-t', 'LIMIT', 'BUY', 'PENDING_NEW', price='0.04')]
    wire = Wire().reply(lst(4, 'OTO', [(4, 'L4-e'), (5, 'L4-t')], cid='L4', reports=reports))
    r = make(wire).create_oto_order('ETH/BTC', 'sell', 0.01, 0.05, take_profit_price=0.04, params={'clientOrderId': 'L4'})
    params = signed(wire.sent[0])
    assert {k: params[k] for k in params if k.startswith('pending')} == {
        'pendingSide': 'BUY', 'pendingQuantity': '0.01', 'pendingType': 'LIMIT', 'pendingClientOrderId': 'L4-t',
        'pendingPrice': '0.04', 'pendingTimeInForce': 'GTC'}
    assert [(o['role'], o['status'], o['filled']) for o in r['orders']] == [('entry', 'closed', 0.01),
                                                                          ('take_profit', 'open', 0.0)]


def test_create_otoco_buy_sizes_exits_by_exit_amount_and_uses_limit_prices():
    wire = Wire().reply(lst(5, 'OTO', [(1, 'L5-e'), (2, 'L5-s'), (3, 'L5-t')], cid='L5'))
    r = make(wire).create_otoco_order('ETH/BTC', 'buy', 0.01, 0.05, 0.06, 0.045,
                                      {'clientOrderId': 'L5', 'exitAmount': 0.00999, 'stopLossLimitPrice': 0.0449,
                                       'takeProfitLimitPrice': 0.0601})
    assert where(wire.sent[0]) == ('POST', API + 'orderList/otoco')
    assert signed(wire.sent[0]) == {
        'symbol': 'ETHBTC', 'listClientOrderId': 'L5', 'workingSide': 'BUY', 'workingType': 'LIMIT',
        'workingClientOrderId': 'L5-e', 'workingPrice': '0.05', 'workingTimeInForce': 'GTC',
        'workingQuantity': '0.01', 'pendingSide': 'SELL', 'pendingQuantity': '0.0099',
        'pendingAboveType': 'TAKE_PROFIT_LIMIT', 'pendingAboveClientOrderId': 'L5-t', 'pendingAbovePrice': '0.0601',
        'pendingAboveStopPrice': '0.06', 'pendingAboveTimeInForce': 'GTC',
        'pendingBelowType': 'STOP_LOSS_LIMIT', 'pendingBelowClientOrderId': 'L5-s', 'pendingBelowPrice': '0.0449',
        'pendingBelowStopPrice': '0.045', 'pendingBelowTimeInForce': 'GTC'}
    assert (r['type'], r['id']) == ('otoco', '5')
    assert [(o['role'], o['id'], o['amount']) for o in r['orders']] == [
        ('entry', '1', 0.01), ('stop_loss', '2', 0.0099), ('take_profit', '3', 0.0099)]


def test_create_otoco_sell_puts_the_stop_above_and_the_take_profit_below():
    wire = Wire().reply(lst(6, 'OTO', [(1, 'L6-e'), (2, 'L6-s'), (3, 'L6-t')], cid='L6'))
    make(wire).create_otoco_order('ETH/BTC', 'sell', 0.01, 0.05, 0.04, 0.055, {'clientOrderId': 'L6'})
    params = signed(wire.sent[0])
    assert {k: params[k] for k in params if k.startswith('pendingA') or k.startswith('pendingB')} == {
        'pendingAboveType': 'STOP_LOSS', 'pendingAboveClientOrderId': 'L6-s', 'pendingAboveStopPrice': '0.055',
        'pendingBelowType': 'LIMIT_MAKER', 'pendingBelowClientOrderId': 'L6-t', 'pendingBelowPrice': '0.04'}
    assert params['pendingSide'] == 'BUY'


@pytest.mark.parametrize('method, path, args', [
    ('create_oto_order_net_of_fee', 'orderList/opo', (0.045, None)),
    ('create_otoco_order_net_of_fee', 'orderList/opoco', (0.06, 0.045)),
])
def test_net_of_fee_lists_send_no_pending_quantity(method, path, args):
    wire = Wire().reply(lst(12, 'OTO', [(1, 'N1-e'), (2, 'N1-s')], cid='N1'))
    r = getattr(make(wire), method)('ETH/BTC', 'buy', 0.01, 0.05, *args, {'clientOrderId': 'N1'})
    assert where(wire.sent[0]) == ('POST', API + path)
    params = signed(wire.sent[0])
    assert 'pendingQuantity' not in params and params['workingQuantity'] == '0.01' and params['pendingSide'] == 'SELL'
    exits = [o for o in r['orders'] if o['role'] != 'entry']
    assert exits and all(o['amount'] is None for o in exits)


def test_net_of_fee_refused_before_any_request_where_the_symbol_does_not_allow_it():
    wire = Wire()
    with pytest.raises(ccxt.NotSupported, match='BTC/USDT does not allow OTO lists net of the fee .opoAllowed'):
        make(wire).create_oto_order_net_of_fee('BTC/USDT', 'buy', 0.01, 50000, 49000)
    assert wire.sent == []


@pytest.mark.parametrize('params, exc, text', [
    ({}, ccxt.InvalidOrder, 'side: a net-of-fee list starts with a buy'),
])
def test_net_of_fee_sell_is_refused(params, exc, text):
    wire = Wire()
    with pytest.raises(exc, match=text):
        make(wire).create_otoco_order_net_of_fee('ETH/BTC', 'sell', 0.01, 0.05, 0.04, 0.055, params)
    with pytest.raises(ccxt.BadRequest, match='params.exitAmount: not taken'):
        make(wire).create_otoco_order_net_of_fee('ETH/BTC', 'buy', 0.01, 0.05, 0.06, 0.045, {'exitAmount': 0.0099})
    assert wire.sent == []


def test_market_entry_is_not_supported_natively():
    wire = Wire()
    with pytest.raises(ccxt.NotSupported, match="params.entryType: Binance's OTO / OTOCO working leg is a LIMIT"):
        make(wire).create_otoco_order('ETH/BTC', 'buy', 0.01, None, 0.06, 0.045, {'entryType': 'market'})
    assert wire.sent == []


# ---- input rules: refused before any request ----
def refused(call, exc, *fragments):
    wire = Wire()
    with pytest.raises(exc) as info:
        call(make(wire))
    for f in fragments:
        assert f in str(info.value), str(info.value)
    assert wire.sent == []


def oco(**kw):
    args = dict(dict(symbol='ETH/BTC', side='sell', amount=0.01, price=0.06, stop=0.05, params={}), **kw)
    return lambda ex: ex.create_oco_order(args['symbol'], args['side'], args['amount'], args['price'], args['stop'],
                                          None, args['params'])


@pytest.mark.parametrize('cid, rule', [('a' * 35, 'at most 34 characters, got 35'),
                                       ('has space', 'only letters, digits and ".:/_-"'),
                                       ('plus+sign', 'only letters, digits and ".:/_-"')])
def test_client_order_id_rules(cid, rule):
    refused(oco(params={'clientOrderId': cid}), ccxt.InvalidOrder, 'params.clientOrderId', rule)


def test_client_order_id_with_binance_punctuation_is_accepted():
    wire = Wire().reply(lst(1, 'OCO', []))
    make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, params={'clientOrderId': 'a.b:c/d_e-' + 'f' * 23})
    assert signed(wire.sent[0])['aboveClientOrderId'] == 'a.b:c/d_e-' + 'f' * 23 + '-t'


def test_sell_oco_limit_must_be_above_the_stop():
    refused(oco(price=0.05, stop=0.06), ccxt.InvalidOrder, 'stop_price: must be below price', 'sell OCO')


def test_buy_oco_limit_must_be_below_the_stop():
    refused(oco(side='buy'), ccxt.InvalidOrder, 'price: must be below stop_price', 'buy OCO')


def test_otoco_buy_price_relations():
    refused(lambda ex: ex.create_otoco_order('ETH/BTC', 'buy', 0.01, 0.05, 0.04, 0.045), ccxt.InvalidOrder,
            'price: must be below take_profit_price')


def test_price_filter_maximum():
    refused(oco(price=922328, stop=0.05), ccxt.InvalidOrder, 'price: 922328 is above the PRICE_FILTER maximum')


def test_lot_size_maximum():
    refused(oco(amount=100001), ccxt.InvalidOrder, 'amount: 100001 is above the LOT_SIZE maximum 100000.00000000')


def test_notional_maximum():
    refused(oco(amount=200000 / 1000, price=60, stop=50), ccxt.InvalidOrder,
            'amount * price: cost 12000 is above the NOTIONAL maximum 9000.00000000')


def test_lot_size_minimum_and_min_notional():
    refused(oco(amount=0.00001), ccxt.InvalidOrder, 'must be greater than minimum amount precision of 0.0001')
    refused(lambda ex: ex.create_oco_order('BTC/USDT', 'sell', 0.0001, 40000, 30000), ccxt.InvalidOrder,
            'amount * stop_price: cost 3 is below the market minimum cost 5.0')


def test_unknown_symbol_and_bad_side():
    refused(oco(symbol='DOGE/EUR'), ccxt.BadSymbol, "symbol: 'DOGE/EUR' is not a market")
    refused(oco(side='long'), ccxt.InvalidOrder, "side: must be 'buy' or 'sell'")


def test_cancel_requires_a_symbol():
    refused(lambda ex: ex.cancel_oco_order('7'), ccxt.ArgumentsRequired, 'requires a symbol')


def test_extra_params_may_not_replace_built_fields():
    refused(oco(params={'aboveType': 'TAKE_PROFIT'}), ccxt.BadRequest, 'params.aboveType', 'would replace')


def test_extra_params_are_sent_with_binance_booleans():
    wire = Wire().reply(lst(1, 'OCO', []))
    make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05,
                                params={'newOrderRespType': 'FULL', 'selfTradePreventionMode': 'EXPIRE_BOTH'})
    params = signed(wire.sent[0])
    assert (params['newOrderRespType'], params['selfTradePreventionMode']) == ('FULL', 'EXPIRE_BOTH')


# ---- cancels ----
def cancel_answer():
    reports = [dict(order(10, 'unfWT8', 'STOP_LOSS', 'SELL', 'CANCELED', stop='0.05'), origClientOrderId='L1-s'),
               dict(order(11, 'unfWT8', 'LIMIT_MAKER', 'SELL', 'CANCELED', price='0.06'), origClientOrderId='L1-t')]
    return lst(7, 'OCO', [(10, 'L1-s'), (11, 'L1-t')], status='ALL_DONE', list_type='ALL_DONE', reports=reports)


@pytest.mark.parametrize('method', ['cancel_oco_order', 'cancel_oto_order', 'cancel_otoco_order'])
def test_cancel_by_list_id_sends_delete_order_list(method):
    wire = Wire().reply(cancel_answer())
    r = getattr(make(wire), method)('7', 'ETH/BTC')
    [sent] = wire.sent
    assert where(sent) == ('DELETE', API + 'orderList') and sent.body is None
    assert signed(sent) == {'symbol': 'ETHBTC', 'orderListId': '7'}
    assert (r['id'], r['status'], r['clientOrderId']) == ('7', 'canceled', 'L1')
    assert [(o['role'], o['id'], o['clientOrderId'], o['status']) for o in r['orders']] == [
        ('stop_loss', '10', 'L1-s', 'canceled'), ('take_profit', '11', 'L1-t', 'canceled')]


def test_cancel_by_client_order_id_sends_list_client_order_id():
    wire = Wire().reply(cancel_answer())
    make(wire).cancel_oco_order(None, 'ETH/BTC', {'clientOrderId': 'L1'})
    assert signed(wire.sent[0]) == {'symbol': 'ETHBTC', 'listClientOrderId': 'L1'}


# ---- reads ----
OTOCO_LEGS = [(20, 'L7-e'), (21, 'L7-s'), (22, 'L7-t')]


def otoco_orders(entry='NEW', sl='PENDING_NEW', tp='PENDING_NEW'):
    return [order(20, 'L7-e', 'LIMIT', 'BUY', entry, price='0.05'),
            order(21, 'L7-s', 'STOP_LOSS', 'SELL', sl, stop='0.045'),
            order(22, 'L7-t', 'LIMIT_MAKER', 'SELL', tp, price='0.06')]


def test_fetch_by_list_id_reads_the_list_then_its_legs():
    wire = Wire().reply(lst(30, 'OTO', OTOCO_LEGS, cid='L7'), otoco_orders())
    r = make(wire).fetch_oco_order('30')
    assert [where(s) for s in wire.sent] == [('GET', API + 'orderList'), ('GET', API + 'allOrders')]
    assert signed(wire.sent[0]) == {'orderListId': '30'}
    assert signed(wire.sent[1]) == {'symbol': 'ETHBTC', 'orderId': '20', 'limit': '3'}
    assert (r['id'], r['clientOrderId'], r['type'], r['status'], r['symbol']) == ('30', 'L7', 'otoco', 'open', 'ETH/BTC')
    assert [(o['id'], o['role'], o['side'], o['status']) for o in r['orders']] == [
        ('20', 'entry', 'buy', 'open'), ('21', 'stop_loss', 'sell', 'open'), ('22', 'take_profit', 'sell', 'open')]
    assert r['orders'][0]['price'] == 0.05 and r['orders'][1]['triggerPrice'] == 0.045
    assert r['orders'][1]['timestamp'] == 1700000000001     # not workingTime -1


def test_fetch_by_client_order_id_sends_orig_client_order_id():
    wire = Wire().reply(lst(30, 'OTO', OTOCO_LEGS, cid='L7'), otoco_orders())
    make(wire).fetch_oco_order(None, params={'clientOrderId': 'L7'})
    assert signed(wire.sent[0]) == {'origClientOrderId': 'L7'}


@pytest.mark.parametrize('statuses, expect', [
    (('FILLED', 'FILLED', 'EXPIRED'), 'closed'),
    (('FILLED', 'CANCELED', 'CANCELED'), 'canceled'),
    (('CANCELED', 'CANCELED', 'CANCELED'), 'canceled'),
])
def test_done_list_status_comes_from_its_legs(statuses, expect):
    wire = Wire().reply(lst(30, 'OTO', OTOCO_LEGS, status='ALL_DONE', list_type='ALL_DONE'), otoco_orders(*statuses))
    assert make(wire).fetch_oco_order('30')['status'] == expect


def test_rejected_list():
    wire = Wire().reply(lst(30, 'OCO', [(1, 'x-t')], status='REJECT', list_type='RESPONSE'), [])
    r = make(wire).fetch_oco_order('30')
    assert r['status'] == 'rejected' and r['orders'][0]['status'] is None


def test_foreign_list_legs_get_roles_from_their_types():
    legs = [(20, 'web1'), (21, 'web2'), (22, 'web3')]
    details = [dict(o, clientOrderId=c) for o, (_, c) in zip(otoco_orders(), legs)]
    wire = Wire().reply(lst(30, 'OTO', legs, cid='web'), details)
    assert [o['role'] for o in make(wire).fetch_oco_order('30')['orders']] == ['entry', 'stop_loss', 'take_profit']


def test_fetch_unknown_list_is_order_not_found():
    wire = Wire().reply((400, {'code': -2011, 'msg': 'Order list does not exist.'}))
    with pytest.raises(ccxt.OrderNotFound, match='-2011'):
        make(wire).fetch_oco_order('404')


def test_fetch_open_reads_open_lists_and_their_legs_for_the_symbol():
    other = dict(lst(31, 'OCO', [(40, 'B-s'), (41, 'B-t')], cid='B'), symbol='BTCUSDT')
    wire = Wire().reply([lst(30, 'OTO', OTOCO_LEGS, cid='L7'), other], otoco_orders('FILLED', 'NEW', 'NEW'))
    lists = make(wire).fetch_open_oco_orders('ETH/BTC')
    assert [where(s) for s in wire.sent] == [('GET', API + 'openOrderList'), ('GET', API + 'allOrders')]
    assert signed(wire.sent[0]) == {}
    assert [(x['id'], x['status'], [o['status'] for o in x['orders']]) for x in lists] == [
        ('30', 'open', ['closed', 'open', 'open'])]


def test_fetch_oco_orders_pages_by_from_id():
    first = [lst(i, 'OCO', [(1000 + i, f'P{i}-t')], cid=f'P{i}', status='ALL_DONE', list_type='ALL_DONE')
             for i in range(1, 1001)]
    second = [lst(1001, 'OCO', [(3000, 'P1001-t')], cid='P1001')]
    legs = [order(1000 + i, f'P{i}-t', 'LIMIT_MAKER', 'SELL', 'CANCELED', price='0.06', list_id=i)
            for i in range(1, 1001)]
    wire = Wire().reply(first, second, legs)
    lists = make(wire).fetch_oco_orders('ETH/BTC', since=1600000000000)
    assert [where(s) for s in wire.sent] == [('GET', API + 'allOrderList')] * 2 + [('GET', API + 'allOrders')]
    assert signed(wire.sent[0]) == {'limit': '1000', 'startTime': '1600000000000'}
    assert signed(wire.sent[1]) == {'limit': '1000', 'fromId': '1001'}
    assert signed(wire.sent[2]) == {'symbol': 'ETHBTC', 'orderId': '1001', 'limit': '1000'}
    assert len(lists) == 1001 and lists[0]['status'] == 'canceled' and lists[-1]['orders'][0]['status'] is None


def test_cancel_all_cancels_each_open_list_of_the_symbol():
    other = dict(lst(31, 'OCO', [(40, 'B-s')], cid='B'), symbol='BTCUSDT')
    wire = Wire().reply([lst(7, 'OCO', [(10, 'L1-s'), (11, 'L1-t')]), other], cancel_answer())
    out = make(wire).cancel_all_oco_orders('ETH/BTC')
    assert [where(s) for s in wire.sent] == [('GET', API + 'openOrderList'), ('DELETE', API + 'orderList')]
    assert signed(wire.sent[1]) == {'symbol': 'ETHBTC', 'orderListId': '7'}
    assert [(x['id'], x['status']) for x in out] == [('7', 'canceled')]


# ---- errors ----
@pytest.mark.parametrize('code, cls', sorted(BINANCE_CODES.items()))
def test_binance_code(code, cls):
    wire = Wire().reply((400, {'code': int(code), 'msg': f'message of {code}'}))
    with pytest.raises(cls) as info:
        make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    assert type(info.value) is cls and code in str(info.value) and f'message of {code}' in str(info.value)
    assert len(wire.sent) == 1


@pytest.mark.parametrize('msg, cls', sorted(BINANCE_MESSAGES.items()))
def test_binance_matching_engine_message(msg, cls):
    wire = Wire().reply((400, {'code': -2010, 'msg': msg}))
    with pytest.raises(cls) as info:
        make(wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    assert type(info.value) is cls and '-2010' in str(info.value) and msg in str(info.value)


def test_codes_ccxt_maps_keep_their_class():
    wire = Wire().reply((400, {'code': -2010, 'msg': 'Account has insufficient balance for requested action.'}),
                        (400, {'code': -1121, 'msg': 'Invalid symbol.'}))
    ex = make(wire)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    with pytest.raises(ccxt.BadSymbol):
        ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)


def test_spot_codes_map_the_same_on_another_host():
    # ccxt keys its spot table by api.binance.com: a simulator on 127.0.0.1 must raise the same classes
    wire = Wire().reply((400, {'code': -2026, 'msg': 'Order was canceled or expired ... archived.'}))
    ex = make(wire)
    ex.urls['api'] = dict(ex.urls['api'], private='http://127.0.0.1:8999/api/v3')
    with pytest.raises(ccxt.InvalidOrder, match='-2026'):
        ex.fetch_oco_order('1')
    assert wire.sent[0].url.startswith('http://127.0.0.1:8999/api/v3/orderList?')


# ---- credentials in logs ----
def test_api_key_and_signature_are_masked_in_logs(caplog):
    wire = Wire().reply(lst(7, 'OCO', []))
    ex = make(wire, apiKey='live-api-key-123456', secret='live-secret-abcdef')
    with caplog.at_level(logging.DEBUG):
        ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, params={'clientOrderId': 'L1'})
    signature = wire.sent[0].body.rsplit('&signature=', 1)[1]
    text = caplog.text
    assert 'orderList/oco' in text and 'listClientOrderId=L1' in text
    assert 'live-api-key-123456' not in text and signature not in text and 'live-secret' not in text


# ---- async ----
def test_async_class_sends_the_same_requests():
    wire = Wire().reply(lst(7, 'OCO', [(10, 'L1-s'), (11, 'L1-t')]), lst(30, 'OTO', OTOCO_LEGS, cid='L7'),
                        otoco_orders(), lst(12, 'OTO', [], cid='N1'))

    async def main():
        ex = make(wire, is_async=True)
        try:
            created = await ex.createOcoOrder('ETH/BTC', 'sell', 0.01, 0.06, 0.05, None, {'clientOrderId': 'L1'})
            fetched = await ex.fetch_oco_order('30')
            opo = await ex.create_oto_order_net_of_fee('ETH/BTC', 'buy', 0.01, 0.05, 0.045, None, {'clientOrderId': 'N1'})
            return created, fetched, opo
        finally:
            await ex.close()
    created, fetched, opo = asyncio.run(main())
    assert isinstance(make(Wire(), is_async=False), ccxt.binance)
    assert issubclass(ASYNC_CLASS, ccxt.async_support.binance)
    assert isinstance(async_support.exchange('binance', {}), ASYNC_CLASS)
    assert [where(s) for s in wire.sent] == [('POST', API + 'orderList/oco'), ('GET', API + 'orderList'),
                                             ('GET', API + 'allOrders'), ('POST', API + 'orderList/opo')]
    assert signed(wire.sent[0])['belowStopPrice'] == '0.05'
    assert [o['id'] for o in created['orders']] == ['11', '10']
    assert [o['status'] for o in fetched['orders']] == ['open', 'open', 'open']
    assert opo['type'] == 'oto' and 'pendingQuantity' not in signed(wire.sent[3])


def test_async_support_attribute_is_the_class():
    assert issubclass(async_support.binance, ccxt.async_support.binance)
    assert async_support.exchange('binance', {}).__class__ is async_support.binance
