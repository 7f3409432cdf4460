"""The simulator's Crypto.com websocket API over real websockets on 127.0.0.1.

Three clients drive it: a minimal one written here from Crypto.com's Exchange v1 websocket
documentation (aiohttp's websocket client; nothing from ccxt), ccxt.pro's unmodified cryptocom
class, and bracket_plugin's async class (watch_oco_orders). Every wait is bounded.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from decimal import Decimal

import aiohttp
import ccxt.pro
import pytest

import bracket_plugin.async_support as bp_async
from bracket_plugin.sim.cryptocom import CryptocomDialect
from bracket_plugin.sim.rules import price_path
from simfixtures import START, SYMBOL, client, venue  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0          # the longest any single wait may take
QUIET = 0.3         # how long "nothing more arrives" is watched for
INSTRUMENT = SYMBOL.replace("/", "_")
TICK = Decimal("0.000001")


# --- a minimal client from Crypto.com's documentation -----------------------------------------

class DocClient:
    """Crypto.com Exchange v1 websocket client as the docs describe it: JSON requests
    `{id, method, params, nonce}`; `public/auth` signed hex(HMAC-SHA256(secret, method + id +
    api_key + nonce)) (no params); the server's `public/heartbeat` answered with
    `public/respond-heartbeat` carrying its id (unless `answer_heartbeats` is False)."""

    def __init__(self, url: str, answer_heartbeats: bool = True) -> None:
        self.url, self.answer_heartbeats = url, answer_heartbeats
        self.session: aiohttp.ClientSession | None = None
        self.ws = None
        self.heartbeats = 0
        self._id = 0

    async def __aenter__(self) -> DocClient:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.url, timeout=aiohttp.ClientWSTimeout(ws_close=WAIT))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        await self.session.close()

    def next_id(self) -> int:
        self._id += 1
        return self._id

    async def request(self, method: str, params: dict | None = None, **extra) -> int:
        req_id = extra.pop("id", None) or self.next_id()
        body = {"id": req_id, "method": method, "nonce": int(time.time() * 1000), **extra}
        if params is not None:
            body["params"] = params
        await self.ws.send_str(json.dumps(body))
        return req_id

    async def auth(self, api_key: str, secret: str) -> dict:
        req_id, nonce = self.next_id(), int(time.time() * 1000)
        sig = hmac.new(secret.encode(), f"public/auth{req_id}{api_key}{nonce}".encode(), hashlib.sha256).hexdigest()
        await self.ws.send_str(json.dumps({"id": req_id, "method": "public/auth", "api_key": api_key,
                                           "sig": sig, "nonce": nonce}))
        return await self.answer(req_id)

    async def recv(self, timeout: float = WAIT) -> dict | None:
        """The next message other than a heartbeat; None when the connection closed."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            if msg.type != aiohttp.WSMsgType.TEXT:
                return None
            data = json.loads(msg.data)
            if data.get("method") == "public/heartbeat":
                self.heartbeats += 1
                if self.answer_heartbeats:
                    await self.ws.send_str(json.dumps({"id": data["id"], "method": "public/respond-heartbeat"}))
                continue
            return data

    async def answer(self, req_id: int) -> dict:
        while True:
            data = await self.recv()
            assert data is not None, f"connection closed before the answer to request {req_id}"
            if data.get("id") == req_id and "result" not in data:
                return data

    async def updates(self, subscription: str, until=None, timeout: float = WAIT) -> list[dict]:
        """Data rows pushed (id -1) on `subscription`, until `until(rows)` holds; then QUIET s more
        (what arrives then is included, so a duplicate would show)."""
        rows: list[dict] = []
        deadline = time.monotonic() + timeout
        while until is None or not until(rows):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no update on {subscription} satisfied the wait; got {rows}")
            try:
                data = await self.recv(left)
            except TimeoutError:
                continue
            if data and data.get("id") == -1 and data["result"]["subscription"] == subscription:
                rows += data["result"]["data"]
        try:
            while True:
                data = await self.recv(QUIET)
                if data and data.get("id") == -1 and data["result"]["subscription"] == subscription:
                    rows += data["result"]["data"]
        except TimeoutError:
            return rows


def ws_url(venue, which: str) -> str:
    return venue.ccxt_config("cryptocom")["urls"]["api"]["ws"][which]


def creds(venue):
    c = venue.credentials("cryptocom")
    return c.api_key, c.secret


