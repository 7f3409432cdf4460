"""KuCoin OCO: exact requests on the wire (ccxt's real sign path, signature recomputed) and parsing."""

import ccxt
import pytest

from exchange_wire import Wire, kucoin_check_signature, make

OK = '200000'
BASE = 'https://api.kucoin.com'

DETAILS = {  # shape of GET /api/v3/oco/order/details/{orderId} (KuCoin spec example, ETH-BTC)
    'orderId': '674c316e688dea0007c7b986', 'symbol': 'ETH-BTC', 'clientOid': 'cid-1',
    'orderTime': 1733046638975, 'status': 'NEW',
    'orders': [
        {'id': 'vs93gpqc6kkmkk57003gok16', 'symbol': 'ETH-BTC', 'side': 'sell',
         'price': '0.06000000000000000000', 'stopPrice': '0.06000000000000000000',
         'size': '0.01000000000000000000', 'status': 'NEW'},
        {'id': 'vs93gpqc6kkmkk57003gok17', 'symbol': 'ETH-BTC', 'side': 'sell',
         'price': '0.04990000000000000000', 'stopPrice': '0.05000000000000000000',
         'size': '0.01000000000000000000', 'status': 'NEW'},
    ],
}


def test_create_oco_sends_exact_signed_body_and_returns_order_list():
    wire = Wire().reply({'code': OK, 'data': {'orderId': '674c316e688dea0007c7b986'}})
    ex = make('kucoin', wire)
    result = ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499,
                                 {'clientOrderId': 'cid-1', 'remark': 'bracket'})
    [sent] = wire.sent
    assert (sent.method, sent.url) == ('POST', BASE + '/api/v3/oco/order')
    assert sent.body == ('{"symbol":"ETH-BTC","side":"sell","price":"0.06","size":"0.01","stopPrice":"0.05",'
                         '"limitPrice":"0.0499","clientOid":"cid-1","remark":"bracket"}')
    assert sent.headers['Content-Type'] == 'application/json'
    kucoin_check_signature(sent)
    assert result['id'] == '674c316e688dea0007c7b986' and result['clientOrderId'] == 'cid-1'
    assert (result['type'], result['status'], result['symbol']) == ('oco', 'open', 'ETH/BTC')
    tp, sl = result['orders']
    assert (tp['role'], tp['price'], tp['amount'], tp['triggerPrice']) == ('take_profit', 0.06, 0.01, None)
    assert (sl['role'], sl['price'], sl['triggerPrice'], sl['side']) == ('stop_loss', 0.0499, 0.05, 'sell')


def test_create_oco_generates_client_order_id_and_applies_precision():
    wire = Wire().reply({'code': OK, 'data': {'orderId': 'x1'}})
    ex = make('kucoin', wire)
    result = ex.createOcoOrder('BTC/USDT', 'buy', 0.0123456, 50000.04, 51000.06, 51100.01)
    body = wire.sent[0].json
    assert body['size'] == '0.01234' and body['price'] == '50000' and body['stopPrice'] == '51000.1'
    assert body['limitPrice'] == '51100'
    assert body['clientOid'] == result['clientOrderId']
    assert len(body['clientOid']) <= 40 and body['clientOid'].startswith('bp')
    other = make('kucoin', Wire().reply({'code': OK, 'data': {'orderId': 'x2'}}))
    assert other.create_oco_order('BTC/USDT', 'buy', 0.01, 50000, 51000, 51100)['clientOrderId'] != body['clientOid']


def test_extra_params_are_forwarded_but_own_params_are_not():
    wire = Wire().reply({'code': OK, 'data': {'orderId': 'x1'}})
    make('kucoin', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499,
                                          {'tradeType': 'TRADE', 'entryType': 'limit'})
    body = wire.sent[0].json
    assert body['tradeType'] == 'TRADE' and 'entryType' not in body


def test_cancel_by_id_and_by_client_order_id():
    wire = Wire().reply({'code': OK, 'data': {'cancelledOrderIds': ['leg1', 'leg2']}},
                        {'code': OK, 'data': {'cancelledOrderIds': ['leg3', 'leg4']}})
    ex = make('kucoin', wire)
    r1 = ex.cancel_oco_order('674c', 'ETH/BTC')
    r2 = ex.cancelOcoOrder(None, params={'clientOrderId': 'cid-1'})
    assert [(s.method, s.path, s.body) for s in wire.sent] == [
        ('DELETE', '/api/v3/oco/order/674c', None), ('DELETE', '/api/v3/oco/client-order/cid-1', None)]
    for s in wire.sent:
        kucoin_check_signature(s)
    assert r1['status'] == 'canceled' and [o['id'] for o in r1['orders']] == ['leg1', 'leg2']
    assert r1['symbol'] == 'ETH/BTC' and r2['clientOrderId'] == 'cid-1' and r2['id'] is None
    assert all(o['status'] == 'canceled' for o in r1['orders'] + r2['orders'])


