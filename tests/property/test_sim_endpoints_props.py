"""Every route of the three dialects (KuCoin, Crypto.com, Binance), fed fuzzed requests over real
HTTP, correctly signed: the answer is never a 5xx and always the dialect's JSON envelope.

KuCoin and Crypto.com get JSON bodies and query values: text, ints (huge ones too), floats with
NaN and infinities (sent as JSON's NaN/Infinity literals), None, booleans, lists, objects, arrays
nested around the 32-level limit, and the field names and values a real request carries.  Binance
gets form parameters (every field name its dialect reads, and others) in the query string, the
form body or split between them, their values the same scalars written as text.  The
order-placing routes are also fuzzed from a valid request of their own kind, a few fields
replaced, so that the values reach the dialects' checks and the engine's number parsing; and
private routes get unsigned, badly signed and raw bodies.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from string import ascii_letters, digits
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from bracket_plugin.sim.binance import BinanceDialect  # noqa: E402
from bracket_plugin.sim.cryptocom import V1, CryptocomDialect  # noqa: E402
from bracket_plugin.sim.kucoin import KucoinDialect  # noqa: E402
from bracket_plugin.sim.server import collect_routes  # noqa: E402
from simfixtures import binance_raw, cdc_param_string, cdc_value, kucoin_raw, make_venue  # noqa: E402

FIELDS = [  # KuCoin's, then Crypto.com's request fields
    "symbol", "side", "type", "price", "size", "funds", "clientOid", "stopPrice", "stop", "limitPrice", "remark",
    "tradeType", "status", "pageSize", "currentPage", "startAt", "endAt", "orderIds", "orderId", "market", "currency",
    "instrument_name", "quantity", "ref_price", "ref_price_type", "notional", "client_oid", "order_id", "list_id",
    "list_id_list", "order_list", "start_time", "end_time", "limit", "timeframe", "count", "start_ts", "end_ts",
]
TYPICAL = ["ETH-BTC", "ETH_BTC", "DOGE-BTC", "buy", "sell", "BUY", "SELL", "limit", "market", "LIMIT", "MARKET",
           "STOP_LOSS", "TAKE_PROFIT_LIMIT", "loss", "entry", "TRADE", "active", "done", "0.05", "0.2", "1", "0",
           "", "1min", "1m", "MARK_PRICE", "ALL"]
ODD_NUMBERS = ["1e400", "-1e400", "NaN", "sNaN", "Infinity", "-0", "1e-999999999", "1e15", "1.0000000000000001e15",
               "9" * 5000, 10 ** 400, 2 ** 64, -1, 1e308, 5e-324, float("nan"), float("inf")]
# valid requests, whose fields the fuzz replaces: they take the requests deep into the handlers
KU_BODIES = [
    {"clientOid": "f-1", "side": "buy", "symbol": "ETH-BTC", "type": "limit", "price": "0.05", "size": "1"},
    {"clientOid": "f-2", "side": "sell", "symbol": "ETH-BTC", "type": "market", "size": "1", "stopPrice": "0.05",
     "stop": "loss"},
    {"clientOid": "f-3", "side": "sell", "symbol": "ETH-BTC", "price": "0.2", "size": "1", "stopPrice": "0.05",
     "limitPrice": "0.05"},
]
KU_QUERY = {"symbol": "ETH-BTC", "type": "1min", "status": "active", "pageSize": "10", "startAt": "1"}
CDC_LEG = {"instrument_name": "ETH_BTC", "side": "SELL", "type": "LIMIT", "quantity": "1", "price": "0.2",
           "ref_price": "0.05", "client_oid": "f-1"}
CDC_PARAMS = [CDC_LEG, {"instrument_name": "ETH_BTC", "order_id": "1", "list_id": "1", "limit": 5, "start_time": 1}]
CDC_ENTRY = {"instrument_name": "ETH_BTC", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "0.09"}
CDC_STOP = {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "ref_price": "0.05"}
CDC_TAKE = {"instrument_name": "ETH_BTC", "side": "SELL", "type": "TAKE_PROFIT", "quantity": "1", "ref_price": "0.2"}
ORDER_ROUTES = {  # (dialect, method, path) -> the legs of a valid request ([one] for a body of its own);
    # Binance's (added below): its valid requests, each a flat form of its own
    ("kucoin", "POST", "/api/v1/orders"): [KU_BODIES[0]],
    ("kucoin", "POST", "/api/v1/hf/orders"): [KU_BODIES[0]],
    ("kucoin", "POST", "/api/v1/stop-order"): [KU_BODIES[1]],
    ("kucoin", "POST", "/api/v3/oco/order"): [KU_BODIES[2]],
    ("cryptocom", "POST", V1 + "private/create-order"): [CDC_LEG],
    ("cryptocom", "POST", V1 + "private/advanced/create-order"): [CDC_STOP],
    ("cryptocom", "POST", V1 + "private/advanced/create-oco"): [CDC_LEG, CDC_STOP],
    ("cryptocom", "POST", V1 + "private/advanced/create-oto"): [CDC_ENTRY, CDC_STOP],
    ("cryptocom", "POST", V1 + "private/advanced/create-otoco"): [CDC_ENTRY, CDC_STOP, CDC_TAKE],
}
# Binance (rest-api.md): the fields its dialect reads, a leg's under each prefix of the order lists
BN_LEG_KEYS = ["type", "side", "price", "stopPrice", "quantity", "timeInForce", "clientOrderId", "trailingDelta",
               "icebergQty", "pegPriceType"]
BN_FIELDS = [
    "symbol", "side", "type", "quantity", "quoteOrderQty", "price", "stopPrice", "stopLimitPrice", "timeInForce",
    "newClientOrderId", "newOrderRespType", "trailingDelta", "icebergQty", "pegPriceType", "listClientOrderId",
    "orderListId", "orderId", "origClientOrderId", "limit", "startTime", "endTime", "fromId", "interval",
    "omitZeroBalances", "listenKey", "recvWindow", "timestamp", "signature",
] + [pre + key[0].upper() + key[1:] for pre in ("above", "below", "working", "pending", "pendingAbove", "pendingBelow")
     for key in BN_LEG_KEYS]
BN_TYPICAL = ["ETHBTC", "DOGEBTC", "BUY", "SELL", "LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT",
              "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "GTC", "IOC", "FOK", "FULL", "ACK", "1m", "1h", "true", "0.01",
              "0.09", "0.1", "1", "0", "-1", "", "1000000000", "1000000001"]
BN_MARKET = "ETHBTC"
RECV_WINDOWS = ["5000", "60000", "60001", "0", "-1", "0.5", "NaN", "sNaN", "-NaN", "Infinity", "1e400", "", "x"]


class Factor(float):
    """In a valid Binance request: a price as a factor of the last price (put on the tick when sent)."""


# valid requests, whose fields the fuzz replaces
BN_LIMIT = {"symbol": BN_MARKET, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
            "price": Factor(0.9)}
BN_STOP = {"symbol": BN_MARKET, "side": "SELL", "type": "STOP_LOSS_LIMIT", "timeInForce": "GTC", "quantity": "0.01",
           "stopPrice": Factor(0.9), "price": Factor(0.89)}
BN_OCO = {"symbol": BN_MARKET, "side": "SELL", "quantity": "0.01", "aboveType": "TAKE_PROFIT_LIMIT",
          "aboveStopPrice": Factor(1.1), "abovePrice": Factor(1.11), "aboveTimeInForce": "GTC", "belowType": "STOP_LOSS_LIMIT",
          "belowStopPrice": Factor(0.9), "belowPrice": Factor(0.89), "belowTimeInForce": "GTC"}
BN_WORKING = {"symbol": BN_MARKET, "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": Factor(0.95),
              "workingQuantity": "0.01", "workingTimeInForce": "GTC", "pendingSide": "SELL"}
BN_OTO = dict(BN_WORKING, pendingType="STOP_LOSS", pendingQuantity="0.01", pendingStopPrice=Factor(0.9))
BN_OTOCO = dict(BN_WORKING, pendingQuantity="0.01", pendingAboveType="LIMIT_MAKER", pendingAbovePrice=Factor(1.1),
                pendingBelowType="STOP_LOSS_LIMIT", pendingBelowStopPrice=Factor(0.9), pendingBelowPrice=Factor(0.89),
                pendingBelowTimeInForce="GTC")
BN_QUERY = {"symbol": BN_MARKET, "orderId": "1000000001", "origClientOrderId": "f-1", "orderListId": "1000000002",
            "listClientOrderId": "f-1", "limit": "5", "startTime": "1", "interval": "1m", "fromId": "0"}
ORDER_ROUTES.update({
    ("binance", "POST", "/api/v3/order"): [BN_LIMIT, BN_STOP],
    ("binance", "POST", "/api/v3/orderList/oco"): [BN_OCO],
    ("binance", "POST", "/api/v3/orderList/oto"): [BN_OTO],
    ("binance", "POST", "/api/v3/orderList/otoco"): [BN_OTOCO],
    ("binance", "POST", "/api/v3/orderList/opo"): [{k: v for k, v in BN_OTO.items() if k != "pendingQuantity"}],
    ("binance", "POST", "/api/v3/orderList/opoco"): [{k: v for k, v in BN_OTOCO.items() if k != "pendingQuantity"}],
})
MAX_URL = 8000  # aiohttp's parser refuses request lines over 8190 bytes (plain text, before any dialect)
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nested(depth: int):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


scalars = st.one_of(st.none(), st.booleans(), st.text(max_size=12), st.sampled_from(TYPICAL), st.integers(),
                    st.sampled_from(ODD_NUMBERS), st.floats(allow_nan=True, allow_infinity=True))
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=8) | st.integers(28, 36).map(nested)  # around the 32-level limit
objects = st.dictionaries(keys, values, max_size=8)


def mutated(base: dict):
    """`base` with up to three of its fields (or others) replaced by fuzzed values."""
    fields = st.one_of(st.sampled_from(sorted(base)), keys)
    return st.dictionaries(fields, st.one_of(st.sampled_from(ODD_NUMBERS), values), max_size=3).map(
        lambda change: {**base, **change})


def as_query(query: dict) -> str:
    return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in query.items()})


ku_bodies = st.one_of(objects, values, st.sampled_from(KU_BODIES).flatmap(mutated))
ku_queries = st.one_of(st.dictionaries(keys, scalars, max_size=4), mutated(KU_QUERY))
cdc_params = st.one_of(
    objects, st.sampled_from(CDC_PARAMS).flatmap(mutated),
    st.lists(mutated(CDC_LEG), min_size=1, max_size=3).map(lambda legs: {"order_list": legs}),
)
cdc_queries = st.one_of(st.dictionaries(keys, scalars, max_size=4),
                        mutated({"instrument_name": "ETH_BTC", "timeframe": "1m", "count": "5"}))
bn_keys = st.one_of(st.sampled_from(BN_FIELDS), st.text(max_size=8))
bn_scalars = st.one_of(scalars, st.sampled_from(BN_TYPICAL))
bn_params = st.one_of(st.dictionaries(bn_keys, bn_scalars, max_size=8),
                      st.sampled_from([BN_QUERY, BN_LIMIT, BN_STOP, BN_OCO, BN_OTO, BN_OTOCO]).flatmap(mutated))


@pytest.fixture(scope="module")
def venue():
    with make_venue() as v:
        yield v


@pytest.fixture(scope="module")
def routes(venue):
    return {"kucoin": collect_routes(KucoinDialect(venue)), "cryptocom": collect_routes(CryptocomDialect(venue)),
            "binance": collect_routes(BinanceDialect(venue))}


def path_of(draw, route) -> str:
    """A path the route's pattern matches, its parameters fuzzed (and percent-encoded on the wire)."""
    return quote(draw(st.from_regex(route.pattern, fullmatch=True)), safe="/")


