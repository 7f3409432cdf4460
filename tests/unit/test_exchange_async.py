"""The async classes run the same flows with awaited ccxt.async_support calls (aiohttp session
intercepted): same requests, same results, same validation and error mapping."""
import asyncio

import ccxt
import ccxt.async_support
import pytest

from bracket_plugin import async_support
from conformance import VENUES, facts
from exchange_wire import Wire, cryptocom_check_signature, kucoin_check_signature, make


def run(exchange_id, replies, body):
    wire = Wire().reply(*replies)

    async def main():
        ex = make(exchange_id, wire, is_async=True)
        try:
            return await body(ex)
        finally:
            await ex.close()
    return wire, asyncio.run(main())


def test_async_classes_subclass_ccxt_async():
    assert issubclass(async_support.kucoin, ccxt.async_support.kucoin)
    assert issubclass(async_support.cryptocom, ccxt.async_support.cryptocom)
    ex = async_support.exchange('kucoin', {})
    assert isinstance(ex, async_support.kucoin) and not ex.has['createOtoOrder']
    asyncio.run(ex.close())


def test_async_kucoin_create_matches_sync_wire_shape():
    wire, r = run('kucoin', [{'code': '200000', 'data': {'orderId': 'a1'}}],
                  lambda ex: ex.createOcoOrder('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499, {'clientOrderId': 'c1'}))
    [sent] = wire.sent
    assert (sent.method, sent.url) == ('POST', 'https://api.kucoin.com/api/v3/oco/order')
    assert sent.body == ('{"symbol":"ETH-BTC","side":"sell","price":"0.06","size":"0.01","stopPrice":"0.05",'
                         '"limitPrice":"0.0499","clientOid":"c1"}')
    kucoin_check_signature(sent)
    assert (r['id'], r['clientOrderId'], r['status']) == ('a1', 'c1', 'open')


def test_async_kucoin_pagination_and_client_id_lookup():
    def page(n, items):
        return {'code': '200000', 'data': {'currentPage': n, 'totalPage': 2, 'items': items}}

    def item(i, s):
        return {'orderId': f'o{i}', 'symbol': 'ETH-BTC', 'clientOid': f'c{i}', 'orderTime': i, 'status': s}

    wire, lists = run('kucoin', [page(1, [item(2, 'NEW')]), page(2, [item(1, 'DONE')])],
                      lambda ex: ex.fetch_open_oco_orders('ETH/BTC'))
    assert [s.path for s in wire.sent] == ['/api/v3/oco/orders?symbol=ETH-BTC&pageSize=100&currentPage=1',
                                           '/api/v3/oco/orders?symbol=ETH-BTC&pageSize=100&currentPage=2']
    assert [x['id'] for x in lists] == ['o2']

    details = {'orderId': 'o9', 'symbol': 'ETH-BTC', 'clientOid': 'c9', 'orderTime': 5, 'status': 'DONE',
               'orders': [{'id': 'l1', 'symbol': 'ETH-BTC', 'side': 'buy', 'price': '0.05', 'stopPrice': '0.05',
                           'size': '0.01', 'status': 'DONE'},
                          {'id': 'l2', 'symbol': 'ETH-BTC', 'side': 'buy', 'price': '0.061', 'stopPrice': '0.06',
                           'size': '0.01', 'status': 'CANCELLED'}]}
    wire, r = run('kucoin', [{'code': '200000', 'data': {'orderId': 'o9'}}, {'code': '200000', 'data': details}],
                  lambda ex: ex.fetch_oco_order(None, params={'clientOrderId': 'c9'}))
    assert [s.path for s in wire.sent] == ['/api/v3/oco/client-order/c9', '/api/v3/oco/order/details/o9']
    assert r['status'] == 'closed' and [(o['id'], o['role'], o['status']) for o in r['orders']] == [
        ('l1', 'take_profit', 'closed'), ('l2', 'stop_loss', 'canceled')]


def test_async_cryptocom_otoco_and_cancel_by_client_id():
    reply = {'id': 1, 'method': 'private/advanced/create-otoco', 'code': 0, 'result': {'list_id': '42'}}
    wire, r = run('cryptocom', [reply],
                  lambda ex: ex.create_otoco_order('ETH/BTC', 'buy', 0.01, 0.05, 0.06, 0.045, {'clientOrderId': 'Z'}))
    sent = wire.sent[0]
    assert sent.url == 'https://api.crypto.com/exchange/v1/private/advanced/create-otoco'
    assert [x['client_oid'] for x in sent.json['params']['order_list']] == ['Z-e', 'Z-s', 'Z-t']
    cryptocom_check_signature(sent)
    assert (r['id'], r['type']) == ('42', 'otoco')

    detail = {'id': 1, 'code': 0, 'result': {'order_id': '1', 'client_oid': 'Z-e', 'list_id': '42'}}
    wire, r = run('cryptocom', [detail, {'id': 2, 'code': 0}],
                  lambda ex: ex.cancel_otoco_order(None, params={'clientOrderId': 'Z'}))
    assert [s.json['method'] for s in wire.sent] == ['private/advanced/get-order-detail', 'private/advanced/cancel-otoco']
    assert r['id'] == '42'


def test_async_validation_sends_nothing_and_errors_are_mapped():
    async def bad(ex):
        with pytest.raises(ccxt.InvalidOrder, match='params.clientOrderId'):
            await ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, params={'clientOrderId': 'x' * 35})
        with pytest.raises(ccxt.BadSymbol):
            await ex.create_oco_order('NOPE/BTC', 'sell', 0.01, 0.06, 0.05)
    wire, _ = run('cryptocom', [], bad)
    assert wire.sent == []

    async def disabled(ex):
        with pytest.raises(ccxt.NotSupported, match='140001'):
            await ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
    wire, _ = run('cryptocom', [{'id': 1, 'code': 140001, 'message': 'API_DISABLED'}], disabled)
    assert len(wire.sent) == 1

    async def not_found(ex):
        with pytest.raises(ccxt.OrderNotFound, match='does not exist'):
            await ex.cancel_oco_order('x')
    run('kucoin', [{'code': '400100', 'msg': 'The order does not exist.'}], not_found)


def test_async_kucoin_has_no_oto():
    async def body(ex):
        with pytest.raises(ccxt.NotSupported):
            await ex.create_oto_order('ETH/BTC', 'buy', 0.01, 0.05, stop_loss_price=0.045)
    wire, _ = run('kucoin', [], body)
    assert wire.sent == []


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('status, body, cls', [
    (503, '<html><title>503 Service Temporarily Unavailable</title></html>', ccxt.ExchangeNotAvailable),
    (505, '<html>HTTP Version Not Supported</html>', ccxt.ExchangeNotAvailable),   # ccxt async would return the page
    (429, 'Too Many Requests', ccxt.RateLimitExceeded),
], ids=['503', '505', '429'])
def test_async_http_error_without_exchange_code(exchange_id, status, body, cls):
    stop_limit = facts(exchange_id).OCO_STOP_LIMIT
    with pytest.raises(cls) as info:
        run(exchange_id, [(status, body)],
            lambda ex: ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, stop_limit))
    assert type(info.value) is cls and str(status) in str(info.value)


