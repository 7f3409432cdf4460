"""KuCoin's websocket API on the simulator: the protocol itself (raw aiohttp websockets), ccxt.pro's
unmodified kucoin class, our class's watch_oco_orders, and KuCoin's own SDK. Real sockets on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
import ccxt.pro
import pytest

import bracket_plugin.async_support as bp_async
from bracket_plugin.sim.kucoin import KucoinDialect
from bracket_plugin.sim.rules import price_path
from simfixtures import START, SYMBOL, kucoin_raw, make_venue, venue  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(30)
WAIT = 5  # seconds: every wait on the network is bounded
MID = "ETH-BTC"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def bullet(venue, private: bool) -> dict:
    if private:
        r = kucoin_raw(venue, "POST", "/api/v1/bullet-private")
    else:
        import requests
        r = requests.post(venue.url + "/kucoin/api/v1/bullet-public", timeout=WAIT)
    body = r.json()
    assert body["code"] == "200000", body
    return body["data"]


async def connect(session, data: dict, token: str | None = None):
    server = data["instanceServers"][0]
    ws = await session.ws_connect(server["endpoint"], params={"token": token or data["token"], "connectId": "c1"},
                                  timeout=aiohttp.ClientWSTimeout(ws_close=WAIT))
    return ws


async def recv(ws) -> dict:
    msg = await ws.receive(timeout=WAIT)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def drain(ws, quiet: float = 1.0) -> list[dict]:
    """Every message until none arrives for `quiet` seconds (bounded: at most 200)."""
    out = []
    for _ in range(200):
        try:
            msg = await ws.receive(timeout=quiet)
        except TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        out.append(json.loads(msg.data))
    return out


def step_in_thread(venue, n: int = 1):
    return asyncio.get_running_loop().run_in_executor(None, lambda: [venue.step() for _ in range(n)])


async def subscribe(ws, topic: str, mid: str = "s", response: bool = True) -> None:
    await ws.send_json({"id": mid, "type": "subscribe", "topic": topic, "privateChannel": topic.startswith("/spot"),
                        "response": response})
    if response:
        assert await recv(ws) == {"id": mid, "type": "ack"}


async def step_and_drain(venue, ws, n: int = 1) -> list[dict]:
    await step_in_thread(venue, n)
    got = await drain(ws)
    await ws.close()
    return got


# ---------------------------------------------------------------- the protocol
def test_handshake_ping_subscribe_ack_and_ticks(venue):
    data = bullet(venue, private=False)
    server = data["instanceServers"][0]
    assert server["endpoint"].startswith("ws://127.0.0.1:") and server["pingInterval"] > 0 and server["pingTimeout"] > 0

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await connect(s, data)
            assert await recv(ws) == {"id": "c1", "type": "welcome"}
            await ws.send_json({"id": "p1", "type": "ping"})
            pong = await recv(ws)
            assert (pong["id"], pong["type"]) == ("p1", "pong")
            for _ in range(2):  # twice: still published once
                await subscribe(ws, f"/market/ticker:{MID}", "s1")
            await subscribe(ws, f"/market/match:{MID}", "s2", response=False)
            # no ack to wait for: a ping answered after it shows the subscribe was taken (one
            # connection's messages are handled in order) before the venue steps
            await ws.send_json({"id": "p2", "type": "ping"})
            assert (await recv(ws))["id"] == "p2"
            return await step_and_drain(venue, ws)
    got = run(go())
    bar = venue.engine_for("kucoin").closed_bars(SYMBOL, limit=1)[-1]
    path = [str(p.normalize()) for p in price_path(bar)]
    ticks = [m["data"]["price"] for m in got if m["topic"] == f"/market/ticker:{MID}"]
    trades = [m["data"]["price"] for m in got if m["topic"] == f"/market/match:{MID}"]
    assert [Decimal(p) for p in ticks] == [Decimal(p) for p in path]   # no ack for s2 (response false), no duplicates
    assert [Decimal(p) for p in trades] == [Decimal(p) for p in path]
    assert {m["subject"] for m in got} == {"trade.ticker", "trade.l3match"}


def test_refusals_bad_token_unknown_topic_private_topic_on_public_token(venue):
    data = bullet(venue, private=False)
    bad = kucoin_raw(venue, "POST", "/api/v1/bullet-private", sign="AAAA")
    assert bad.json()["code"] != "200000"

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await connect(s, data, token="not-a-token")
            err = await recv(ws)
            assert (err["type"], err["code"], err["data"]) == ("error", 401, "token is invalid")
            closed = await ws.receive(timeout=WAIT)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            ws = await connect(s, data)
            assert (await recv(ws))["type"] == "welcome"
            await ws.send_json({"id": "a", "type": "subscribe", "topic": "/market/nothing:ETH-BTC", "response": True})
            assert (await recv(ws))["code"] == 404
            await ws.send_json({"id": "b", "type": "subscribe", "topic": "/market/ticker:NOPE-BTC", "response": True})
            assert (await recv(ws))["code"] == 404
            await ws.send_json({"id": "c", "type": "subscribe", "topic": "/spotMarket/tradeOrders", "response": True})
            err = await recv(ws)
            assert (err["id"], err["type"], err["code"]) == ("c", "error", 401)
            await ws.send_json({"id": "d", "type": "dance"})
            assert (await recv(ws))["code"] == 415
            await ws.close()
    run(go())


def test_idle_connection_is_closed_after_ping_timeout(venue, monkeypatch):
    monkeypatch.setattr(KucoinDialect, "PING_INTERVAL_MS", 200)
    monkeypatch.setattr(KucoinDialect, "PING_TIMEOUT_MS", 200)
    data = bullet(venue, private=False)
    assert data["instanceServers"][0]["pingInterval"] == 200

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await connect(s, data)
            assert (await recv(ws))["type"] == "welcome"
            for _ in range(3):   # pinging keeps it open past the idle limit
                await asyncio.sleep(0.2)
                await ws.send_json({"id": "p", "type": "ping"})
                assert (await recv(ws))["type"] == "pong"
            msg = await ws.receive(timeout=WAIT)   # silence: closed after 0.4 s
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    run(go())


def test_private_order_events_for_a_limit_order_that_fills(venue):
    data = bullet(venue, private=True)
    eng = venue.engine_for("kucoin")
    bars = venue.bars[SYMBOL]
    last = eng.last_price(SYMBOL)
    k = next(i for i in range(START, len(bars)) if bars[i].low < last * Decimal("0.995"))
    price = str((last * Decimal("0.995")).quantize(Decimal("0.000001")))

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await connect(s, data)
            assert (await recv(ws))["type"] == "welcome"
            for topic in ("/spotMarket/tradeOrders", "/spotMarket/tradeOrdersV2"):
                await subscribe(ws, topic)
            loop = asyncio.get_running_loop()
            r = await loop.run_in_executor(None, lambda: kucoin_raw(venue, "POST", "/api/v1/orders", {
                "clientOid": "w1", "symbol": MID, "side": "buy", "type": "limit", "price": price, "size": "1"}))
            assert r.json()["code"] == "200000", r.text
            return r.json()["data"]["orderId"], await step_and_drain(venue, ws, k - START + 1)
    oid, got = run(go())
    v1 = [(m["data"]["type"], m["data"]["status"]) for m in got if m["topic"] == "/spotMarket/tradeOrders"]
    v2 = [(m["data"]["type"], m["data"]["status"]) for m in got if m["topic"] == "/spotMarket/tradeOrdersV2"]
    assert v1 == [("open", "open"), ("match", "open"), ("filled", "done")]
    assert v2 == [("received", "new")] + v1
    match = next(m["data"] for m in got if m["data"]["type"] == "match")
    assert (match["orderId"], match["matchPrice"], match["matchSize"], match["liquidity"]) == (oid, price, "1", "maker")


# ---------------------------------------------------------------- ccxt.pro, unmodified
def pro(venue):
    return ccxt.pro.kucoin(dict(venue.ccxt_config("kucoin"), enableRateLimit=False))


async def watch_until(watch, done, limit: int = 20):
    """Call `watch()` until `done(result)` (at most `limit` updates, each bounded by WAIT)."""
    for _ in range(limit):
        result = await asyncio.wait_for(watch(), WAIT)
        if done(result):
            return result
    raise AssertionError(f"no matching update in {limit} updates")


def test_ccxt_pro_watch_ticker_sees_the_price_path(venue):
    """ccxt keeps the latest ticker only: a pending watch returns the first tick of a bar's burst of
    four; the rest land in `ex.tickers` (a later watch waits for the next bar)."""
    eng = venue.engine_for("kucoin")

    async def go():
        ex = pro(venue)
        try:
            seen = []
            for _ in range(2):
                pending = asyncio.ensure_future(ex.watch_ticker(SYMBOL))
                await asyncio.sleep(0.3)   # subscribed (the first call negotiates, connects, subscribes)
                await step_in_thread(venue)
                path = [float(p) for p in price_path(eng.closed_bars(SYMBOL, limit=1)[-1])]
                first = await asyncio.wait_for(pending, WAIT)
                for _ in range(50):   # bounded: the burst's last tick arrives within 0.5 s
                    if ex.tickers[SYMBOL]["last"] == path[-1]:
                        break
                    await asyncio.sleep(0.01)
                seen.append((path, first["last"], ex.tickers[SYMBOL]))
            return seen
        finally:
            await ex.close()
    for path, first, latest in run(go()):
        assert first == path[0] and latest["last"] == path[-1]
        assert latest["symbol"] == SYMBOL and latest["bid"] == latest["ask"] == path[-1]
        assert latest["high"] >= max(path) and latest["low"] <= min(path)


def test_ccxt_pro_watch_orders_and_my_trades_see_a_rest_order_fill(venue):
    eng = venue.engine_for("kucoin")
    bars = venue.bars[SYMBOL]
    last = eng.last_price(SYMBOL)
    level = last * Decimal("0.995")
    k = next(i for i in range(START, len(bars)) if bars[i].low < level)

    async def go():
        ex = pro(venue)
        try:
            await ex.load_markets()
            orders = asyncio.ensure_future(ex.watch_orders(SYMBOL))
            trades = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
            await asyncio.sleep(0.5)
            placed = await ex.create_order(SYMBOL, "limit", "buy", 1, float(level.quantize(Decimal("0.000001"))))
            first = await asyncio.wait_for(orders, WAIT)
            assert [(o["id"], o["status"]) for o in first] == [(placed["id"], "open")]
            # ccxt resolves a pending watch with the first message of a burst; the rest land in its
            # caches (a later watch waits for the next message): arm the watch, then step
            orders = asyncio.ensure_future(ex.watch_orders(SYMBOL))
            await asyncio.sleep(0.2)
            await step_in_thread(venue, k - START + 1)
            updated = await asyncio.wait_for(orders, WAIT)
            assert updated[-1]["id"] == placed["id"] and updated[-1]["filled"] == 1.0
            mine = await asyncio.wait_for(trades, WAIT)
            for _ in range(50):   # bounded: the burst's `filled` message follows within 0.5 s
                if ex.orders.hashmap[SYMBOL][placed["id"]]["status"] == "closed":
                    break
                await asyncio.sleep(0.01)
            return placed, ex.orders.hashmap[SYMBOL][placed["id"]], mine
        finally:
            await ex.close()
    placed, order, mine = run(go())
    assert (order["id"], order["status"], order["filled"], order["side"]) == (placed["id"], "closed", 1.0, "buy")
    assert [(t["order"], t["amount"], t["takerOrMaker"]) for t in mine] == [(placed["id"], 1.0, "maker")]
    assert mine[0]["id"] == eng.fills(symbol=SYMBOL)[-1].id


# ---------------------------------------------------------------- our class: watch_oco_orders
def test_watch_oco_orders_sees_an_oco_go_from_open_to_done():
    """Partial fills (a bar fills at most 0.05 % of its volume) spread the stop leg's fill over two
    bars: after the first the list is open (stop leg part-filled, take-profit canceled), after the
    second it is closed. ccxt's caches update a list's dict in place, so each bar is its own watch."""
    q = lambda x: float(x.quantize(Decimal("0.000001")))  # noqa: E731

    async def go(venue):
        eng = venue.engine_for("kucoin")
        last = eng.last_price(SYMBOL)
        stop = last * Decimal("0.99")
        assert venue.bars[SYMBOL][START].low <= stop   # the first bar triggers the stop
        ex = bp_async.kucoin(dict(venue.ccxt_config("kucoin"), enableRateLimit=False))
        try:
            assert ex.has["watchOcoOrders"]
            await ex.load_markets()
            placed = await ex.create_oco_order(SYMBOL, "sell", 1, q(last * 2), q(stop), q(stop * Decimal("0.9")),
                                               {"clientOrderId": "wso1"})
            read = await ex.fetch_oco_order(placed["id"], SYMBOL)   # learns the legs' ids
            seen = []
            for want in ("open", "closed"):
                pending = asyncio.ensure_future(ex.watch_oco_orders(SYMBOL))
                await asyncio.sleep(0.3)
                await step_in_thread(venue)
                first = await asyncio.wait_for(pending, WAIT)
                assert [x["id"] for x in first] == [read["id"]]
                for _ in range(50):   # bounded: the rest of the bar's burst lands in the cache
                    if ex.oco_orders[-1]["status"] == want:
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.1)   # nothing else of that bar may come
                lst = ex.oco_orders[-1]
                seen.append((lst["status"], {o["role"]: (o["status"], o.get("filled")) for o in lst["orders"]}))
            return read, seen, list(ex.oco_orders)
        finally:
            await ex.close()
    with make_venue(volume_fraction=Decimal("0.0005")) as venue:
        read, seen, cache = run(go(venue))
    roles = {o["id"]: o["role"] for o in read["orders"]}
    assert read["status"] == "open" and set(roles.values()) == {"take_profit", "stop_loss"}
    (s1, legs1), (s2, legs2) = seen
    assert s1 == "open" and legs1["take_profit"][0] == "canceled" and legs1["stop_loss"][0] == "open"
    assert 0 < legs1["stop_loss"][1] < 1
    assert s2 == "closed" and legs2 == {"take_profit": ("canceled", None), "stop_loss": ("closed", 1.0)}
    assert len(cache) == 1   # one entry per list: its latest version
    done = cache[0]
    assert (done["id"], done["type"], done["clientOrderId"]) == (read["id"], "oco", "wso1")
    assert set(done) == set(read)   # the same dict shape as fetch_oco_order's


# ---------------------------------------------------------------- KuCoin's official SDK
def test_official_sdk_websocket_ticker_and_private_orders(venue):
    """kucoin-universal-sdk's own websocket client, only its spot endpoint changed: it asks the
    bullet endpoints over REST (signing its own request), connects where they say, waits for the
    welcome, pings, subscribes and parses the pushes into its own models."""
    import threading
    import warnings
    with warnings.catch_warnings():   # imported here: the SDK takes seconds to import (its pydantic models)
        warnings.simplefilter("ignore", DeprecationWarning)
        from kucoin_universal_sdk.api.client import DefaultClient
        from kucoin_universal_sdk.generate.spot.order.model_add_order_old_req import AddOrderOldReqBuilder
        from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
        from kucoin_universal_sdk.model.transport_option import TransportOptionBuilder
        from kucoin_universal_sdk.model.websocket_option import WebSocketClientOptionBuilder
    creds = venue.credentials("kucoin")
    option = (ClientOptionBuilder().set_key(creds.api_key).set_secret(creds.secret).set_passphrase(creds.passphrase)
              .set_spot_endpoint(venue.url + "/kucoin")
              .set_transport_option(TransportOptionBuilder().set_connect_timeout(5).set_read_timeout(5).set_max_retries(0).build())
              .set_websocket_client_option(WebSocketClientOptionBuilder().with_reconnect(False).with_dial_timeout(5).build())
              .build())
    client = DefaultClient(option)
    ticks, orders = [], []
    got_ticks, got_done = threading.Event(), threading.Event()

    def on_tick(topic, subject, event):
        ticks.append((topic, event.price))
        if len(ticks) == 4:
            got_ticks.set()

    def on_order(topic, subject, event):
        orders.append((event.order_id, event.type.value, event.status.value, event.filled_size))
        if event.type.value == "filled":
            got_done.set()
    public = client.ws_service().new_spot_public_ws()
    private = client.ws_service().new_spot_private_ws()
    public.start()
    private.start()
    try:
        public.ticker([MID], on_tick)
        private.order_v1(on_order)
        eng = venue.engine_for("kucoin")
        price = (eng.last_price(SYMBOL) * Decimal("1.2")).quantize(Decimal("0.000001"))   # buys at the next open
        placed = client.rest_service().get_spot_service().get_order_api().add_order_old(
            AddOrderOldReqBuilder().set_client_oid("sdk-ws").set_symbol(MID).set_side("buy").set_type("limit")
            .set_price(str(price)).set_size("1").build())
        venue.step()
        assert got_ticks.wait(WAIT) and got_done.wait(WAIT)
    finally:
        # the SDK's stop() joins websocket-client's reader thread, which notices the close only at
        # its select timeout (up to 10 s): stop in the background (daemon threads end on their own)
        for ws in (public, private):
            threading.Thread(target=ws.stop, daemon=True).start()
    bar = eng.closed_bars(SYMBOL, limit=1)[-1]
    assert [Decimal(p) for _, p in ticks] == list(price_path(bar)) and {t for t, _ in ticks} == {f"/market/ticker:{MID}"}
    assert orders == [(placed.order_id, "open", "open", "0"), (placed.order_id, "match", "match", "1"),
                      (placed.order_id, "filled", "done", "1")]


# ---------------------------------------------------------------- dropped connections, shutdown
def test_ccxt_pro_after_a_dropped_connection_reconnects_and_resubscribes(venue):
    """What ccxt.pro does: the pending watch fails with NetworkError; the next watch opens a new
    connection (the cached token URL) and subscribes again."""
    async def go():
        ex = pro(venue)
        loop = asyncio.get_running_loop()
        try:
            pending = asyncio.ensure_future(ex.watch_ticker(SYMBOL))
            await asyncio.sleep(0.3)
            await step_in_thread(venue)
            first = (await asyncio.wait_for(pending, WAIT))["last"]
            (url, client), = ex.clients.items()
            pending = asyncio.ensure_future(ex.watch_ticker(SYMBOL))
            await asyncio.sleep(0.1)
            await client.connection.close()   # the connection drops under the watch
            with pytest.raises(ccxt.NetworkError):
                await asyncio.wait_for(pending, WAIT)
            pending = asyncio.ensure_future(ex.watch_ticker(SYMBOL))
            await asyncio.sleep(0.3)
            assert list(ex.clients) == [url] and ex.clients[url] is not client
            await loop.run_in_executor(None, venue.step)
            return first, (await asyncio.wait_for(pending, WAIT))["last"]
        finally:
            await ex.close()
    first, after = run(go())
    bars = venue.engine_for("kucoin").closed_bars(SYMBOL, limit=2)
    assert (first, after) == (float(bars[0].open), float(bars[1].open))


def test_a_new_connection_on_the_same_token_gets_each_tick_once(venue):
    data = bullet(venue, private=False)

    async def go():
        async with aiohttp.ClientSession() as s:
            old = await connect(s, data)
            assert (await recv(old))["type"] == "welcome"
            await subscribe(old, f"/market/ticker:{MID}")
            await old.close()
            new = await connect(s, data)   # the same token: good for more than one connection
            assert (await recv(new))["type"] == "welcome"
            await subscribe(new, f"/market/ticker:{MID}")
            return await step_and_drain(venue, new)
    got = run(go())
    bar = venue.engine_for("kucoin").closed_bars(SYMBOL, limit=1)[-1]
    assert [Decimal(m["data"]["price"]) for m in got] == list(price_path(bar))


def test_closing_the_venue_closes_its_streams():
    venue = make_venue().start_server()
    try:
        data = bullet(venue, private=False)

        async def go():
            async with aiohttp.ClientSession() as s:
                ws = await connect(s, data)
                assert (await recv(ws))["type"] == "welcome"
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, venue.close)
                msg = await ws.receive(timeout=WAIT)
                return msg.type
        assert run(go()) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert venue.engine_for("kucoin").watchers == []   # the change feed is let go with the last stream
        venue.step()   # and stepping afterwards publishes nowhere (no error)
    finally:
        venue.close()