def assert_kucoin_envelope(r):
    assert r.status_code < 500, r.text[:300]
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str), r.text[:300]
    if body["code"] == "200000":
        assert (r.status_code, set(body)) == (200, {"code", "data"})
    else:
        assert set(body) == {"code", "msg"} and isinstance(body["msg"], str), r.text[:300]


def assert_cryptocom_envelope(r, method: str | None):
    """`method`: the one the answer must echo (None: the body may name its own)."""
    assert r.status_code < 500, r.text[:300]
    body = r.json()
    assert isinstance(body, dict) and {"id", "method", "code"} <= set(body), r.text[:300]
    # success is code 0, or "0" from the wallet methods (as ccxt's recorded real answers show)
    assert (type(body["code"]) is int or body["code"] == "0") and method in (None, body["method"]), r.text[:300]
    if body["code"] in (0, "0"):
        assert r.status_code == 200 and set(body) <= {"id", "method", "code", "message", "result"}
        assert body.get("message", "NO_ERROR") == "NO_ERROR", r.text[:300]
    else:
        assert set(body) == {"id", "method", "code", "message"} and isinstance(body["message"], str), r.text[:300]


def cryptocom_post(venue, method: str, params: dict, req_id):
    """A private request signed as the docs say, its body JSON with NaN/Infinity literals allowed."""
    creds = venue.credentials("cryptocom")
    nonce = int(time.time() * 1000)
    req_id = nonce if req_id is None else req_id
    payload = method + cdc_value(req_id) + creds.api_key + cdc_param_string(params) + str(nonce)
    body = {"id": req_id, "method": method, "params": params, "api_key": creds.api_key, "nonce": nonce,
            "sig": hmac.new(creds.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()}
    return requests.post(f"{venue.url}/cryptocom{V1}{method}", data=json.dumps(body), timeout=10,
                         headers={"Content-Type": "application/json"})


def assert_binance_envelope(r):
    """errors.md: an error is {"code": <negative int>, "msg": <str>}; a success is JSON without one."""
    assert r.status_code < 500, r.text[:300]
    body = r.json()
    if r.status_code == 200:
        assert isinstance(body, (dict, list)), r.text[:300]
        assert not (isinstance(body, dict) and "code" in body and "msg" in body), r.text[:300]
    else:
        assert isinstance(body, dict) and set(body) == {"code", "msg"}, r.text[:300]
        assert type(body["code"]) is int and body["code"] < 0 and isinstance(body["msg"], str), r.text[:300]


def bn_text(value) -> str:
    """A parameter's value as text: strings as they are, anything else as JSON writes it."""
    return value if isinstance(value, str) else json.dumps(value)


def bn_priced(venue, params: dict) -> dict:
    """A valid request's float factors as prices: the last price times the factor, on the tick."""
    e = venue.engine_for("binance")
    last, tick = e.last_price("ETH/BTC"), e.rules("ETH/BTC").tick_size
    return {k: str((last * Decimal(str(v)) / tick).to_integral_value() * tick) if isinstance(v, Factor) else v
            for k, v in params.items()}


def binance_signed(venue, method: str, path: str, params: dict, where: str = "query", *, recv_window=None,
                   signature=None, key=None):
    """`binance_raw` with every value written as text (`bn_text`): fuzzed values of any type."""
    return binance_raw(venue, method, path, {k: bn_text(v) for k, v in params.items()}, where=where, key=key,
                       recv_window=None if recv_window is None else bn_text(recv_window), signature=signature)


@SETTINGS
@given(data=st.data())
def test_kucoin_routes_answer_in_the_envelope(venue, routes, data):
    route = data.draw(st.sampled_from(routes["kucoin"]))
    endpoint = path_of(data.draw, route)
    query = data.draw(ku_queries) if route.method != "POST" else {}
    if query:
        endpoint += "?" + as_query(query)
    assume(len(endpoint) < MAX_URL)
    body = data.draw(ku_bodies) if route.method == "POST" else None
    assert_kucoin_envelope(kucoin_raw(venue, route.method, endpoint, body, timeout=10))


@SETTINGS
@given(data=st.data())
def test_cryptocom_routes_answer_in_the_envelope(venue, routes, data):
    route = data.draw(st.sampled_from(routes["cryptocom"]))
    path = path_of(data.draw, route)
    method = path[len(V1):]
    if route.method == "GET":
        query = as_query(data.draw(cdc_queries))
        assume(len(path + query) < MAX_URL)
        r = requests.get(f"{venue.url}/cryptocom{path}?{query}", timeout=10)
    else:
        req_id = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=8), scalars))  # None: the nonce
        r = cryptocom_post(venue, method, data.draw(cdc_params), req_id)
    assert_cryptocom_envelope(r, method)


