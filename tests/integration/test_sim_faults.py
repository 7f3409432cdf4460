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


def wait_for(predicate, timeout: float = 5.0):
    """Poll until predicate() is truthy (the server processes late requests on its own thread)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


def test_delay_beyond_the_client_timeout_processes_nothing(venue):
    import time

    ex = client(venue, "kucoin", timeout=300)  # ms
    ex.load_markets()
    venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="delay", delay=0.8, method="POST")
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order(SYMBOL, "limit", "buy", 1, 0.05, {"clientOid": "delayed"})
    time.sleep(1.0)  # past the delay: the request, cut off by the client, was never processed
    assert venue.engine_for("kucoin").orders() == []


def test_late_order_is_placed_after_the_client_timed_out(venue):
    ex = client(venue, "kucoin", timeout=300)  # ms
    ex.load_markets()
    engine = venue.engine_for("kucoin")
    rule = venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="late", delay=1.0, method="POST")
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order(SYMBOL, "limit", "buy", 1, 0.05, {"clientOid": "late-1"})
    assert rule.fired == 1 and engine.orders() == []  # the client gave up before the venue processed it
    wait_for(lambda: engine.orders())
    assert [(o.client_id, o.status) for o in engine.orders()] == [("late-1", "open")]
    found = ex.fetch_order(None, SYMBOL, {"clientOid": "late-1"})  # what a client looks up after a timeout
    assert (found["clientOrderId"], found["amount"]) == ("late-1", 1.0)


def test_late_list_order_on_cryptocom(venue):
    engine = venue.engine_for("cryptocom")  # last price about 0.097
    legs = [{"instrument_name": "ETH_BTC", "side": "SELL", "type": "LIMIT", "quantity": "1", "price": "0.2"},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "ref_price": "0.05"}]
    venue.faults.add(pattern=r"private/advanced/create-oco$", kind="late", delay=0.8)
    with pytest.raises(requests.Timeout):
        cryptocom_raw(venue, "private/advanced/create-oco", {"order_list": legs}, timeout=0.2)
    assert engine.lists() == []
    wait_for(lambda: engine.lists())
    assert [(lst.kind, lst.status) for lst in engine.lists()] == [("oco", "open")]


def test_late_answer_reaches_a_patient_client(venue):
    import time

    venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="late", delay=0.3, method="POST")
    t0 = time.monotonic()
    r = kucoin_raw(venue, "POST", "/api/v1/orders", {"clientOid": "late-ok", "side": "buy", "symbol": "ETH-BTC",
                                                    "type": "limit", "price": "0.05", "size": "1"})
    assert time.monotonic() - t0 >= 0.3
    assert (r.status_code, r.json()["data"]["orderId"]) == (200, venue.engine_for("kucoin").order_by_client_id("late-ok").id)


def test_late_request_is_authenticated_at_arrival(venue):
    import time

    # signed 4.5 s ago: inside KuCoin's 5 s window when it arrives, outside it once processed
    venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="late", delay=1.0, method="POST")
    r = kucoin_raw(venue, "POST", "/api/v1/orders", {"clientOid": "late-ts", "side": "buy", "symbol": "ETH-BTC",
                                                    "type": "limit", "price": "0.05", "size": "1"},
                   ts=int(time.time() * 1000) - 4_500)
    assert r.json()["code"] == "200000", r.text


def test_lose_response_with_delay_processes_at_once_then_withholds_the_answer(venue):
    from concurrent.futures import ThreadPoolExecutor

    engine = venue.engine_for("kucoin")
    venue.faults.add(pattern=r"/kucoin/api/v1/orders$", kind="lose_response", delay=1.0, method="POST")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(kucoin_raw, venue, "POST", "/api/v1/orders",
                             {"clientOid": "held", "side": "buy", "symbol": "ETH-BTC", "type": "limit",
                              "price": "0.05", "size": "1"})
        wait_for(lambda: engine.orders(), timeout=0.9)
        assert not answer.done()  # placed while the answer is still held back
        with pytest.raises(requests.ConnectionError):
            answer.result()
    assert engine.order_by_client_id("held").status == "open"
