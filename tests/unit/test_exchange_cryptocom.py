"""Crypto.com advanced order lists: exact requests (ccxt's sign path, signature recomputed) and parsing."""
import ccxt
import pytest

from exchange_wire import Wire, cryptocom_check_signature, make

URL = 'https://api.crypto.com/exchange/v1/'


def ok(method, result=None):
    out = {'id': 1, 'method': method, 'code': 0}
    if result is not None:
        out['result'] = result
    return out


def leg(order_id, leg_id, order_type, side, status, client_oid, list_id='6498090546073120100',
        contingency='OTOCO', limit_price='0', ref_price='0', qty='0.01', filled='0', t=1700000000000 + 1):
    return {'account_id': 'acc', 'order_id': order_id, 'client_oid': client_oid, 'order_type': order_type,
            'time_in_force': 'GOOD_TILL_CANCEL', 'side': side, 'exec_inst': [], 'quantity': qty,
            'limit_price': limit_price, 'order_value': '0', 'avg_price': '0', 'ref_price': ref_price,
            'ref_price_type': 'MARK_PRICE', 'cumulative_quantity': filled, 'cumulative_value': '0',
            'cumulative_fee': '0', 'status': status, 'order_date': '2023-11-14', 'instrument_name': 'ETH_BTC',
            'fee_instrument_name': 'BTC', 'list_id': list_id, 'contingency_type': contingency, 'leg_id': leg_id,
            'create_time': t + leg_id, 'create_time_ns': str((t + leg_id) * 1000000), 'update_time': t + leg_id}


def otoco_legs(entry='ACTIVE', sl='PENDING', tp='PENDING', **kw):
    return [leg('1001', 1, 'LIMIT', 'BUY', entry, 'L1-e', limit_price='0.05', **kw),
            leg('1002', 2, 'STOP_LOSS', 'SELL', sl, 'L1-s', ref_price='0.045', **kw),
            leg('1003', 3, 'TAKE_PROFIT', 'SELL', tp, 'L1-t', ref_price='0.06', **kw)]


def test_create_oco_sell_sends_limit_and_stop_loss_legs_as_strings():
    wire = Wire().reply(ok('private/advanced/create-oco', {'list_id': '777'}))
    r = make('cryptocom', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, params={'clientOrderId': 'L1'})
    [sent] = wire.sent
    assert sent.method == 'POST' and sent.url == URL + 'private/advanced/create-oco'
    body = sent.json
    assert body['method'] == 'private/advanced/create-oco' and body['id'] == body['nonce']
    assert body['params'] == {'order_list': [
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'LIMIT', 'quantity': '0.01', 'price': '0.06',
         'client_oid': 'L1-t'},
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'STOP_LOSS', 'quantity': '0.01', 'ref_price': '0.05',
         'ref_price_type': 'MARK_PRICE', 'client_oid': 'L1-s'}]}
    cryptocom_check_signature(sent)
    assert (r['id'], r['clientOrderId'], r['type'], r['status']) == ('777', 'L1', 'oco', 'open')
    assert [(o['role'], o['clientOrderId'], o['price'], o['triggerPrice']) for o in r['orders']] == [
        ('take_profit', 'L1-t', 0.06, None), ('stop_loss', 'L1-s', None, 0.05)]


def test_create_oco_buy_with_stop_limit_price_uses_stop_limit():
    wire = Wire().reply(ok('private/advanced/create-oco', {'list_id': '778'}))
    make('cryptocom', wire).create_oco_order('BTC/USDT', 'buy', 0.0123456, 50000.04, 51000.06, 51100.01,
                                             {'clientOrderId': 'L2'})
    legs = wire.sent[0].json['params']['order_list']
    assert legs[0] == {'instrument_name': 'BTC_USDT', 'side': 'BUY', 'type': 'LIMIT', 'quantity': '0.01234',
                       'price': '50000', 'client_oid': 'L2-t'}
    assert legs[1] == {'instrument_name': 'BTC_USDT', 'side': 'BUY', 'type': 'STOP_LIMIT', 'quantity': '0.01234',
                       'price': '51100', 'ref_price': '51000.1', 'ref_price_type': 'MARK_PRICE', 'client_oid': 'L2-s'}
    cryptocom_check_signature(wire.sent[0])


