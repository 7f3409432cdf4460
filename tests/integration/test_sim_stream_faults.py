"""Stream faults (Faults.add_stream) on the simulator's three websocket dialects, over real sockets
on 127.0.0.1: the protocol as a raw aiohttp websocket client sees it (the cut, the doubled message,
the swapped pair, the 503, the expiry error / event, the stall), and ccxt.pro's unmodified kucoin,
cryptocom and binance classes getting the next fill after each fault. Every wait is bounded."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import aiohttp
import ccxt
import ccxt.pro
import pytest
import requests

from bracket_plugin.sim.kucoin import KucoinDialect
from conformance import VENUES
from simfixtures import SYMBOL, client, kucoin_raw, venue  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)

WAIT = 5.0
QUIET = 0.6          # "nothing more arrives" is watched this long
EXCHANGES = VENUES    # every registered venue: each has a raw client below (a test checks it)
KC_PRIVATE = "/spotMarket/tradeOrders"
CDC_ORDERS = "user.order." + SYMBOL.replace("/", "_")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 45))


def dialect(venue, exchange_id: str):
    for r in venue._server.app.router.routes():
        owner = getattr(r.handler, "__self__", None)
        if getattr(owner, "exchange_id", None) == exchange_id:
            return owner
    raise AssertionError(f"no {exchange_id} dialect served")


def private_conns(venue, exchange_id: str) -> list:
    """The venue's open connections that carry a private (order) subscription."""
    for _ in range(3):   # the set changes on the server loop: copy it again if it moved meanwhile
        try:
            conns = list(dialect(venue, exchange_id).stream_hub.conns)
            break
        except RuntimeError:
            continue
    if exchange_id == "kucoin":
        wanted = [c for c in conns if any(t.startswith("/spotMarket") for t in c.topics)]
    elif exchange_id == "cryptocom":
        wanted = [c for c in conns if any(s.startswith("user.") for s in c.subs)]
    else:
        wanted = [c for c in conns if c.user_ids]
    return [c for c in wanted if not c.ws.closed]