def test_cancel_requires_id_or_client_order_id_before_any_request():
    wire = Wire()
    with pytest.raises(ccxt.ArgumentsRequired, match='clientOrderId'):
        make('kucoin', wire).cancel_oco_order(None)
    assert wire.sent == []


def test_fetch_by_id_parses_legs_with_roles_and_ids():
    wire = Wire().reply({'code': OK, 'data': DETAILS})
    ex = make('kucoin', wire)
    r = ex.fetch_oco_order('674c316e688dea0007c7b986')
    assert wire.sent[0].path == '/api/v3/oco/order/details/674c316e688dea0007c7b986'
    kucoin_check_signature(wire.sent[0])
    assert (r['id'], r['clientOrderId'], r['symbol'], r['status'], r['type']) == (
        '674c316e688dea0007c7b986', 'cid-1', 'ETH/BTC', 'open', 'oco')
    assert r['timestamp'] == 1733046638975 and r['datetime'] == '2024-12-01T09:50:38.975Z'
    tp, sl = r['orders']
    assert (tp['id'], tp['role'], tp['price'], tp['triggerPrice']) == ('vs93gpqc6kkmkk57003gok16', 'take_profit', 0.06, None)
    assert (sl['id'], sl['role'], sl['price'], sl['triggerPrice']) == ('vs93gpqc6kkmkk57003gok17', 'stop_loss', 0.0499, 0.05)
    assert tp['symbol'] == 'ETH/BTC' and tp['amount'] == 0.01 and tp['status'] == 'open'


def test_leg_roles_follow_stop_price_not_position():
    data = dict(DETAILS, orders=list(reversed(DETAILS['orders'])))
    r = make('kucoin', Wire().reply({'code': OK, 'data': data})).fetch_oco_order('674c316e688dea0007c7b986')
    assert [(o['id'][-2:], o['role']) for o in r['orders']] == [('17', 'stop_loss'), ('16', 'take_profit')]


@pytest.mark.parametrize('status, leg_status, expect', [
    ('NEW', 'NEW', 'open'), ('TRIGGERED', 'TRIGGERED', 'open'), ('DONE', 'DONE', 'closed'),
    ('CANCELLED', 'CANCELLED', 'canceled'), ('CANCELED', 'CANCELED', 'canceled')])
def test_status_words(status, leg_status, expect):
    data = dict(DETAILS, status=status, orders=[dict(o, status=leg_status) for o in DETAILS['orders']])
    r = make('kucoin', Wire().reply({'code': OK, 'data': data})).fetch_oco_order('674c')
    assert r['status'] == expect and {o['status'] for o in r['orders']} == {expect}


def test_fetch_by_client_order_id_resolves_then_reads_details():
    wire = Wire().reply({'code': OK, 'data': {'orderId': '674c316e688dea0007c7b986', 'symbol': 'ETH-BTC',
                                              'clientOid': 'cid-1', 'orderTime': 1733046638975, 'status': 'NEW'}},
                        {'code': OK, 'data': DETAILS})
    r = make('kucoin', wire).fetch_oco_order(None, params={'clientOrderId': 'cid-1'})
    assert [s.path for s in wire.sent] == ['/api/v3/oco/client-order/cid-1',
                                           '/api/v3/oco/order/details/674c316e688dea0007c7b986']
    assert r['id'] == '674c316e688dea0007c7b986' and len(r['orders']) == 2


def test_fetch_by_unknown_client_order_id_is_order_not_found():
    wire = Wire().reply({'code': OK, 'data': None})
    with pytest.raises(ccxt.OrderNotFound, match='nope'):
        make('kucoin', wire).fetch_oco_order(None, params={'clientOrderId': 'nope'})
    assert len(wire.sent) == 1


def _page(page, total, items):
    return {'code': OK, 'data': {'currentPage': page, 'pageSize': 100, 'totalNum': 999, 'totalPage': total,
                                 'items': items}}


def _item(i, status, t):
    return {'orderId': f'oco{i}', 'symbol': 'ETH-BTC', 'clientOid': f'c{i}', 'orderTime': t, 'status': status}


def test_fetch_oco_orders_follows_pages_and_sorts_oldest_first():
    wire = Wire().reply(_page(1, 3, [_item(5, 'NEW', 500), _item(4, 'DONE', 400)]),
                        _page(2, 3, [_item(3, 'CANCELLED', 300)]),
                        _page(3, 3, [_item(2, 'TRIGGERED', 200), _item(1, 'NEW', 100)]))
    lists = make('kucoin', wire).fetch_oco_orders('ETH/BTC', since=50)
    assert [s.path for s in wire.sent] == [
        f'/api/v3/oco/orders?symbol=ETH-BTC&startAt=50&pageSize=100&currentPage={n}' for n in (1, 2, 3)]
    for s in wire.sent:
        kucoin_check_signature(s)
    assert [x['id'] for x in lists] == ['oco1', 'oco2', 'oco3', 'oco4', 'oco5']
    assert [x['status'] for x in lists] == ['open', 'open', 'canceled', 'closed', 'open']
    assert all(x['orders'] == [] and x['symbol'] == 'ETH/BTC' for x in lists)