def test_generated_client_ids_fit_36_chars_per_leg():
    wire = Wire().reply(ok('private/advanced/create-oco', {'list_id': '1'}))
    r = make('cryptocom', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    oids = [x['client_oid'] for x in wire.sent[0].json['params']['order_list']]
    assert oids == [r['clientOrderId'] + '-t', r['clientOrderId'] + '-s']
    assert all(len(x) <= 36 for x in oids)


def test_create_oto_stop_loss_exit_on_opposite_side():
    wire = Wire().reply(ok('private/advanced/create-oto', {'list_id': '9'}))
    r = make('cryptocom', wire).create_oto_order('ETH/BTC', 'buy', 0.01, 0.05, stop_loss_price=0.045,
                                                 params={'clientOrderId': 'L3'})
    assert wire.sent[0].url == URL + 'private/advanced/create-oto'
    assert wire.sent[0].json['params']['order_list'] == [
        {'instrument_name': 'ETH_BTC', 'side': 'BUY', 'type': 'LIMIT', 'quantity': '0.01', 'price': '0.05',
         'client_oid': 'L3-e'},
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'STOP_LOSS', 'quantity': '0.01', 'ref_price': '0.045',
         'client_oid': 'L3-s'}]
    cryptocom_check_signature(wire.sent[0])
    assert r['type'] == 'oto' and [o['role'] for o in r['orders']] == ['entry', 'stop_loss']


def test_create_oto_take_profit_limit_with_market_entry():
    wire = Wire().reply(ok('private/advanced/create-oto', {'list_id': '10'}))
    r = make('cryptocom', wire).createOtoOrder('ETH/BTC', 'sell', 0.01, None, take_profit_price=0.04,
                                               params={'clientOrderId': 'L4', 'entryType': 'market',
                                                       'takeProfitLimitPrice': 0.0401})
    legs = wire.sent[0].json['params']['order_list']
    assert legs == [
        {'instrument_name': 'ETH_BTC', 'side': 'SELL', 'type': 'MARKET', 'quantity': '0.01', 'client_oid': 'L4-e'},
        {'instrument_name': 'ETH_BTC', 'side': 'BUY', 'type': 'TAKE_PROFIT_LIMIT', 'quantity': '0.01',
         'price': '0.0401', 'ref_price': '0.04', 'client_oid': 'L4-t'}]
    assert 'entryType' not in wire.sent[0].json['params']
    assert [(o['role'], o['type']) for o in r['orders']] == [('entry', 'market'), ('take_profit', 'take_profit_limit')]


def test_create_otoco_sends_entry_stop_and_take_profit():
    wire = Wire().reply(ok('private/advanced/create-otoco', {'list_id': '11'}))
    r = make('cryptocom', wire).create_otoco_order('ETH/BTC', 'sell', 0.01, 0.05, 0.04, 0.055,
                                                   {'clientOrderId': 'L5', 'stopLossLimitPrice': 0.0551})
    legs = wire.sent[0].json['params']['order_list']
    assert [(x['side'], x['type'], x.get('price'), x.get('ref_price'), x['client_oid']) for x in legs] == [
        ('SELL', 'LIMIT', '0.05', None, 'L5-e'), ('BUY', 'STOP_LIMIT', '0.0551', '0.055', 'L5-s'),
        ('BUY', 'TAKE_PROFIT', None, '0.04', 'L5-t')]
    assert all('ref_price_type' not in x for x in legs)
    cryptocom_check_signature(wire.sent[0])
    assert (r['id'], r['type'], r['clientOrderId']) == ('11', 'otoco', 'L5')


@pytest.mark.parametrize('kind, method', [('oco', 'cancel-oco'), ('oto', 'cancel-oto'), ('otoco', 'cancel-otoco')])
def test_cancel_by_list_id(kind, method):
    wire = Wire().reply(ok('private/advanced/' + method))
    ex = make('cryptocom', wire)
    r = getattr(ex, f'cancel_{kind}_order')('6498090546073120100')
    assert wire.sent[0].url == URL + 'private/advanced/' + method
    assert wire.sent[0].json['params'] == {'list_id': '6498090546073120100'}
    cryptocom_check_signature(wire.sent[0])
    assert (r['id'], r['type'], r['status']) == ('6498090546073120100', kind, 'canceled')