async def until(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def step(venue) -> None:
    await asyncio.to_thread(venue.step)


def price(venue, exchange_id: str, factor: float) -> float:
    return round(float(venue.engine_for(exchange_id).last_price(SYMBOL)) * factor, 6)


async def place(venue, exchange_id: str, factor: float = 1.02) -> str:
    """A limit buy through REST (ccxt's sync class); at 1.02 x last it fills at the next step."""
    def go():
        ex = client(venue, exchange_id)
        ex.load_markets()
        return ex.create_order(SYMBOL, "limit", "buy", 0.5, price(venue, exchange_id, factor))["id"]
    return await asyncio.to_thread(go)


# ---------------------------------------------------------------------- raw clients, one per dialect
class Raw:
    """A websocket client written from the exchange's documents, subscribed to its order updates."""

    exchange_id = ""

    def __init__(self, venue) -> None:
        self.venue, self.ws, self.session = venue, None, None

    async def __aenter__(self):
        self.session = aiohttp.ClientSession()
        await self.open()
        return self

    async def __aexit__(self, *exc) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()

    async def connect(self, url: str, **params):
        self.ws = await self.session.ws_connect(url, params=params or None, timeout=aiohttp.ClientWSTimeout(ws_close=WAIT))
        return self.ws

    async def recv(self, timeout: float = WAIT) -> dict | None:
        """The next message; None when the connection ended (the message kept in self.ended)."""
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            self.ended = msg
            return None
        return json.loads(msg.data)

    async def drain(self, quiet: float = QUIET, first: float = WAIT) -> list[dict]:
        """Messages until none arrives for `quiet` s (the first one waited for up to `first` s)."""
        out = []
        for _ in range(200):
            try:
                msg = await self.recv(quiet if out else first)
            except TimeoutError:
                break
            if msg is None:
                break
            out.append(msg)
        return out

    async def lifecycle(self, first: float = WAIT) -> list[str]:
        """Place an order that fills at the next step, step, and return its private updates' labels."""
        oid = await place(self.venue, self.exchange_id)
        # a stream publishes an order's latest state: stepped at once, a busy machine may publish
        # the fill alone (no `new` / `ACTIVE` before it), and the pair the faults act on is not there
        await asyncio.sleep(0.3)
        await step(self.venue)
        return [label for i, label in self.labels(await self.drain(first=first)) if str(i) == str(oid)]


class KucoinRaw(Raw):
    exchange_id = "kucoin"

    async def open(self, subscribe: bool = True) -> None:
        r = await asyncio.to_thread(kucoin_raw, self.venue, "POST", "/api/v1/bullet-private")
        self.bullet = r.json()["data"]
        await self.connect_token(self.bullet["token"])
        assert (await self.recv())["type"] == "welcome"
        if subscribe:
            await self.ws.send_json({"id": "s", "type": "subscribe", "topic": KC_PRIVATE, "privateChannel": True,
                                     "response": True})
            assert await self.recv() == {"id": "s", "type": "ack"}

    async def connect_token(self, token: str):
        return await self.connect(self.bullet["instanceServers"][0]["endpoint"], token=token, connectId="c1")

    async def ping(self, mid: str = "p") -> None:
        await self.ws.send_json({"id": mid, "type": "ping"})

    @staticmethod
    def is_pong(msg: dict) -> bool:
        return msg.get("type") == "pong"

    @staticmethod
    def labels(msgs):
        return [(m["data"]["orderId"], m["data"]["type"]) for m in msgs if m.get("topic") == KC_PRIVATE]


class CryptocomRaw(Raw):
    exchange_id = "cryptocom"
    _id = 0

    def url(self, which: str) -> str:
        return "ws" + self.venue.url[len("http"):] + f"/cryptocom/ws/{which}"

    async def open(self, subscribe: bool = True) -> None:
        await self.connect(self.url("private"))
        assert (await self.auth())["code"] == 0
        if subscribe:
            rid = await self.request("subscribe", {"channels": [CDC_ORDERS]})
            assert await self.recv() == {"id": rid, "method": "subscribe", "code": 0}
            assert (await self.recv())["id"] == rid   # the snapshot of open orders

    async def request(self, method: str, params: dict | None = None) -> int:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params or {}, "nonce": int(time.time() * 1000)})
        return self._id

    async def auth(self) -> dict:
        creds = self.venue.credentials("cryptocom")
        self._id += 1
        nonce = int(time.time() * 1000)
        sig = hmac.new(creds.secret.encode(), f"public/auth{self._id}{creds.api_key}{nonce}".encode(), hashlib.sha256).hexdigest()
        await self.ws.send_json({"id": self._id, "method": "public/auth", "api_key": creds.api_key, "sig": sig, "nonce": nonce})
        return await self.recv()

    async def ping(self, mid: str = "p") -> None:   # no client ping in Crypto.com's API: any answered request
        await self.request("no/such-method")

    @staticmethod
    def is_pong(msg: dict) -> bool:
        return msg.get("method") == "no/such-method"

    @staticmethod
    def labels(msgs):
        return [(row["order_id"], row["status"]) for m in msgs if m.get("id") == -1
                and m["result"]["subscription"] == CDC_ORDERS for row in m["result"]["data"]]