@SETTINGS
@given(data=st.data())
def test_binance_routes_answer_in_the_envelope(venue, routes, data):
    """Every route, its form parameters (and the signed recvWindow) fuzzed, in the query string (GET)
    or also the body or both."""
    route = data.draw(st.sampled_from(routes["binance"]))
    params = bn_priced(venue, data.draw(bn_params))
    where = data.draw(st.sampled_from(["query", "body", "split"])) if route.method != "GET" else "query"
    # recvWindow (checked before any route): mostly left out, else its edges, NaN among them
    recv_window = data.draw(st.one_of(st.none(), st.none(), st.none(), st.none(), st.sampled_from(RECV_WINDOWS)))
    assume(len(urlencode([(k, bn_text(v)) for k, v in params.items()])) < MAX_URL - 200)
    r = binance_signed(venue, route.method, path_of(data.draw, route), params, where, recv_window=recv_window)
    assert_binance_envelope(r)


@settings(max_examples=150, deadline=None)
@given(exchange=st.sampled_from(["kucoin", "cryptocom"]), data=st.data())
def test_unsigned_raw_bodies_answer_in_the_envelope(venue, routes, exchange, data):
    """Any JSON value as the whole body of a private POST (signature or not, it must parse first)."""
    route = data.draw(st.sampled_from([r for r in routes[exchange] if r.method == "POST"]))
    path = path_of(data.draw, route)
    text = json.dumps(data.draw(st.one_of(objects, values, ku_bodies, cdc_params)))
    r = requests.post(f"{venue.url}/{exchange}{path}", data=text, timeout=10, headers={"Content-Type": "application/json"})
    if exchange == "kucoin":
        assert_kucoin_envelope(r)
    else:
        assert_cryptocom_envelope(r, None)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_binance_unsigned_and_garbled_requests_answer_in_the_envelope(venue, routes, data):
    """Binance's private routes: no key, an unknown key, no signature or a wrong one, raw bytes as
    the body and query string (form text, JSON, anything, percent-escapes that decode to no UTF-8),
    or a raw body text signed as it is (a fresh timestamp and the signature in the query string)."""
    route = data.draw(st.sampled_from([r for r in routes["binance"] if r.private]))
    path = path_of(data.draw, route)
    params = bn_priced(venue, data.draw(bn_params))
    how = data.draw(st.sampled_from(["no key", "unknown key", "no signature", "bad signature", "raw", "signed raw"]))
    creds = venue.credentials("binance")
    texts = st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: quote(b, safe="=&")),
                      st.builds(json.dumps, st.one_of(objects, values)),
                      st.just(urlencode([(k, bn_text(v)) for k, v in params.items()])))
    if how == "signed raw":
        text, query = data.draw(texts), urlencode({"timestamp": int(time.time() * 1000)})
        sig = hmac.new(creds.secret.encode(), (query + text).encode(), hashlib.sha256).hexdigest()
        r = requests.request(route.method, f"{venue.url}/binance{path}?{query}&signature={sig}", data=text.encode(),
                             timeout=10, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "X-MBX-APIKEY": creds.api_key})
    elif how == "raw":
        query, body = data.draw(texts), data.draw(st.one_of(texts, st.binary(max_size=60)))
        assume(len(query) < MAX_URL)
        content_type = data.draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain"]))
        r = requests.request(route.method, f"{venue.url}/binance{path}?{quote(query, safe='=&%+')}",
                             data=body.encode() if isinstance(body, str) else body, timeout=10,
                             headers={"Content-Type": content_type, "X-MBX-APIKEY": creds.api_key})
    elif how == "no signature":
        query = urlencode([(k, bn_text(v)) for k, v in params.items()] + [("timestamp", str(int(time.time() * 1000)))])
        assume(len(query) < MAX_URL)
        r = requests.request(route.method, f"{venue.url}/binance{path}?{query}", timeout=10,
                             headers={"X-MBX-APIKEY": creds.api_key})
    else:
        assume(len(urlencode([(k, bn_text(v)) for k, v in params.items()])) < MAX_URL - 200)
        where = data.draw(st.sampled_from(["query", "body", "split"])) if route.method != "GET" else "query"
        key = {"no key": "", "bad signature": None}.get(how)
        if how == "unknown key":  # latin-1 as the header goes on the wire: bytes over 0x7f are not UTF-8
            # (no controls or spaces: requests refuses those, or aiohttp's parser before the dialect)
            chars = st.characters(max_codepoint=0xFF, exclude_categories=("Cc", "Zs"))
            key = data.draw(st.text(chars, min_size=1, max_size=20))
        signature = data.draw(st.text(ascii_letters + digits, min_size=1, max_size=70)) if how == "bad signature" else None
        r = binance_signed(venue, route.method, path, params, where, key=key, signature=signature)
    assert_binance_envelope(r)