def test_cancel_by_client_order_id_finds_list_through_a_leg():
    wire = Wire().reply(ok('private/advanced/get-order-detail', otoco_legs()[0]), ok('private/advanced/cancel-otoco'))
    r = make('cryptocom', wire).cancel_otoco_order(None, params={'clientOrderId': 'L1'})
    assert [s.json['params'] for s in wire.sent] == [{'client_oid': 'L1-e'}, {'list_id': '6498090546073120100'}]
    assert wire.sent[0].url == URL + 'private/advanced/get-order-detail'
    for s in wire.sent:
        cryptocom_check_signature(s)
    assert r['id'] == '6498090546073120100' and r['clientOrderId'] == 'L1'


def test_fetch_by_list_id_parses_legs_roles_and_status():
    wire = Wire().reply(ok('private/advanced/get-order-list-detail', {'data': otoco_legs()}))
    r = make('cryptocom', wire).fetch_oco_order('6498090546073120100')
    assert wire.sent[0].url == URL + 'private/advanced/get-order-list-detail'
    assert wire.sent[0].json['params'] == {'list_id_list': ['6498090546073120100']}
    cryptocom_check_signature(wire.sent[0])
    assert (r['id'], r['clientOrderId'], r['type'], r['status'], r['symbol']) == (
        '6498090546073120100', 'L1', 'otoco', 'open', 'ETH/BTC')
    assert r['timestamp'] == 1700000000002
    assert [(o['id'], o['role'], o['side'], o['status']) for o in r['orders']] == [
        ('1001', 'entry', 'buy', 'open'), ('1002', 'stop_loss', 'sell', 'open'), ('1003', 'take_profit', 'sell', 'open')]
    assert r['orders'][0]['price'] == 0.05 and r['orders'][1]['triggerPrice'] == 0.045


def test_fetch_by_client_order_id_tries_entry_then_limit_leg():
    oco_legs = [leg('2001', 1, 'LIMIT', 'SELL', 'ACTIVE', 'L9-t', list_id='55', contingency='OCO', limit_price='0.06'),
                leg('2002', 2, 'STOP_LOSS', 'SELL', 'PENDING', 'L9-s', list_id='55', contingency='OCO', ref_price='0.05')]
    wire = Wire().reply({'id': 1, 'method': 'private/advanced/get-order-detail', 'code': 40401, 'message': 'NOT_FOUND'},
                        ok('private/advanced/get-order-detail', oco_legs[0]),
                        ok('private/advanced/get-order-list-detail', {'data': oco_legs}))
    r = make('cryptocom', wire).fetch_oco_order(None, params={'clientOrderId': 'L9'})
    assert [s.json['params'] for s in wire.sent] == [{'client_oid': 'L9-e'}, {'client_oid': 'L9-t'},
                                                     {'list_id_list': ['55']}]
    assert (r['id'], r['type'], r['clientOrderId']) == ('55', 'oco', 'L9')
    assert [o['role'] for o in r['orders']] == ['take_profit', 'stop_loss']


def test_fetch_unknown_list_is_order_not_found():
    wire = Wire().reply(ok('private/advanced/get-order-list-detail', {'data': []}))
    with pytest.raises(ccxt.OrderNotFound):
        make('cryptocom', wire).fetch_oco_order('404')


@pytest.mark.parametrize('statuses, expect', [
    (('ACTIVE', 'PENDING', 'PENDING'), 'open'),
    (('FILLED', 'NEW', 'NEW'), 'open'),
    (('FILLED', 'FILLED', 'CANCELED'), 'closed'),
    (('FILLED', 'CANCELED', 'FILLED'), 'closed'),
    (('CANCELED', 'CANCELED', 'CANCELED'), 'canceled'),
    (('FILLED', 'CANCELED', 'CANCELED'), 'canceled'),
    (('EXPIRED', 'CANCELED', 'CANCELED'), 'canceled'),
    (('REJECTED', 'REJECTED', 'REJECTED'), 'rejected'),
])
def test_list_status_derived_from_legs(statuses, expect):
    legs = otoco_legs(*statuses)
    r = make('cryptocom', Wire().reply(ok('x', {'data': legs}))).fetch_oco_order('6498090546073120100')
    assert r['status'] == expect