def dialect_of(venue) -> CryptocomDialect:
    """The serving Crypto.com dialect (the handler of its stream route)."""
    for route in venue._server.app.router.routes():
        owner = getattr(route.handler, "__self__", None)
        if isinstance(owner, CryptocomDialect):
            return owner
    raise LookupError("no Crypto.com dialect is serving")


def subscribed(venue, channel: str) -> int:
    return sum(channel in c.subs for c in list(dialect_of(venue)._conns))


async def until(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def q(x: Decimal) -> float:
    return float(x.quantize(TICK))


def first_bar(venue, start: int, reached) -> int:
    """Index of the first bar from `start` on for which `reached(bar)` holds."""
    bars = venue.bars[SYMBOL]
    return next(i for i in range(start, len(bars)) if reached(bars[i]))


@contextlib.asynccontextmanager
async def loaded(ex):
    """A ccxt.pro-based exchange with its markets loaded, closed (sockets and all) afterwards."""
    try:
        await ex.load_markets()
        yield ex
    finally:
        await ex.close()


def place_limit_buy(venue, price: Decimal, amount: float = 0.5) -> str:
    """A plain limit buy through REST (ccxt's sync class); returns its id."""
    return client(venue, "cryptocom").create_order(SYMBOL, "limit", "buy", amount, q(price))["id"]


# --- the protocol as the exchange serves it ------------------------------------------------------

def test_auth_subscribe_and_refusals(venue):
    async def run():
        key, secret = creds(venue)
        async with DocClient(ws_url(venue, "private")) as c:
            rid = await c.request("subscribe", {"channels": ["user.order"]})
            assert await c.answer(rid) == {"id": rid, "method": "subscribe", "code": 40101, "message": "UNAUTHORIZED"}
            bad = await c.auth(key, secret + "x")
            assert (bad["method"], bad["code"]) == ("public/auth", 40101)
            assert await c.auth(key, secret) == {"id": c._id, "method": "public/auth", "code": 0}
            for channel in ("user.nonsense", f"ticker.{INSTRUMENT}", "user.order.NOPE_BTC"):
                rid = await c.request("subscribe", {"channels": [channel]})
                refused = await c.answer(rid)
                assert (refused["code"], refused["message"]) == (40004, f"invalid channel {channel}")
            rid = await c.request("private/create-order", {})
            assert (await c.answer(rid))["code"] == 40002
            await c.ws.send_str("not json")
            assert await c.recv() == {"id": -1, "method": "ERROR", "code": 40001, "message": "BAD_REQUEST",
                                      "original": "not json"}
            rid = await c.request("subscribe", {"channels": [f"user.order.{INSTRUMENT}", "user.trade"]})
            assert await c.recv() == {"id": rid, "method": "subscribe", "code": 0}
            snapshot = await c.recv()   # doc: the first answer carries the open orders (none yet)
            assert snapshot["id"] == rid and snapshot["result"] == {
                "instrument_name": INSTRUMENT, "subscription": f"user.order.{INSTRUMENT}", "channel": "user.order", "data": []}
            rid = await c.request("unsubscribe", {"channels": ["user.trade"]})
            assert await c.answer(rid) == {"id": rid, "method": "unsubscribe", "code": 0}
            assert subscribed(venue, "user.trade") == 0 and subscribed(venue, f"user.order.{INSTRUMENT}") == 1
            rid = await c.request("subscribe", {"channels": ["user.advanced.order"]})   # the other spelling
            assert await c.answer(rid) == {"id": rid, "method": "subscribe", "code": 0}
        async with DocClient(ws_url(venue, "public")) as m:
            for channel in ("user.order", "ticker.NOPE_BTC", "ticker"):
                rid = await m.request("subscribe", {"channels": [channel]})
                assert (await m.answer(rid))["code"] == 40004
            # doc: 100 requests a second on Market Data; 250 at once exceed it in some second
            for _ in range(250):
                await m.request("no/such-method")
            codes = [(await m.recv())["code"] for _ in range(250)]
            assert set(codes) == {40002, 42901} and codes.count(40002) <= 200
        await until(lambda: not dialect_of(venue)._conns)
        assert venue.engine_for("cryptocom").watchers == []   # no connection: the feed is not followed

    asyncio.run(run())


def test_heartbeat_answered_keeps_the_connection_missed_closes_it(venue, monkeypatch):
    monkeypatch.setattr(CryptocomDialect, "heartbeat_s", 0.15)
    monkeypatch.setattr(CryptocomDialect, "heartbeat_grace_s", 0.15)

    async def run():
        async with DocClient(ws_url(venue, "public")) as good, \
                DocClient(ws_url(venue, "public"), answer_heartbeats=False) as deaf:
            # both read at once: the good one answers its heartbeats meanwhile
            good_read, deaf_read = await asyncio.gather(good.recv(timeout=1.0), deaf.recv(timeout=2),
                                                        return_exceptions=True)
            assert deaf_read is None   # closed after its first heartbeat went unanswered
            assert deaf.heartbeats == 1 and deaf.ws.close_code == 1000
            assert isinstance(good_read, asyncio.TimeoutError)   # only heartbeats for a second: still open
            assert good.heartbeats >= 3 and not good.ws.closed

    asyncio.run(run())


def test_a_client_that_does_not_read_is_closed_not_buffered(venue, monkeypatch):
    from bracket_plugin.sim import cryptocom_stream

    monkeypatch.setattr(cryptocom_stream, "QUEUE_MAX", 8)

    async def run():
        async with DocClient(ws_url(venue, "public")) as m:
            rid = await m.request("subscribe", {"channels": [f"ticker.{INSTRUMENT}"]})
            await m.answer(rid)
            await until(lambda: subscribed(venue, f"ticker.{INSTRUMENT}") == 1)

            def steps():   # ten bars in one look: 40 ticker updates at once for a queue of 8
                with venue.lock:
                    for _ in range(10):
                        venue.step()
            await in_thread(steps)
            while await m.recv() is not None:   # what was queued before the limit, then the close
                pass
            assert m.ws.close_code == 1008

    asyncio.run(run())


def test_ccxt_pro_unwatch_ends_the_subscription(venue):
    async def run():
        async with loaded(pro(venue)) as ex:
            await asyncio.wait_for(ex.watch_ticker(SYMBOL), WAIT)
            assert subscribed(venue, f"ticker.{INSTRUMENT}") == 1
            await asyncio.wait_for(ex.un_watch_ticker(SYMBOL), WAIT)
            await until(lambda: subscribed(venue, f"ticker.{INSTRUMENT}") == 0)

    asyncio.run(run())


# --- the doc client: private and market streams --------------------------------------------------

def test_order_and_fill_updates_reach_the_subscription_once(venue):
    async def run():
        key, secret = creds(venue)
        async with DocClient(ws_url(venue, "private")) as c:
            await c.auth(key, secret)
            await c.request("subscribe", {"channels": [f"user.order.{INSTRUMENT}", f"user.trade.{INSTRUMENT}"]})
            await until(lambda: subscribed(venue, f"user.trade.{INSTRUMENT}") == 1)
            order_id = await in_thread(place_limit_buy, venue, venue.bars[SYMBOL][START].open)
            rows = await c.updates(f"user.order.{INSTRUMENT}", until=lambda r: len(r) >= 1)
            assert [(r["order_id"], r["status"], r["order_type"]) for r in rows] == [(order_id, "ACTIVE", "LIMIT")]
            await in_thread(venue.step)   # a limit at the next open fills on that bar
            trades = await c.updates(f"user.trade.{INSTRUMENT}", until=lambda r: len(r) >= 1)
            assert [(t["order_id"], t["side"], t["traded_quantity"]) for t in trades] == [(order_id, "BUY", "0.5")]

    asyncio.run(run())


def test_doc_client_market_stream_publishes_the_bar_price_path(venue):
    bar = venue.bars[SYMBOL][START]
    path = [Decimal(p) for p in price_path(bar)]

    async def run():
        async with DocClient(ws_url(venue, "public")) as m:
            rid = await m.request("subscribe", {"channels": [f"ticker.{INSTRUMENT}", f"trade.{INSTRUMENT}"]})
            assert await m.recv() == {"id": rid, "method": "subscribe", "code": 0}
            first = await m.recv()   # the current ticker: the close of the last bar before START
            assert first["id"] == rid and Decimal(first["result"]["data"][0]["a"]) == venue.bars[SYMBOL][START - 1].close
            await in_thread(venue.step)
            ticks = await m.updates(f"ticker.{INSTRUMENT}", until=lambda r: len(r) >= 4)
            assert [Decimal(t["a"]) for t in ticks] == path
            assert [t["t"] for t in ticks] == sorted(t["t"] for t in ticks) and ticks[0]["t"] == bar.ts
            await in_thread(venue.step)
            await m.updates(f"trade.{INSTRUMENT}", until=lambda r: len(r) >= 4)  # next bar: its own 4 trades

    asyncio.run(run())


# --- ccxt.pro's unmodified class ------------------------------------------------------------------

def pro(venue):
    return ccxt.pro.cryptocom(dict(venue.ccxt_config("cryptocom"), enableRateLimit=False))


def test_ccxt_pro_watch_ticker_and_trades_follow_a_step(venue):
    bar = venue.bars[SYMBOL][START]
    path = [float(p) for p in price_path(bar)]

    async def run():
        async with loaded(pro(venue)) as ex:
            before = await asyncio.wait_for(ex.watch_ticker(SYMBOL), WAIT)   # the subscription's snapshot
            assert before["last"] == float(venue.bars[SYMBOL][START - 1].close)
            history = await asyncio.wait_for(ex.watch_trades(SYMBOL), WAIT)   # doc: the last 50 trades
            earlier = [float(p) for b in venue.bars[SYMBOL][START - 13:START] for p in price_path(b)][-50:]
            assert [t["price"] for t in history] == earlier
            ticker = asyncio.ensure_future(ex.watch_ticker(SYMBOL))
            await in_thread(venue.step)
            # one resolve per watch call: the first path point; the cache ends at the close
            assert (await asyncio.wait_for(ticker, WAIT))["last"] == path[0]
            await until(lambda: ex.tickers[SYMBOL]["last"] == path[-1])
            await until(lambda: len(ex.trades[SYMBOL]) == 54)
            assert [t["price"] for t in ex.trades[SYMBOL]][-4:] == path

    asyncio.run(run())


def test_ccxt_pro_watch_order_book_and_balance(venue):
    async def run():
        async with loaded(pro(venue)) as ex:
            book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), WAIT)
            last = float(venue.bars[SYMBOL][START - 1].close)
            assert book["bids"][0][0] == book["asks"][0][0] == last
            balance = await asyncio.wait_for(ex.watch_balance(), WAIT)
            assert (balance["BTC"]["used"], balance["ETH"]["total"]) == (0.0, 100.0)
            await ex.create_order(SYMBOL, "limit", "buy", 1, 0.05)   # far below: rests, holds 0.05 BTC
            balance = await asyncio.wait_for(ex.watch_balance(), WAIT)
            assert balance["BTC"]["used"] == 0.05
            pending = asyncio.ensure_future(ex.watch_order_book(SYMBOL))
            await in_thread(venue.step)
            book = await asyncio.wait_for(pending, WAIT)
            assert book["bids"][0][0] == float(venue.bars[SYMBOL][START].close)

    asyncio.run(run())


