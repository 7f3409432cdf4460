"""A dialect served at the root path (Venue(root=...), `sim serve --exchange X`): clients that join
`/api/v1/...` to the host, dropping a base URL's own path, reach it; the prefixed routes still work."""
from __future__ import annotations

import ccxt
import pytest
import requests

from bracket_plugin import venues
from simfixtures import SYMBOL, cryptocom_raw, kucoin_raw, make_venue

KUCOIN_URL_KEYS = venues.profile("kucoin").sim.url_keys


@pytest.fixture
def ku_root():
    with make_venue(root="kucoin", control=True) as v:
        yield v


def bare_kucoin(venue) -> ccxt.kucoin:
    creds = venue.credentials("kucoin")
    return ccxt.kucoin({"apiKey": creds.api_key, "secret": creds.secret, "password": creds.passphrase,
                        "enableRateLimit": False, "urls": {"api": {k: venue.url for k in KUCOIN_URL_KEYS}}})


def test_kucoin_at_the_root_with_raw_requests(ku_root):
    assert requests.get(ku_root.url + "/api/v1/timestamp", timeout=5).json()["code"] == "200000"
    r = kucoin_raw(ku_root, "GET", "/api/v1/accounts?currency=ETH", prefix="")  # signed over the path as sent
    assert r.status_code == 200 and [a["currency"] for a in r.json()["data"]] == ["ETH"]
    body = {"clientOid": "root-1", "side": "buy", "symbol": "ETH-BTC", "type": "limit", "price": "0.05", "size": "1"}
    order_id = kucoin_raw(ku_root, "POST", "/api/v1/orders", body, prefix="").json()["data"]["orderId"]
    # one account behind both paths
    assert kucoin_raw(ku_root, "GET", f"/api/v1/orders/{order_id}").json()["data"]["clientOid"] == "root-1"
    assert kucoin_raw(ku_root, "DELETE", f"/api/v1/orders/{order_id}", prefix="").json()["data"] == {
        "cancelledOrderIds": [order_id]}
    # a signature over the prefixed path does not pass at the root
    r = kucoin_raw(ku_root, "GET", "/api/v1/accounts", prefix="", sign="bm90IHRoZSBzaWduYXR1cmU=")
    assert (r.status_code, r.json()["code"]) == (401, "400005")


def test_kucoin_at_the_root_with_ccxt_and_the_bare_url(ku_root):
    ex = bare_kucoin(ku_root)
    ex.load_markets()
    assert ex.fetch_balance()["ETH"]["total"] == 100
    order = ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)
    assert [o["id"] for o in ex.fetch_open_orders(SYMBOL)] == [order["id"]]
    ex.cancel_order(order["id"], SYMBOL)
    assert ex.fetch_order(order["id"], SYMBOL)["status"] == "canceled"


def test_root_keeps_the_prefixed_and_control_routes(ku_root):
    assert kucoin_raw(ku_root, "GET", "/api/v1/accounts").status_code == 200  # /kucoin/api/v1/accounts
    assert cryptocom_raw(ku_root, "private/user-balance").json()["code"] == 0  # /cryptocom/... still Crypto.com
    assert requests.get(ku_root.url + "/sim/status", timeout=5).json()["mode"] == "step"
    # any other path is the root dialect's: its own not-found envelope
    r = requests.get(ku_root.url + "/api/v9/nothing", timeout=5)
    assert (r.status_code, r.json()["code"]) == (404, "404")


def test_root_faults_and_rate_limit_envelope(ku_root):
    ku_root.faults.add(pattern=r"^/api/v1/timestamp$", kind="http_429", count=1)
    r = requests.get(ku_root.url + "/api/v1/timestamp", timeout=5)
    assert (r.status_code, r.json()["code"]) == (429, "429000")  # KuCoin's envelope at the root too
    assert requests.get(ku_root.url + "/api/v1/timestamp", timeout=5).status_code == 200


def test_cryptocom_at_the_root():
    with make_venue(exchanges=("cryptocom",), root="cryptocom") as v:
        r = cryptocom_raw(v, "private/user-balance", prefix="")
        assert r.json()["result"]["data"][0]["position_balances"]
        creds = v.credentials("cryptocom")
        ex = ccxt.cryptocom({"apiKey": creds.api_key, "secret": creds.secret, "enableRateLimit": False,
                             "urls": {"api": {"base": v.url, "v1": v.url + "/exchange/v1", "v2": v.url + "/v2",
                                              "derivatives": v.url + "/v2"}}})
        ex.load_markets()
        order = ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)
        assert ex.fetch_order(order["id"], SYMBOL)["price"] == 0.05
        assert ex.fetch_balance()["BTC"]["used"] == 0.05   # a buy's fee is paid in the base on Crypto.com


def test_root_must_be_a_served_dialect():
    with pytest.raises(ValueError, match="root must be one of the served exchanges"):
        make_venue(exchanges=("cryptocom",), root="kucoin")
    with pytest.raises(ValueError, match="root must be one of"):
        make_venue(root="ftx")   # not a registered venue


def test_without_root_the_root_path_is_not_a_dialect():
    with make_venue() as v:
        r = requests.get(v.url + "/api/v1/timestamp", timeout=5)
        assert r.status_code == 404 and "error" in r.json()
