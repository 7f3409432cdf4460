"""Bad requests get the dialect's own envelope and parameter-error code, never a bare HTTP 500.

Real HTTP against one Venue: signed requests through simfixtures' raw helpers; requests the
server cannot parse are sent as raw text (parsing comes before authentication, as on a real API).
"""
from __future__ import annotations

import logging

import pytest
import requests

from bracket_plugin.sim.cryptocom import CryptocomDialect
from bracket_plugin.sim.kucoin import KucoinDialect
from bracket_plugin.sim.server import ServerThread, build_app, route
from simfixtures import cryptocom_raw, kucoin_raw, make_venue

HUGE = 10 ** 400
DEEP = "[" * 10_000
BIG = '{"pad": "' + "x" * (1024 * 1024 + 10) + '"}'
KU_ORDER = {"clientOid": "bad-1", "side": "buy", "symbol": "ETH-BTC", "type": "limit", "price": "0.05", "size": "1"}
KU_OCO = {"symbol": "ETH-BTC", "side": "sell", "price": "0.2", "size": "1", "stopPrice": "0.01", "limitPrice": "0.01",
          "clientOid": "bad-oco"}
CDC_ORDER = {"instrument_name": "ETH_BTC", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "0.05"}


@pytest.fixture(scope="module")
def venue():
    with make_venue(control=True) as v:
        yield v


@pytest.fixture(autouse=True)
def nothing_placed(venue):
    yield
    assert [o.id for e in venue.engines.values() for o in e.orders()] == []  # no bad request was accepted


def kucoin_error(r, status: int, code: str) -> str:
    body = r.json()
    assert (r.status_code, set(body), body["code"]) == (status, {"code", "msg"}, code), r.text
    assert isinstance(body["msg"], str)
    return body["msg"]


def cryptocom_error(r, status: int, code: int, method: str) -> str:
    body = r.json()
    assert (r.status_code, set(body), body["code"], body["method"]) == (status, {"id", "method", "code", "message"}, code, method), r.text
    return body["message"]


def post_text(venue, path: str, text: str | bytes, **kw):
    return requests.post(venue.url + path, data=text, headers={"Content-Type": "application/json"}, timeout=10, **kw)


# --- KuCoin ---------------------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    ({"size": "1e400"}, "amount must be between"),
    ({"size": HUGE}, "amount must be between"),  # a JSON number of 401 digits
    ({"price": "1e-999999999"}, "price must be between"),
    ({"price": "NaN"}, "price must be a positive number"),
    ({"price": float("nan")}, "NaN is not a JSON number"),  # json.dumps writes the literal NaN
    ({"price": float("inf")}, "Infinity is not a JSON number"),
    ({"symbol": 5}, "symbol must be a string"),
    ({"symbol": ["ETH-BTC"]}, "symbol must be a string"),
    ({"symbol": {"a": 1}}, "symbol must be a string"),
], ids=lambda x: repr(x)[:30])
def test_kucoin_order_with_a_malformed_value(venue, change, words):
    r = kucoin_raw(venue, "POST", "/api/v1/orders", dict(KU_ORDER, **change))
    assert words in kucoin_error(r, 400, "400100")


@pytest.mark.parametrize("change", [{"symbol": ["ETH-BTC"]}, {"price": "1e400"}, {"stopPrice": "NaN"}, {"size": HUGE}],
                         ids=repr)
def test_kucoin_oco_with_a_malformed_value(venue, change):
    kucoin_error(kucoin_raw(venue, "POST", "/api/v3/oco/order", dict(KU_OCO, **change)), 400, "400100")


@pytest.mark.parametrize("text, words", [
    (DEEP, "nested more than 32 levels"),
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels"),  # valid JSON, too deep
    ('{"price": Infinity}', "Infinity is not a JSON number"),
    ('{"price": 1e400}', "out of range"),
    ('{"size": 1' + "0" * 5000 + "}", "not valid JSON"),  # more digits than Python converts
    ('{"size": ', "not valid JSON"),
    (b'{"symbol": "\xff"}', "not UTF-8"),
    ("[1, 2]", "must be a JSON object"),
], ids=lambda x: repr(x)[:30])
def test_kucoin_unreadable_body(venue, text, words):
    assert words in kucoin_error(post_text(venue, "/kucoin/api/v1/orders", text), 400, "400100")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_kucoin_nesting_limit_is_32_levels(venue):
    # the object and 31 arrays: 32 levels parse (then the unsigned request fails authentication); 33 do not
    kucoin_error(post_text(venue, "/kucoin/api/v1/orders", f'{{"pad": {nested(31)}}}'), 401, "400001")
    too_deep = post_text(venue, "/kucoin/api/v1/orders", f'{{"pad": {nested(32)}}}')
    assert "nested more than 32" in kucoin_error(too_deep, 400, "400100")


def test_kucoin_body_over_the_limit_is_413_in_the_envelope(venue):
    assert "larger than 1048576 bytes" in kucoin_error(post_text(venue, "/kucoin/api/v1/orders", BIG), 413, "400100")


def test_kucoin_header_not_utf8(venue):
    r = requests.get(venue.url + "/kucoin/api/v1/accounts", headers={"KC-API-KEY": b"\xff\xfe"}, timeout=10)
    assert kucoin_error(r, 400, "400100") == "header KC-API-KEY is not UTF-8"


