"""The simulator's HTTP server: an aiohttp app on 127.0.0.1 in a background thread.

One dialect per path prefix (``/kucoin``, ``/cryptocom``); each dialect owns its routes and JSON
envelopes. One dialect may also be served at the root path (`build_app(root=...)`), for clients that
join an API path to the host and drop a base URL's own path (KuCoin's older SDK does); the prefixed
routes and the /sim control routes keep their paths. A middleware applies the venue's fault rules
before the dialect sees a request (their patterns see the path as sent: at the root, no prefix).

Every answer of a dialect is in its envelope: a request it cannot read (see `Malformed`) gets its
bad-request error, an unexpected exception its system error (the traceback is logged). Paths
outside the dialects (unknown paths, the /sim control routes) answer errors as `{"error": "..."}`.
What aiohttp's HTTP parser itself refuses (a request line or header over 8190 bytes, bytes a URL
may not hold) gets its plain-text 400 before any route is chosen, as an exchange's front proxy would.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import re
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from bracket_plugin.sim.engine import Engine, Reject
from bracket_plugin.sim.faults import Faults

if TYPE_CHECKING:   # sim/venue.py imports this module
    from bracket_plugin.sim.venue import Venue

log = logging.getLogger("bracket_plugin.sim")

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32  # nesting levels of arrays and objects in a body; real requests use 3
# what a request carries between the fault middleware and the dialect (typed keys from aiohttp 3.13 on)
_key = getattr(web, "RequestKey", lambda name, t: name)
TEXT = _key("sim.text", object)  # the body as text, or the Malformed that reading it gave
ARRIVED_MS = _key("sim.arrived_ms", int)  # wall clock when a `late` request arrived


class Malformed(Exception):
    """A request the dialect cannot read: a body too large, cut off, not UTF-8 or not (strict) JSON,
    a header not UTF-8.  The dialect answers it with its bad-request error (`DialectBase.bad_request`)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


class ApiError(Exception):
    """An answer in the dialect's error envelope: exchange code, message, HTTP status."""

    def __init__(self, code: str | int, message: str, status: int = 400):
        super().__init__(f"{code} {message}")
        self.code, self.message, self.status = code, message, status


@dataclass
class Call:
    """One parsed request as a dialect handler sees it."""

    method: str
    endpoint: str  # path below the dialect prefix, e.g. '/api/v1/orders'
    params: dict  # path parameters
    query: dict
    body: dict | None
    now_ms: int  # wall clock at arrival
    prefix: str = ""  # the path prefix the request came under: the dialect's, or '' at the root


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[[Call], object]
    private: bool
    mutates: bool


def route(method: str, path: str, private: bool = False, mutates: bool = False):
    """Decorator for dialect handler methods: '/api/v1/orders/{orderId}' style paths."""
    # \Z, not $: '$' also matches before a final newline
    regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + r"\Z")

    def mark(fn):
        fn._route = (method, regex, private, mutates)
        return fn

    return mark


def collect_routes(obj) -> list[Route]:
    out = []
    for name in dir(type(obj)):
        fn = getattr(type(obj), name)
        spec = getattr(fn, "_route", None)
        if spec:
            method, regex, private, mutates = spec
            out.append(Route(method, regex, getattr(obj, name), private, mutates))
    return out


def parse_json(text: str):
    """Strict JSON: no NaN or Infinity, no number beyond a float's range, at most MAX_JSON_DEPTH levels."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise Malformed(f"request body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than Python converts
        raise Malformed(f"request body is not valid JSON: {exc}") from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise Malformed(f"request body is nested more than {MAX_JSON_DEPTH} levels deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


async def read_request(request: web.Request) -> str:
    """Check the headers and read the body as text, once (the `late` fault reads it before the
    dialect does); raises Malformed for a header or body not UTF-8, a body over MAX_BODY_BYTES or
    one cut off by the client leaving."""
    if TEXT not in request:
        request[TEXT] = await _read(request)
    if isinstance(request[TEXT], Malformed):
        raise request[TEXT]
    return request[TEXT]


async def _read(request: web.Request) -> str | Malformed:
    for name, value in request.headers.items():
        try:
            value.encode("utf-8")  # aiohttp keeps bytes that are not UTF-8 as surrogates, which fail here
        except UnicodeEncodeError:
            return Malformed(f"header {name} is not UTF-8")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return Malformed(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    except ConnectionError:  # the client left before its body arrived in full (the answer goes nowhere)
        return Malformed("the connection was lost before the request body arrived")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed("request body is not UTF-8")


def json_error(status: int, message: str) -> web.Response:
    """An error outside the dialects (unknown path, control routes)."""
    return web.json_response({"error": message}, status=status)


STREAM_PATH = "/ws/"   # below a dialect's prefix: its websocket streams (Venue.ccxt_config)


class Dialect(Protocol):
    prefix: str  # '/kucoin'
    exchange_id: str  # 'kucoin'

    async def handle(self, request: web.Request) -> web.StreamResponse: ...

    async def handle_stream(self, request: web.Request) -> web.StreamResponse: ...

    async def handle_at_root(self, request: web.Request) -> web.StreamResponse: ...

    def rate_limited(self, request: web.Request) -> web.Response: ...


def _drop(request: web.Request, reset: bool) -> None:
    """Close the client's connection without an answer; `reset` sends a TCP RST instead of FIN."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
    else:
        transport.close()