def test_ccxt_pro_watch_orders_and_my_trades_see_a_rest_order_fill(venue):
    async def run():
        async with loaded(pro(venue)) as ex:
            orders = asyncio.ensure_future(ex.watch_orders(SYMBOL))
            mine = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
            await until(lambda: subscribed(venue, f"user.trade.{INSTRUMENT}") == 1)
            placed = await ex.create_order(SYMBOL, "limit", "buy", 0.5, q(venue.bars[SYMBOL][START].open))
            seen = await asyncio.wait_for(orders, WAIT)
            assert [(o["id"], o["status"]) for o in seen] == [(placed["id"], "open")]
            await in_thread(venue.step)
            filled = await asyncio.wait_for(ex.watch_orders(SYMBOL), WAIT)
            assert [(o["id"], o["status"], o["filled"]) for o in filled] == [(placed["id"], "closed", 0.5)]
            trades = await asyncio.wait_for(mine, WAIT)
            # ccxt.pro 4.5.90 handles a `user.trade` message twice (handle_subscribe calls
            # handle_trades for the prefix and again for the channel): one fill, two cache entries
            assert {(t["order"], t["side"], t["amount"]) for t in trades} == {(placed["id"], "buy", 0.5)}
            assert len({t["id"] for t in ex.trades[SYMBOL]}) == 1

    asyncio.run(run())