def test_oco_closed_when_limit_leg_filled():
    legs = [leg('1', 1, 'LIMIT', 'SELL', 'FILLED', 'A-t', list_id='5', contingency='OCO', limit_price='0.06', filled='0.01'),
            leg('2', 2, 'STOP_LOSS', 'SELL', 'CANCELED', 'A-s', list_id='5', contingency='OCO', ref_price='0.05')]
    r = make('cryptocom', Wire().reply(ok('x', {'data': legs}))).fetch_oco_order('5')
    assert r['status'] == 'closed' and r['orders'][0]['filled'] == 0.01 and r['orders'][0]['status'] == 'closed'


def test_spot_attach_lists_are_typed_by_leg_count_and_legs_by_order_type():
    legs = [dict(x, client_oid='foreign', contingency_type='SPOT_ATTACH') for x in otoco_legs()]
    r = make('cryptocom', Wire().reply(ok('x', {'data': legs}))).fetch_oco_order('6498090546073120100')
    assert r['type'] == 'otoco' and r['clientOrderId'] is None
    assert [o['role'] for o in r['orders']] == ['entry', 'stop_loss', 'take_profit']
    r2 = make('cryptocom', Wire().reply(ok('x', {'data': legs[:2]}))).fetch_oco_order('6498090546073120100')
    assert r2['type'] == 'oto'


def test_fetch_open_groups_legs_by_list_and_skips_single_orders():
    other = [leg('3001', 1, 'LIMIT', 'SELL', 'ACTIVE', 'B-t', list_id='66', contingency='OCO', limit_price='0.06'),
             leg('3002', 2, 'STOP_LOSS', 'SELL', 'PENDING', 'B-s', list_id='66', contingency='OCO', ref_price='0.05')]
    single = dict(leg('4001', 1, 'STOP_LOSS', 'SELL', 'PENDING', 'single'), list_id=None)
    wire = Wire().reply(ok('private/advanced/get-open-orders', {'data': otoco_legs() + other + [single]}))
    lists = make('cryptocom', wire).fetch_open_oco_orders('ETH/BTC')
    assert wire.sent[0].url == URL + 'private/advanced/get-open-orders'
    assert wire.sent[0].json['params'] == {'instrument_name': 'ETH_BTC'}
    cryptocom_check_signature(wire.sent[0])
    assert sorted((x['id'], x['type'], len(x['orders'])) for x in lists) == [
        ('6498090546073120100', 'otoco', 3), ('66', 'oco', 2)]


def test_fetch_oco_orders_merges_open_and_history_without_duplicates():
    open_legs = otoco_legs('FILLED', 'ACTIVE', 'PENDING')[1:]
    history = otoco_legs('FILLED', 'ACTIVE', 'PENDING')[:2] + [
        leg('5001', 1, 'LIMIT', 'SELL', 'FILLED', 'C-t', list_id='77', contingency='OCO', limit_price='0.06', t=1600000000000),
        leg('5002', 2, 'STOP_LOSS', 'SELL', 'CANCELED', 'C-s', list_id='77', contingency='OCO', ref_price='0.05', t=1600000000000)]
    wire = Wire().reply(ok('private/advanced/get-open-orders', {'data': open_legs}),
                        ok('private/advanced/get-order-history', {'data': history}))
    lists = make('cryptocom', wire).fetch_oco_orders(since=1500000000000, limit=5)
    assert wire.sent[0].json['params'] == {}
    assert wire.sent[1].url == URL + 'private/advanced/get-order-history'
    assert wire.sent[1].json['params'] == {'start_time': '1500000000000', 'limit': 15}
    for s in wire.sent:
        cryptocom_check_signature(s)
    assert [(x['id'], x['status'], len(x['orders'])) for x in lists] == [('77', 'closed', 2),
                                                                         ('6498090546073120100', 'open', 3)]