_background: set[asyncio.Task] = set()  # late requests being processed (kept referenced until done)


async def _late(request: web.Request, handler, delay: float) -> web.StreamResponse:
    """Read the request in full, wait `delay` s, then process it in a task of its own: the client
    may give up meanwhile, the processing goes on (shielded from the request's cancellation)."""
    try:
        await read_request(request)
    except Malformed:
        pass  # the dialect answers it (after the delay, as any late request)
    request[ARRIVED_MS] = int(time.time() * 1000)  # authentication checks the arrival time

    async def later():
        await asyncio.sleep(delay)
        return await handler(request)

    task = asyncio.ensure_future(later())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return await asyncio.shield(task)


def _stream_entry(dialect: Dialect, faults: Faults):
    """A dialect's stream route, behind the `refuse_connect` stream fault."""
    from bracket_plugin.sim.streams import refused

    async def entry(request: web.Request) -> web.StreamResponse:
        return refused(faults, dialect.exchange_id, request) or await dialect.handle_stream(request)
    return entry


def fault_middleware(faults: Faults, dialects: dict[str, Dialect]):
    @web.middleware
    async def middleware(request: web.Request, handler):
        rule = faults.take(request.method, request.path)
        if rule is None:
            return await handler(request)
        if rule.kind == "delay":
            await asyncio.sleep(rule.delay)
            return await handler(request)
        if rule.kind == "late":
            return await _late(request, handler, rule.delay)
        if rule.kind == "reset":
            _drop(request, reset=True)
            return web.Response(status=500)  # never reaches the client
        if rule.kind == "http_5xx":
            return web.Response(status=rule.status, text=f"{rule.status} Service Temporarily Unavailable", content_type="text/plain")
        if rule.kind == "http_429":
            dialect = next((d for p, d in dialects.items() if request.path.startswith(p + "/")), dialects.get(""))
            response = dialect.rate_limited(request) if dialect else web.Response(status=429, text="429 Too Many Requests")
            response.headers["Retry-After"] = str(rule.retry_after)
            return response
        # lose_response: processed at once, the answer withheld `delay` s, then the connection dropped
        response = await handler(request)
        if rule.delay:
            await asyncio.sleep(rule.delay)
        _drop(request, reset=False)
        return response

    return middleware


@web.middleware
async def json_errors(request: web.Request, handler):
    """Outside the dialects' envelopes (an unknown path or method, the control routes): JSON errors."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, f"{exc.reason}: {request.method} {request.path}")
    except Exception:
        log.exception("simulator: unexpected error on %s %s", request.method, request.path)
        return json_error(500, "internal error")


def build_app(dialects: list[Dialect], faults: Faults,
              control: Mapping[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] | None = None,
              root: str | None = None) -> web.Application:
    """`root`: the exchange id of a dialect to serve at the root path as well (None: prefixes only).
    aiohttp matches the longest registered path prefix first, so the prefixed dialects and the
    control routes keep their paths; everything else goes to the root dialect."""
    by_prefix = {d.prefix: d for d in dialects}
    root_dialect = None
    if root is not None:
        root_dialect = next((d for d in dialects if d.exchange_id == root), None)
        if root_dialect is None:
            raise ValueError(f"root must be one of the served dialects ({', '.join(d.exchange_id for d in dialects)}), got {root!r}")
        by_prefix[""] = root_dialect
    app = web.Application(middlewares=[json_errors, fault_middleware(faults, by_prefix)], client_max_size=MAX_BODY_BYTES)
    for (method, path), handler in (control or {}).items():
        app.router.add_route(method, path, handler)
    for dialect in dialects:
        # streams first: `<prefix>/ws/...` is where Venue.ccxt_config points every websocket URL
        app.router.add_route("GET", dialect.prefix + STREAM_PATH + r"{tail:[\s\S]*}", _stream_entry(dialect, faults))
        app.router.add_route("*", dialect.prefix + r"/{tail:[\s\S]*}", dialect.handle)  # newlines too
    hubs = [hub for d in dialects if (hub := getattr(d, "stream_hub", None)) is not None]  # the dialects that stream

    async def serving(app):
        faults.loop = asyncio.get_running_loop()

    async def stopping(app):   # before aiohttp waits for the handlers: close frames, not cancellations
        for hub in hubs:
            await hub.shutdown()

    async def stopped(app):
        faults.loop = None
    app.on_startup.append(serving)
    app.on_shutdown.append(stopping)
    app.on_cleanup.append(stopped)
    if root_dialect is not None:
        app.router.add_route("*", r"/{tail:[\s\S]*}", root_dialect.handle_at_root)
    return app


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (ccxt already depends on it): it roughly halves the per-request cost."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ServerThread:
    """Runs an aiohttp app on its own event loop in a daemon thread; `stop()` shuts it down cleanly."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.host, self.requested_port = app, host, port
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> int:
        self._thread = threading.Thread(target=self._run, name=f"sim-server-{self.requested_port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"simulator server did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"simulator server could not listen on {self.host}:{self.requested_port}: {self._error}") from self._error
        assert self.port is not None  # _run sets it before _ready when there is no _error
        return self.port

    def _run(self) -> None:
        loop = _new_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.requested_port)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]  # the one site's socket: (host, port)
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    def submit(self, coro) -> concurrent.futures.Future:
        """Run a coroutine on the server loop from another thread."""
        assert self.loop is not None, "the server is not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop is None or self._thread is None or not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


