"""The simulator's Binance spot websocket streams over real websockets on 127.0.0.1: the protocol as
Binance's documentation describes it (web-socket-streams.md, user-data-stream.md, web-socket-api.md),
an unmodified ccxt.pro.binance, our class's watch_oco_orders, and Binance's official connector
(binance-connector) websocket clients, each changing only its URLs."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import queue
import time

import aiohttp
import ccxt
import ccxt.pro
import pytest
import requests

from bracket_plugin.exchanges.binance import binance_async
from bracket_plugin.sim.binance import BinanceDialect
from bracket_plugin.sim.rules import price_path
from simfixtures import SYMBOL, client, make_venue, venue  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
NAME = "ethbtc"
WAIT = 5.0     # seconds any one expected message may take


def stream_url(venue, tail: str) -> str:
    return f"ws://127.0.0.1:{venue.url.rsplit(':', 1)[1]}/binance/ws/{tail}"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 45))


async def step(venue, n: int = 1):
    for _ in range(n):
        await asyncio.get_running_loop().run_in_executor(None, venue.step)


async def recv(ws, timeout: float = WAIT):
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def recv_until(ws, pred, limit: int = 50):
    """Messages up to and including the first one `pred` accepts (at most `limit`)."""
    out = []
    for _ in range(limit):
        out.append(await recv(ws))
        if pred(out[-1]):
            return out
    raise AssertionError(f"no matching message among {len(out)}: {out[-3:]}")


async def silent(ws, timeout: float = 0.3) -> bool:
    try:
        msg = await ws.receive(timeout=timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message {msg}")


def signed(venue, params: dict | None = None, *, secret=None, key=None, ts=None) -> dict:
    """web-socket-api.md (SIGNED requests): apiKey and timestamp among the parameters, signature =
    hex HMAC-SHA256 over the parameters sorted by name as key=value joined with &."""
    creds = venue.credentials("binance")
    p = dict(params or {}, apiKey=key or creds.api_key, timestamp=ts or int(time.time() * 1000))
    payload = "&".join(f"{k}={v}" for k, v in sorted(p.items()))
    p["signature"] = hmac.new((secret or creds.secret).encode(), payload.encode(), hashlib.sha256).hexdigest()
    return p


def dialect(venue) -> BinanceDialect:
    for r in venue._server.app.router.routes():
        owner = getattr(r.handler, "__self__", None)
        if isinstance(owner, BinanceDialect):
            return owner
    raise AssertionError("no binance dialect served")


def last(venue) -> float:
    return float(venue.engine_for("binance").last_price(SYMBOL))


def the_bar(venue):
    return venue.engine_for("binance").closed_bars(SYMBOL, limit=1)[-1]


# ------------------------------------------------------------------ market streams (raw protocol)

def test_subscribe_ack_and_a_bar_as_four_trades_and_tickers(venue):
    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, "spot/ws")) as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": [f"{NAME}@trade", f"{NAME}@ticker"], "id": 1})
            assert await recv(ws) == {"result": None, "id": 1}
            await ws.send_json({"method": "SUBSCRIBE", "params": [f"{NAME}@trade"], "id": 2})  # again: sent once
            assert await recv(ws) == {"result": None, "id": 2}
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
            assert await recv(ws) == {"result": [f"{NAME}@trade", f"{NAME}@ticker"], "id": 3}
            assert await silent(ws)
            await step(venue)
            got = [await recv(ws) for _ in range(8)]
            assert await silent(ws)
            path = [f"{p:.8f}" for p in price_path(the_bar(venue))]
            trades = [m for m in got if m["e"] == "trade"]
            tickers = [m for m in got if m["e"] == "24hrTicker"]
            assert [t["p"] for t in trades] == path and [t["c"] for t in tickers] == path
            assert all(t["s"] == "ETHBTC" for t in got) and len({t["t"] for t in trades}) == 4
            assert [t["T"] for t in trades] == sorted(t["T"] for t in trades)
            await ws.send_json({"method": "UNSUBSCRIBE", "params": [f"{NAME}@trade"], "id": 4})
            assert await recv(ws) == {"result": None, "id": 4}
            await step(venue)
            assert {m["e"] for m in [await recv(ws) for _ in range(4)]} == {"24hrTicker"}
            assert await silent(ws)
    run(main())


def test_raw_and_combined_stream_paths(venue):
    async def main():
        async with aiohttp.ClientSession() as s, \
                s.ws_connect(stream_url(venue, f"spot/ws/{NAME}@trade")) as raw, \
                s.ws_connect(stream_url(venue, f"spot/stream?streams={NAME}@trade/{NAME}@miniTicker")) as comb:
            await step(venue)
            assert [m["e"] for m in [await recv(raw) for _ in range(4)]] == ["trade"] * 4
            wrapped = [await recv(comb) for _ in range(8)]
            assert {m["stream"] for m in wrapped} == {f"{NAME}@trade", f"{NAME}@miniTicker"}
            assert {m["data"]["e"] for m in wrapped} == {"trade", "24hrMiniTicker"}
            assert wrapped[-1]["data"]["c"] == f"{the_bar(venue).close:.8f}"
            await comb.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 7})
            assert await recv(comb) == {"result": True, "id": 7}
    run(main())


def test_refusals(venue):
    async def main():
        async with aiohttp.ClientSession() as s:
            for tail in ("spot/ws/nosuch@trade", "spot/ws/btcusdt@ticker"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                    await s.ws_connect(stream_url(venue, tail))
                assert exc.value.status == 400
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await s.ws_connect(stream_url(venue, "linear"))
            assert exc.value.status == 404
            async with s.ws_connect(stream_url(venue, "spot/ws")) as ws:
                await ws.send_json({"method": "SUBSCRIBE", "params": [f"{NAME}@depth"], "id": 1})
                assert (await recv(ws))["error"]["code"] == 2
                await ws.send_json({"method": "SUBSCRIBE", "params": ["not-a-listen-key"], "id": 2})
                answer = await recv(ws)
                assert answer["id"] == 2 and answer["error"]["code"] == 2
                await ws.send_json({"method": "FETCH", "params": [], "id": 3})
                assert "unknown variant FETCH" in (await recv(ws))["error"]["msg"]
                await ws.send_str("{not json")
                assert (await recv(ws))["error"]["code"] == 3
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 4})
                assert await recv(ws) == {"result": [], "id": 4}   # nothing refused was subscribed
                await step(venue)
                assert await silent(ws)
    run(main())


def test_more_than_five_messages_a_second_disconnect(venue):
    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, "spot/ws")) as ws:
            for i in range(7):
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
            for _ in range(10):
                msg = await ws.receive(timeout=WAIT)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008
    run(main())


@pytest.mark.parametrize("tail", ["spot/ws", "ws-api/spot"])
def test_heartbeat_pings_and_a_silent_client_is_dropped(venue, monkeypatch, tail):
    monkeypatch.setattr(BinanceDialect, "ping_interval", 0.3)
    monkeypatch.setattr(BinanceDialect, "api_ping_interval", 0.3)

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, tail), autoping=False) as ws:
            msg = await ws.receive(timeout=WAIT)
            assert msg.type == aiohttp.WSMsgType.PING
            await ws.pong(msg.data)
            kinds = []
            for _ in range(5):  # no more pongs: the server closes
                msg = await ws.receive(timeout=WAIT)
                kinds.append(msg.type)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
            assert kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), kinds
    run(main())


def test_a_connection_ends_after_its_lifetime(venue, monkeypatch):
    monkeypatch.setattr(BinanceDialect, "max_lifetime_s", 0.5)

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, f"spot/ws/{NAME}@trade")) as ws:
            msg = await ws.receive(timeout=WAIT)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1000)
    run(main())


def test_stopping_the_venue_closes_its_streams_with_going_away():
    v = make_venue().start_server()

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(v, "spot/ws")) as market, \
                s.ws_connect(stream_url(v, "ws-api/spot")) as api:
            readers = [asyncio.ensure_future(ws.receive(timeout=WAIT)) for ws in (market, api)]
            started = time.monotonic()
            await asyncio.to_thread(v.close)
            assert time.monotonic() - started < 1.0
            for msg in await asyncio.gather(*readers):
                assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    try:
        run(main())
    finally:
        v.close()


# ------------------------------------------------------------------ user data: websocket API and listenKey

def test_ws_api_user_data_subscription(venue):
    rest = client(venue, "binance")
    rest.load_markets()

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, "ws-api/spot")) as ws:
            refusals = {"bad signature": (signed(venue, secret="wrong"), 400, -1022),
                        "unknown key": (signed(venue, key="nobody"), 401, -2015),
                        "stale": (signed(venue, ts=int(time.time() * 1000) - 60_000), 400, -1021)}
            for rid, (params, status, code) in refusals.items():
                await ws.send_json({"id": rid, "method": "userDataStream.subscribe.signature", "params": params})
                answer = await recv(ws)
                assert (answer["id"], answer["status"], answer["error"]["code"]) == (rid, status, code)
            await ws.send_json({"id": "x", "method": "order.place", "params": {}})
            assert (await recv(ws))["error"]["code"] == -1020
            await rest_place_then_nothing(ws)   # refused subscriptions get no events
            await ws.send_json({"id": "s", "method": "userDataStream.subscribe.signature", "params": signed(venue)})
            ack = await recv(ws)
            assert (ack["id"], ack["status"], ack["result"]) == ("s", 200, {"subscriptionId": 0})
            order = await asyncio.to_thread(rest.create_order, SYMBOL, "limit", "buy", 0.1, round(last(venue) * 0.99, 6))
            got = await recv_until(ws, lambda m: m["event"]["e"] == "outboundAccountPosition")
            assert {m["subscriptionId"] for m in got} == {0}
            report = got[0]["event"]
            assert (report["e"], report["x"], report["X"], str(report["i"]), report["g"]) == ("executionReport", "NEW", "NEW", order["id"], -1)
            balances = {b["a"]: b for b in got[-1]["event"]["B"]}
            held = venue.engine_for("binance").balances()["BTC"][2]   # both open buys hold BTC
            assert balances["BTC"]["l"] == f"{held:.8f}" and float(held) > 0.1 * float(order["price"])
            await asyncio.to_thread(rest.cancel_order, order["id"], SYMBOL)
            got = await recv_until(ws, lambda m: m["event"]["e"] == "outboundAccountPosition")
            assert (got[0]["event"]["x"], got[0]["event"]["X"], got[0]["event"]["C"]) == ("CANCELED", "CANCELED", order["clientOrderId"])
            await ws.send_json({"id": "u", "method": "userDataStream.unsubscribe", "params": {}})
            assert (await recv(ws))["status"] == 200
            await rest_place_then_nothing(ws)

    async def rest_place_then_nothing(ws):
        await asyncio.to_thread(rest.create_order, SYMBOL, "limit", "buy", 0.1, round(last(venue) * 0.98, 6))
        assert await silent(ws)
    run(main())


def test_ws_api_recv_window_not_a_number_is_refused_as_not_valid(venue):
    """The websocket API checks signed requests as REST does: a NaN recvWindow is -1130 and the
    connection goes on (the exception the comparison raised used to close it)."""
    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, "ws-api/spot")) as ws:
            for rid, window in enumerate(["NaN", "sNaN"]):
                await ws.send_json({"id": rid, "method": "userDataStream.subscribe.signature",
                                    "params": signed(venue, {"recvWindow": window})})
                answer = await recv(ws)
                assert (answer["id"], answer["status"], answer["error"]["code"]) == (rid, 400, -1130), answer
            await ws.send_json({"id": "s", "method": "userDataStream.subscribe.signature", "params": signed(venue)})
            assert (await recv(ws))["status"] == 200
    run(main())


def test_listen_key_rest_endpoints_and_stream(venue):
    creds = venue.credentials("binance")
    url = venue.url + "/binance/api/v3/userDataStream"
    assert requests.post(url, timeout=5).json()["code"] == -2014
    assert requests.post(url, headers={"X-MBX-APIKEY": "nobody"}, timeout=5).status_code == 401
    key = requests.post(url, headers={"X-MBX-APIKEY": creds.api_key}, timeout=5).json()["listenKey"]
    assert requests.post(url, headers={"X-MBX-APIKEY": creds.api_key}, timeout=5).json() == {"listenKey": key}
    assert requests.put(url, params={"listenKey": key}, headers={"X-MBX-APIKEY": creds.api_key}, timeout=5).json() == {}
    assert requests.put(url, params={"listenKey": "nope"}, headers={"X-MBX-APIKEY": creds.api_key}, timeout=5).json()["code"] == -1125
    rest = client(venue, "binance")
    rest.load_markets()

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, f"spot/ws/{key}")) as ws:
            lst = await asyncio.to_thread(rest.private_post_orderlist_oco, {
                "symbol": "ETHBTC", "side": "SELL", "quantity": "0.1", "aboveType": "LIMIT_MAKER",
                "abovePrice": f"{last(venue) * 1.01:.6f}", "belowType": "STOP_LOSS", "belowStopPrice": f"{last(venue) * 0.99:.6f}"})
            got = await recv_until(ws, lambda m: m["e"] == "outboundAccountPosition")
            assert [m["e"] for m in got] == ["executionReport", "executionReport", "listStatus", "outboundAccountPosition"]
            status = got[2]
            assert (status["c"], status["l"], status["L"], status["g"]) == ("OCO", "EXEC_STARTED", "EXECUTING", lst["orderListId"])
            assert sorted(o["i"] for o in status["O"]) == sorted(m["i"] for m in got[:2])
            assert {m["o"] for m in got[:2]} == {"LIMIT_MAKER", "STOP_LOSS"}   # the types as sent
            assert all(m["g"] == lst["orderListId"] for m in got[:2])
            r = await asyncio.to_thread(requests.delete, url, params={"listenKey": key},
                                        headers={"X-MBX-APIKEY": creds.api_key}, timeout=5)
            assert r.json() == {}
            assert (await recv(ws)) == {"e": "listenKeyExpired", "E": pytest.approx(time.time() * 1000, abs=10_000), "listenKey": key}
            msg = await ws.receive(timeout=WAIT)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        with pytest.raises(aiohttp.WSServerHandshakeError):   # a closed listenKey streams no more
            async with aiohttp.ClientSession() as s:
                await s.ws_connect(stream_url(venue, f"spot/ws/{key}"))
    run(main())


def test_a_listen_key_not_kept_alive_expires(venue, monkeypatch):
    monkeypatch.setattr(BinanceDialect, "listen_key_ttl_s", 0.6)
    headers = {"X-MBX-APIKEY": venue.credentials("binance").api_key}
    url = venue.url + "/binance/api/v3/userDataStream"
    key = requests.post(url, headers=headers, timeout=5).json()["listenKey"]

    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(stream_url(venue, "spot/stream")) as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": [key], "id": 1})
            assert await recv(ws) == {"result": None, "id": 1}
            for _ in range(3):   # each PUT extends it by the ttl
                await asyncio.sleep(0.3)
                r = await asyncio.to_thread(requests.put, url, params={"listenKey": key}, headers=headers, timeout=5)
                assert r.json() == {}
            started = time.monotonic()
            expired = await recv(ws, timeout=WAIT)
            assert expired["stream"] == key and expired["data"]["e"] == "listenKeyExpired"
            assert 0.2 < time.monotonic() - started < 1.5
    run(main())


# ------------------------------------------------------------------ ccxt.pro, unmodified

@contextlib.asynccontextmanager
async def pro(venue, cls=ccxt.pro.binance):
    """A ccxt.pro class (or ours) pointed at the venue, markets loaded, closed at the end."""
    ex = cls(dict(venue.ccxt_config("binance"), enableRateLimit=False))
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


async def subscribed(venue, watch, wanted: str = "user") -> asyncio.Future:
    """A watch_* call started, once the simulator holds its subscription: the stream `wanted`, or
    ('user') a user data subscription on the websocket API."""
    future = asyncio.ensure_future(watch)
    for _ in range(100):
        conns = getattr(dialect(venue), "_streams", {}).get("conns", ())
        if any(not c.ws.closed and (wanted in c.streams or (wanted == "user" and c.user_ids)) for c in conns):
            await asyncio.sleep(0.05)   # the watch registers its future
            return future
        if future.done():
            future.result()   # raises what the watch raised
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wanted} was not subscribed within 5 s")


def test_ccxt_pro_watch_ticker_and_trades_follow_the_price_path(venue):
    async def main():
        async with pro(venue) as ex:
            assert type(ex) is ccxt.pro.binance
            trades = await subscribed(venue, ex.watch_trades(SYMBOL), f"{NAME}@trade")
            ticker = await subscribed(venue, ex.watch_ticker(SYMBOL), f"{NAME}@miniTicker")
            await step(venue)
            bar = the_bar(venue)
            path = [float(p) for p in price_path(bar)]
            first_trade = (await asyncio.wait_for(trades, WAIT))[0]
            first_ticker = await asyncio.wait_for(ticker, WAIT)
            for _ in range(50):   # the rest of the bar lands in ccxt.pro's own caches
                if len(ex.trades[SYMBOL]) == 4 and ex.tickers[SYMBOL]["last"] == path[-1]:
                    break
                await asyncio.sleep(0.05)
            assert first_trade["price"] == first_ticker["last"] == path[0]
            assert [t["price"] for t in ex.trades[SYMBOL]] == path
            assert ex.tickers[SYMBOL]["last"] == float(bar.close)
            assert ex.tickers[SYMBOL]["high"] == float(venue.engine_for("binance").ticker(SYMBOL).high)
    run(main())


def test_ccxt_pro_watch_orders_and_my_trades_see_a_rest_order_fill(venue):
    async def main():
        async with pro(venue) as ex:
            orders = await subscribed(venue, ex.watch_orders(SYMBOL))
            placed = await ex.create_order(SYMBOL, "market", "buy", 0.1)
            first = await asyncio.wait_for(orders, WAIT)
            assert [(o["id"], o["status"]) for o in first] == [(placed["id"], "open")]
            orders = await subscribed(venue, ex.watch_orders(SYMBOL))
            trades = await subscribed(venue, ex.watch_my_trades(SYMBOL))
            await step(venue)
            done = await asyncio.wait_for(orders, WAIT)
            mine = await asyncio.wait_for(trades, WAIT)
            fill = venue.engine_for("binance").fills(order_id=placed["id"])[0]
            assert [(o["id"], o["status"], o["filled"]) for o in done][-1] == (placed["id"], "closed", 0.1)
            assert [(t["order"], t["price"], t["amount"]) for t in mine] == [(placed["id"], float(fill.price), 0.1)]
            assert mine[0]["fee"]["cost"] == pytest.approx(float(fill.fee)) and mine[0]["id"] == fill.id
            assert float(fill.price) == float(the_bar(venue).open)   # a market order fills at the next bar's open
    run(main())


def test_ccxt_pro_watch_balance_follows_outbound_account_position(venue):
    async def main():
        async with pro(venue) as ex:
            balance = await subscribed(venue, ex.watch_balance())
            await ex.create_order(SYMBOL, "limit", "buy", 0.1, round(last(venue) * 0.99, 6))
            got = await asyncio.wait_for(balance, WAIT)
            total, free, used = venue.engine_for("binance").balances()["BTC"]
            assert (got["BTC"]["free"], got["BTC"]["used"]) == (float(free), float(used)) and used > 0
    run(main())


def test_ccxt_pro_with_a_wrong_secret_is_refused(venue):
    async def main():
        async with pro(venue) as ex:
            ex.secret = "wrong"
            with pytest.raises(Exception) as refused:
                await asyncio.wait_for(ex.watch_orders(SYMBOL), WAIT)
            # ccxt.pro 4.5.90 deletes client.subscriptions['spot'] twice on a refused subscription
            # (handle_ws_error, then ensure_user_data_stream_ws_subscribe_signature): the
            # AuthenticationError for -1022 reaches the caller as the context of a KeyError
            chain = [refused.value, refused.value.__context__]
            assert any(isinstance(e, ccxt.AuthenticationError) and "-1022" in str(e) for e in chain), chain
            assert [c.user_ids for c in dialect(venue)._streams["conns"]] == [[]]   # nothing subscribed
    run(main())


def test_ccxt_pro_after_a_dropped_connection_resubscribes_and_nothing_is_sent_twice(venue):
    async def main():
        async with pro(venue) as ex:
            orders = await subscribed(venue, ex.watch_orders(SYMBOL))
            conns = list(dialect(venue)._streams["conns"])
            assert [(c.kind, c.user_ids) for c in conns] == [("api", [0])]
            venue._server.submit(conns[0].ws.close(code=1012)).result(WAIT)   # the server drops it
            with pytest.raises(ccxt.NetworkError):
                await asyncio.wait_for(orders, WAIT)
            orders = await subscribed(venue, ex.watch_orders(SYMBOL))   # ccxt.pro connects and subscribes anew
            placed = await ex.create_order(SYMBOL, "limit", "buy", 0.1, round(last(venue) * 0.99, 6))
            assert [o["id"] for o in await asyncio.wait_for(orders, WAIT)] == [placed["id"]]
            conns = list(dialect(venue)._streams["conns"])
            assert [(c.kind, c.user_ids) for c in conns] == [("api", [0])]   # one connection, one subscription
    run(main())


# ------------------------------------------------------------------ our class: watch_oco_orders

async def watch_lists_until(ex, venue, done, symbol=None, steps: int = 60) -> list[dict]:
    """Step the venue bar by bar, collecting what watch_oco_orders returns, until `done(lists)`.
    One watch stays pending across steps until it resolves, so no update finds no watcher."""
    seen: list[dict] = []
    w = asyncio.ensure_future(ex.watch_oco_orders(symbol))
    try:
        for _ in range(steps):
            await step(venue)
            await asyncio.wait({w}, timeout=0.3)
            if w.done():
                seen += w.result()
                if done(seen[-1]):
                    return seen
                w = asyncio.ensure_future(ex.watch_oco_orders(symbol))
    finally:
        w.cancel()
    raise AssertionError(f"not done after {steps} bars: {seen[-1:]}")


def test_watch_oco_orders_sees_an_oco_go_from_open_to_done(venue):
    async def main():
        async with pro(venue, binance_async) as ex:
            assert ex.has["watchOcoOrders"]
            w = await subscribed(venue, ex.watch_oco_orders(SYMBOL))
            lst = await ex.create_oco_order(SYMBOL, "sell", 0.1, last(venue) * 1.002, last(venue) * 0.998)
            opened = (await asyncio.wait_for(w, WAIT))[-1]
            assert (opened["id"], opened["type"], opened["status"]) == (lst["id"], "oco", "open")
            assert sorted((o["id"], o["status"], o["role"]) for o in opened["orders"]) == \
                sorted((o["id"], "open", o["role"]) for o in lst["orders"])
            final = (await watch_lists_until(ex, venue, lambda x: x["status"] != "open", SYMBOL))[-1]
            assert final["status"] == "closed" and sorted(o["status"] for o in final["orders"]) == ["canceled", "closed"]
            fetched = await ex.fetch_oco_order(lst["id"], SYMBOL)
            strip = lambda d: {k: v for k, v in d.items() if k != "info"}  # noqa: E731
            assert [strip(o) for o in final["orders"]] == [strip(o) for o in fetched["orders"]]
            assert strip(dict(final, orders=None)) == strip(dict(fetched, orders=None))
            # ccxt.pro's own order cache saw the same legs (our handle_message passes executionReports on);
            # it calls the sibling's EXPIRED 'expired', the list dict 'canceled' (as fetch_oco_order does)
            cached = {o["id"]: o["status"] for o in ex.orders}
            assert sorted(cached[o["id"]] for o in final["orders"]) == ["closed", "expired"]
    run(main())


def test_watch_oco_orders_sees_an_otoco_entry_arm_its_exits(venue):
    async def main():
        async with pro(venue, binance_async) as ex:
            w = await subscribed(venue, ex.watch_oco_orders())
            p = last(venue)
            lst = await ex.create_otoco_order(SYMBOL, "buy", 0.1, p * 1.001, p * 1.004, p * 0.996)
            opened = (await asyncio.wait_for(w, WAIT))[-1]
            assert (opened["id"], opened["type"], opened["status"]) == (lst["id"], "otoco", "open")
            assert {o["role"]: o["info"]["status"] for o in opened["orders"]} == \
                {"entry": "NEW", "take_profit": "PENDING_NEW", "stop_loss": "PENDING_NEW"}
            entry_filled = lambda x: any(o["role"] == "entry" and o["status"] == "closed" for o in x["orders"])  # noqa: E731
            armed = (await watch_lists_until(ex, venue, entry_filled))[-1]
            assert armed["status"] == "open"
            assert {o["role"]: o["info"]["status"] for o in armed["orders"]} == \
                {"entry": "FILLED", "take_profit": "NEW", "stop_loss": "NEW"}
            final = (await watch_lists_until(ex, venue, lambda x: x["status"] != "open"))[-1]
            legs = {o["role"]: o["status"] for o in final["orders"]}
            assert final["status"] == "closed" and legs["entry"] == "closed"
            assert sorted([legs["take_profit"], legs["stop_loss"]]) == ["canceled", "closed"]
    run(main())


# ------------------------------------------------------------------ Binance's official connector

def _collector():
    got: queue.Queue = queue.Queue()
    return got, (lambda _, message: got.put(json.loads(message)))


def _take(got: queue.Queue, pred, limit: int = 50):
    for _ in range(limit):
        message = got.get(timeout=WAIT)
        if pred(message):
            return message
    raise AssertionError("no matching message")


def test_official_connector_trade_stream_and_user_data(venue):
    from binance.lib.utils import websocket_api_signature
    from binance.spot import Spot
    from binance.websocket.spot.websocket_api import SpotWebsocketAPIClient
    from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

    creds = venue.credentials("binance")
    spot = Spot(api_key=creds.api_key, api_secret=creds.secret, base_url=venue.url + "/binance", timeout=5)
    key = spot.new_listen_key()["listenKey"]
    got, on_message = _collector()
    api_got, api_on_message = _collector()
    stream = SpotWebsocketStreamClient(stream_url=stream_url(venue, "spot"), on_message=on_message, timeout=WAIT)
    api = SpotWebsocketAPIClient(stream_url=stream_url(venue, "ws-api/spot"), api_key=creds.api_key,
                                 api_secret=creds.secret, on_message=api_on_message, timeout=WAIT)
    try:
        stream.trade(symbol="ETHBTC", id=1)
        assert _take(got, lambda m: "id" in m) == {"result": None, "id": 1}
        stream.user_data(listen_key=key, id=2)
        assert _take(got, lambda m: "id" in m) == {"result": None, "id": 2}
        api.user_data_start(id="start")
        started = _take(api_got, lambda m: m.get("id") == "start")
        assert (started["status"], started["result"]) == (200, {"listenKey": key})   # one listenKey per account
        # the connector signs websocket API requests itself (binance.lib.utils.websocket_api_signature)
        api.send({"id": "sub", "method": "userDataStream.subscribe.signature",
                  "params": websocket_api_signature(creds.api_key, creds.secret, {})})
        ack = _take(api_got, lambda m: m.get("id") == "sub")
        assert (ack["status"], ack["result"]) == (200, {"subscriptionId": 0})
        venue.step()
        trades = [_take(got, lambda m: m.get("e") == "trade") for _ in range(4)]
        assert [t["p"] for t in trades] == [f"{p:.8f}" for p in price_path(the_bar(venue))]
        order = spot.new_order(symbol="ETHBTC", side="BUY", type="MARKET", quantity="0.1")
        report = _take(got, lambda m: m.get("e") == "executionReport")
        assert (report["i"], report["x"], report["X"]) == (order["orderId"], "NEW", "NEW")
        wrapped = _take(api_got, lambda m: m.get("event", {}).get("e") == "executionReport")
        assert wrapped == {"subscriptionId": 0, "event": report}   # the same event on both streams
        venue.step()
        report = _take(got, lambda m: m.get("e") == "executionReport")
        assert (report["i"], report["x"], report["X"], report["z"]) == (order["orderId"], "TRADE", "FILLED", "0.10000000")
    finally:
        stream.stop()
        api.stop()
