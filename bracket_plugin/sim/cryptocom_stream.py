"""Crypto.com Exchange v1 websocket API for the simulator: a mixin of the Crypto.com dialect.

Two endpoints under `<prefix>/ws/` (Venue.ccxt_config points ccxt.pro's `urls.api.ws` there):
`private` is the User API (wss://stream.crypto.com/exchange/v1/user), `public` the Market Data
API (.../v1/market). Messages are the REST envelope (`{id, method, code, result}`), and every
order, trade and ticker row is rendered by the REST dialect's own views (order_view, trade_view,
ticker_view), so the stream and REST answers never disagree.

Served (doc = the Crypto.com Exchange v1 websocket reference, exchange-developer.crypto.com):
- `public/auth` (User API): api_key + sig over `method + id + api_key + nonce` (the REST signature
  with no params, sim/auth.py) answered `{id, method, code: 0}`; a bad one `code: 40101`;
- `public/heartbeat` sent by the server every HEARTBEAT_S s, `public/respond-heartbeat` with its
  id expected within HEARTBEAT_GRACE_S s, else the connection closes with code 1000 (doc);
- `subscribe` / `unsubscribe` with `params.channels`;
- User API channels `user.order[.{instrument}]`, `user.advance.order[.{instrument}]` (the brief's
  spelling `user.advanced.order` is accepted too and echoed as sent), `user.trade[.{instrument}]`,
  `user.balance` (the REST user-balance view); Market Data channels `ticker.{instrument}`,
  `trade.{instrument}`, `book.{instrument}.{depth}` (depth 10 or 50; the REST book's one level);
- rate limits per connection and calendar second (doc): 150 requests on the User API, 100 on
  Market Data; beyond them 42901 TOO_MANY_REQUESTS.
Live updates (`id: -1`, doc) come from the engine's change feed: the orders and lists changed
since the last look (changes_since), the new fills (fills_after), and each newly closed bar's
price path (rules.price_path) as four ticker updates and four public trades.

Choices where the docs are silent:
- plain orders go to `user.order`, advanced ones (list legs, single advanced triggers) to
  `user.advance.order`, as REST keeps the two families apart; fills of both go to `user.trade`;
- a subscription without an instrument gets one message per instrument, each naming it in
  `instrument_name` (ccxt.pro's handle_trades needs that field);
- each subscribe request is acknowledged `{id, method: "subscribe", code: 0}`; then, for each newly
  subscribed channel, `user.order*` / `user.advance.order*` get a snapshot of the open orders of
  their family (doc: "initial response with same id contains current open orders"), `ticker.*` the
  current ticker, `book.*` the current book, `user.balance` the balance, `trade.*` the last 50
  public trades (doc) from the price paths of the last closed bars; `user.trade*` gets none. Subscribing a channel already held
  changes nothing (no second snapshot, no second stream);
- refusals: a user channel before `public/auth` 40101 UNAUTHORIZED; an unknown channel, one of the
  other endpoint, or an unlisted instrument 40004 MISSING_OR_INVALID_ARGUMENT (the whole request is
  refused); more than MAX_SUBSCRIPTIONS channels 40107 EXCEED_MAX_SUBSCRIPTIONS; a `private/*`
  method on a User API connection not authenticated 40101 UNAUTHORIZED; an unknown method
  (including the private/* order methods, not served over the stream) 40002 METHOD_NOT_FOUND; a
  frame that is not a JSON object `{id: -1, method: "ERROR", code: 40001, original}` (doc's format);
- the price path: point i of a bar at `ts + i * (interval - 1) // 3` (open at the bar's open time,
  close at its last ms); a ticker row is ticker_view after the bar with the last, bid and ask set to
  the point's price (high, low and volumes are the 24 h figures after the bar); public trades carry
  a quarter of the bar's volume each, side BUY when the price did not fall, id `<bar ts><i>`, in
  time order; at most MAX_BARS_PER_PUMP bars (the latest) are published per look; the book is
  published as a full snapshot (channel `book`, never `book.update` deltas) after each closed bar,
  whatever `book_subscription_type` asks; `user.balance` after any change of orders, fills or prices;
- stream faults (`venue.faults.add_stream`: drop, stall, duplicate, reorder, refuse_connect,
  expire) are described in sim/faults.py; the plumbing they act on is sim/streams.py;
- bounds: a connection whose outgoing queue holds QUEUE_MAX messages is closed with 1008; frames
  over MAX_FRAME_BYTES close it (aiohttp's limit); a venue that stops closes every connection with
  1013 (doc: "server restarting") as soon as aiohttp's shutdown begins (its on_shutdown signal), and `close_streams()`
  does the same on demand, which tests use as a dropped connection.
"""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.auth import cryptocom_verify
from bracket_plugin.sim.candles import num
from bracket_plugin.sim.rules import price_path
from bracket_plugin.sim.server import ApiError, DialectBase, Malformed, log, parse_json
from bracket_plugin.sim.streams import Connection, Hub, advance, follow, hop, present, unfollow

