"""StreamListener: a venue's websocket streams (ccxt.pro, through the venue's async class), read in
a thread of their own and handed to the store as events.

The store stays single-threaded: the listener only appends to a bounded queue and sets an Event
the feed waits on, so a fill or a trade wakes the broker at once instead of at the next poll.
Nothing is applied here. Per symbol it watches the account's trades (`watch_my_trades`), its
orders (`watch_orders`) and the market's trades (`watch_trades`, for watched stops).

The first answer of a market-trades watch that comes at once is dropped: a venue may send its
recent trades with the subscription (Crypto.com does), and a stop must not fire on a price from
before it was watched (a crossing missed so is still seen on the bar's close).

A stream that fails (a drop, an expired token or listenKey, a refused connection) is marked down at
once and watched again with backoff; it is up again once a new watch has held for RECOVERED_AFTER
seconds without failing. While a symbol's streams are down the store reads its fills by REST every
cycle (the polling fallback); when they come back it reads once more, for what was missed. A full
queue marks a gap the same way. REST stays the record: a trade id is applied once, whichever way it
came first.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections import deque

log = logging.getLogger('bracket_plugin.backtrader')

TRADE, ORDER, PRICE = 'trade', 'order', 'price'   # event kinds: (kind, symbol, payload)
KINDS = {TRADE: 'watch_my_trades', ORDER: 'watch_orders', PRICE: 'watch_trades'}
MAX_QUEUE = 10_000          # events held for the store; beyond it, a gap (the REST read fills it in)
RECOVERED_AFTER = 1.0       # seconds a new watch must hold without failing to count as up
BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)   # seconds before watching again, by failures in a row
CLOSE_WAIT = 5.0            # seconds stop() waits for the thread


def stream_config(exchange) -> dict:
    """The config of an async client of the same account and URLs as `exchange` (a sync ccxt
    instance): keys, every URL (the simulator's included), timeout, clock offset. In sandbox mode
    the URLs are not copied: the sync class has no websocket URLs, so its test URLs would leave
    the streams on the production ones; `stream_client` switches the async class to its own."""
    config = {k: getattr(exchange, k) for k in ('apiKey', 'secret', 'password', 'uid') if getattr(exchange, k, None)}
    config.update(timeout=exchange.timeout, enableRateLimit=exchange.enableRateLimit)
    if not exchange.isSandboxModeEnabled:
        config['urls'] = copy.deepcopy(exchange.urls)
    offset = (exchange.options or {}).get('timeDifference')
    if offset:
        config['options'] = {'timeDifference': offset}
    return config


def stream_client(exchange_id: str, config: dict, sandbox: bool):
    """The venue's async (ccxt.pro) client for the streams: on the sandbox's REST and websocket
    URLs when the store's exchange is in sandbox mode."""
    from bracket_plugin import async_support

    client = async_support.exchange(exchange_id, config)
    if sandbox:
        client.set_sandbox_mode(True)
    return client


class StreamListener:
    def __init__(self, exchange, symbols, max_queue: int = MAX_QUEUE):
        self.exchange_id = exchange.id
        self.symbols = sorted(set(symbols))
        self._config = stream_config(exchange)
        self._sandbox = bool(exchange.isSandboxModeEnabled)
        self._max = max_queue
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self._down = {(kind, s) for kind in KINDS for s in self.symbols}   # up once each has held
        self._missed: set[str] = set()     # symbols to read by REST once (back up, or a full queue)
        self.failures = 0                  # stream failures seen (drops, refusals, expiries)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    # the store's side (its thread) ------------------------------------------------------------
    def start(self) -> StreamListener:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True,
                                        name=f'streams-{self.exchange_id}')
        self._thread.start()
        self._ready.wait(CLOSE_WAIT)
        return self

    def drain(self) -> list[tuple]:
        """Every event since the last drain, in arrival order."""
        with self._lock:
            self.wake.clear()
            out = list(self._queue)
            self._queue.clear()
        return out

    def up(self, symbol: str) -> bool:
        """Every stream of `symbol` is delivering (its fills need no REST read each cycle)."""
        with self._lock:
            return not any(s == symbol for _, s in self._down)

    def take_missed(self) -> set[str]:
        """Symbols whose fills must be read by REST once now (a stream came back, or a gap)."""
        with self._lock:
            out, self._missed = self._missed, set()
        return out

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, less if an event comes; True if one did."""
        return self.wake.wait(timeout)

    def stop(self):
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT)

    # the listener's thread -----------------------------------------------------------------------
    def _put(self, kind: str, symbol: str, payload):
        with self._lock:
            if len(self._queue) >= self._max:
                self._missed.add(symbol)   # dropped: the REST read supplies it
            else:
                self._queue.append((kind, symbol, payload))
        self.wake.set()

    def _mark(self, kind: str, symbol: str, down: bool):
        with self._lock:
            if down:
                self._down.add((kind, symbol))
            elif (kind, symbol) in self._down:
                self._down.discard((kind, symbol))
                self._missed.add(symbol)
        self.wake.set()

    async def _main(self):
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        client = stream_client(self.exchange_id, self._config, self._sandbox)
        tasks = [asyncio.ensure_future(self._watch(client, kind, s)) for s in self.symbols for kind in KINDS]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _watch(self, client, kind: str, symbol: str):
        method = getattr(client, KINDS[kind])
        failures = 0
        while True:
            call = asyncio.ensure_future(method(symbol))
            try:
                if (kind, symbol) in self._down:
                    done, _ = await asyncio.wait({call}, timeout=RECOVERED_AFTER)
                    if not done:
                        self._mark(kind, symbol, down=False)
                items = await call
            except asyncio.CancelledError:
                call.cancel()
                raise
            except Exception as exc:   # noqa: BLE001 - any failure of a stream is a gap, then a retry
                failures += 1
                self.failures += 1
                log.warning('%s %s stream of %s failed (%s); watched again', self.exchange_id, kind, symbol,
                            type(exc).__name__)    # the class only: a message may carry a URL token
                self._mark(kind, symbol, down=True)
                await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF)) - 1])
                continue
            failures = 0
            if (kind, symbol) in self._down:
                self._mark(kind, symbol, down=False)
                if kind == PRICE:
                    continue   # came with the subscription: the venue's recent trades (Crypto.com), not prices now
            for item in items:
                self._put(kind, symbol, item)