def test_fetch_oco_orders_stops_paging_once_limit_is_reached():
    wire = Wire().reply(_page(1, 5, [_item(i, 'NEW', i) for i in range(10, 0, -1)]))
    lists = make('kucoin', wire).fetch_oco_orders(limit=10)
    assert len(wire.sent) == 1 and wire.sent[0].path == '/api/v3/oco/orders?pageSize=10&currentPage=1'
    assert len(lists) == 10


def test_fetch_open_oco_orders_keeps_only_open_lists_across_pages():
    wire = Wire().reply(_page(1, 2, [_item(4, 'DONE', 400), _item(3, 'NEW', 300)]),
                        _page(2, 2, [_item(2, 'CANCELED', 200), _item(1, 'TRIGGERED', 100)]))
    lists = make('kucoin', wire).fetch_open_oco_orders()
    assert len(wire.sent) == 2
    assert [x['id'] for x in lists] == ['oco1', 'oco3']


def test_pagination_is_bounded():
    wire = Wire().reply(*[_page(n, 10_000, [_item(n, 'NEW', n)]) for n in range(1, 51)])
    lists = make('kucoin', wire).fetch_open_oco_orders()
    assert len(wire.sent) == 50 and len(lists) == 50


def test_cancel_all_with_and_without_symbol():
    wire = Wire().reply({'code': OK, 'data': {'cancelledOrderIds': ['a', 'b']}},
                        {'code': OK, 'data': {'cancelledOrderIds': []}})
    ex = make('kucoin', wire)
    legs = ex.cancel_all_oco_orders('ETH/BTC')
    assert ex.cancelAllOcoOrders() == []
    assert [(s.method, s.path) for s in wire.sent] == [('DELETE', '/api/v3/oco/orders?symbol=ETH-BTC'),
                                                      ('DELETE', '/api/v3/oco/orders')]
    assert [(o['id'], o['status'], o['symbol']) for o in legs] == [('a', 'canceled', 'ETH/BTC'), ('b', 'canceled', 'ETH/BTC')]


def test_has_flags_and_no_oto_on_kucoin():
    wire = Wire()
    ex = make('kucoin', wire)
    assert ex.has['createOcoOrder'] and ex.has['fetchOpenOcoOrders'] and ex.has['cancelAllOcoOrders']
    assert not ex.has['createOtoOrder'] and not ex.has['createOtocoOrder'] and not ex.has['cancelOtoOrder']
    with pytest.raises(ccxt.NotSupported):
        ex.create_oto_order('ETH/BTC', 'buy', 0.01, 0.05, stop_loss_price=0.045)
    with pytest.raises(ccxt.NotSupported):
        ex.create_otoco_order('ETH/BTC', 'buy', 0.01, 0.05, 0.06, 0.045)
    with pytest.raises(ccxt.NotSupported):
        ex.cancel_otoco_order('x')
    assert wire.sent == []


def test_capability_override_from_config_is_honoured():
    wire = Wire()
    ex = make('kucoin', wire, has={'createOcoOrder': False})
    assert ex.has['createOcoOrder'] is False and ex.has['fetchOcoOrder'] is True
    with pytest.raises(ccxt.NotSupported, match='createOcoOrder'):
        ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499)
    assert wire.sent == []


@pytest.mark.parametrize('exchange_id, answer', [
    ('kucoin', {'code': '400100', 'msg': 'The order does not exist.'}),
    ('cryptocom', {'id': 1, 'method': 'private/advanced/get-order-list-detail', 'code': 212, 'message': 'INVALID_ORDERID'})])
def test_secrets_never_in_exceptions(exchange_id, answer):
    wire = Wire().reply(answer)
    with pytest.raises(ccxt.OrderNotFound) as info:
        make(exchange_id, wire).fetch_oco_order('zzz')
    text = str(info.value)
    assert 'test-secret' not in text and 'test-pass' not in text and 'test-key' not in text
    assert 'zzz' in wire.sent[0].url + (wire.sent[0].body or '')


def test_fetch_order_by_client_order_id_is_ccxt_own():
    # our fetch_order only takes over where ccxt cannot (Crypto.com by client id); KuCoin keeps ccxt's
    order = {'id': 'o1', 'symbol': 'ETH-BTC', 'clientOid': 'abc', 'side': 'buy', 'type': 'limit', 'price': '0.05',
             'size': '0.01', 'isActive': True, 'createdAt': 1700000000000}
    wire = Wire().reply({'code': '200000', 'data': {}}, {'code': '200000', 'data': order})
    o = make('kucoin', wire).fetch_order(None, 'ETH/BTC', {'clientOrderId': 'abc'})
    assert [s.path for s in wire.sent] == ['/api/ua/v1/account/mode', '/api/v1/order/client-order/abc']
    assert (o['id'], o['clientOrderId'], o['status']) == ('o1', 'abc', 'open')
