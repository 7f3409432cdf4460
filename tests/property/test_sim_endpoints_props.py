"""Every route of both dialects, fed fuzzed JSON bodies and query values over real HTTP, correctly
signed: the answer is never a 5xx and always the dialect's JSON envelope.

Values: text, ints (huge ones too), floats with NaN and infinities (sent as JSON's NaN/Infinity
literals), None, booleans, lists, objects, arrays nested around the 32-level limit, and the
field names and values a real request carries.  The order-placing routes are also fuzzed from a
valid request of their own kind, a few fields replaced, so that the values reach the dialects'
checks and the engine's number parsing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from bracket_plugin.sim.cryptocom import V1, CryptocomDialect  # noqa: E402
from bracket_plugin.sim.kucoin import KucoinDialect  # noqa: E402
from bracket_plugin.sim.server import collect_routes  # noqa: E402
from simfixtures import cdc_param_string, cdc_value, kucoin_raw, make_venue  # noqa: E402

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
ORDER_ROUTES = {  # (dialect, method, path) -> the legs of a valid request ([one] for a body of its own)
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


@pytest.fixture(scope="module")
def venue():
    with make_venue() as v:
        yield v


@pytest.fixture(scope="module")
def routes(venue):
    return {"kucoin": collect_routes(KucoinDialect(venue)), "cryptocom": collect_routes(CryptocomDialect(venue))}


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


def order_request(legs: list[dict]):
    """A valid order request with fuzzed fields: the body itself, or each leg of its order_list."""
    if len(legs) == 1:
        return mutated(legs[0])
    return st.one_of(st.tuples(*map(mutated, legs)).map(lambda ls: {"order_list": list(ls)}),
                     mutated({"order_list": legs}))


def test_order_routes_are_served_mutating_routes(routes):
    for ex, method, path in ORDER_ROUTES:
        assert [r.mutates for r in routes[ex] if r.method == method and r.pattern.match(path)] == [True], path


@SETTINGS
@given(data=st.data())
def test_orders_with_fuzzed_fields_answer_in_the_envelope(venue, data):
    """The order-placing routes, each with a valid request of its kind whose fields are fuzzed:
    the values reach the dialect's checks and the engine's number parsing."""
    (exchange, method, path), legs = data.draw(st.sampled_from(sorted(ORDER_ROUTES.items())))
    body = data.draw(order_request(legs))
    if exchange == "kucoin":
        assert_kucoin_envelope(kucoin_raw(venue, method, path, body, timeout=10))
    else:
        assert_cryptocom_envelope(cryptocom_post(venue, path[len(V1):], body, None), path[len(V1):])
