"""Each fault-injection mode, seen through ccxt's real HTTP stack."""
from __future__ import annotations

import ccxt
import pytest
import requests

from simfixtures import SYMBOL, client, cryptocom_raw, kucoin_raw, venue  # noqa: F401  (fixture)


def test_lose_response_after_the_order_is_placed(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="lose_response", method="POST")
    with pytest.raises(ccxt.NetworkError):
        ex.create_order(SYMBOL, "limit", "buy", 1, 0.05, {"clientOid": "lost-1"})
    # the order exists although the client never got the answer: look it up by client order id
    found = ex.fetch_order(None, SYMBOL, {"clientOid": "lost-1"})
    assert (found["clientOrderId"], found["status"], found["amount"]) == ("lost-1", "open", 1.0)
    assert [o.client_id for o in venue.engine_for("kucoin").orders()] == ["lost-1"]


def test_reset_before_processing_places_nothing(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    rule = venue.faults.add(pattern=r"private/create-order$", kind="reset")
    with pytest.raises(ccxt.NetworkError):
        ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)
    assert venue.engine_for("cryptocom").orders() == [] and rule.fired == 1
    ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)  # count=1: the next request goes through
    assert len(venue.engine_for("cryptocom").orders()) == 1


def test_http_5xx_is_not_processed(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    venue.faults.add(pattern=r"/api/v1/orders$", kind="http_5xx", status=502, count=2)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)
    assert venue.engine_for("kucoin").orders() == []
    r = kucoin_raw(venue, "GET", "/api/v1/orders?status=active")  # other paths are unaffected
    assert r.status_code == 200


def test_http_5xx_status_on_the_wire(venue):
    venue.faults.add(pattern=r"user-balance", kind="http_5xx", status=503)
    r = cryptocom_raw(venue, "private/user-balance")
    assert r.status_code == 503
    assert cryptocom_raw(venue, "private/user-balance").status_code == 200


def test_http_429_with_retry_after(venue):
    venue.faults.add(pattern=r"/api/v1/accounts", kind="http_429", retry_after=7)
    r = kucoin_raw(venue, "GET", "/api/v1/accounts")
    assert (r.status_code, r.headers["Retry-After"], r.json()["code"]) == (429, "7", "429000")
    venue.faults.add(pattern=r"user-balance", kind="http_429", retry_after=3)
    r = cryptocom_raw(venue, "private/user-balance")
    assert (r.status_code, r.headers["Retry-After"], r.json()["code"]) == (429, "3", 42901)
    for exchange_id, pattern in (("kucoin", r"/api/v1/accounts"), ("cryptocom", r"user-balance")):
        venue.faults.add(pattern=pattern, kind="http_429")
        with pytest.raises(ccxt.RateLimitExceeded):
            client(venue, exchange_id).fetch_balance()


def test_delay_beyond_the_client_timeout(venue):
    ex = client(venue, "kucoin", timeout=300)  # ms
    ex.load_markets()
    venue.faults.add(pattern=r"/api/v1/market/stats", kind="delay", delay=1.5)
    with pytest.raises(ccxt.RequestTimeout):
        ex.fetch_ticker(SYMBOL)
    assert ex.fetch_ticker(SYMBOL)["last"] > 0  # the rule fired once


def test_method_filter_and_unlimited_count(venue):
    venue.faults.add(pattern=r"/kucoin/api/v1/orders", kind="http_5xx", method="DELETE", count=None)
    for _ in range(3):
        assert kucoin_raw(venue, "DELETE", "/api/v1/orders/abc").status_code == 503
    assert kucoin_raw(venue, "GET", "/api/v1/orders").status_code == 200


def test_bad_rules_are_refused(venue):
    with pytest.raises(ValueError, match="kind"):
        venue.faults.add(pattern="x", kind="explode")
    with pytest.raises(ValueError, match="500..599"):
        venue.faults.add(pattern="x", kind="http_5xx", status=404)
    with pytest.raises(ValueError, match="count"):
        venue.faults.add(pattern="x", kind="reset", count=0)


def test_lose_response_with_plain_requests(venue):
    venue.faults.add(pattern=r"create-order", kind="lose_response", delay=0.1)
    with pytest.raises(requests.ConnectionError):
        cryptocom_raw(venue, "private/create-order", {"instrument_name": "ETH_BTC", "side": "SELL", "type": "LIMIT",
                                                      "quantity": "1", "price": "0.2", "client_oid": "gone"})
    assert venue.engine_for("cryptocom").order_by_client_id("gone").status == "open"


def test_faults_seen_by_the_async_client(venue):
    import asyncio

    async def run():
        ex = client(venue, "cryptocom", asynchronous=True)
        try:
            await ex.load_markets()
            venue.faults.add(pattern=r"private/create-order$", kind="lose_response")
            venue.faults.add(pattern=r"private/get-open-orders$", kind="reset")
            venue.faults.add(pattern=r"private/user-balance$", kind="http_429", retry_after=2)
            errors = []
            for call in (lambda: ex.create_order(SYMBOL, "limit", "buy", 1, 0.05, {"client_oid": "async-lost"}),
                         lambda: ex.fetch_open_orders(SYMBOL), lambda: ex.fetch_balance()):
                try:
                    await call()
                    errors.append(None)
                except ccxt.BaseError as exc:
                    errors.append(exc)
            return errors, await ex.fetch_open_orders(SYMBOL)
        finally:
            await ex.close()

    errors, still_open = asyncio.run(run())
    assert isinstance(errors[0], ccxt.NetworkError) and isinstance(errors[1], ccxt.NetworkError)
    assert isinstance(errors[2], ccxt.RateLimitExceeded)
    assert [o["clientOrderId"] for o in still_open] == ["async-lost"]


def test_delay_then_a_normal_answer(venue):
    import time

    ex = client(venue, "cryptocom")
    ex.load_markets()
    venue.faults.add(pattern=r"public/get-tickers", kind="delay", delay=0.3)
    t0 = time.monotonic()
    ticker = ex.fetch_ticker(SYMBOL)
    assert time.monotonic() - t0 >= 0.3  # a lower bound only: the answer waited for the rule
    assert ticker["last"] == float(venue.engine_for("cryptocom").last_price(SYMBOL))