class DialectBase:
    """Routing, authentication hook, engine lock and envelopes shared by the dialects.

    Subclasses set `prefix` and `exchange_id`, declare handlers with @route, and implement
    `parse_body`, `authenticate`, `ok`, `fail`, `map_reject`, `rate_limited`, `bad_request`
    (the error for a Malformed request) and `system_error` (for an unexpected exception).
    """

    prefix = ""
    exchange_id = ""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.routes: dict[str, list[Route]] = {}
        for r in collect_routes(self):
            self.routes.setdefault(r.method, []).append(r)

    @property
    def engine(self) -> Engine:
        return self.venue.engine_for(self.exchange_id)

    def find(self, method: str, endpoint: str) -> tuple[Route | None, dict]:
        for r in self.routes.get(method, ()):
            m = r.pattern.match(endpoint)
            if m:
                return r, m.groupdict()
        return None, {}

    # ---- what each dialect implements (its envelopes, errors and authentication)
    def parse_body(self, request: web.Request, text: str) -> dict | None:
        raise NotImplementedError

    def authenticate(self, request: web.Request, call: Call, text: str) -> None:
        raise NotImplementedError

    def ok(self, data, call: Call) -> web.Response:
        raise NotImplementedError

    def fail(self, err: ApiError, call: Call) -> web.Response:
        raise NotImplementedError

    def not_found_error(self, call: Call) -> tuple[str | int, str, int]:
        """(code, message, HTTP status) of an unknown path."""
        raise NotImplementedError

    def map_reject(self, rej: Reject, call: Call) -> ApiError:
        raise NotImplementedError

    def rate_limited(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    def bad_request(self, exc: Malformed) -> ApiError:
        raise NotImplementedError

    def system_error(self) -> ApiError:
        raise NotImplementedError

    # ---- shared
    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        """A websocket under `<prefix>/ws/...`: the dialects that stream override this."""
        return json_error(404, f"no stream at {request.path}: the {self.exchange_id} dialect does not stream yet")

    async def handle_at_root(self, request: web.Request) -> web.StreamResponse:
        """The dialect served at the root path: endpoints without the prefix."""
        return await self.handle(request, prefix="")

    async def handle(self, request: web.Request, prefix: str | None = None) -> web.StreamResponse:
        prefix = self.prefix if prefix is None else prefix
        now_ms = request.get(ARRIVED_MS) or int(time.time() * 1000)
        endpoint = request.path[len(prefix):]
        call = Call(request.method, endpoint, {}, dict(request.query), None, now_ms, prefix)
        try:
            text = await read_request(request)
            call.body = self.parse_body(request, text)
            found, params = self.find(request.method, endpoint)
            if found is None:
                raise ApiError(*self.not_found_error(call))
            call.params = params
            if found.private:
                self.authenticate(request, call, text)
            with self.venue.lock:
                try:
                    data = found.handler(call)
                except Reject as rej:
                    raise self.map_reject(rej, call) from None
                if found.mutates:  # the change itself is already in the journal
                    self.venue.maybe_compact()
            return self.ok(data, call)
        except Malformed as exc:
            return self.fail(self.bad_request(exc), call)
        except ApiError as err:
            return self.fail(err, call)
        except Exception:  # a bug: still the dialect's envelope, never a bare 500
            log.exception("simulator: unexpected error on %s %s", request.method, request.path)
            return self.fail(self.system_error(), call)
