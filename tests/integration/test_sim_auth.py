"""Authentication is checked by the simulator's own code, as each exchange documents it."""
from __future__ import annotations

import time

import pytest

from simfixtures import cryptocom_raw, kucoin_raw, venue  # noqa: F401  (fixture)


def test_kucoin_accepts_a_correct_request_v2_and_v1(venue):
    r = kucoin_raw(venue, "GET", "/api/v1/accounts?type=trade&currency=ETH")
    assert r.status_code == 200 and r.json()["code"] == "200000"
    assert [a["currency"] for a in r.json()["data"]] == ["ETH"]
    r = kucoin_raw(venue, "GET", "/api/v1/accounts", version="1")  # v1 keys send the passphrase in plain text
    assert r.json()["code"] == "200000"


def test_kucoin_signs_the_post_body(venue):
    body = {"clientOid": "c1", "side": "buy", "symbol": "ETH-BTC", "type": "limit", "price": "0.05", "size": "1"}
    r = kucoin_raw(venue, "POST", "/api/v1/orders", body)
    assert r.json()["code"] == "200000" and r.json()["data"]["orderId"]


@pytest.mark.parametrize("change, code", [
    ({"key": "someone-else"}, "400003"),
    ({"passphrase": "wrong-passphrase"}, "400004"),
    ({"sign": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "400005"),
    ({"secret": "wrong-secret"}, "400005"),
    ({"ts": -6_000}, "400002"),  # offsets from the wall clock at request time
    ({"ts": +6_000}, "400002"),
])
def test_kucoin_rejections(venue, change, code):
    if "secret" in change:  # a wrong secret also garbles the passphrase HMAC; send the passphrase plain (v1)
        change = dict(change, version="1")
    if "ts" in change:
        change = dict(change, ts=int(time.time() * 1000) + change["ts"])
    r = kucoin_raw(venue, "GET", "/api/v1/accounts", **change)
    assert (r.status_code, r.json()["code"]) == (401, code)
    assert "msg" in r.json()


def test_kucoin_signature_covers_the_query(venue):
    good = kucoin_raw(venue, "GET", "/api/v1/accounts?currency=ETH")
    assert good.json()["code"] == "200000"
    # sign one query, send another
    import requests
    r = requests.get(venue.url + "/kucoin/api/v1/accounts?currency=BTC", headers=good.request.headers, timeout=5)
    assert (r.status_code, r.json()["code"]) == (401, "400005")


def test_kucoin_missing_headers(venue):
    import requests
    r = requests.get(venue.url + "/kucoin/api/v1/accounts", timeout=5)
    assert (r.status_code, r.json()["code"]) == (401, "400001")


def test_cryptocom_accepts_a_correct_request(venue):
    r = cryptocom_raw(venue, "private/user-balance")
    assert r.status_code == 200 and r.json()["code"] == 0
    r = cryptocom_raw(venue, "private/create-order", {"instrument_name": "ETH_BTC", "side": "BUY", "type": "LIMIT",
                                                      "quantity": "1", "price": "0.05", "exec_inst": ["POST_ONLY"]})
    assert r.json()["code"] == 0 and r.json()["result"]["order_id"]


@pytest.mark.parametrize("change, status, code", [
    ({"key": "someone-else"}, 401, 40101),
    ({"secret": "wrong-secret"}, 401, 40101),
    ({"sig": "00" * 32}, 401, 40101),
    ({"nonce": -61_000}, 400, 40102),  # offsets from the wall clock at request time
    ({"nonce": +61_000}, 400, 40102),
])
def test_cryptocom_rejections(venue, change, status, code):
    if "nonce" in change:
        change = dict(change, nonce=int(time.time() * 1000) + change["nonce"])
    r = cryptocom_raw(venue, "private/user-balance", {"currency": "ETH"}, **change)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_cryptocom_signature_covers_nested_params(venue):
    legs = [{"instrument_name": "ETH_BTC", "side": "SELL", "type": "LIMIT", "quantity": "1", "price": "0.2"},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "ref_price": "0.05"}]
    r = cryptocom_raw(venue, "private/advanced/create-oco", {"order_list": legs})
    assert r.json()["code"] == 0
    # the same signature over different leg contents must fail
    import requests
    body = r.request.body
    tampered = body.replace(b'"0.05"', b'"0.04"')
    r2 = requests.post(venue.url + "/cryptocom/exchange/v1/private/advanced/create-oco", data=tampered,
                       headers={"Content-Type": "application/json"}, timeout=5)
    assert (r2.status_code, r2.json()["code"]) == (401, 40101)


def test_cryptocom_param_string_follows_the_documented_algorithm():
    from bracket_plugin.sim.auth import cryptocom_param_string

    params = {"order_list": [
        {"instrument_name": "BTC_USD", "side": "SELL", "type": "LIMIT", "quantity": "1", "price": "93000",
         "exec_inst": ["POST_ONLY"]},
        {"instrument_name": "BTC_USD", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "ref_price": "80000"},
    ], "contingency_type": "OCO", "limit": 10, "flag": None}
    assert cryptocom_param_string(params) == (
        "contingency_typeOCOflagnulllimit10order_list"
        "exec_instPOST_ONLYinstrument_nameBTC_USDprice93000quantity1sideSELLtypeLIMIT"
        "instrument_nameBTC_USDquantity1ref_price80000sideSELLtypeSTOP_LOSS")
    assert cryptocom_param_string({}) == ""


def test_cryptocom_param_string_agrees_with_ccxt_on_string_payloads():
    import ccxt

    from bracket_plugin.sim.auth import cryptocom_param_string

    params = {"instrument_name": "ETH_BTC", "order_list": [{"b": "2", "a": "1", "exec_inst": ["POST_ONLY", "X"]}],
              "side": "BUY", "limit": 5}
    assert cryptocom_param_string(params) == ccxt.cryptocom().params_to_string(params, 0)
