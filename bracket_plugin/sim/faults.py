"""Fault injection: rules matched against incoming requests, each firing a limited number of times.

Kinds:
- ``delay``: wait ``delay`` seconds before the request is read (a slow network on the way in),
  then process and answer it normally.  A client that gives up before then sends nothing more:
  the request is never processed.
- ``late``: read the request in full at once, wait ``delay`` seconds, then process it and answer.
  The processing goes on even if the client has given up (timed out, disconnected) meanwhile, so
  an order is placed after its client saw a timeout; the answer then goes nowhere.
- ``lose_response``: process the request at once (an order is created), withhold the answer
  ``delay`` seconds (0: none), then drop the connection without an answer: the client cannot
  tell whether it went through.
- ``http_5xx``: answer ``status`` (default 503) without processing.
- ``http_429``: answer 429 with a ``Retry-After: retry_after`` header and the exchange's
  rate-limit body, without processing.
- ``reset``: drop the connection before processing.

Stream faults (`Faults.add_stream(kind, exchange=None, count=1, seconds=0.0)`; `exchange` a
dialect's id, None: every streaming dialect).  ``drop``, ``stall`` and ``expire`` act at once on the
connections open when they are added; the others are consumed as they fire (``count``):
- ``drop``: cut every open stream connection without a close handshake (the transport is aborted,
  as a network failure): clients see the connection lost, not a close frame.
- ``stall``: for ``seconds``, the open connections send nothing (no updates, no pong, no heartbeat)
  and read nothing (a client's pings wait unanswered in the socket) but stay open; then everything
  withheld is sent, in order, and the client's frames are read.  A client with a ping timeout
  shorter than the stall gives up and reconnects.
- ``duplicate``: the next ``count`` private messages (orders, trades, lists; not balances or
  market data) are each sent twice in a row.
- ``reorder``: the next ``count`` pairs of private messages (on one connection) are sent in swapped
  order; a first message whose partner does not come within REORDER_HOLD_S (sim/streams.py) s is
  sent alone.
- ``refuse_connect``: the next ``count`` websocket upgrades are answered HTTP 503 (the dialect
  never sees them).
- ``expire``: the session credential expires as the exchange expires it:
  KuCoin: every connect token issued so far is expired (a connect with one gets `error` 401 "token
  is expired") and each open private-token connection gets that error and is closed (1008);
  Binance: every listenKey issued so far expires (its streams get `listenKeyExpired`, a connection
  left with no stream is closed, PUT / userDataStream.ping answer -1125 "This listenKey does not
  exist."), and each websocket-API user-data subscription ends with `eventStreamTerminated` (as on
  a session logout; the connection stays open, a new subscription works);
  Crypto.com: each open User API connection is closed (1000), so it is unauthenticated again: any
  `subscribe` to a user channel or `private/*` request before `public/auth` is refused 40101
  UNAUTHORIZED.
Choices (where the exchanges' documents are silent):
- a stall acts on connections, not on the dialect: one opened during a stall is served normally;
  messages produced during a stall are withheld and then sent (none dropped; a backlog beyond a
  connection's queue bound drops the slow reader as always); the server's own application-level
  heartbeats (Crypto.com) are withheld too and their deadline waits for the stall to end;
  aiohttp-level ping frames of the Binance dialect's heartbeat are not withheld, and a stall that
  spans one of them and half the interval more (10 s on the websocket API) ends in aiohttp
  closing the connection (no pong read);
  KuCoin's idle limit (pingInterval + pingTimeout) still applies to a stalled connection;
- `drop` and `stall` count as fired once per connection they acted on, `expire` once per
  connection it closed or changed (`StreamFault.fired`); `duplicate`, `reorder` and
  `refuse_connect` count each message pair / message / upgrade they changed;
- KuCoin: open private connections get the same `error` message a connect with an expired token
  gets, then close 1008 (the connect refusal's code); public-token connections stay open;
- Binance: websocket-API signature subscriptions end with `eventStreamTerminated` (its event for a
  terminated user data stream) and the connection stays open;
- Crypto.com: User API connections close with 1000 (doc: "normal disconnection by server"), no
  message first; Market Data connections stay open.
"""
from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field

KINDS = ("delay", "late", "lose_response", "http_5xx", "http_429", "reset")
STREAM_KINDS = ("drop", "stall", "duplicate", "reorder", "refuse_connect", "expire")
AT_ONCE = ("drop", "stall", "expire")
ACT_TIMEOUT_S = 5.0


