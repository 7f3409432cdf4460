"""What the simulator's websocket dialects (sim/kucoin_stream.py, cryptocom_stream.py,
binance_stream.py) share: following the engine's change feed, the hop from the engine's thread to
the server loop, one connection's bounded send queue and its writer, the set of a dialect's open
connections (`Hub`), closing them when the server stops, and the stream faults (sim/faults.py) that
act on them.  Each dialect keeps its own messages, topics, authentication and ping rules.

Only aiohttp's public API is used: `ws.closed`, `ws.close()`, `ws.send_str()`, `request.transport`
(pause_reading / resume_reading for a stall, abort for a drop) and the application's on_shutdown
signal (server.build_app calls `Hub.shutdown` from it).
"""
from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web

REORDER_HOLD_S = 2.0   # a private message held to be swapped waits at most this long for the next one
_CLOSE = object()      # in a send queue: close the connection (what was queued before goes out first)
_CLOSING = WSMessage(WSMsgType.CLOSING, None, None)


# ---------------------------------------------------------------------- the engine's change feed
def follow(engine, watcher) -> None:
    """Call `watcher` after each engine change (once, however often it is asked).  A new list
    rather than an append: the engine may be iterating the old one in another thread."""
    engine.watchers = [w for w in engine.watchers if w != watcher] + [watcher]


def unfollow(engine, watcher) -> None:
    engine.watchers = [w for w in engine.watchers if w != watcher]


def present(engine) -> tuple[int, int]:
    """(latest change number, fills so far): cursors that start a feed from the engine's present."""
    return engine.changes_since(1 << 62)[0], len(engine.fills_after(0))


def advance(engine, seq: int, nfills: int) -> tuple[int, int, list, list, list]:
    """What changed since the cursors (seq, nfills): (new seq, new nfills, orders, lists, fills)."""
    seq, orders, lists = engine.changes_since(seq)
    fills = engine.fills_after(nfills)
    return seq, nfills + len(fills), orders, lists, fills


def by_order(fills) -> dict[str, list]:
    """Fills grouped by their order id, each group in fill order."""
    out: dict[str, list] = {}
    for f in fills:
        out.setdefault(f.order_id, []).append(f)
    return out


def hop(loop: asyncio.AbstractEventLoop | None, fn, *args) -> bool:
    """Run fn(*args) soon on `loop` from any thread; False when the loop is gone (venue stopping)."""
    if loop is None or loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:   # closed meanwhile
        return False
    return True


# ---------------------------------------------------------------------- one connection
class Connection:
    """One websocket: a bounded queue of texts to send and the task that writes them.

    A reader that lets `limit` messages pile up is dropped: its backlog is discarded and the
    connection closed with `full_code` (each dialect names its code).  Stream faults act here:
    `stall` (nothing written, nothing read), `duplicate` / `reorder` (of private messages)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request | None, hub: Hub, *, limit: int,
                 full_code: int, full_reason: str = "send queue full") -> None:
        self.ws, self.request, self.hub = ws, request, hub
        self.queue: asyncio.Queue = asyncio.Queue(limit)
        self.full_code, self.full_reason = full_code, full_reason
        self.dropped = False            # overflowed or told to close: nothing more is queued
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.stalls = 0                 # stalls begun on this connection
        self._held: str | None = None   # a private message waiting for its swap partner (reorder)
        self._held_timer: asyncio.TimerHandle | None = None
        self._close_asked: tuple[int, str] | None = None   # (code, reason) of a close asked for
        self._close_event = asyncio.Event()

    # -- queueing
    def send(self, message: dict, private: bool = False) -> None:
        self.send_text(json.dumps(message), private)

    def send_text(self, text: str, private: bool = False) -> None:
        """Queue `text`; `private`: an order, trade or list message (the duplicate / reorder faults)."""
        if private:
            faults, exchange = self.hub.faults, self.hub.exchange_id
            if self._held is not None:        # the second of a reordered pair goes first
                held, self._held = self._held, None
                assert self._held_timer is not None  # set with _held
                self._held_timer.cancel()
                self._put(text)
                self._put(held)
                return
            if faults.take_stream("reorder", exchange) is not None:
                self._held = text
                self._held_timer = asyncio.get_running_loop().call_later(REORDER_HOLD_S, self._release)
                return
            if faults.take_stream("duplicate", exchange) is not None:
                self._put(text)
        self._put(text)

    def _release(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._put(held)

    def _put(self, item) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:   # a reader this slow is dropped, not buffered forever
            self.close_after(self.full_code, self.full_reason, discard=True)

    def close_after(self, code: int, reason: str, discard: bool = False) -> None:
        """Close once what is queued has been written (`discard`: drop the backlog first)."""
        if self.dropped:
            return
        if discard or self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
        self.queue.put_nowait((_CLOSE, code, reason))   # room: the queue was just emptied or had some
        self.dropped = True

    # -- writing
    async def write_loop(self) -> None:
        while True:
            item = await self.queue.get()
            await self._flowing.wait()
            if isinstance(item, tuple) and item[0] is _CLOSE:
                self.close(item[1], item[2])
                return
            try:
                await self.ws.send_str(item)
            except ConnectionError:
                return

    async def flowing(self) -> None:
        """Return when the connection is not stalled."""
        await self._flowing.wait()

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    # -- faults and ends
    def stall(self, seconds: float) -> None:
        """Send nothing and read nothing (so pings go unanswered) for `seconds`, then carry on:
        what was produced meanwhile is sent then, the client's frames are read then."""
        transport = self.request.transport if self.request is not None else None
        if transport is None or self.ws.closed:
            return
        self.stalls += 1
        self._flowing.clear()
        transport.pause_reading()
        asyncio.get_running_loop().call_later(seconds, self._unstall, self.stalls)

    def _unstall(self, which: int) -> None:
        if which != self.stalls:   # a later stall runs on
            return
        assert self.request is not None  # stall() acts only on a connection with its request
        transport = self.request.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
        self._flowing.set()

    def abort(self) -> bool:
        """Cut the connection without a close handshake (as a network failure would)."""
        transport = self.request.transport if self.request is not None else None
        if transport is None or transport.is_closing():
            return False
        transport.abort()
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask for a close now (not after the queue): the handler's `receive` answers CLOSING, its
        loop ends, and `finish` makes the close handshake in the handler's own task.  (aiohttp's
        ws.close() from another task while the handler waits in receive() cuts the TCP connection
        without waiting for the client's close reply, which a client may see as 1006.)"""
        if self._close_asked is None and not self.ws.closed:
            self._close_asked = (code, reason)
            self._close_event.set()

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The client's next frame (ws.receive), or CLOSING once a close was asked for."""
        if self._close_asked is not None:
            return _CLOSING
        frame = asyncio.ensure_future(self.ws.receive(timeout=timeout))
        asked = asyncio.ensure_future(self._close_event.wait())
        try:
            await asyncio.wait((frame, asked), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not frame.done():
                frame.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await frame
            asked.cancel()
        if frame.done() and not frame.cancelled():
            return frame.result()   # raises what ws.receive raised (asyncio.TimeoutError)
        return _CLOSING

    async def finish(self) -> None:
        """The handler is done: close (with the code asked for, if any)."""
        if self._held_timer is not None:
            self._held_timer.cancel()
        if not self.ws.closed:
            code, reason = self._close_asked or (WSCloseCode.OK, "")
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code, message=reason.encode())