# --- bracket_plugin's watch_oco_orders --------------------------------------------------------------

def ours(venue):
    return bp_async.cryptocom(dict(venue.ccxt_config("cryptocom"), enableRateLimit=False))


def test_our_class_keeps_the_accounts_trades_apart_from_the_markets(venue):
    """ccxt.pro's class stores `user.trade` and `trade` messages in one cache (above); ours keeps
    the account's trades apart, once each, so watch_my_trades is the account's fills alone."""
    async def run():
        async with loaded(ours(venue)) as ex:
            await asyncio.wait_for(ex.watch_trades(SYMBOL), WAIT)        # the market's, subscribed too
            mine = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
            await until(lambda: subscribed(venue, f"user.trade.{INSTRUMENT}") == 1)
            placed = await ex.create_order(SYMBOL, "limit", "buy", 0.5, q(venue.bars[SYMBOL][START].open))
            market = asyncio.ensure_future(ex.watch_trades(SYMBOL))
            await in_thread(venue.step)
            trades = await asyncio.wait_for(mine, WAIT)
            assert [(t["order"], t["amount"]) for t in trades] == [(placed["id"], 0.5)]
            assert trades[0]["fee"]["cost"] > 0 and trades[0]["fee"]["currency"] == "ETH"
            await asyncio.wait_for(market, WAIT)
            await until(lambda: len(ex.trades[SYMBOL]) == 54)             # the 50 before, then the bar's path
            assert placed["id"] not in {t.get("order") for t in ex.trades[SYMBOL]}
            assert len(ex.myTrades) == 1

    asyncio.run(run())


