"""KuCoin's classic websocket API (spot) for the simulator: a mixin of the KuCoin dialect.

Flow (KuCoin "Apply connect token" / "Create connection", as ccxt.pro 4.5.90's `negotiate` uses it;
its `urls.api.ws` URLs are only for unified (UTA) accounts, which this venue is not):
POST /api/v1/bullet-public (or the signed /api/v1/bullet-private) answers a token and one
instance server `<prefix>/ws/endpoint`; the client connects with `?token=...&connectId=...`, gets
`welcome`, pings with `{"type": "ping"}`, subscribes with `{"type": "subscribe", "topic": ...,
"response": true}` and gets `ack`.

Topics: public `/market/ticker:{symbols}`, `/market/snapshot:{symbols}` (what ccxt.pro's
watch_ticker subscribes by default), `/market/match:{symbols}`; private `/spotMarket/tradeOrders`,
`/spotMarket/tradeOrdersV2`, `/spotMarket/advancedOrders`.  Public updates: each closed bar's price
path (rules.price_path), four ticks.  Private updates come from the engine's change feed.

Choices where KuCoin's docs are silent:
- the endpoint path is `<prefix>/ws/endpoint`; pingInterval 18 s, pingTimeout 10 s; a connection
  that sends nothing for pingInterval + pingTimeout is closed; a token is good for 24 h and for any
  number of connections; at most MAX_TOKENS tokens are kept (the oldest go first);
- an unknown token: `error` code 401 "token is invalid" (an expired one: "token is expired", which
  ccxt.pro answers by negotiating again), then the socket closes; an unknown topic or symbol: error
  404; a private topic on a public token: error 401; an unknown message type: error 415 (ccxt's
  sample); a message that is not a JSON object: error 400; errors carry the request's id;
- a client that lets SEND_QUEUE messages pile up unread is disconnected (close code 1013); a venue
  that stops closes every connection with 1001 (going away);
- tick sizes: a bar's volume split evenly over its four price-path ticks; tick times bar open +
  0, 1/4, 2/4, 3/4 of the interval; bid = ask = the tick's price (the simulator has no book);
- an order that fills when it first reaches the book gets no `open` message (as a taker order);
  a market order never gets one; `received` (status `new`) only on the V2 topic;
- stop orders and OCO legs are reported on /spotMarket/advancedOrders (`open`, `triggered`,
  `cancel`, as ccxt.pro parses them; the SDK's stop-order model lists no `triggered`) until they
  trigger (an OCO limit leg: until it fills), then on the trade-order topics.  An OCO leg's `stop`
  is `{l|e}_{l|s}_o`: `l` when it waits for the price to fall, `e` to rise; then `l` for the limit
  leg, `s` for the stop leg.  No message names the leg's list (KuCoin's do not);
- stream faults (`venue.faults.add_stream`: drop, stall, duplicate, reorder, refuse_connect,
  expire) are described in sim/faults.py; the plumbing they act on is sim/streams.py;
- /account/balance is not served (ccxt.pro's watch_orders / watch_my_trades do not need it).
"""
from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, WSMsgType, web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.candles import num
from bracket_plugin.sim.rules import DOWN, price_path
from bracket_plugin.sim.server import STREAM_PATH, Call, DialectBase, json_error, route
from bracket_plugin.sim.streams import Connection, Hub, advance, by_order, follow, hop, present, unfollow

ENDPOINT = "endpoint"            # <prefix>/ws/endpoint
MAX_TOKENS = 1000
TOKEN_TTL_S = 24 * 3600          # KuCoin: a token is valid for 24 h (bullet docs)
SEND_QUEUE = 1000
MAX_IN_BYTES = 64 * 1024
PUBLIC = {"/market/ticker": "trade.ticker", "/market/snapshot": "trade.snapshot", "/market/match": "trade.l3match"}
ORDERS, ORDERS_V2, STOPS = "/spotMarket/tradeOrders", "/spotMarket/tradeOrdersV2", "/spotMarket/advancedOrders"
SNAPSHOT_DROPS = ("time", "symbolName", "bestBidSize", "bestAskSize", "last")
PRIVATE = {ORDERS: "orderChange", ORDERS_V2: "orderChange", STOPS: "stopOrder"}