def test_cancel_all():
    wire = Wire().reply(ok('private/advanced/cancel-all-orders'), ok('private/advanced/cancel-all-orders'))
    ex = make('cryptocom', wire)
    assert ex.cancel_all_oco_orders('BTC/USDT') == [] and ex.cancel_all_oco_orders() == []
    assert [s.json['params'] for s in wire.sent] == [{'instrument_name': 'BTC_USDT', 'type': 'ALL'}, {'type': 'ALL'}]
    assert wire.sent[0].url == URL + 'private/advanced/cancel-all-orders'
    for s in wire.sent:
        cryptocom_check_signature(s)


def test_has_flags_and_exchange_factory():
    import bracket_plugin
    ex = bracket_plugin.exchange('cryptocom', {'apiKey': 'k', 'secret': 's'})
    assert isinstance(ex, bracket_plugin.cryptocom) and isinstance(ex, ccxt.cryptocom)
    assert all(ex.has[f] for f in ('createOcoOrder', 'createOtoOrder', 'createOtocoOrder', 'cancelOcoOrder',
                                   'cancelOtoOrder', 'cancelOtocoOrder', 'fetchOcoOrder', 'fetchOcoOrders',
                                   'fetchOpenOcoOrders', 'cancelAllOcoOrders'))
    assert isinstance(bracket_plugin.exchange('kucoin', {}), bracket_plugin.kucoin)
    assert type(bracket_plugin.exchange('bybit', {})) is ccxt.bybit   # a ccxt exchange without a venue profile
    with pytest.raises(ccxt.NotSupported):
        bracket_plugin.exchange('no-such-exchange', {})


# ---- single orders: the unified clientOrderId reaches Crypto.com as client_oid ----
def test_create_order_sends_unified_client_order_id_as_client_oid():
    wire = Wire().reply(ok('private/create-order', {'client_oid': 'my-order-1', 'order_id': '6530'}))
    o = make('cryptocom', wire).create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {'clientOrderId': 'my-order-1'})
    [sent] = wire.sent
    assert sent.url == URL + 'private/create-order'
    assert sent.json['params'] == {'instrument_name': 'ETH_BTC', 'side': 'BUY', 'quantity': '0.01', 'price': '0.05',
                                   'broker_id': 'CCXT', 'spot_margin': 'SPOT', 'type': 'LIMIT',
                                   'client_oid': 'my-order-1'}
    cryptocom_check_signature(sent)
    assert (o['id'], o['clientOrderId']) == ('6530', 'my-order-1')


def test_create_order_trigger_keeps_client_oid():
    wire = Wire().reply(ok('private/create-order', {'client_oid': 'c-stop', 'order_id': '6531'}))
    make('cryptocom', wire).create_order('ETH/BTC', 'limit', 'sell', 0.01, 0.0449, {'clientOrderId': 'c-stop',
                                                                                    'triggerPrice': 0.045})
    params = wire.sent[0].json['params']
    assert (params['type'], params['ref_price'], params['client_oid']) == ('STOP_LIMIT', '0.045', 'c-stop')
    assert 'clientOrderId' not in params


@pytest.mark.parametrize('side', ['sell', 'buy'])
def test_create_order_stop_market_is_a_stop_loss_on_both_sides(side):
    # ccxt compares a market order's price (None) with the trigger and types every sell TAKE_PROFIT
    wire = Wire().reply(ok('private/create-order', {'client_oid': 'c-sm', 'order_id': '6532'}))
    make('cryptocom', wire).create_order('ETH/BTC', 'market', side, 0.01, None, {'clientOrderId': 'c-sm',
                                                                                 'triggerPrice': 0.045})
    [sent] = wire.sent
    params = sent.json['params']
    assert (params['type'], params['ref_price'], params['side']) == ('STOP_LOSS', '0.045', side.upper())
    assert 'triggerPrice' not in params and 'stopLossPrice' not in params
    cryptocom_check_signature(sent)