async def watch_until(ex, list_id, done, symbol=SYMBOL):
    """watch_oco_orders until the list with `list_id` satisfies `done`; returns that list."""
    deadline = time.monotonic() + WAIT
    while True:
        lists = await asyncio.wait_for(ex.watch_oco_orders(symbol), max(0.01, deadline - time.monotonic()))
        mine = [x for x in lists if x["id"] == list_id]
        if mine and done(mine[-1]):
            return mine[-1]


def test_watch_oco_orders_sees_an_oco_go_from_open_to_done(venue):
    last = venue.engine_for("cryptocom").last_price(SYMBOL)
    stop = last * Decimal("0.99")
    k = first_bar(venue, START, lambda bar: bar.low <= stop)

    async def run():
        async with loaded(ours(venue)) as ex:
            assert ex.has["watchOcoOrders"] and ex.has["watchOrders"]
            lst = await ex.create_oco_order(SYMBOL, "sell", 1, q(last * 2), q(stop), q(stop * Decimal("0.9")))
            opened = await watch_until(ex, lst["id"], lambda x: x["status"] == "open")   # from the snapshot
            assert opened["type"] == "oco" and {o["role"]: o["status"] for o in opened["orders"]} == {
                "take_profit": "open", "stop_loss": "open"}
            for _ in range(k - START + 1):
                await in_thread(venue.step)
            done = await watch_until(ex, lst["id"], lambda x: x["status"] != "open")
            assert done["status"] == "closed"
            assert {o["role"]: o["status"] for o in done["orders"]} == {"stop_loss": "closed", "take_profit": "canceled"}
            rest = await ex.fetch_oco_order(lst["id"], SYMBOL)   # the stream agrees with REST
            assert {o["id"]: o["status"] for o in rest["orders"]} == {o["id"]: o["status"] for o in done["orders"]}

    asyncio.run(run())


def test_watch_oco_orders_sees_an_otoco_entry_then_its_exit(venue):
    entry = venue.bars[SYMBOL][START].open   # a limit buy at the next open fills on that bar
    stop = (entry * Decimal("0.995")).quantize(TICK)
    k = first_bar(venue, START + 1, lambda bar: bar.low <= stop)

    async def run():
        async with loaded(ours(venue)) as ex:
            first = asyncio.ensure_future(ex.watch_oco_orders())   # all instruments, before the list exists
            await until(lambda: subscribed(venue, "user.advance.order") == 1)
            lst = await ex.create_otoco_order(SYMBOL, "buy", 1, q(entry), q(entry * 3), float(stop))
            created = [x for x in await asyncio.wait_for(first, WAIT) if x["id"] == lst["id"]]
            assert created and created[-1]["type"] == "otoco" and created[-1]["status"] == "open"
            await in_thread(venue.step)
            entered = await watch_until(ex, lst["id"], lambda x: any(o["role"] == "entry" and o["status"] == "closed"
                                                                     for o in x["orders"]), symbol=None)
            assert {o["role"]: o["status"] for o in entered["orders"]} == {
                "entry": "closed", "stop_loss": "open", "take_profit": "open"}
            for _ in range(k - START):
                await in_thread(venue.step)
            done = await watch_until(ex, lst["id"], lambda x: x["status"] != "open", symbol=None)
            assert {o["role"]: o["status"] for o in done["orders"]} == {
                "entry": "closed", "stop_loss": "closed", "take_profit": "canceled"}

    asyncio.run(run())


