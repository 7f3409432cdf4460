"""bracket_plugin's exchange classes (sync and async) driving order lists through the simulator."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

import bracket_plugin
import bracket_plugin.async_support as bp_async
from conformance import VENUES
from simfixtures import START, SYMBOL, venue  # noqa: F401  (fixture)

TICK = Decimal("0.000001")


def make(venue, exchange_id, asynchronous=False):
    module = bp_async if asynchronous else bracket_plugin
    return getattr(module, exchange_id)(dict(venue.ccxt_config(exchange_id), enableRateLimit=False))


def q(x: Decimal) -> float:
    return float(x.quantize(TICK))


def stop_bar(venue, level: Decimal) -> int:
    """Index of the first future bar whose low reaches `level`."""
    bars = venue.bars[SYMBOL]
    return next(i for i in range(START, len(bars)) if bars[i].low <= level)


@pytest.mark.parametrize('exchange_id', VENUES)
def test_oco_stop_fills_and_cancels_the_take_profit(venue, exchange_id):
    ex = make(venue, exchange_id)
    ex.load_markets()
    last = venue.engine_for(exchange_id).last_price(SYMBOL)
    stop = last * Decimal("0.99")
    k = stop_bar(venue, stop)
    limit = q(stop * Decimal("0.9"))  # low enough that the stop-limit fills on its trigger bar
    lst = ex.create_oco_order(SYMBOL, "sell", 1, q(last * 2), q(stop), limit, {"clientOrderId": "oco1"})
    assert (lst["type"], lst["status"], lst["clientOrderId"]) == ("oco", "open", "oco1")
    fetched = ex.fetch_oco_order(None, SYMBOL, {"clientOrderId": "oco1"})
    assert fetched["id"] == lst["id"]
    roles = {o["role"]: o["id"] for o in fetched["orders"]}
    assert set(roles) == {"take_profit", "stop_loss"}
    assert [x["id"] for x in ex.fetch_open_oco_orders(SYMBOL)] == [lst["id"]]
    for _ in range(k - START + 1):
        venue.step()
    done = ex.fetch_oco_order(lst["id"], SYMBOL)
    status = {o["role"]: o["status"] for o in done["orders"]}
    assert done["status"] == "closed" and status == {"stop_loss": "closed", "take_profit": "canceled"}
    trades = ex.fetch_my_trades(SYMBOL)
    assert [(t["order"], t["side"], t["amount"]) for t in trades] == [(roles["stop_loss"], "sell", 1.0)]
    assert ex.fetch_open_oco_orders(SYMBOL) == []


@pytest.mark.parametrize('exchange_id', VENUES)
def test_oco_cancel_releases_the_hold(venue, exchange_id):
    ex = make(venue, exchange_id)
    ex.load_markets()
    lst = ex.create_oco_order(SYMBOL, "sell", 3, 0.2, 0.05, 0.049)
    assert ex.fetch_balance()["ETH"]["used"] == 3.0
    canceled = ex.cancel_oco_order(lst["id"], SYMBOL)
    assert canceled["status"] == "canceled"
    assert ex.fetch_oco_order(lst["id"], SYMBOL)["status"] == "canceled"
    assert ex.fetch_balance()["ETH"]["used"] == 0.0


def test_cryptocom_otoco_entry_then_take_profit(venue):
    ex = make(venue, "cryptocom")
    ex.load_markets()
    bars = venue.bars[SYMBOL]
    entry = bars[START].open  # a limit buy at the next open fills on that bar
    tp = entry * Decimal("1.004")
    k = next(i for i in range(START + 1, len(bars)) if bars[i].high >= tp.quantize(TICK))
    lst = ex.create_otoco_order(SYMBOL, "buy", 2, q(entry), q(tp), q(entry / 2), {"clientOrderId": "b1"})
    assert lst["type"] == "otoco"
    for _ in range(k - START + 1):
        venue.step()
    done = ex.fetch_oco_order(lst["id"], SYMBOL)
    status = {o["role"]: o["status"] for o in done["orders"]}
    assert status == {"entry": "closed", "take_profit": "closed", "stop_loss": "canceled"}
    legs = {o["role"]: o["id"] for o in done["orders"]}
    assert [(t["order"], t["side"]) for t in ex.fetch_my_trades(SYMBOL)] == [(legs["entry"], "buy"), (legs["take_profit"], "sell")]
    # the buy of 2 ETH paid its fee in ETH (0.075%: Crypto.com charges the asset received)
    assert ex.fetch_balance()["ETH"]["total"] == pytest.approx(100.0 - 2 * 0.00075)


def test_cryptocom_oto_cancel_before_the_entry_fills(venue):
    ex = make(venue, "cryptocom")
    ex.load_markets()
    lst = ex.create_oto_order(SYMBOL, "buy", 1, 0.05, stop_loss_price=0.04)
    assert {o["role"] for o in lst["orders"]} == {"entry", "stop_loss"}
    ex.cancel_oto_order(lst["id"], SYMBOL)
    assert ex.fetch_oco_order(lst["id"], SYMBOL)["status"] == "canceled"
    assert venue.engine_for("cryptocom").balances()["BTC"][2] == 0


def test_async_exchange_layer_both_dialects(venue):
    async def run(exchange_id):
        ex = make(venue, exchange_id, asynchronous=True)
        try:
            await ex.load_markets()
            lst = await ex.create_oco_order(SYMBOL, "sell", 1, 0.2, 0.05, 0.049)
            fetched = await ex.fetch_oco_order(lst["id"], SYMBOL)
            opened = await ex.fetch_open_oco_orders(SYMBOL)
            await ex.cancel_oco_order(lst["id"], SYMBOL)
            after = await ex.fetch_oco_order(lst["id"], SYMBOL)
            return fetched["status"], [x["id"] for x in opened] == [lst["id"]], after["status"]
        finally:
            await ex.close()

    async def both():
        return await asyncio.gather(run("kucoin"), run("cryptocom"))

    assert asyncio.run(both()) == [("open", True, "canceled"), ("open", True, "canceled")]


def test_async_otoco_fill_cycle(venue):
    bars = venue.bars[SYMBOL]
    entry = bars[START].open
    stop = entry * Decimal("0.995")
    k = next(i for i in range(START + 1, len(bars)) if bars[i].low <= stop.quantize(TICK))

    async def run():
        ex = make(venue, "cryptocom", asynchronous=True)
        try:
            await ex.load_markets()
            lst = await ex.create_otoco_order(SYMBOL, "buy", 1, q(entry), q(entry * 3), q(stop))
            loop = asyncio.get_running_loop()
            for _ in range(k - START + 1):
                await loop.run_in_executor(None, venue.step)
            return await ex.fetch_oco_order(lst["id"], SYMBOL)
        finally:
            await ex.close()

    done = asyncio.run(run())
    assert {o["role"]: o["status"] for o in done["orders"]} == {"entry": "closed", "stop_loss": "closed", "take_profit": "canceled"}


@pytest.mark.parametrize('exchange_id', VENUES)
def test_single_order_found_and_canceled_by_client_order_id(venue, exchange_id):
    ex = make(venue, exchange_id)
    ex.load_markets()
    price = q(venue.engine_for(exchange_id).last_price(SYMBOL) * Decimal("0.5"))   # far below: rests
    ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"clientOrderId": "single-1"})
    assert ex.fetch_order(None, SYMBOL, {"clientOrderId": "single-1"})["status"] == "open"
    ex.cancel_order(None, SYMBOL, {"clientOrderId": "single-1"})
    assert ex.fetch_order(None, SYMBOL, {"clientOrderId": "single-1"})["status"] == "canceled"
    assert not venue.engine_for(exchange_id).open_orders(SYMBOL)