@pytest.mark.parametrize('key', ['clientOrderId', 'client_oid'])
def test_create_order_client_id_over_36_chars_is_refused_before_sending(key):
    wire = Wire()
    with pytest.raises(ccxt.InvalidOrder, match=f'params.{key}: must be at most 36 characters, got 37'):
        make('cryptocom', wire).create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {key: 'x' * 37})
    assert wire.sent == []


def test_create_order_36_char_uuid_client_id_is_accepted():
    cid = 'd1c70a60-810e-4c92-b2a0-72b931cb31e0'          # the shape Crypto.com's own examples use
    wire = Wire().reply(ok('private/create-order', {'client_oid': cid, 'order_id': '1'}))
    make('cryptocom', wire).create_order('ETH/BTC', 'market', 'sell', 0.01, None, {'clientOrderId': cid})
    assert wire.sent[0].json['params']['client_oid'] == cid


def test_create_orders_list_sends_each_client_order_id():
    wire = Wire().reply(ok('private/create-order-list', [{'index': 0, 'code': 0, 'order_id': '1', 'client_oid': 'a'},
                                                          {'index': 1, 'code': 0, 'order_id': '2', 'client_oid': 'b'}]))
    make('cryptocom', wire).create_orders([
        {'symbol': 'ETH/BTC', 'type': 'limit', 'side': 'buy', 'amount': 0.01, 'price': 0.05, 'params': {'clientOrderId': 'a'}},
        {'symbol': 'ETH/BTC', 'type': 'limit', 'side': 'buy', 'amount': 0.01, 'price': 0.049, 'params': {'clientOrderId': 'b'}}])
    assert [x['client_oid'] for x in wire.sent[0].json['params']['order_list']] == ['a', 'b']


def test_fetch_order_by_client_order_id_uses_get_order_detail_client_oid():
    wire = Wire().reply(ok('private/get-order-detail', leg('6530', 0, 'LIMIT', 'BUY', 'ACTIVE', 'my-order-1',
                                                           list_id=None, contingency=None, limit_price='0.05')))
    o = make('cryptocom', wire).fetch_order(None, 'ETH/BTC', {'clientOrderId': 'my-order-1'})
    [sent] = wire.sent
    assert sent.url == URL + 'private/get-order-detail' and sent.json['params'] == {'client_oid': 'my-order-1'}
    cryptocom_check_signature(sent)
    assert (o['id'], o['clientOrderId'], o['symbol'], o['status'], o['price']) == ('6530', 'my-order-1', 'ETH/BTC',
                                                                                   'open', 0.05)


def test_fetch_order_by_id_is_ccxt_own():
    wire = Wire().reply(ok('private/get-order-detail', leg('6530', 0, 'LIMIT', 'BUY', 'ACTIVE', 'x',
                                                           list_id=None, contingency=None, limit_price='0.05')))
    make('cryptocom', wire).fetch_order('6530', 'ETH/BTC')
    assert wire.sent[0].json['params'] == {'order_id': '6530'}


def test_fetch_order_by_unknown_client_order_id_raises_order_not_found():
    wire = Wire().reply((400, {'id': 1, 'method': 'private/get-order-detail', 'code': 212, 'message': 'INVALID_ORDERID'}))
    with pytest.raises(ccxt.OrderNotFound):
        make('cryptocom', wire).fetch_order(None, None, {'clientOrderId': 'nope'})


def test_cancel_order_by_client_order_id_sends_client_oid_only():
    wire = Wire().reply(ok('private/cancel-order', {'client_oid': 'my-order-1', 'order_id': '6530'}))
    o = make('cryptocom', wire).cancel_order(None, 'ETH/BTC', {'clientOrderId': 'my-order-1'})
    [sent] = wire.sent
    assert sent.url == URL + 'private/cancel-order' and sent.json['params'] == {'client_oid': 'my-order-1'}
    cryptocom_check_signature(sent)
    assert (o['id'], o['clientOrderId']) == ('6530', 'my-order-1')


def test_cancel_order_by_id_is_ccxt_own():
    wire = Wire().reply(ok('private/cancel-order', {'client_oid': 'x', 'order_id': '6530'}))
    make('cryptocom', wire).cancel_order('6530', 'ETH/BTC')
    assert wire.sent[0].json['params'] == {'order_id': '6530'}
