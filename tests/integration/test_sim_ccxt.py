"""Plain ccxt (sync and async) against both simulator dialects over real HTTP."""
from __future__ import annotations

import asyncio

import ccxt
import pytest

from bracket_plugin import venues
from conformance import VENUES
from simfixtures import START, SYMBOL, client, venue  # noqa: F401  (fixture)

EXCHANGES = VENUES


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_market_data(venue, exchange_id):
    ex = client(venue, exchange_id)
    markets = ex.load_markets()
    assert list(markets) == [SYMBOL]
    m = markets[SYMBOL]
    assert (m["spot"], m["precision"]["price"], m["precision"]["amount"]) == (True, 0.000001, 0.0001)
    eng = venue.engine_for(exchange_id)
    last = float(eng.last_price(SYMBOL))
    assert ex.fetch_ticker(SYMBOL)["last"] == last
    since = eng.closed_bars(SYMBOL)[0].ts
    candles = ex.fetch_ohlcv(SYMBOL, "5m", since=since, limit=10)
    bars = eng.closed_bars(SYMBOL)[:10]
    assert [c[0] for c in candles] == [b.ts for b in bars]
    assert candles[3][1:5] == [float(bars[3].open), float(bars[3].high), float(bars[3].low), float(bars[3].close)]
    # a 15m candle aggregates three 5m bars
    c15 = ex.fetch_ohlcv(SYMBOL, "15m", since=since - since % 900_000 + 900_000, limit=1)[0]
    group = [b for b in eng.closed_bars(SYMBOL) if c15[0] <= b.ts < c15[0] + 900_000]
    assert len(group) == 3 and c15[2] == float(max(b.high for b in group)) and c15[4] == float(group[-1].close)
    venue.step()
    assert ex.fetch_ticker(SYMBOL)["last"] == float(eng.closed_bars(SYMBOL)[-1].close) != last


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_order_book_is_one_level_at_the_last_price(venue, exchange_id):
    ex = client(venue, exchange_id)
    ex.load_markets()
    last = float(venue.engine_for(exchange_id).last_price(SYMBOL))
    volume = float(venue.engine_for(exchange_id).closed_bars(SYMBOL)[-1].volume)
    for book in (ex.fetch_order_book(SYMBOL), ex.fetch_order_book(SYMBOL, 20)):
        levels = [level[:2] for level in book["bids"] + book["asks"]]  # Crypto.com adds an order count
        assert levels == [[last, volume], [last, volume]] and len(book["bids"]) == 1


