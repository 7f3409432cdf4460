"""Binance spot websocket streams for the simulator: a mixin of the Binance dialect (sim/binance.py).

Sources: Binance's public spot API documentation, https://github.com/binance/binance-spot-api-docs, its pages web-socket-streams.md (market streams, SUBSCRIBE / UNSUBSCRIBE /
LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY, error messages, limits), user-data-stream.md
(listenKey, executionReport, listStatus, outboundAccountPosition, listenKeyExpired),
web-socket-api.md (requests, responses, signed requests, userDataStream.* methods).

Paths below `<prefix>/ws/` (Venue.ccxt_config points ccxt.pro's `urls.api.ws.spot` at
`.../binance/ws/spot` and `urls.api.ws.ws-api.spot` at `.../binance/ws/ws-api/spot`):
- `spot[/ws]/<name>`: a raw stream (`<symbol>@trade`, `<symbol>@ticker`, `<symbol>@miniTicker`
  or a listenKey);
  `spot[/ws]` or `spot/<digits>` (ccxt.pro appends a stream index): no stream until SUBSCRIBE;
  `spot/stream?streams=a/b`: a combined stream. `spot` stands for the host's `/ws` (ccxt.pro's
  base URL), `spot/ws` and `spot/stream` for `/ws` and `/stream` below the host (the official
  connector's base URL);
- `ws-api/spot`: the websocket API (what ccxt.pro 4.5.90 uses for spot user data:
  `userDataStream.subscribe.signature`; events arrive as `{"subscriptionId": n, "event": {...}}`).

Where the events come from: the engine's change feed (`engine.watchers`). The watcher runs in the
thread that changed the engine, under venue.lock, right after each change: it renders the
messages there (so each shows the state right after its change, even when several changes happen
before the server loop runs) with the REST views of sim/binance.py, then hops to the server loop.

Choices where the documents are silent:
- a closed bar publishes its price path (rules.price_path: open, extreme, extreme, close) as four
  `trade` events of a quarter of the bar's volume each, at the bar's open time + 0, 1/4, 2/4, 3/4
  of its interval, and after each one a `24hrTicker` of the REST ticker's 24 h statistics (closed
  bars, this bar included) with that trade's price as last, bid and ask, and a `24hrMiniTicker`
  of the same numbers; trade ids count per symbol from 1 and the ticker's `n` / `L` count them; buyer / seller order ids are -1 (the bars have no
  orders behind them); `m` (buyer is the maker) is true for a trade at or below the bar's open;
- event times (`E`) are the engine's clock (bar time), like the REST answers' order times;
- executionReport: one per order change and one per fill (x=TRADE, `t` the fill id); a new order
  x=NEW (X=PENDING_NEW for an OTO's pending leg), a pending leg going live x=NEW X=NEW; a leg
  canceled by its sibling x=EXPIRED (as REST shows it), a user's cancel x=CANCELED; a stop
  triggering sends nothing (its status stays NEW); a cancel's report carries the order's own
  client id in both `c` and `C` (there is no cancel request id);
  each change's order reports come first, then listStatus of a changed list, then one
  outboundAccountPosition with the base and quote of the orders' markets;
- listStatus is sent when a list is placed and when it ends (the engine's list changes);
- a SUBSCRIBE to a name that is neither a served stream nor an active listenKey is refused with
  `{"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": ...}` (the answer
  ccxt.pro's handle_ws_error shows as Binance's) and subscribes nothing; a raw or combined path
  naming one is refused with HTTP 400 before the upgrade;
- when the venue stops, each connection is closed with 1001 (going away) as aiohttp's shutdown begins;
- heartbeat: aiohttp's websocket heartbeat (a ping frame every PING_INTERVAL s, API_PING_INTERVAL
  on the websocket API; no pong within half of it closes the connection) rather than the
  documented pong deadlines (10 minutes; 1 minute); a connection is closed with 1000 at 24 hours;
- a connection whose outgoing queue holds MAX_QUEUE messages (a client not reading) is closed
  with 1008; more than MAX_MESSAGES_PER_S incoming messages in a second close a market
  connection with 1008 (web-socket-streams.md: "will be disconnected");
- the websocket API: an unknown method answers status 400 with -1020, a request that is not JSON
  or has no method -1100; signed parameters are checked as REST's (key, timestamp, recvWindow,
  HMAC-SHA256) over `key=value` pairs sorted by key and joined with `&`, values not
  percent-encoded (what ccxt.pro sends; the official connector's urlencode is the same for
  the ids and numbers sent); `rateLimits` is an empty list and no request weight is counted;
  served methods: ping, time, userDataStream.subscribe.signature / .unsubscribe and the legacy
  userDataStream.start / .ping / .stop;
- stream faults (`venue.faults.add_stream`: drop, stall, duplicate, reorder, refuse_connect,
  expire) are described in sim/faults.py; the plumbing they act on is sim/streams.py;
- the listenKey (legacy, still what binance-connector 3.13 uses): one per account, valid
  LISTEN_KEY_TTL_S; on expiry or DELETE its streams get `listenKeyExpired` and end, and a
  connection left with no stream is closed.
"""
from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from aiohttp import WSMsgType, web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.rules import price_path
from bracket_plugin.sim.server import ApiError, DialectBase, json_error
from bracket_plugin.sim.streams import Connection, Hub, advance, by_order, follow, hop, present, unfollow