HEARTBEAT_S = 30.0        # doc (public/heartbeat): "sent by server every 30s"
HEARTBEAT_GRACE_S = 5.0   # doc: "client must respond with public/respond-heartbeat within 5 seconds"
QUEUE_MAX = 1000          # choice: messages waiting to be sent to one connection
MAX_SUBSCRIPTIONS = 200   # choice; the code is the doc's 40107 EXCEED_MAX_SUBSCRIPTIONS
MAX_FRAME_BYTES = 64 * 1024
MAX_BARS_PER_PUMP = 100
TRADES_SNAPSHOT = 50      # doc (trade.{instrument_name}): the last 50 trades on subscribe
CLOSE_TIMEOUT_S = 2.0

REQUESTS_PER_S = {True: 150, False: 100}   # doc (rate limits): User API 150, Market Data 100 requests/s

ORDER, ADVANCED, TRADE, BALANCE = "user.order", "user.advance.order", "user.trade", "user.balance"
TICKER, PRINTS, BOOK = "ticker", "trade", "book"
# doc (subscribe): the user channels; `user.advanced.order` is the brief's spelling of the same one
USER_FAMILIES = {ORDER: ORDER, ADVANCED: ADVANCED, "user.advanced.order": ADVANCED, TRADE: TRADE, BALANCE: BALANCE}
MARKET_FAMILIES = {TICKER: TICKER, PRINTS: PRINTS, BOOK: BOOK}
NEEDS_INSTRUMENT = (TICKER, PRINTS, BOOK)
NO_INSTRUMENT = (BALANCE,)
BOOK_DEPTHS = ("10", "50")   # doc: book.{instrument_name}.{depth}, depth 10 or 50


def _split(channel: str, families: dict) -> tuple[str, str, str | None] | None:
    """(spelling, family, instrument or None) of a channel name, None when it names no family."""
    for spelling in sorted(families, key=len, reverse=True):
        if channel == spelling:
            return spelling, families[spelling], None
        if channel.startswith(spelling + "."):
            return spelling, families[spelling], channel[len(spelling) + 1:]
    return None