class BinanceRaw(Raw):
    exchange_id = "binance"

    def url(self, tail: str) -> str:
        return "ws" + self.venue.url[len("http"):] + f"/binance/ws/{tail}"

    async def open(self, subscribe: bool = True) -> None:
        await self.connect(self.url("ws-api/spot"))
        if subscribe:
            await self.ws.send_json({"id": "s", "method": "userDataStream.subscribe.signature", "params": self.signed()})
            assert (await self.recv())["result"] == {"subscriptionId": 0}

    def signed(self) -> dict:
        creds = self.venue.credentials("binance")
        p = {"apiKey": creds.api_key, "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={v}" for k, v in sorted(p.items()))
        p["signature"] = hmac.new(creds.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return p

    async def ping(self, mid: str = "p") -> None:
        await self.ws.send_json({"id": mid, "method": "ping", "params": {}})

    @staticmethod
    def is_pong(msg: dict) -> bool:
        return msg.get("result") == {} and msg.get("status") == 200

    @staticmethod
    def labels(msgs):
        return [(m["event"]["i"], m["event"]["x"]) for m in msgs if m.get("event", {}).get("e") == "executionReport"]


RAW = {"kucoin": KucoinRaw, "cryptocom": CryptocomRaw, "binance": BinanceRaw}


def test_every_registered_venue_has_a_raw_stream_client():
    """A venue added to the registry gets these stream-fault tests once it has a raw client here."""
    assert sorted(RAW) == sorted(VENUES)


# ---------------------------------------------------------------------- the protocol, raw clients
@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_raw_duplicate_then_reorder_of_private_messages(venue, exchange_id):
    async def main():
        async with RAW[exchange_id](venue) as c:
            plain = await c.lifecycle()
            assert len(plain) >= 2 and plain[0] != plain[1], plain   # a pair whose swap shows
            dup = venue.faults.add_stream("duplicate", exchange_id, count=1)
            doubled = await c.lifecycle()
            assert doubled == [plain[0]] + plain and dup.fired == 1
            swap = venue.faults.add_stream("reorder", exchange_id, count=1)
            swapped = await c.lifecycle()
            assert swapped == [plain[1], plain[0]] + plain[2:] and swap.fired == 1
            assert await c.lifecycle() == plain   # both faults used up
    run(main())


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_raw_drop_cuts_without_a_close_frame(venue, exchange_id):
    async def main():
        async with RAW[exchange_id](venue) as c, RAW[exchange_id](venue) as other:
            await until(lambda: len(private_conns(venue, exchange_id)) == 2)
            rule = await asyncio.to_thread(venue.faults.add_stream, "drop", exchange_id)
            assert rule.fired == 2
            for ws in (c, other):
                assert await ws.recv() is None
                assert ws.ended.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)   # no CLOSE frame
            await until(lambda: not dialect(venue, exchange_id).stream_hub.conns)
    run(main())


def test_drop_of_one_exchange_leaves_the_others(venue):
    async def main():
        async with KucoinRaw(venue) as k, BinanceRaw(venue) as b:
            rule = await asyncio.to_thread(venue.faults.add_stream, "drop", "kucoin")
            assert rule.fired == 1 and await k.recv() is None
            await b.ping("still")
            assert (await b.recv())["id"] == "still"
    run(main())


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_raw_refuse_connect_answers_503_count_times(venue, exchange_id):
    async def main():
        rule = venue.faults.add_stream("refuse_connect", exchange_id, count=2)
        c = RAW[exchange_id](venue)
        async with aiohttp.ClientSession() as c.session:
            statuses = []
            for _ in range(3):
                try:
                    await c.open(subscribe=False)
                    statuses.append(101)
                except aiohttp.WSServerHandshakeError as exc:
                    statuses.append(exc.status)
            assert statuses == [503, 503, 101] and rule.fired == 2
            await c.ws.close()
    run(main())


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_raw_stall_withholds_then_sends_and_keeps_the_connection(venue, exchange_id):
    async def main():
        async with RAW[exchange_id](venue) as c:
            rule = await asyncio.to_thread(venue.faults.add_stream, "stall", exchange_id, seconds=1.5)
            started = time.monotonic()
            assert rule.fired == 1
            await c.ping("during")
            oid = await place(venue, exchange_id)
            await step(venue)
            with pytest.raises(asyncio.TimeoutError):   # nothing: no answer, no order update
                await c.recv(timeout=1.0)
            got = await c.drain()   # then all of it, in order, on the same connection
            assert time.monotonic() - started >= 1.4
            assert any(c.is_pong(m) for m in got)
            assert [label for i, label in c.labels(got) if str(i) == str(oid)]
            assert not c.ws.closed and len(private_conns(venue, exchange_id)) == 1
    run(main())


def test_raw_kucoin_expire(venue):
    async def main():
        async with KucoinRaw(venue) as c:
            rule = await asyncio.to_thread(venue.faults.add_stream, "expire", "kucoin")
            assert rule.fired == 1
            assert await c.recv() == {"id": "c1", "type": "error", "code": 401, "data": "token is expired"}
            assert await c.recv() is None and c.ws.close_code == 1008
            await c.connect_token(c.bullet["token"])   # the old token: refused as expired
            assert (await c.recv())["data"] == "token is expired" and await c.recv() is None
            await c.open()   # a new token works
            assert await c.lifecycle()
    run(main())