def test_async_cryptocom_single_order_client_id_create_and_fetch():
    placed = {'id': 1, 'method': 'private/create-order', 'code': 0, 'result': {'client_oid': 'c9', 'order_id': '77'}}
    detail = {'id': 2, 'method': 'private/get-order-detail', 'code': 0,
              'result': {'order_id': '77', 'client_oid': 'c9', 'instrument_name': 'ETH_BTC', 'side': 'BUY',
                         'order_type': 'LIMIT', 'status': 'ACTIVE', 'quantity': '0.01', 'limit_price': '0.05'}}

    async def body(ex):
        await ex.create_order('ETH/BTC', 'limit', 'buy', 0.01, 0.05, {'clientOrderId': 'c9'})
        return await ex.fetchOrder(None, 'ETH/BTC', {'clientOrderId': 'c9'})
    wire, o = run('cryptocom', [placed, detail], body)
    assert wire.sent[0].json['params']['client_oid'] == 'c9'
    assert wire.sent[1].json['params'] == {'client_oid': 'c9'}
    for sent in wire.sent:
        cryptocom_check_signature(sent)
    assert (o['id'], o['clientOrderId'], o['status']) == ('77', 'c9', 'open')


def test_async_cryptocom_fetch_order_by_id_is_ccxt_own():
    detail = {'id': 1, 'method': 'private/get-order-detail', 'code': 0,
              'result': {'order_id': '77', 'client_oid': 'c9', 'instrument_name': 'ETH_BTC', 'side': 'BUY',
                         'order_type': 'LIMIT', 'status': 'FILLED', 'quantity': '0.01', 'limit_price': '0.05'}}
    wire, o = run('cryptocom', [detail], lambda ex: ex.fetch_order('77', 'ETH/BTC'))
    assert wire.sent[0].json['params'] == {'order_id': '77'}
    assert (o['id'], o['status']) == ('77', 'closed')


def test_async_cryptocom_cancel_order_by_client_order_id():
    answer = {'id': 1, 'method': 'private/cancel-order', 'code': 0, 'result': {'client_oid': 'c9', 'order_id': '77'}}
    wire, o = run('cryptocom', [answer], lambda ex: ex.cancel_order(None, 'ETH/BTC', {'clientOrderId': 'c9'}))
    assert wire.sent[0].json['params'] == {'client_oid': 'c9'}
    cryptocom_check_signature(wire.sent[0])
    assert (o['id'], o['clientOrderId']) == ('77', 'c9')