PING_INTERVAL = 180.0         # web-socket-streams.md: a ping frame every 3 minutes
API_PING_INTERVAL = 20.0      # web-socket-api.md: a ping frame every 20 seconds
MAX_LIFETIME_S = 86_400.0     # web-socket-streams.md, web-socket-api.md: a connection lasts at most 24 hours
MAX_QUEUE = 1000              # messages waiting for one slow client
MAX_MESSAGES_PER_S = 5        # web-socket-streams.md: 5 incoming messages per second
TICK = 0.25                   # s between a connection's housekeeping checks (listenKey expiry, lifetime)
MAX_STREAMS = 1024            # web-socket-streams.md: at most 1024 streams per connection
LISTEN_KEY_TTL_S = 3600.0     # user-data-stream.md: a listenKey is valid 60 minutes (PUT extends it)
STREAM_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
CHANNELS = ("trade", "ticker", "miniTicker")
MINI_KEYS = ("E", "s", "c", "o", "h", "l", "v", "q")
ENDED = ("CANCELED", "EXPIRED", "REJECTED")   # statuses whose execution type has the same name


class Conn(Connection):
    """One websocket client: what it subscribed to and the queue of what it is to be sent (a
    client not reading is closed with 1008, its backlog dropped)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, hub: Hub, kind: str, combined: bool = False) -> None:
        super().__init__(ws, request, hub, limit=MAX_QUEUE, full_code=1008, full_reason="client too slow")
        self.kind, self.combined = kind, combined   # kind: 'market' | 'api'
        self.streams: list[str] = []          # market streams and listenKeys, in subscription order
        self.user_ids: list[int] = []         # ws-api user data subscriptions
        self.next_sub = 0
        self.arrivals: list[float] = []


class _Feed(TypedDict, total=False):
    """BinanceStreamMixin's connections and its cursors on the engine's change feed (set while it follows)."""
    conns: set[Conn]
    trade_ids: dict[str, int]        # symbol -> last trade id published
    seq: int                         # engine change number published up to
    fills: int                       # engine fills published
    seen: dict[str, str]             # order id -> status last sent
    bars: dict[str, int | None]      # symbol -> open time of the last bar published


class BinanceStreamMixin(DialectBase):
    """Websocket streams for BinanceDialect, which provides the views (order_view, list_view,
    ticker_view), `engine`, `venue`, `d8` and `verify` (its REST number text and signature check)."""

    ping_interval = PING_INTERVAL
    api_ping_interval = API_PING_INTERVAL
    max_lifetime_s = MAX_LIFETIME_S
    listen_key_ttl_s = LISTEN_KEY_TTL_S
    _listen_keys: dict[str, float]   # listenKey -> wall-clock expiry (s); made on first use (listen_keys)

    if TYPE_CHECKING:   # provided by BinanceDialect (sim/binance.py)
        @staticmethod
        def d8(value) -> str: ...
        @staticmethod
        def verify(headers, raw_query: str, body: str, params: dict, api_key: str, secret: str,
                   now_ms: int) -> ApiError | None: ...
        @staticmethod
        def market_id(symbol: str) -> str: ...
        @staticmethod
        def status(o: E.SimOrder) -> str: ...
        def order_view(self, o: E.SimOrder) -> dict: ...
        def list_view(self, lst: E.SimList, reports: bool = False) -> dict: ...
        def ticker_view(self, symbol: str) -> dict: ...

    def __init__(self, venue) -> None:
        super().__init__(venue)
        self.stream_hub = Hub(self.exchange_id, venue.faults, stop_code=1001, stop_reason="the venue is stopping",
                              on_first=self._follow, on_last=self._unfollow, on_expire=self._expire)
        self._streams: _Feed = {"conns": self.stream_hub.conns, "trade_ids": {}}   # trade ids count on across follows

    # ------------------------------------------------------------------ change feed
    def _follow(self) -> None:
        """The first stream connection opened: follow the engine from its present state."""
        with self.venue.lock:
            eng, st = self.engine, self._streams
            st["seq"], st["fills"] = present(eng)
            st["seen"] = {o.id: self.status(o) for o in eng.orders()}   # order id -> status last sent
            st["bars"] = {s: self._last_bar_ts(s) for s in eng.symbols()}
            follow(eng, self._on_change)

    def _unfollow(self) -> None:
        with self.venue.lock:
            unfollow(self.engine, self._on_change)

    def _last_bar_ts(self, symbol: str):
        bars = self.engine.closed_bars(symbol, limit=1)
        return bars[-1].ts if bars else None

    def _on_change(self, entry: dict) -> None:
        """engine.watchers: in the changing thread, under venue.lock; renders, then hops to the loop."""
        user = self._user_events()
        market = self._market_events() if entry.get("op") == "step" else []
        if (user or market) and not hop(self.stream_hub.loop, self._deliver, user, market):
            self._unfollow()   # the venue stopped serving: stop listening

    def _deliver(self, user: list[dict], market: list[tuple[str, dict]]) -> None:
        for conn in list(self._streams["conns"]):
            if conn.kind == "api":
                for sub in conn.user_ids:
                    for event in user:   # web-socket-api.md: user data events carry their subscriptionId
                        conn.send({"subscriptionId": sub, "event": event}, _private(event))
                continue
            for name in conn.streams:
                if name in self.listen_keys:
                    events = [(name, ev) for ev in user]
                else:
                    events = [(n, ev) for n, ev in market if n == name]
                for n, ev in events:  # web-socket-streams.md: combined events are {"stream", "data"}
                    conn.send({"stream": n, "data": ev} if conn.combined else ev, _private(ev))

    # ------------------------------------------------------------------ rendering (REST views reused)
    def _user_events(self) -> list[dict]:
        st, eng = self._streams, self.engine
        st["seq"], st["fills"], orders, lists, fills = advance(eng, st["seq"], st["fills"])
        if not orders and not lists:
            return []
        now, events = eng.now_ms(), []
        assets: set[str] = set()   # the currencies of the changed orders' markets
        grouped = by_order(fills)
        for o in orders:
            rules = eng.rules(o.symbol)
            assets.update((rules.base, rules.quote))
            events.extend(self._order_events(o, grouped.get(o.id, []), now))
        for lst in lists:
            events.append(self._list_event(lst, now))
        balances = eng.balances()
        events.append({"e": "outboundAccountPosition", "E": now, "u": now,  # user-data-stream.md: Account Update
                       "B": [{"a": a, "f": self.d8(balances[a][1]), "l": self.d8(balances[a][2])} for a in sorted(assets)]})
        return events

    def _order_events(self, o: E.SimOrder, fills: list[E.Fill], now: int) -> list[dict]:
        seen = self._streams["seen"]
        view = self.order_view(o)
        before = seen.get(o.id)
        seen[o.id] = view["status"]
        out = []
        if before is None:  # user-data-stream.md: NEW - accepted into the engine
            status = "PENDING_NEW" if o.status == "pending" else "NEW"
            out.append(self._execution_report(dict(view, status=status, executedQty=self.d8(0), cummulativeQuoteQty=self.d8(0)),
                                              "NEW", None, now))
            before = status
        for f in fills:  # TRADE: part or all of the order filled
            out.append(self._execution_report(view, "TRADE", f, now))
        if view["status"] in ENDED and before != view["status"]:
            out.append(self._execution_report(view, view["status"], None, now))
        elif before == "PENDING_NEW" and view["status"] in ("NEW", "PARTIALLY_FILLED") and not fills:
            out.append(self._execution_report(view, "NEW", None, now))  # a pending leg went live
        return out

    def _execution_report(self, view: dict, exec_type: str, fill: E.Fill | None, now: int) -> dict:
        """user-data-stream.md (Order Update): the REST order view in the event's short keys."""
        report = {
            "e": "executionReport", "E": now, "s": view["symbol"], "c": view["clientOrderId"], "S": view["side"],
            "o": view["type"], "f": view["timeInForce"], "q": view["origQty"], "p": view["price"],
            "P": view.get("stopPrice", self.d8(0)), "F": self.d8(0), "g": view["orderListId"],
            "C": view["clientOrderId"] if exec_type == "CANCELED" else "", "x": exec_type, "X": view["status"],
            "r": "NONE", "i": view["orderId"], "l": self.d8(fill.amount if fill else 0), "z": view["executedQty"],
            "L": self.d8(fill.price if fill else 0), "n": self.d8(fill.fee) if fill else "0",
            "N": fill.fee_currency if fill else None, "T": fill.ts if fill else view["updateTime"],
            "t": int(fill.id) if fill else -1, "I": 0, "w": view["isWorking"],
            "m": bool(fill and fill.liquidity == "maker"), "M": False, "O": view["time"],
            "Z": view["cummulativeQuoteQty"], "Y": self.d8(fill.cost if fill else 0), "Q": view["origQuoteOrderQty"],
            "V": view["selfTradePreventionMode"],
        }
        if view["workingTime"] != -1:
            report["W"] = view["workingTime"]  # only for an order on the book
        return report

    def _list_event(self, lst: E.SimList, now: int) -> dict:
        view = self.list_view(lst)  # user-data-stream.md: listStatus
        return {"e": "listStatus", "E": now, "s": view["symbol"], "g": view["orderListId"],
                "c": view["contingencyType"], "l": view["listStatusType"], "L": view["listOrderStatus"],
                "r": "NONE", "C": view["listClientOrderId"], "T": view["transactionTime"],
                "O": [{"s": o["symbol"], "i": o["orderId"], "c": o["clientOrderId"]} for o in view["orders"]]}

    def _market_events(self) -> list[tuple[str, dict]]:
        st, eng, out = self._streams, self.engine, []
        for symbol in eng.symbols():
            bars = eng.closed_bars(symbol, limit=1)
            if not bars or bars[-1].ts == st["bars"].get(symbol):
                continue
            bar = bars[-1]
            st["bars"][symbol] = bar.ts
            mid, name = self.market_id(symbol), self.market_id(symbol).lower()
            ticker = self.ticker_view(symbol)
            quarter = eng.interval_ms(symbol) // 4
            for i, price in enumerate(price_path(bar)):
                ts = bar.ts + i * quarter
                tid = st["trade_ids"][symbol] = st["trade_ids"].get(symbol, 0) + 1
                # web-socket-streams.md: Trade Streams
                out.append((name + "@trade", {"e": "trade", "E": ts, "s": mid, "t": tid, "p": self.d8(price),
                                              "q": self.d8(bar.volume / 4), "b": -1, "a": -1, "T": ts,
                                              "m": price <= bar.open, "M": True}))
                full = self._ticker_event(ticker, ts, price, tid)
                out.append((name + "@ticker", full))
                # web-socket-streams.md: Individual Symbol Mini Ticker Stream (ccxt.pro's watch_ticker default)
                out.append((name + "@miniTicker", dict({k: full[k] for k in MINI_KEYS}, e="24hrMiniTicker")))
        return out

    def _ticker_event(self, t: dict, ts: int, price: Decimal, tid: int) -> dict:
        """web-socket-streams.md (Individual Symbol Ticker Streams): the REST 24 h ticker in short keys."""
        return {"e": "24hrTicker", "E": ts, "s": t["symbol"], "p": t["priceChange"], "P": t["priceChangePercent"],
                "w": t["weightedAvgPrice"], "x": t["prevClosePrice"], "c": self.d8(price), "Q": t["lastQty"],
                "b": self.d8(price), "B": t["bidQty"], "a": self.d8(price), "A": t["askQty"], "o": t["openPrice"],
                "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"],
                "O": t["openTime"], "C": t["closeTime"], "F": 1, "L": tid, "n": tid}

    # ------------------------------------------------------------------ listenKeys (REST in sim/binance.py)
    @property
    def listen_keys(self) -> dict[str, float]:
        keys: dict[str, float] | None = getattr(self, "_listen_keys", None)
        if keys is None:
            keys = self._listen_keys = {}   # listenKey -> wall-clock expiry (s)
        return keys

    def new_listen_key(self) -> str:
        """user-data-stream.md: an account with an active listenKey gets it back, extended."""
        now = time.time()
        key = next((k for k, exp in self.listen_keys.items() if exp > now), None) or secrets.token_hex(32)
        self.listen_keys[key] = now + self.listen_key_ttl_s
        return key

    def keep_listen_key(self, key: str | None) -> None:
        if not key or self.listen_keys.get(key, 0) <= time.time():
            raise ApiError(-1125, "This listenKey does not exist.")  # errors.md: -1125 INVALID_LISTEN_KEY
        self.listen_keys[key] = time.time() + self.listen_key_ttl_s

    def close_listen_key(self, key: str | None) -> None:
        self.keep_listen_key(key)
        assert key is not None  # keep_listen_key refused a missing one
        self.listen_keys[key] = 0.0   # expired: its connections hear listenKeyExpired now
        for conn in list(self._streams["conns"]):
            self._check_keys(conn)

    def _expire(self) -> int:
        """The `expire` stream fault: every listenKey issued so far expires (its streams hear
        listenKeyExpired) and every websocket-API user data subscription ends with
        eventStreamTerminated (as on a session logout). How many connections it touched."""
        with self.venue.lock:
            for key in self.listen_keys:
                self.listen_keys[key] = 0.0
        touched = 0
        for conn in list(self._streams["conns"]):
            before = (list(conn.streams), list(conn.user_ids))
            self._check_keys(conn)
            for sub in conn.user_ids:
                conn.send({"subscriptionId": sub, "event": {"e": "eventStreamTerminated", "E": int(time.time() * 1000)}})
            conn.user_ids = []
            touched += before != (conn.streams, conn.user_ids)
        return touched

    def _live_key(self, name: str) -> bool:
        return self.listen_keys.get(name, 0) > time.time()

    # ------------------------------------------------------------------ connections
    def _stream_name_ok(self, name: str) -> bool:
        symbol, _, channel = name.partition("@")
        ids = {self.market_id(s).lower() for s in self.engine.symbols()}
        return (symbol in ids and channel in CHANNELS) or self._live_key(name)

    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        if tail == "ws-api/spot":
            return await self._serve(request, Conn(self._ws(self.api_ping_interval), request, self.stream_hub, "api"))
        parts = tail.split("/")
        if parts[0] != "spot" or len(parts) > 3:
            return json_error(404, f"no stream at {request.path}: the binance dialect streams spot and ws-api/spot")
        rest = parts[1:]
        if rest[:1] == ["ws"]:
            rest = rest[1:]
        combined = rest == ["stream"]
        if combined:  # web-socket-streams.md: /stream?streams=<name1>/<name2>
            names = [n for n in request.query.get("streams", "").split("/") if n]
        else:
            names = [n for n in rest if n and not n.isdigit()]  # ccxt.pro appends a stream index
        with self.venue.lock:
            bad = [n for n in names if not self._stream_name_ok(n)]
        if bad or len(names) > MAX_STREAMS:
            return json_error(400, f"unknown stream {bad[0] if bad else '(too many)'}")
        conn = Conn(self._ws(self.ping_interval), request, self.stream_hub, "market", combined)
        conn.streams = names
        return await self._serve(request, conn)

    @staticmethod
    def _ws(ping_interval: float) -> web.WebSocketResponse:
        return web.WebSocketResponse(heartbeat=ping_interval, max_msg_size=64 * 1024)

    async def _serve(self, request: web.Request, conn: Conn) -> web.WebSocketResponse:
        """Upgrade, then answer the client's requests while the connection's writer sends its queue."""
        ws, opened = conn.ws, time.monotonic()
        await ws.prepare(request)
        async with self.stream_hub.session(conn):
            while not ws.closed:
                try:
                    msg = await conn.receive(timeout=TICK)
                except TimeoutError:
                    self._check_keys(conn)
                    if time.monotonic() - opened > self.max_lifetime_s:
                        await ws.close(code=1000, message=b"24 hours")
                    continue   # the loop's condition ends it once closed
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                if msg.type != WSMsgType.TEXT:
                    continue
                if conn.kind == "market" and self._too_fast(conn):
                    await ws.close(code=1008, message=b"too many messages")
                    break
                answer = self._api_request(conn, msg.data) if conn.kind == "api" else self._stream_request(conn, msg.data)
                conn.send(answer)
                self._check_keys(conn)
        return ws

    def _too_fast(self, conn: Conn) -> bool:
        now = time.monotonic()
        conn.arrivals = [t for t in conn.arrivals if now - t < 1.0] + [now]
        return len(conn.arrivals) > MAX_MESSAGES_PER_S

    def _check_keys(self, conn: Conn) -> None:
        """user-data-stream.md: an expired (or closed) listenKey ends its stream with listenKeyExpired."""
        for name in list(conn.streams):
            if name in self.listen_keys and not self._live_key(name):
                event = {"e": "listenKeyExpired", "E": int(time.time() * 1000), "listenKey": name}
                conn.send({"stream": name, "data": event} if conn.combined else event)
                conn.streams.remove(name)
                if not conn.streams:
                    conn.close_after(1008, "no stream left")

    # ------------------------------------------------------------------ market stream requests
    def _stream_request(self, conn: Conn, text: str) -> dict:
        """web-socket-streams.md: Live Subscribing/Unsubscribing, Error Messages."""
        try:
            req = json.loads(text)
        except ValueError as exc:
            return {"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}}
        if not isinstance(req, dict) or "method" not in req:
            return {"error": {"code": 2, "msg": "Invalid request: missing field `method`"}}
        rid, method, params = req.get("id"), req.get("method"), req.get("params", [])
        if not (rid is None or isinstance(rid, int) or (isinstance(rid, str) and rid.isalnum() and len(rid) <= 36)):
            return {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None}
        if method not in STREAM_METHODS:
            return {"error": {"code": 2, "msg": f"Invalid request: unknown variant {method}, expected one of "
                                                + ", ".join(f"`{m}`" for m in STREAM_METHODS)}, "id": rid}
        if not isinstance(params, list):
            return {"error": {"code": 2, "msg": "Invalid request: params must be a list"}, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.streams), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not params or params[0] != "combined":
                return {"code": 0, "msg": "Unknown property", "id": rid}
            if method == "GET_PROPERTY":
                return {"result": conn.combined, "id": rid}
            if len(params) != 2 or not isinstance(params[1], bool):
                return {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": rid}
            conn.combined = params[1]
            return {"result": None, "id": rid}
        if method == "UNSUBSCRIBE":
            conn.streams = [n for n in conn.streams if n not in params]
            return {"result": None, "id": rid}
        with self.venue.lock:
            bad = [n for n in params if not isinstance(n, str) or not self._stream_name_ok(n)]
        if bad:
            return {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": rid}
        new = [n for n in dict.fromkeys(params) if n not in conn.streams]   # a stream is sent once per connection
        if len(conn.streams) + len(new) > MAX_STREAMS:
            return {"error": {"code": 2, "msg": f"Invalid request: more than {MAX_STREAMS} streams"}, "id": rid}
        conn.streams.extend(new)
        return {"result": None, "id": rid}

    # ------------------------------------------------------------------ websocket API requests
    def _api_request(self, conn: Conn, text: str) -> dict:
        """web-socket-api.md: {"id", "method", "params"} -> {"id", "status", "result" | "error", "rateLimits"}."""
        rid = None
        try:
            req = json.loads(text)
            if not isinstance(req, dict) or not isinstance(req.get("method"), str):
                raise ValueError("a request is an object with a method")
            rid, params = req.get("id"), req.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError("params must be an object")
        except ValueError as exc:
            return {"id": rid, "status": 400, "error": {"code": -1100, "msg": f"Illegal characters found in a parameter. ({exc})"}}
        try:
            with self.venue.lock:
                result = self._api_method(conn, req["method"], params)
        except ApiError as err:
            return {"id": rid, "status": err.status, "error": {"code": int(err.code), "msg": err.message}, "rateLimits": []}
        return {"id": rid, "status": 200, "result": result, "rateLimits": []}

    def _api_method(self, conn: Conn, method: str, params: dict):
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": int(time.time() * 1000)}
        if method == "userDataStream.subscribe.signature":
            self._check_signed(params)
            sub = conn.next_sub
            conn.next_sub += 1
            conn.user_ids.append(sub)
            return {"subscriptionId": sub}
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            conn.user_ids = [s for s in conn.user_ids if wanted is not None and s != wanted]
            return {}
        if method in ("userDataStream.start", "userDataStream.ping", "userDataStream.stop"):
            self._check_key(params.get("apiKey"))   # web-socket-api.md: USER_STREAM, the key only
            if method == "userDataStream.start":
                return {"listenKey": self.new_listen_key()}
            (self.keep_listen_key if method == "userDataStream.ping" else self.close_listen_key)(params.get("listenKey"))
            return {}
        raise ApiError(-1020, f"This operation is not supported: {str(method)[:80]}")

    def _check_key(self, key) -> None:
        creds = self.venue.credentials(self.exchange_id)
        if not key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if not secrets.compare_digest(str(key).encode(), creds.api_key.encode()):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_signed(self, params: dict) -> None:
        """web-socket-api.md (SIGNED requests): REST's checks over the sorted `key=value` pairs."""
        creds = self.venue.credentials(self.exchange_id)
        text = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()))
        strings = {k: _text(v) for k, v in params.items()}
        failure = self.verify({"X-MBX-APIKEY": strings.get("apiKey", "")}, text, "", strings,
                                 creds.api_key, creds.secret, int(time.time() * 1000))
        if failure is not None:
            raise failure


def _private(event: dict) -> bool:
    """An order or list event (the duplicate / reorder stream faults act on these)."""
    return event.get("e") in ("executionReport", "listStatus")


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