def test_raw_binance_expire(venue):
    headers = {"X-MBX-APIKEY": venue.credentials("binance").api_key}
    url = venue.url + "/binance/api/v3/userDataStream"
    key = requests.post(url, headers=headers, timeout=WAIT).json()["listenKey"]

    async def main():
        async with BinanceRaw(venue) as api, aiohttp.ClientSession() as s, \
                s.ws_connect(api.url(f"spot/ws/{key}")) as stream:
            await until(lambda: len(dialect(venue, "binance").stream_hub.conns) == 2)
            rule = await asyncio.to_thread(venue.faults.add_stream, "expire", "binance")
            assert rule.fired == 2
            expired = json.loads((await stream.receive(timeout=WAIT)).data)
            assert (expired["e"], expired["listenKey"]) == ("listenKeyExpired", key)
            assert (await stream.receive(timeout=WAIT)).type == aiohttp.WSMsgType.CLOSE
            ended = await api.recv()
            assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
            assert await api.lifecycle(first=1.0) == []   # no subscription left: no order update
            kept = await asyncio.to_thread(requests.put, url, params={"listenKey": key}, headers=headers, timeout=WAIT)
            assert kept.json() == {"code": -1125, "msg": "This listenKey does not exist."}
            await api.ws.send_json({"id": "again", "method": "userDataStream.subscribe.signature", "params": api.signed()})
            assert (await api.recv())["result"] == {"subscriptionId": 1}
            assert await api.lifecycle()
    run(main())


def test_raw_cryptocom_expire(venue):
    async def main():
        async with CryptocomRaw(venue) as c, aiohttp.ClientSession() as s, \
                s.ws_connect(c.url("public")) as market:
            rule = await asyncio.to_thread(venue.faults.add_stream, "expire", "cryptocom")
            assert rule.fired == 1
            assert await c.recv() is None and c.ws.close_code == 1000
            assert not market.closed   # market data needs no session
            await c.connect(c.url("private"))   # a new connection, not authenticated yet
            rid = await c.request("private/get-open-orders")
            assert await c.recv() == {"id": rid, "method": "private/get-open-orders", "code": 40101, "message": "UNAUTHORIZED"}
            rid = await c.request("subscribe", {"channels": [CDC_ORDERS]})
            assert (await c.recv())["code"] == 40101
            await c.ws.close()
            await c.open()
            assert await c.lifecycle()
    run(main())


def test_stream_fault_arguments_are_checked(venue):
    with pytest.raises(ValueError):
        venue.faults.add_stream("melt")
    with pytest.raises(ValueError):
        venue.faults.add_stream("stall")   # a stall needs seconds
    with pytest.raises(ValueError):
        venue.faults.add_stream("drop", "nasdaq")
    assert venue.faults.add_stream("drop").fired == 0   # nothing open: nothing cut


# ---------------------------------------------------------------------- ccxt.pro, unmodified
def pro(venue, exchange_id: str, keep_alive_ms: int | None = None):
    config = dict(venue.ccxt_config(exchange_id), enableRateLimit=False)
    if keep_alive_ms is not None:
        config["streaming"] = {"keepAlive": keep_alive_ms}
    return getattr(ccxt.pro, exchange_id)(config)