@dataclass
class FaultRule:
    pattern: str
    kind: str
    count: int | None = 1  # None: fire on every match
    delay: float = 0.0
    status: int = 503
    retry_after: int = 1
    method: str | None = None
    fired: int = 0
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"fault count must be >= 1 or None (unlimited), got {self.count}")
        if self.kind == "http_5xx" and not 500 <= self.status <= 599:
            raise ValueError(f"fault status for http_5xx must be 500..599, got {self.status}")
        if self.delay < 0:
            raise ValueError(f"fault delay must be >= 0 seconds, got {self.delay}")
        self._regex = re.compile(self.pattern)
        self.method = self.method.upper() if self.method else None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and self._regex.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


@dataclass
class StreamFault:
    kind: str
    exchange: str | None = None
    count: int = 1
    seconds: float = 0.0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in STREAM_KINDS:
            raise ValueError(f"stream fault kind must be one of {', '.join(STREAM_KINDS)}, got {self.kind!r}")
        if self.count < 1:
            raise ValueError(f"stream fault count must be >= 1, got {self.count}")
        if self.seconds < 0 or (self.kind == "stall" and self.seconds == 0):
            raise ValueError(f"stream fault seconds must be >= 0 (> 0 for a stall), got {self.seconds}")

    @property
    def exhausted(self) -> bool:
        return self.kind in AT_ONCE or self.fired >= self.count


class Faults:
    """Thread-safe rule list: tests add rules from their thread, the server consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._stream_rules: list[StreamFault] = []
        self._hubs: list = []    # streams.Hub of each streaming dialect
        self.loop: asyncio.AbstractEventLoop | None = None   # the server loop while it serves (server.build_app sets it)

    def add(self, pattern: str, kind: str, count: int | None = 1, delay: float = 0.0, status: int = 503,
            retry_after: int = 1, method: str | None = None) -> FaultRule:
        """`pattern` is a regex searched in the request path (e.g. r'/kucoin/api/v3/oco/order$')."""
        rule = FaultRule(pattern, kind, count, delay, status, retry_after, method)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._stream_rules.clear()

    # ------------------------------------------------------------------ stream faults
    def add_stream(self, kind: str, exchange: str | None = None, count: int = 1, seconds: float = 0.0) -> StreamFault:
        """A stream fault (module docstring).  `drop`, `stall` and `expire` act before this returns
        (on the server loop); the others wait for the messages or connections they act on."""
        rule = StreamFault(kind, exchange, count, seconds)
        hubs = [h for h in self._hubs if exchange in (None, h.exchange_id)]
        if exchange is not None and not hubs:
            raise ValueError(f"no streaming dialect {exchange!r} (streaming: {', '.join(h.exchange_id for h in self._hubs)})")
        if kind in AT_ONCE:
            rule.fired = self._act(hubs, kind, seconds)
        with self._lock:
            self._stream_rules.append(rule)
        return rule

    def _act(self, hubs: list, kind: str, seconds: float) -> int:
        loop = self.loop
        act = lambda: sum(h.fault(kind, seconds) for h in hubs)  # noqa: E731
        if loop is None or loop.is_closed():
            return act()   # not serving: no connection to act on, only credentials (expire)
        try:
            if asyncio.get_running_loop() is loop:
                return act()
        except RuntimeError:
            pass
        done, result = threading.Event(), []

        def run():
            try:
                result.append(act())
            finally:
                done.set()
        loop.call_soon_threadsafe(run)
        if not done.wait(ACT_TIMEOUT_S):
            raise TimeoutError(f"the simulator's server did not act on the {kind} fault within {ACT_TIMEOUT_S} s")
        if not result:
            raise RuntimeError(f"the {kind} stream fault failed on the server (see its log)")
        return result[0]

    def take_stream(self, kind: str, exchange: str) -> StreamFault | None:
        """The first live stream rule of `kind` for `exchange`, counted as fired; None if none."""
        with self._lock:
            for rule in self._stream_rules:
                if rule.kind == kind and not rule.exhausted and rule.exchange in (None, exchange):
                    rule.fired += 1
                    return rule
            return None

    @property
    def stream_rules(self) -> list[StreamFault]:
        with self._lock:
            return list(self._stream_rules)

    def attach_hub(self, hub) -> None:
        """A streaming dialect's connections (sim/streams.Hub), for the faults that act on them."""
        with self._lock:
            self._hubs = [h for h in self._hubs if h.exchange_id != hub.exchange_id] + [hub]

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching this request, counted as fired; None if none matches."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path):
                    rule.fired += 1
                    return rule
            return None