def test_kucoin_huge_query_numbers(venue):
    kucoin_error(kucoin_raw(venue, "GET", "/api/v1/orders?pageSize=1e400"), 400, "400100")
    kucoin_error(kucoin_raw(venue, "GET", "/api/v1/orders?currentPage=" + "9" * 5000), 400, "400100")


# --- Crypto.com -----------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"quantity": "1e400"}, "MISSING_OR_INVALID_ARGUMENT"),
    ({"price": "NaN"}, "MISSING_OR_INVALID_ARGUMENT"),
    ({"quantity": HUGE}, "quantity must be a string"),
    ({"instrument_name": ["ETH_BTC"]}, "instrument_name must be a string"),
    ({"instrument_name": 5}, "instrument_name must be a string"),
], ids=lambda x: repr(x)[:30])
def test_cryptocom_order_with_a_malformed_value(venue, change, message):
    r = cryptocom_raw(venue, "private/create-order", dict(CDC_ORDER, **change))
    assert cryptocom_error(r, 400, 40004, "private/create-order") == message


def test_cryptocom_list_as_instrument_name_of_a_leg(venue):
    legs = [dict(CDC_ORDER, instrument_name=["ETH_BTC"], side="SELL", price="0.2"),
            dict(CDC_ORDER, side="SELL", type="STOP_LOSS", ref_price="0.01")]
    r = cryptocom_raw(venue, "private/advanced/create-oco", {"order_list": legs})
    assert cryptocom_error(r, 400, 40004, "private/advanced/create-oco") == "instrument_name must be a string"


def test_cryptocom_list_as_instrument_name_of_a_query(venue):
    r = cryptocom_raw(venue, "private/get-open-orders", {"instrument_name": ["ETH_BTC"]})
    cryptocom_error(r, 400, 40004, "private/get-open-orders")


@pytest.mark.parametrize("text", [
    DEEP,
    '{"id": 1, "method": "private/create-order", "params": {"price": Infinity}}',
    '{"id": 1, "method": "private/create-order", "params": {"price": NaN}}',
    '{"id": 1, "method": "private/create-order", "params": {"price": 1e400}}',
    '{"id": 1, "method": "private/create-order", "params": {"a": ' + "[" * 40 + "]" * 40 + "}}",
    '{"id": [1], "method": "private/create-order", "params": {}}',
    '{"id": 1, "method": 7, "params": {}}',
    b'{"id": 1, "params": {"instrument_name": "\xff"}}',
], ids=lambda x: repr(x)[:40])
def test_cryptocom_unreadable_body(venue, text):
    r = post_text(venue, "/cryptocom/exchange/v1/private/create-order", text)
    assert cryptocom_error(r, 400, 40001, "private/create-order") == "BAD_REQUEST"


def test_cryptocom_body_over_the_limit_is_413_in_the_envelope(venue):
    r = post_text(venue, "/cryptocom/exchange/v1/private/create-order", BIG)
    cryptocom_error(r, 413, 40001, "private/create-order")


def test_cryptocom_header_not_utf8(venue):
    r = requests.get(venue.url + "/cryptocom/exchange/v1/public/get-tickers", headers={"X-Note": b"\xc3\x28"}, timeout=10)
    cryptocom_error(r, 400, 40001, "public/get-tickers")


# --- outside the dialects -----------------------------------------------------------------

def test_control_step_with_a_bad_count(venue):
    before = venue.now_ms()
    r = requests.post(venue.url + "/sim/step?n=abc", timeout=10)
    assert (r.status_code, list(r.json())) == (400, ["error"]) and "n must be a whole number" in r.json()["error"]
    assert venue.now_ms() == before  # the clock did not move


@pytest.mark.parametrize("method, path, status", [("GET", "/nope", 404), ("POST", "/api/v1/orders", 404),
                                                  ("GET", "/sim/step", 405)])
def test_paths_outside_the_dialects_answer_json(venue, method, path, status):
    r = requests.request(method, venue.url + path, timeout=10)
    assert (r.status_code, r.headers["Content-Type"].split(";")[0]) == (status, "application/json")
    assert path in r.json()["error"]


# --- the last resort: a bug in a handler still answers in the envelope ----------------------

class BuggyKucoin(KucoinDialect):
    @route("GET", "/api/v1/bug")
    def bug(self, call):
        return 1 / 0


class BuggyCryptocom(CryptocomDialect):
    @route("GET", "/exchange/v1/public/bug")
    def bug(self, call):
        return {}["missing"]


@pytest.fixture(scope="module")
def buggy_url(venue):
    server = ServerThread(build_app([BuggyKucoin(venue), BuggyCryptocom(venue)], venue.faults))
    yield f"http://127.0.0.1:{server.start()}"
    server.stop()


def test_unexpected_error_is_the_system_error_envelope(venue, buggy_url, caplog):
    with caplog.at_level(logging.ERROR, logger="bracket_plugin.sim"):
        r = requests.get(buggy_url + "/kucoin/api/v1/bug", timeout=10)
        assert kucoin_error(r, 500, "500000") == "Internal Server Error"
        r = requests.get(buggy_url + "/cryptocom/exchange/v1/public/bug", timeout=10)
        assert cryptocom_error(r, 500, 50001, "public/bug") == "INTERNAL_ERROR"
    assert "ZeroDivisionError" in caplog.text and "KeyError" in caplog.text  # tracebacks logged
    # the same server still answers a good request
    assert requests.get(buggy_url + "/kucoin/api/v1/timestamp", timeout=10).json()["code"] == "200000"