async def watching(venue, ex, exchange_id: str, tries: int = 8):
    """watch_my_trades again until the venue holds its subscription (each failed try's error kept);
    returns (the pending watch, the errors)."""
    errors = []
    for _ in range(tries):
        pending = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
        deadline = time.monotonic() + WAIT
        while not pending.done() and not private_conns(venue, exchange_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not pending.done() and private_conns(venue, exchange_id):
            await asyncio.sleep(0.1)   # the watch registers its future
            return pending, errors
        errors.append(pending.exception() if pending.done() else TimeoutError("not subscribed"))
        if not pending.done():
            pending.cancel()
    raise AssertionError(f"no subscription after {tries} watches: {errors}")


async def next_fill(venue, ex, exchange_id: str, pending) -> None:
    oid = await place(venue, exchange_id)
    await step(venue)
    trades = await asyncio.wait_for(pending, WAIT)
    assert trades[-1]["order"] == oid


def with_pro(venue, exchange_id: str, body, keep_alive_ms: int | None = None, watch_first: bool = True) -> None:
    """Run `body(ex, pending)` with ccxt.pro's class (markets loaded; `pending`: a watch_my_trades
    the venue holds the subscription of, when `watch_first`), closed afterwards."""
    async def main():
        ex = pro(venue, exchange_id, keep_alive_ms)
        try:
            await ex.load_markets()
            pending = (await watching(venue, ex, exchange_id))[0] if watch_first else None
            await body(ex, pending)
        finally:
            await ex.close()
    run(main())


async def fault(venue, kind: str, exchange_id: str, **kw):
    return await asyncio.to_thread(venue.faults.add_stream, kind, exchange_id, **kw)


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_ccxt_pro_after_a_drop_watches_again(venue, exchange_id):
    async def body(ex, pending):
        before = private_conns(venue, exchange_id)
        assert (await fault(venue, "drop", exchange_id)).fired == 1
        with pytest.raises(ccxt.NetworkError):   # what waited on the cut connection fails
            await asyncio.wait_for(pending, WAIT)
        await until(lambda: not private_conns(venue, exchange_id))
        pending, _ = await watching(venue, ex, exchange_id)
        assert private_conns(venue, exchange_id)[0] not in before   # a new connection
        await next_fill(venue, ex, exchange_id, pending)
    with_pro(venue, exchange_id, body)


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_ccxt_pro_through_three_refused_connects(venue, exchange_id):
    async def body(ex, _):
        rule = venue.faults.add_stream("refuse_connect", exchange_id, count=3)
        pending, errors = await watching(venue, ex, exchange_id)
        assert rule.fired == 3 and len(errors) == 3
        assert all(isinstance(e, ccxt.NetworkError) for e in errors), errors
        await next_fill(venue, ex, exchange_id, pending)
    with_pro(venue, exchange_id, body, watch_first=False)


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_ccxt_pro_after_expire_watches_again(venue, exchange_id, monkeypatch):
    """KuCoin: ccxt.pro 4.5.90 raises AuthenticationError out of its receive loop on the `token is
    expired` message (the loop stops reading, so it never sees the close that follows); only its
    next ping (the bullet's pingInterval, shortened here) fails the watch, with aiohttp's
    ClientConnectionResetError, and the next watch negotiates a new token."""
    monkeypatch.setattr(KucoinDialect, "PING_INTERVAL_MS", 500)
    d = dialect(venue, exchange_id)

    async def body(ex, pending):
        tokens = len(getattr(d, "_tokens", ()))
        assert (await fault(venue, "expire", exchange_id)).fired == 1
        await until(lambda: not private_conns(venue, exchange_id))   # closed, or (binance) unsubscribed
        if exchange_id == "binance":   # the connection stays; ccxt.pro subscribes again on the next watch
            pending, _ = await watching(venue, ex, exchange_id)
            assert [c.user_ids for c in private_conns(venue, exchange_id)] == [[1]]
        else:
            with pytest.raises((ccxt.NetworkError, aiohttp.ClientConnectionError)):
                await asyncio.wait_for(pending, WAIT)
            pending, _ = await watching(venue, ex, exchange_id)
        if exchange_id == "kucoin":   # ccxt.pro negotiated a new token
            assert len(d._tokens) == tokens + 1
        await next_fill(venue, ex, exchange_id, pending)
    with_pro(venue, exchange_id, body)


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_ccxt_pro_gives_up_on_a_stalled_connection_and_reconnects(venue, exchange_id, monkeypatch):
    """A stall longer than the client's ping timeout (keepAlive 0.5 s, two misses): ccxt.pro fails
    the watch during the stall, and the next watch, on a new connection, gets the fill."""
    monkeypatch.setattr(KucoinDialect, "PING_INTERVAL_MS", 500)   # KuCoin's bullet sets ccxt's keepAlive

    async def body(ex, pending):
        stalled = private_conns(venue, exchange_id)
        started = time.monotonic()
        assert (await fault(venue, "stall", exchange_id, seconds=4.0)).fired == 1
        with pytest.raises(ccxt.RequestTimeout):
            await asyncio.wait_for(pending, WAIT)
        assert time.monotonic() - started < 3.5   # during the stall
        pending, _ = await watching(venue, ex, exchange_id)
        assert [c for c in private_conns(venue, exchange_id) if c not in stalled]
        await next_fill(venue, ex, exchange_id, pending)
    with_pro(venue, exchange_id, body, keep_alive_ms=None if exchange_id == "kucoin" else 500)
