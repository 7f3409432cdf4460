"""Exchange error answers ccxt leaves generic, mapped to ccxt classes; code and message kept."""
import ccxt
import pytest

from bracket_plugin.exchanges.cryptocom import CRYPTOCOM_EXACT
from bracket_plugin.exchanges.kucoin import kucoin_error_class
from conformance import VENUES, facts
from exchange_wire import Wire, make

CDC_CASES = [
    (140001, 'API_DISABLED', ccxt.NotSupported),
    (50002, 'INVALID_PRICE', ccxt.InvalidOrder),
    (50007, 'INVALID_TRIGGER_PRICE', ccxt.InvalidOrder),
    (50010, 'INVALID_ORDER_PARAMETERS', ccxt.InvalidOrder),
    (204, 'DUPLICATE_CLORDID', ccxt.DuplicateOrderId),
    (205, 'DUPLICATE_ORDERID', ccxt.DuplicateOrderId),
    (208, 'INSTRUMENT_NOT_TRADABLE', ccxt.BadSymbol),
    (209, 'INVALID_INSTRUMENT_NAME', ccxt.BadSymbol),
    (212, 'INVALID_ORDERID', ccxt.OrderNotFound),
    (229, 'INVALID_REF_PRICE', ccxt.InvalidOrder),
    (230, 'INVALID_REF_PRICE_TYPE', ccxt.InvalidOrder),
    (308, 'INVALID_PRICE', ccxt.InvalidOrder),
    (316, 'NO_ACTIVE_ORDER', ccxt.OrderNotFound),
]


def test_every_mapped_crypto_com_code_has_a_case():
    assert {str(c) for c, _, _ in CDC_CASES} == set(CRYPTOCOM_EXACT)


@pytest.mark.parametrize('code, name, cls', CDC_CASES, ids=[str(c[0]) for c in CDC_CASES])
def test_cryptocom_code(code, name, cls):
    for status in (200, 400):
        wire = Wire().reply((status, {'id': 1, 'method': 'private/advanced/create-oco', 'code': code, 'message': name}))
        with pytest.raises(cls) as info:
            make('cryptocom', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)
        assert str(code) in str(info.value) and name in str(info.value)
        assert len(wire.sent) == 1


def test_cryptocom_codes_ccxt_already_maps_still_work():
    wire = Wire().reply({'id': 1, 'method': 'x', 'code': 306, 'message': 'INSUFFICIENT_AVAILABLE_BALANCE'})
    with pytest.raises(ccxt.InsufficientFunds):
        make('cryptocom', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05)


KU_CASES = [
    ('126044', 'clientOid duplicate', ccxt.DuplicateOrderId),
    ('126033', 'Duplicate order', ccxt.DuplicateOrderId),
    ('400100', 'The clientOid already exists', ccxt.DuplicateOrderId),
    ('400100', 'clientOid is duplicated', ccxt.DuplicateOrderId),
    ('400100', 'order_not_exist_or_not_allow_to_cancel', ccxt.OrderNotFound),
    ('400100', 'The order does not exist.', ccxt.OrderNotFound),
    ('400100', 'OCO order not exist', ccxt.OrderNotFound),
    ('400100', 'Order size below the minimum requirement.', ccxt.InvalidOrder),
    ('400100', 'price not in the given range!', ccxt.InvalidOrder),
    ('400100', 'account.available.amount', ccxt.InsufficientFunds),
    ('900001', 'symbol not exists', ccxt.BadSymbol),
    ('400100', 'symbol not_exist', ccxt.BadSymbol),
    ('200001', 'Order creation for this pair suspended', ccxt.OperationRejected),
    ('200002', 'Order cancel for this pair suspended', ccxt.OperationRejected),
    ('200003', 'Number of orders breached the limit', ccxt.InvalidOrder),
]


@pytest.mark.parametrize('code, msg, cls', KU_CASES, ids=[f'{c}-{m[:20]}' for c, m, _ in KU_CASES])
def test_kucoin_answer(code, msg, cls):
    for status in (200, 400):
        wire = Wire().reply((status, {'code': code, 'msg': msg}))
        with pytest.raises(cls) as info:
            make('kucoin', wire).create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, 0.0499)
        assert code in str(info.value) and msg in str(info.value)


def test_kucoin_unmapped_answers_fall_back_to_ccxt():
    assert kucoin_error_class('200000', None) is None
    assert kucoin_error_class('400100', 'something else entirely') is None
    wire = Wire().reply({'code': '400005', 'msg': 'Invalid KC-API-SIGN'})
    with pytest.raises(ccxt.AuthenticationError):
        make('kucoin', wire).fetch_oco_order('x')
    wire = Wire().reply({'code': '400100', 'msg': 'something else entirely'})
    with pytest.raises(ccxt.BadRequest):
        make('kucoin', wire).fetch_oco_order('x')


# ---- HTTP answers without the exchange's JSON code (proxy / load-balancer pages) ----
HTML_503 = '<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>'

HTTP_CASES = [
    (503, HTML_503, ccxt.ExchangeNotAvailable),
    (502, '<html>Bad Gateway</html>', ccxt.ExchangeNotAvailable),
    (500, {'message': 'Internal Server Error'}, ccxt.ExchangeNotAvailable),   # JSON, but no code
    (505, '<html>HTTP Version Not Supported</html>', ccxt.ExchangeNotAvailable),  # not in ccxt's table
    (504, '<html>Gateway Time-out</html>', ccxt.RequestTimeout),                # ccxt's own network class
    (429, 'Too Many Requests', ccxt.RateLimitExceeded),
]


def create_oco(exchange_id, ex):
    stop_limit = facts(exchange_id).OCO_STOP_LIMIT
    return ex.create_oco_order('ETH/BTC', 'sell', 0.01, 0.06, 0.05, stop_limit)


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('status, body, cls', HTTP_CASES, ids=[str(c[0]) for c in HTTP_CASES])
def test_http_error_without_exchange_code(exchange_id, status, body, cls):
    wire = Wire().reply((status, body))
    with pytest.raises(cls) as info:
        create_oco(exchange_id, make(exchange_id, wire))
    assert type(info.value) is cls               # not a bare ExchangeError, not a broader class
    assert str(status) in str(info.value)
    assert len(wire.sent) == 1


def test_crypto_com_json_code_on_a_5xx_still_decides():
    # a 5xx that does carry Crypto.com's code is classed by the code, as ccxt does
    wire = Wire().reply((500, {'id': 1, 'method': 'private/advanced/create-oco', 'code': 204,
                               'message': 'DUPLICATE_CLORDID'}))
    with pytest.raises(ccxt.DuplicateOrderId):
        create_oco('cryptocom', make('cryptocom', wire))


def test_http_4xx_without_code_is_left_to_ccxt():
    # only 5xx and 429 are reclassified; a bare 4xx page keeps ccxt's own handling
    wire = Wire().reply((403, '<html>Forbidden</html>'))
    with pytest.raises(ccxt.ExchangeError):
        create_oco('cryptocom', make('cryptocom', wire))