def order_request(legs: list[dict]):
    """A valid order request with fuzzed fields: the body itself, or each leg of its order_list."""
    if len(legs) == 1:
        return mutated(legs[0])
    return st.one_of(st.tuples(*map(mutated, legs)).map(lambda ls: {"order_list": list(ls)}),
                     mutated({"order_list": legs}))


def test_order_routes_are_served_mutating_routes(routes):
    for ex, method, path in ORDER_ROUTES:
        assert [r.mutates for r in routes[ex] if r.method == method and r.pattern.match(path)] == [True], path


@settings(SETTINGS, max_examples=420)  # 15 routes: about as many examples a route as 250 gave the 9 before Binance's
@given(data=st.data())
def test_orders_with_fuzzed_fields_answer_in_the_envelope(venue, data):
    """The order-placing routes, each with a valid request of its kind whose fields are fuzzed:
    the values reach the dialect's checks and the engine's number parsing."""
    (exchange, method, path), legs = data.draw(st.sampled_from(sorted(ORDER_ROUTES.items())))
    if exchange == "binance":  # a flat form: one of the route's valid requests, fields replaced
        params = bn_priced(venue, data.draw(st.sampled_from(legs).flatmap(mutated)))
        assume(len(urlencode([(k, bn_text(v)) for k, v in params.items()])) < MAX_URL - 200)
        r = binance_signed(venue, method, path, params, data.draw(st.sampled_from(["query", "body", "split"])))
        assert_binance_envelope(r)
        if r.status_code == 200:  # keeps the balance and the stop count free for the next examples
            binance_signed(venue, "DELETE", "/api/v3/openOrders", {"symbol": BN_MARKET})
        return
    body = data.draw(order_request(legs))
    if exchange == "kucoin":
        assert_kucoin_envelope(kucoin_raw(venue, method, path, body, timeout=10))
    else:
        assert_cryptocom_envelope(cryptocom_post(venue, path[len(V1):], body, None), path[len(V1):])