def test_watch_oco_orders_completes_a_list_met_after_its_entry_filled(venue):
    entry = venue.bars[SYMBOL][START].open

    async def run():
        async with loaded(ours(venue)) as ex:
            lst = await ex.create_otoco_order(SYMBOL, "buy", 1, q(entry), q(entry * 3), q(entry / 2))
            await in_thread(venue.step)   # the entry fills: the list's open legs are its two exits
            whole = await watch_until(ex, lst["id"], lambda x: len(x["orders"]) == 3)
            assert whole["type"] == "otoco" and whole["status"] == "open"
            assert {o["role"]: o["status"] for o in whole["orders"]} == {
                "entry": "closed", "stop_loss": "open", "take_profit": "open"}

    asyncio.run(run())


# --- dropped connections ------------------------------------------------------------------------------

def test_doc_client_reconnects_resubscribes_and_sees_each_update_once(venue):
    async def run():
        key, secret = creds(venue)
        channel = f"user.order.{INSTRUMENT}"
        async with DocClient(ws_url(venue, "private")) as c:
            await c.auth(key, secret)
            await c.request("subscribe", {"channels": [channel]})
            await until(lambda: subscribed(venue, channel) == 1)
            order_id = await in_thread(place_limit_buy, venue, venue.bars[SYMBOL][START].open)
            assert len(await c.updates(channel, until=lambda r: len(r) >= 1)) == 1
            assert venue._server.submit(_close_streams(venue)).result(WAIT) == 1
            assert await c.recv() is None and c.ws.close_code == 1013   # doc: "server restarting"
        async with DocClient(ws_url(venue, "private")) as c:
            await c.auth(key, secret)
            rid = await c.request("subscribe", {"channels": [channel]})
            await c.answer(rid)
            snapshot = await c.recv()   # the order is still open: it comes back once, in the snapshot
            assert [(r["order_id"], r["status"]) for r in snapshot["result"]["data"]] == [(order_id, "ACTIVE")]
            await in_thread(venue.step)
            rows = await c.updates(channel, until=lambda r: len(r) >= 1)
            assert [(r["order_id"], r["status"]) for r in rows] == [(order_id, "FILLED")]

    asyncio.run(run())


async def _close_streams(venue):
    return dialect_of(venue).close_streams()


def test_ccxt_pro_after_a_dropped_connection_watches_again(venue):
    async def run():
        async with loaded(pro(venue)) as ex:
            pending = asyncio.ensure_future(ex.watch_orders(SYMBOL))
            await until(lambda: subscribed(venue, f"user.order.{INSTRUMENT}") == 1)
            await asyncio.wrap_future(venue._server.submit(_close_streams(venue)))
            with pytest.raises(ccxt.NetworkError):   # ccxt.pro rejects what was waiting on the lost connection
                await asyncio.wait_for(pending, WAIT)
            placed = await ex.create_order(SYMBOL, "limit", "buy", 0.5, q(venue.bars[SYMBOL][START].open))
            # the next watch reconnects, authenticates and subscribes again: the snapshot has the order
            seen = await asyncio.wait_for(ex.watch_orders(SYMBOL), WAIT)
            assert [(o["id"], o["status"]) for o in seen] == [(placed["id"], "open")]
            conns = list(dialect_of(venue)._conns)
            assert len(conns) == 1 and list(conns[0].subs) == [f"user.order.{INSTRUMENT}"]
            await in_thread(venue.step)
            filled = await asyncio.wait_for(ex.watch_orders(SYMBOL), WAIT)
            assert [(o["id"], o["status"]) for o in filled] == [(placed["id"], "closed")]

    asyncio.run(run())


def test_stopping_the_venue_closes_its_streams():
    from simfixtures import make_venue

    async def run(v):
        async with DocClient(ws_url(v, "public")) as m, DocClient(ws_url(v, "private")) as u:
            started = time.monotonic()
            stopping = asyncio.ensure_future(in_thread(v.close))
            assert await m.recv(timeout=WAIT) is None and await u.recv(timeout=WAIT) is None
            await stopping
            # a close frame each (doc: 1013 "server restarting"), before aiohttp's 1 s handler grace
            return m.ws.close_code, u.ws.close_code, time.monotonic() - started

    v = make_venue().start_server()
    try:
        public, private, took = asyncio.run(run(v))
    finally:
        v.close()
    assert (public, private) == (1013, 1013) and took < 1.0
    assert v.engines["cryptocom"].watchers == [] and v.step()   # nothing left following the engine