# ---------------------------------------------------------------------- a dialect's connections
class Hub:
    """The open connections of one dialect, on the server loop.  `on_first` / `on_last` run when
    the first connection opens and the last one ends (to follow the engine only while someone
    listens); `stop_code` closes them when the server stops; `on_expire` is the dialect's
    credential expiry (the `expire` stream fault)."""

    def __init__(self, exchange_id: str, faults, *, stop_code: int, stop_reason: str,
                 on_first=None, on_last=None, on_expire=None) -> None:
        self.exchange_id, self.faults = exchange_id, faults
        self.stop_code, self.stop_reason = stop_code, stop_reason
        self.on_first, self.on_last, self.on_expire = on_first, on_last, on_expire
        self.conns: set = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        faults.attach_hub(self)

    @contextlib.asynccontextmanager
    async def session(self, conn: Connection):
        """While the dialect serves `conn`: counted among the open ones, its writer running."""
        self.loop = asyncio.get_running_loop()
        if not self.conns and self.on_first is not None:
            self.on_first()
        self.conns.add(conn)
        writer = asyncio.ensure_future(conn.write_loop())
        try:
            yield conn
        finally:
            self.conns.discard(conn)
            if not self.conns and self.on_last is not None:
                self.on_last()
            writer.cancel()
            await conn.finish()

    def close_all(self, code: int, reason: str) -> int:
        conns = [c for c in self.conns if not c.ws.closed]
        for conn in conns:
            conn.close(code, reason)
        return len(conns)

    async def shutdown(self) -> None:
        """The server stops (aiohttp's on_shutdown, before it waits for the handlers): close
        every connection with a close frame."""
        self.close_all(self.stop_code, self.stop_reason)
        await asyncio.sleep(0)

    # -- stream faults (sim/faults.py), run on the server loop
    def fault(self, kind: str, seconds: float) -> int:
        """Act on the open connections now; how many it acted on."""
        if kind == "drop":
            return sum(conn.abort() for conn in list(self.conns))
        if kind == "stall":
            conns = [c for c in self.conns if not c.ws.closed]
            for conn in conns:
                conn.stall(seconds)
            return len(conns)
        if kind == "expire" and self.on_expire is not None:
            return self.on_expire()
        return 0


def refused(faults, exchange_id: str, request: web.Request) -> web.Response | None:
    """The `refuse_connect` fault: a websocket upgrade answered 503 before the dialect sees it."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return None
    if faults.take_stream("refuse_connect", exchange_id) is None:
        return None
    return web.Response(status=503, text="503 Service Temporarily Unavailable", content_type="text/plain")