def test_kucoin_time_and_currencies(venue):
    ex = client(venue, "kucoin")
    import time
    assert abs(ex.fetch_time() - time.time() * 1000) < 5_000  # wall clock: what timestamps are checked against
    ex.load_markets()
    assert sorted(ex.currencies) == ["BTC", "ETH"]


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_orders_and_fills_sync(venue, exchange_id):
    ex = client(venue, exchange_id)
    ex.load_markets()
    bal = ex.fetch_balance()
    assert (bal["ETH"]["total"], bal["BTC"]["total"]) == (100.0, 10.0)
    nxt = venue.bars[SYMBOL][START]
    buy = ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)  # far below: rests
    sell = ex.create_order(SYMBOL, "market", "sell", 0.5)
    assert ex.fetch_order(buy["id"], SYMBOL)["status"] == "open"
    # a venue charging fees in the quote holds the fee with the cost; one charging the asset
    # received takes a buy's fee out of the ETH it receives
    profile = venues.profile(exchange_id)
    fee_rate = float(profile.taker_fee)
    held = 0.05 * (1 + float(profile.maker_fee)) if profile.fee_currency == venues.QUOTE else 0.05
    assert ex.fetch_balance()["BTC"]["used"] == pytest.approx(held)
    assert {o["id"] for o in ex.fetch_open_orders(SYMBOL)} == {buy["id"], sell["id"]}
    assert ex.fetch_my_trades(SYMBOL) == []  # nothing fills at placement
    venue.step()
    done = ex.fetch_order(sell["id"], SYMBOL)
    assert (done["status"], done["filled"], done["average"]) == ("closed", 0.5, float(nxt.open))
    trades = ex.fetch_my_trades(SYMBOL)
    assert [(t["order"], t["side"], t["amount"], t["price"]) for t in trades] == [(sell["id"], "sell", 0.5, float(nxt.open))]
    assert trades[0]["fee"]["currency"] == "BTC" and trades[0]["fee"]["cost"] == pytest.approx(0.5 * float(nxt.open) * fee_rate)
    ex.cancel_order(buy["id"], SYMBOL)
    assert ex.fetch_order(buy["id"], SYMBOL)["status"] == "canceled"
    assert ex.fetch_open_orders(SYMBOL) == []
    bal = ex.fetch_balance()
    assert bal["ETH"]["total"] == 99.5 and bal["BTC"]["used"] == 0
    assert bal["BTC"]["total"] == pytest.approx(10 + 0.5 * float(nxt.open) * (1 - fee_rate))


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_stop_orders_trigger_on_bars(venue, exchange_id):
    ex = client(venue, exchange_id)
    ex.load_markets()
    eng = venue.engine_for(exchange_id)
    bars = venue.bars[SYMBOL]
    # find the first future bar whose low is below the current last price by a margin, put a stop there
    last = eng.last_price(SYMBOL)
    k = next(i for i in range(START, len(bars)) if bars[i].low < last * 99 / 100)
    trigger = float(round(last * 99 / 100, 6))
    params = {"stopLossPrice": trigger}
    stop = ex.create_order(SYMBOL, "market", "sell", 1, None, params)
    fetch_params = {"trigger": True} if venues.profile(exchange_id).separate_trigger_orders else {}
    assert ex.fetch_order(stop["id"], SYMBOL, fetch_params)["status"] == "open"
    for _ in range(k - START + 1):
        venue.step()
    trades = ex.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [stop["id"]]
    expected = min(float(bars[k].open), trigger)  # gap through the trigger fills at the open
    assert trades[0]["price"] == expected


def test_async_clients_both_dialects(venue):
    async def run(exchange_id):
        ex = client(venue, exchange_id, asynchronous=True)
        try:
            await ex.load_markets()
            ticker = await ex.fetch_ticker(SYMBOL)
            order = await ex.create_order(SYMBOL, "limit", "sell", 2, 0.2)
            fetched = await ex.fetch_order(order["id"], SYMBOL)
            await ex.cancel_order(order["id"], SYMBOL)
            after = await ex.fetch_order(order["id"], SYMBOL)
            balance = await ex.fetch_balance()
            return ticker["last"], fetched["status"], fetched["amount"], after["status"], balance["ETH"]["free"]
        finally:
            await ex.close()

    async def both():
        return await asyncio.gather(run("kucoin"), run("cryptocom"))

    last = float(venue.engine.last_price(SYMBOL))
    for result in asyncio.run(both()):
        assert result == (last, "open", 2.0, "canceled", 100.0)


def test_async_fill_after_step(venue):
    async def run():
        ex = client(venue, "cryptocom", asynchronous=True)
        try:
            await ex.load_markets()
            order = await ex.create_order(SYMBOL, "market", "buy", 1)
            await asyncio.get_running_loop().run_in_executor(None, venue.step)
            return order["id"], await ex.fetch_my_trades(SYMBOL)
        finally:
            await ex.close()

    oid, trades = asyncio.run(run())
    assert [(t["order"], t["amount"], t["price"]) for t in trades] == [(oid, 1.0, float(venue.bars[SYMBOL][START].open))]


def test_wrong_secret_is_an_authentication_error(venue):
    for exchange_id in EXCHANGES:
        ex = client(venue, exchange_id, secret="not-the-secret")
        with pytest.raises(ccxt.AuthenticationError):
            ex.fetch_balance()