class _Conn(Connection):
    def __init__(self, ws: web.WebSocketResponse, request: web.Request, hub: Hub, private: bool, connect_id: str) -> None:
        # a reader that lets SEND_QUEUE messages pile up is dropped (module docstring)
        super().__init__(ws, request, hub, limit=SEND_QUEUE, full_code=WSCloseCode.TRY_AGAIN_LATER)
        self.private, self.connect_id = private, connect_id
        self.topics: set[str] = set()   # single topics: '/market/ticker:ETH-BTC', '/spotMarket/tradeOrders'


@dataclass
class _Sent:
    """What the streams told about one order so far."""
    staged: bool = False      # stop-order topic: `open` sent
    left_stage: bool = False  # stop-order topic: `triggered` sent
    received: bool = False
    booked: bool = False
    filled: Decimal = Decimal(0)


class KucoinStreamMixin(DialectBase):
    PING_INTERVAL_MS = 18_000
    PING_TIMEOUT_MS = 10_000

    if TYPE_CHECKING:   # the REST views this renders from, provided by KucoinDialect (sim/kucoin.py)
        def market_id(self, symbol: str) -> str: ...
        def ticker_view(self, symbol: str) -> dict: ...
        def order_view(self, o: E.SimOrder) -> dict: ...
        def fill_view(self, f: E.Fill) -> dict: ...

    def __init__(self, venue) -> None:
        super().__init__(venue)
        self._tokens: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._sent: dict[str, _Sent] = {}
        self.stream_hub = Hub(self.exchange_id, venue.faults, stop_code=WSCloseCode.GOING_AWAY,
                              stop_reason="the venue is stopping", on_first=lambda: self._watch(True),
                              on_last=lambda: self._watch(False), on_expire=self._expire)
        self._conns = self.stream_hub.conns

    def _expire(self) -> int:
        """The `expire` stream fault: every token issued so far is expired; open private connections
        are told so (as a connect with one is) and closed.  How many were closed."""
        with self.venue.lock:
            for token, (private, _) in self._tokens.items():
                self._tokens[token] = (private, 0.0)
        closing = [c for c in self._conns if c.private and not c.ws.closed]
        for conn in closing:
            conn.send({"id": conn.connect_id, "type": "error", "code": 401, "data": "token is expired"})
            conn.close_after(WSCloseCode.POLICY_VIOLATION, "token is expired")
        return len(closing)

    # ------------------------------------------------------------------ REST: tokens
    def _bullet(self, private: bool) -> dict:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (private, time.time() + TOKEN_TTL_S)
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)
        assert self.venue.url is not None  # answered over HTTP: the venue serves
        base = "ws" + self.venue.url[len("http"):] + self.prefix + STREAM_PATH + ENDPOINT
        return {"token": token, "instanceServers": [{
            "endpoint": base, "encrypt": False, "protocol": "websocket",
            "pingInterval": self.PING_INTERVAL_MS, "pingTimeout": self.PING_TIMEOUT_MS}]}

    @route("POST", "/api/v1/bullet-public")
    def bullet_public(self, call: Call):
        return self._bullet(private=False)

    @route("POST", "/api/v1/bullet-private", private=True)
    def bullet_private(self, call: Call):
        return self._bullet(private=True)

    # ------------------------------------------------------------------ the websocket
    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        if request.match_info.get("tail") != ENDPOINT:
            return json_error(404, f"no stream at {request.path}: the {self.exchange_id} dialect does not stream at this path "
                                   "(unified-account push URLs are not served); POST /api/v1/bullet-public or "
                                   "/api/v1/bullet-private answers the endpoint")
        ws = web.WebSocketResponse(max_msg_size=MAX_IN_BYTES)
        await ws.prepare(request)
        connect_id = request.query.get("connectId", "")[:64]
        grant = self._tokens.get(request.query.get("token", ""))
        if grant is None or grant[1] < time.time():
            reason = "token is invalid" if grant is None else "token is expired"
            await ws.send_json({"id": connect_id, "type": "error", "code": 401, "data": reason})
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())
            return ws
        conn = _Conn(ws, request, self.stream_hub, private=grant[0], connect_id=connect_id)
        idle = (self.PING_INTERVAL_MS + self.PING_TIMEOUT_MS) / 1000
        async with self.stream_hub.session(conn):
            try:
                conn.send({"id": connect_id, "type": "welcome"})   # KuCoin: welcome on connect
                while not ws.closed:
                    msg = await conn.receive(timeout=idle)
                    if msg.type != WSMsgType.TEXT:
                        break
                    self._on_client_message(conn, msg.data)
            except TimeoutError:
                pass  # no ping within pingInterval + pingTimeout: KuCoin drops the connection
        return ws

    def _on_client_message(self, conn: _Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            conn.send({"id": "", "type": "error", "code": 400, "data": "message must be a JSON object"})
            return
        mid, kind = msg.get("id", ""), msg.get("type")
        if kind == "ping":   # KuCoin: answer ping with pong, same id
            conn.send({"id": mid, "type": "pong", "timestamp": int(time.time() * 1_000_000)})
        elif kind in ("subscribe", "unsubscribe"):
            topics, error = self._topics(conn, msg.get("topic"))
            if error:
                conn.send({"id": mid, "type": "error", "code": error[0], "data": error[1]})
                return
            if kind == "subscribe":
                conn.topics |= topics   # a set: subscribing twice still publishes once
            else:
                conn.topics -= topics
            if msg.get("response"):   # KuCoin: ack only when asked with response: true
                conn.send({"id": mid, "type": "ack"})
        else:
            conn.send({"id": mid, "type": "error", "code": 415, "data": "type is not supported"})

    def _topics(self, conn: _Conn, topic) -> tuple[set, tuple | None]:
        if not isinstance(topic, str):
            return set(), (400, "topic is required")
        if topic in PRIVATE:
            return ({topic}, None) if conn.private else (set(), (401, f"topic {topic} needs a private token"))
        channel, _, symbols = topic.partition(":")
        if channel not in PUBLIC or not symbols:
            return set(), (404, f"topic {topic} is not found")
        ids = symbols.split(",")
        markets = {self.market_id(s) for s in self.engine.markets()}
        if any(i not in markets for i in ids):
            return set(), (404, f"topic {topic} is not found: unknown symbol")
        return {f"{channel}:{i}" for i in ids}, None

    # ------------------------------------------------------------------ publishing
    def _watch(self, on: bool) -> None:
        """Follow the engine's change feed while a connection is open."""
        with self.venue.lock:
            eng = self.engine
            if on:
                self._seq, self._nfills = present(eng)
                self._bars = {s: len(eng.closed_bars(s)) for s in eng.symbols()}
                self._sent.clear()
                follow(eng, self._on_change)
            else:
                unfollow(eng, self._on_change)

    def _on_change(self, entry: dict) -> None:
        """Engine watcher: in the changing thread, under venue.lock; sending hops to the server loop."""
        out = self._private_messages()
        if entry.get("op") == "step":
            out += self._public_messages()
        if out:
            hop(self.stream_hub.loop, self._fan_out, out)

    def _fan_out(self, messages: list[tuple[str, dict]]) -> None:
        for conn in list(self._conns):
            for topic, message in messages:
                if topic in conn.topics:
                    conn.send(message, private=topic in PRIVATE)

    def _public_messages(self) -> list[tuple[str, dict]]:
        out = []
        eng = self.engine
        for symbol in eng.symbols():
            closed = len(eng.closed_bars(symbol))
            if closed == self._bars.get(symbol):
                continue
            self._bars[symbol] = closed
            bar = eng.closed_bars(symbol, limit=1)[-1]
            mid = self.market_id(symbol)
            size = num(bar.volume / 4)
            # Get Market Snapshot's fields, from the REST ticker (without the fields it does not carry)
            snapshot = {k: v for k, v in self.ticker_view(symbol).items() if k not in SNAPSHOT_DROPS}
            for i, price in enumerate(price_path(bar)):
                t = bar.ts + i * eng.interval_ms(symbol) // 4
                seq = str(t * 10 + i)
                p = num(price)
                ticks = {
                    "/market/ticker": {"sequence": seq, "price": p, "size": size, "bestAsk": p, "bestAskSize": size,
                                       "bestBid": p, "bestBidSize": size, "time": t},
                    "/market/snapshot": {"sequence": seq, "data": dict(
                        snapshot, symbol=mid, symbolCode=mid, trading=True, lastTradedPrice=p, close=p, buy=p, sell=p,
                        datetime=t, baseCurrency=eng.rules(symbol).base, quoteCurrency=eng.rules(symbol).quote,
                        market=eng.rules(symbol).quote)},
                    "/market/match": {"sequence": seq, "symbol": mid, "side": "buy" if i % 2 else "sell", "size": size,
                                      "price": p, "takerOrderId": f"t{seq}", "makerOrderId": f"m{seq}",
                                      "tradeId": seq, "time": str(t * 1_000_000), "type": "match"},
                }
                for channel, data in ticks.items():
                    topic = f"{channel}:{mid}"
                    out.append((topic, {"type": "message", "topic": topic, "subject": PUBLIC[channel], "data": data}))
        return out

    def _private_messages(self) -> list[tuple[str, dict]]:
        self._seq, self._nfills, orders, _, fills = advance(self.engine, self._seq, self._nfills)
        grouped = by_order(fills)
        out = []
        for o in orders:
            for topic, data in self._order_events(o, grouped.get(o.id, [])):
                out.append((topic, {"type": "message", "topic": topic, "subject": PRIVATE[topic],
                                    "channelType": "private", "data": data}))
        return out

    def _order_events(self, o: E.SimOrder, fills: list[E.Fill]):
        if o.status == "pending":
            return
        s = self._sent.setdefault(o.id, _Sent(filled=o.filled - sum(f.amount for f in fills)))
        view = self.order_view(o)
        if o.is_trigger or o.list_id is not None:   # a stop order until it triggers
            if not s.staged:
                s.staged = True
                yield STOPS, self._stop_event(o, view, "open", o.created_ms)
            if not s.left_stage:
                if o.triggered_ms is not None or fills:
                    s.left_stage = True
                    yield STOPS, dict(self._stop_event(o, view, "triggered", o.triggered_ms or fills[0].ts),
                                      triggerSuccess=True)
                elif o.status in E.FINAL:
                    self._sent.pop(o.id)
                    yield STOPS, self._stop_event(o, view, "cancel", o.updated_ms)
                    return
                else:
                    return
        if not s.received:   # V2 only: the order enters the matching system
            s.received = True
            yield ORDERS_V2, self._order_event(o, view, s.filled, "received", "new", o.updated_ms)
        if not s.booked and not fills and o.status in E.LIVE and o.type not in ("market", "stop_market"):
            s.booked = True
            for topic in (ORDERS, ORDERS_V2):
                yield topic, self._order_event(o, view, s.filled, "open", "open", o.updated_ms)
        for f in fills:
            s.filled += f.amount
            fv = self.fill_view(f)
            data = dict(self._order_event(o, view, s.filled, "match", "open" if f.liquidity == "maker" else "match", f.ts),
                        matchPrice=fv["price"], matchSize=fv["size"], tradeId=fv["tradeId"],
                        liquidity=fv["liquidity"], feeType=fv["liquidity"] + "Fee")
            for topic in (ORDERS, ORDERS_V2):
                yield topic, data
        if o.status in E.FINAL:
            self._sent.pop(o.id)
            kind = "filled" if o.status == "filled" else "canceled"
            for topic in (ORDERS, ORDERS_V2):
                yield topic, self._order_event(o, view, s.filled, kind, "done", o.updated_ms)

    @staticmethod
    def _order_event(o: E.SimOrder, view: dict, filled: Decimal, kind: str, status: str, ts_ms: int) -> dict:
        """KuCoin's order-change message (Get Order V1/V2), from the REST view of the order."""
        remain = o.amount - filled if o.status not in E.FINAL else Decimal(0)
        canceled = o.amount - filled if o.status in ("canceled", "rejected") else Decimal(0)
        return {"symbol": view["symbol"], "orderType": view["type"], "side": view["side"], "orderId": view["id"],
                "type": kind, "orderTime": view["createdAt"], "size": view["size"], "originSize": view["size"],
                "filledSize": num(filled), "price": view["price"], "clientOid": view["clientOid"],
                "remainSize": num(remain), "canceledSize": num(canceled), "status": status, "ts": ts_ms * 1_000_000}

    def _stop_event(self, o: E.SimOrder, view: dict, kind: str, ts_ms: int) -> dict:
        """KuCoin's stop-order message (Get Stop Order), from the REST view of the order."""
        stop = view["stop"]
        if o.list_id is not None:   # OCO leg (module docstring)
            waits_down = o.direction == DOWN if o.is_trigger else o.side == "buy"
            stop = f"{'l' if waits_down else 'e'}_{'s' if o.is_trigger else 'l'}_o"
        stop_price = view["stopPrice"] if o.is_trigger else view["price"]
        return {"createdAt": view["createdAt"], "orderId": view["id"], "orderPrice": view["price"], "orderType": "stop",
                "side": view["side"], "size": view["size"], "stop": stop, "stopPrice": stop_price,
                "symbol": view["symbol"], "tradeType": "TRADE", "ts": ts_ms * 1_000_000, "type": kind}