class _Conn(Connection):
    """One websocket: what it subscribed, whether it authenticated, its bounded outgoing queue
    (a client that does not read is dropped with 1008 rather than buffered forever)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, hub: Hub, private: bool) -> None:
        super().__init__(ws, request, hub, limit=QUEUE_MAX, full_code=1008, full_reason="too many messages queued")
        self.private = private
        self.authed = False
        self.subs: dict[str, tuple[str, str, str | None]] = {}   # channel -> _split(channel)
        self.heartbeat_id: int | None = None   # the heartbeat not answered yet
        self.second, self.requests = 0, 0      # requests in the current calendar second


class CryptocomStream(DialectBase):
    """The websocket half of CryptocomDialect (which supplies engine, venue, order_view,
    trade_view, ticker_view, is_advanced, symbol_of and instrument)."""

    heartbeat_s = HEARTBEAT_S
    heartbeat_grace_s = HEARTBEAT_GRACE_S

    if TYPE_CHECKING:   # the REST views this renders from, provided by CryptocomDialect (sim/cryptocom.py)
        def instrument(self, symbol: str) -> str: ...
        def symbol_of(self, name, required: bool = True) -> str | None: ...
        def is_advanced(self, o: E.SimOrder) -> bool: ...
        def order_view(self, o: E.SimOrder) -> dict: ...
        def trade_view(self, f: E.Fill) -> dict: ...
        def ticker_view(self, symbol: str) -> dict: ...
        def book_view(self, symbol: str) -> dict: ...
        def balance_view(self) -> list[dict]: ...

    def __init__(self, venue) -> None:
        super().__init__(venue)
        self._pump_due = False
        self._seq = 0          # engine change number published up to
        self._fills = 0        # engine fills published
        self._bar_ts: dict[str, int] = {}   # open time of the last bar whose path was published
        self.stream_hub = Hub(self.exchange_id, venue.faults, stop_code=1013, stop_reason="server restarting",
                              on_first=self._watch, on_last=self._unwatch, on_expire=self._expire)
        self._conns: set[_Conn] = self.stream_hub.conns

    # ------------------------------------------------------------------ connections
    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        if tail not in ("private", "public"):
            return await super().handle_stream(request)
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, timeout=CLOSE_TIMEOUT_S)
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": "a websocket upgrade is expected here"}, status=400)
        await ws.prepare(request)
        conn = _Conn(ws, request, self.stream_hub, private=tail == "private")
        async with self.stream_hub.session(conn):
            heartbeat = asyncio.ensure_future(self._heartbeat(conn))
            try:
                while True:
                    msg = await conn.receive()
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                        break
                    if msg.type == WSMsgType.TEXT:
                        try:
                            self._on_text(conn, msg.data)
                        except Exception:   # a bug: answered like REST's, the connection lives on
                            log.exception("simulator: unexpected error on a Crypto.com stream request")
                            conn.send(self._error(None, None, 50001, "INTERNAL_ERROR", msg.data))
                    elif msg.type == WSMsgType.BINARY:
                        conn.send(self._error(None, None, 40001, "BAD_REQUEST", "binary frames are not read"))
            finally:
                heartbeat.cancel()
        return ws

    async def _heartbeat(self, conn: _Conn) -> None:
        while not conn.ws.closed:
            await asyncio.sleep(self.heartbeat_s)
            await conn.flowing()   # a stalled connection sends no heartbeat
            beat = int(time.time() * 1000)   # doc example: the id is a ms timestamp
            conn.heartbeat_id = beat
            stalls = conn.stalls
            conn.send({"id": beat, "method": "public/heartbeat", "code": 0})
            await asyncio.sleep(self.heartbeat_grace_s)
            if conn.stalls != stalls or conn.stalled:   # the answer could not arrive: grace again
                await conn.flowing()
                await asyncio.sleep(self.heartbeat_grace_s)
            if conn.heartbeat_id == beat:
                # doc (termination codes): 1000, "usually when the heartbeat isn't handled properly"
                conn.close(1000, "heartbeat not answered")
                return

    def close_streams(self, code: int = 1013) -> int:
        """End every open stream connection (doc: 1013 'server restarting'); call on the server's
        loop (venue._server.submit). Returns how many were open."""
        return self.stream_hub.close_all(code, "server restarting")

    def _expire(self) -> int:
        """The `expire` stream fault: each User API connection is closed (it has to connect and
        authenticate again); how many."""
        users = [c for c in self._conns if c.private and not c.ws.closed]
        for conn in users:
            conn.authed = False
            conn.close(1000, "session expired")
        return len(users)

    # ------------------------------------------------------------------ the engine's change feed
    def _watch(self) -> None:
        """Start following the engine from its present state (nothing older is published)."""
        with self.venue.lock:
            engine = self.engine
            self._seq, self._fills = present(engine)
            for symbol in engine.symbols():
                last = engine.closed_bars(symbol, limit=1)
                self._bar_ts[symbol] = last[-1].ts if last else -1
            follow(engine, self._on_change)

    def _unwatch(self) -> None:
        with self.venue.lock:
            unfollow(self.engine, self._on_change)

    def _on_change(self, entry: dict) -> None:
        """Engine watcher: runs in the thread that changed the engine, under venue.lock; hops to
        the server's loop (one pending look at a time)."""
        if self._pump_due:
            return
        self._pump_due = True
        if not hop(self.stream_hub.loop, self._pump):   # the loop closed (venue stopped)
            self._pump_due = False
            self._unwatch()

    def _pump(self) -> None:
        """Publish what changed since the last look to the connections subscribed to it."""
        self._pump_due = False
        if not self._conns:
            return
        wanted = {family for conn in self._conns for _, family, _ in conn.subs.values()}
        feeds: dict[str, dict] = {family: {} for family in (ORDER, ADVANCED, TRADE, BALANCE, TICKER, PRINTS, BOOK)}
        with self.venue.lock:   # the cursors move on whether anyone listens or not; views only when wanted
            engine = self.engine
            self._seq, self._fills, orders, _lists, fills = advance(engine, self._seq, self._fills)
            for o in orders:
                family = ADVANCED if self.is_advanced(o) else ORDER
                if family in wanted:
                    feeds[family].setdefault(self.instrument(o.symbol), []).append(self.order_view(o))
            for f in fills if TRADE in wanted else ():
                feeds[TRADE].setdefault(self.instrument(f.symbol), []).append(self.trade_view(f))
            moved = False
            for symbol in engine.symbols():
                bars = engine.closed_bars(symbol, since=self._bar_ts.get(symbol, -1) + 1)[-MAX_BARS_PER_PUMP:]
                if bars:
                    moved, self._bar_ts[symbol], name = True, bars[-1].ts, self.instrument(symbol)
                    if wanted & {TICKER, PRINTS}:
                        feeds[TICKER][name], feeds[PRINTS][name] = self._paths(symbol, bars)
                    if BOOK in wanted:
                        feeds[BOOK][name] = [self._book(symbol)]
            if BALANCE in wanted and (orders or fills or moved):   # holds, totals or their valuation moved
                feeds[BALANCE][None] = self.balance_view()
        for conn in list(self._conns):
            for channel, (_, family, instrument) in conn.subs.items():
                for name, rows in feeds[family].items():
                    if instrument in (None, name):
                        self._push(conn, -1, channel, name, rows, family)

    def _paths(self, symbol: str, bars) -> tuple[list, list]:
        """Each bar's price path as ticker rows and public trades, oldest first."""
        base = self.ticker_view(symbol)
        interval = self.engine.interval_ms(symbol)
        name = self.instrument(symbol)
        ticks, prints = [], []
        for bar in bars:
            before = bar.open
            for i, price in enumerate(price_path(bar)):
                ts = bar.ts + i * (interval - 1) // 3
                ticks.append(dict(base, a=num(price), b=num(price), k=num(price), t=ts))
                prints.append({"d": f"{bar.ts}{i}", "s": "BUY" if price >= before else "SELL", "p": num(price),
                               "q": num(bar.volume / Decimal(4)), "t": ts, "tn": str(ts * 1_000_000), "i": name})
                before = price
        return ticks, prints

    def _book(self, symbol: str) -> dict:
        view = self.book_view(symbol)
        return dict(view, tt=view["t"], u=view["t"])   # doc: a snapshot has t, tt and the sequence u

    @staticmethod
    def _push(conn: _Conn, req_id, channel: str, name: str | None, rows: list, family: str) -> None:
        result: dict[str, Any] = {"subscription": channel, "channel": conn.subs[channel][0], "data": rows}
        if name is not None:
            result = {"instrument_name": name, **result}
        if family == BOOK:
            result["depth"] = int(channel.rsplit(".", 1)[1])
        # a ticker row a message (each one a price of the path); other channels all rows at once
        private = req_id == -1 and family in (ORDER, ADVANCED, TRADE)   # live order / trade updates
        for data in ([row] for row in rows) if family == TICKER else [rows]:
            conn.send({"id": req_id, "method": "subscribe", "code": 0, "result": dict(result, data=data)}, private)

    # ------------------------------------------------------------------ requests
    @staticmethod
    def _error(req_id, method, code: int, message: str, original: str | None = None) -> dict:
        if req_id is None and method is None:   # doc (error response format): id -1, method ERROR
            return {"id": -1, "method": "ERROR", "code": code, "message": message, "original": (original or "")[:1000]}
        return {"id": -1 if req_id is None else req_id, "method": method, "code": code, "message": message}

    def _on_text(self, conn: _Conn, text: str) -> None:
        from bracket_plugin.sim.cryptocom import _numeric_id

        try:
            body = parse_json(text)
        except Malformed:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("method"), str):
            conn.send(self._error(None, None, 40001, "BAD_REQUEST", text))
            return
        method, req_id = body["method"], _numeric_id(body.get("id", -1))
        second = int(time.time())   # doc: limits are per calendar second
        conn.second, conn.requests = second, (conn.requests + 1 if second == conn.second else 1)
        if conn.requests > REQUESTS_PER_S[conn.private]:
            conn.send(self._error(req_id, method, 42901, "TOO_MANY_REQUESTS"))
            return
        if method == "public/respond-heartbeat":
            if str(body.get("id")) == str(conn.heartbeat_id):
                conn.heartbeat_id = None
            return
        if method == "public/auth" and conn.private:
            conn.send(self._auth(conn, body, req_id))
        elif method in ("subscribe", "unsubscribe"):
            channels = (body.get("params") or {}).get("channels") if isinstance(body.get("params"), dict) else None
            if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
                conn.send(self._error(req_id, method, 40004, "MISSING_OR_INVALID_ARGUMENT"))
            elif method == "subscribe":
                self._subscribe(conn, req_id, channels)
            else:
                for channel in channels:
                    conn.subs.pop(channel, None)
                conn.send({"id": req_id, "method": method, "code": 0})
        elif method.startswith("private/") and conn.private and not conn.authed:
            conn.send(self._error(req_id, method, 40101, "UNAUTHORIZED"))   # doc: authenticate first
        else:
            conn.send(self._error(req_id, method, 40002, "METHOD_NOT_FOUND"))

    def _auth(self, conn: _Conn, body: dict, req_id) -> dict:
        failure = cryptocom_verify(body, "public/auth", self.venue.credentials(self.exchange_id), int(time.time() * 1000))
        if failure is not None:
            return self._error(req_id, "public/auth", int(failure.code), failure.message)
        conn.authed = True
        return {"id": req_id, "method": "public/auth", "code": 0}

    def _subscribe(self, conn: _Conn, req_id, channels: list[str]) -> None:
        if conn.private and not conn.authed:
            conn.send(self._error(req_id, "subscribe", 40101, "UNAUTHORIZED"))
            return
        parsed = {}
        for channel in channels:
            split = self._channel(channel, conn.private)
            if split is None:
                conn.send(self._error(req_id, "subscribe", 40004, f"invalid channel {channel}"))
                return
            parsed[channel] = split
        new = {c: s for c, s in parsed.items() if c not in conn.subs}
        if len(conn.subs) + len(new) > MAX_SUBSCRIPTIONS:
            conn.send(self._error(req_id, "subscribe", 40107, "EXCEED_MAX_SUBSCRIPTIONS"))
            return
        self._pump()   # what changed before this request goes out first: the snapshot follows it
        conn.send({"id": req_id, "method": "subscribe", "code": 0})
        with self.venue.lock:
            for channel, split in new.items():
                conn.subs[channel] = split
                for name, rows in self._snapshot(split[1], split[2]).items():
                    self._push(conn, req_id, channel, name, rows, split[1])

    def _channel(self, channel: str, private: bool) -> tuple[str, str, str | None] | None:
        """(spelling, family, instrument) of a channel this endpoint serves; None if it serves none."""
        split = _split(channel, USER_FAMILIES if private else MARKET_FAMILIES)
        if split is None:
            return None
        spelling, family, instrument = split
        if family == BOOK:
            instrument, _, depth = (instrument or "").partition(".")
            if depth not in BOOK_DEPTHS:
                return None
        if instrument == "" or (instrument is None and family in NEEDS_INSTRUMENT):
            return None   # a name cut short, a market channel without its instrument
        if instrument is not None and family in NO_INSTRUMENT:
            return None
        try:
            if instrument is not None:
                self.symbol_of(instrument)
        except ApiError:
            return None
        return spelling, family, instrument

    def _snapshot(self, family: str, instrument: str | None) -> dict:
        """What a new subscription starts from: open orders of the family, the ticker, the book or
        the balance."""
        symbol = self.symbol_of(instrument) if instrument else None
        if family in NEEDS_INSTRUMENT:
            assert symbol is not None  # _channel admits these channels only with their instrument
            if family == TICKER:
                return {instrument: [self.ticker_view(symbol)]}
            if family == BOOK:
                return {instrument: [self._book(symbol)]}
            # PRINTS; doc: "returns last 50 trades on subscribe" (here: the last bars' paths)
            bars = self.engine.closed_bars(symbol, limit=TRADES_SNAPSHOT // 4 + 1)
            return {instrument: self._paths(symbol, bars)[1][-TRADES_SNAPSHOT:]}
        if family == BALANCE:
            return {None: self.balance_view()}
        if family not in (ORDER, ADVANCED):
            return {}
        out: dict[str, list] = {instrument: []} if instrument else {}
        for o in self.engine.open_orders(symbol):
            if self.is_advanced(o) == (family == ADVANCED):
                out.setdefault(self.instrument(o.symbol), []).append(self.order_view(o))
        return out
