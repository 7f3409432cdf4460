"""Venue: the simulator as one object — engines, HTTP server thread, clock, faults, state file.

    with Venue(data='eth_btc.csv', symbol='ETH/BTC') as venue:
        ex = ccxt.kucoin(venue.ccxt_config('kucoin'))
        ...
        venue.step()          # process the next bar

Each dialect trades on its own account (its own Engine, with that exchange's fees and limits),
as two real exchanges would; both replay the same bars, so their clocks move together.
Authentication uses the real wall clock; the market clock is the engines' (bar time).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO

from aiohttp import web

from bracket_plugin import venues
from bracket_plugin.bars import Bar, read_bars
from bracket_plugin.markets import describe
from bracket_plugin.sim import state as S
from bracket_plugin.sim.auth import Credentials
from bracket_plugin.sim.engine import Engine
from bracket_plugin.sim.faults import Faults
from bracket_plugin.sim.rules import MarketRules, default_rules
from bracket_plugin.sim.server import STREAM_PATH, ServerThread, build_app, json_error

EXCHANGES = venues.ids()
MODES = ("step", "realtime")

# Test credentials the simulator accepts (not secret: they only open this loopback venue).
DEFAULT_CREDENTIALS = {v.id: Credentials(*v.sim.credentials) for v in venues.profiles()}
# Per-exchange market defaults: fee rates and limits on untriggered stops (from the venue profiles).
EXCHANGE_RULES = {v.id: {k: (str(x) if isinstance(x, Decimal) else x) for k, x in v.fee_rates().items()}
                  for v in venues.profiles()}


def default_balances(markets: dict[str, list[Bar]]) -> dict[str, Decimal]:
    """Enough of both sides of every market for the example strategies: about ten units of the
    price scale in quote (10 BTC for ETH/BTC at ~0.1) and the matching round number of base (100 ETH)."""
    out: dict[str, Decimal] = {}
    for symbol, bars in markets.items():
        base, quote = symbol.split("/")
        price = bars[0].open
        quote_amt = Decimal(1).scaleb(price.adjusted() + 3)
        base_amt = Decimal(1).scaleb(int((quote_amt / price).log10().to_integral_value()))
        out[base] = max(out.get(base, Decimal(0)), base_amt)
        out[quote] = max(out.get(quote, Decimal(0)), quote_amt)
    return out


def _check_balances(balances: dict) -> dict[str, Decimal]:
    out = {}
    for cur, amount in balances.items():
        try:
            value = Decimal(str(amount))
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise ValueError(f"balances[{cur!r}] must be a number >= 0, got {amount!r}")
        out[str(cur).upper()] = value
    return out


def _check_fees(exchange_id: str, overrides: dict) -> dict:
    unknown = set(overrides) - set(EXCHANGE_RULES[exchange_id])
    if unknown:
        raise ValueError(f"fees[{exchange_id!r}] accepts {', '.join(EXCHANGE_RULES[exchange_id])}; unknown: {', '.join(sorted(unknown))}")
    return overrides


def _data_paths(data, symbol: str | None) -> dict:
    if isinstance(data, dict):
        if not data:
            raise ValueError("data: give at least one market, e.g. {'ETH/BTC': 'eth_btc.csv'}")
        return dict(data)
    if isinstance(data, (str, os.PathLike)):
        if not symbol:
            raise ValueError("symbol is required with a single data file, e.g. symbol='ETH/BTC'")
        return {symbol: data}
    raise TypeError(f"data must be a CSV path or a dict {{symbol: path}}, got {type(data).__name__}")


def market_rules(symbol: str, bars: list[Bar], exchange_id: str, description: dict | None = None,
                 fees: dict | None = None) -> MarketRules:
    """A market's rules on a venue: the bar file's description (markets.describe) where it gives
    them, else derived from the price level (rules.default_rules); the venue profile's fees."""
    opts = dict(EXCHANGE_RULES[exchange_id], **(fees or {}))
    return default_rules(symbol, bars, maker_fee=opts["maker_fee"], taker_fee=opts["taker_fee"],
                         max_open_stops=opts["max_open_stops"], fee_in=venues.profile(exchange_id).fee_currency,
                         description=description, trigger_price=venues.profile(exchange_id).trigger_price)


def url_leaves(tree, path: tuple = ()):
    """(key path, URL) of every string in a ccxt `urls` tree (nested dicts)."""
    if isinstance(tree, dict):
        for key, sub in tree.items():
            yield from url_leaves(sub, path + (key,))
    elif isinstance(tree, str):
        yield path, tree


@functools.cache
def _pro_stream_urls(exchange_id: str) -> tuple:
    """(key path, URL) of every websocket URL ccxt.pro's class of this exchange knows."""
    import ccxt.pro

    return tuple(url_leaves(getattr(ccxt.pro, exchange_id)().describe()["urls"]["api"].get("ws", {})))


def _stream_urls(exchange_id: str, base: str) -> dict:
    """Every websocket URL ccxt.pro could use for the exchange, pointed at `base`/<its key path>, so
    that a streaming client never reaches the exchange's own host (what the simulator serves at
    each path is its dialect's choice)."""
    out: dict = {}
    for path, _ in _pro_stream_urls(exchange_id):
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = base + "/" + "/".join(path)
    return out


class Venue:
    """A loopback exchange (the registered venues' dialects) replaying OHLCV bars.

    data: CSV path (with `symbol`) or {symbol: path}; balances: starting totals per currency
    (default: default_balances); mode 'step' (clock moves on step()) or 'realtime' (`speed` bars
    per second); start: index of the first bar not yet closed; state_file: JSON file that keeps
    orders and balances across restarts; port: 0 picks a free port; fees: per exchange overrides,
    e.g. {'kucoin': {'taker_fee': '0.002'}}; credentials: {exchange_id: auth.Credentials};
    exchanges: dialects to serve; control: serve POST /sim/step and GET /sim/status;
    volume_fraction: cap each bar's fill at this fraction of the bar volume (partial fills);
    markets: {symbol: {tick_size, lot_size, min_size, min_notional}} over the bar files' own
    descriptions (markets.describe).
    root: an exchange id whose dialect is also served at the root path (no prefix).
    mark_data: mark price bars, a CSV path (for `symbol`) or {symbol: path}, read by the venues
    whose triggers watch the mark (Crypto.com); without it their mark is the last price.
    """

    def __init__(self, data, symbol: str | None = None, balances: dict | None = None, mode: str = "step",
                 speed: float = 1.0, start: int = 0, state_file: str | os.PathLike | None = None, port: int = 0,
                 host: str = "127.0.0.1", fees: dict | None = None, credentials: dict | None = None,
                 exchanges=EXCHANGES, control: bool = False, volume_fraction: Decimal | str | None = None,
                 markets: dict | None = None, root: str | None = None, mark_data=None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'step' or 'realtime', got {mode!r}")
        if mode == "realtime" and not speed > 0:
            raise ValueError(f"speed must be > 0 bars per second, got {speed}")
        unknown = set(exchanges) - set(EXCHANGES)
        if unknown:
            raise ValueError(f"exchanges must be among {EXCHANGES}, got {sorted(unknown)}")
        if root is not None and root not in exchanges:
            raise ValueError(f"root must be one of the served exchanges {tuple(exchanges)}, got {root!r}")
        self.root = root
        paths = _data_paths(data, symbol)
        self.bars = {s: read_bars(p) for s, p in paths.items()}
        self.marks = {s: read_bars(p) for s, p in _data_paths(mark_data, symbol).items()} if mark_data else {}
        # each market's rules as its bar file describes them (markets.describe), then `markets`
        self.descriptions = {s: dict(describe(p), **(markets or {}).get(s, {})) for s, p in paths.items()}
        self.symbol = symbol or next(iter(self.bars))
        self.mode, self.speed, self.start, self.host, self.port = mode, speed, start, host, port
        self.exchanges = tuple(exchanges)
        self.balances = _check_balances(balances) if balances is not None else default_balances(self.bars)
        self.fees = {ex: dict(EXCHANGE_RULES[ex], **_check_fees(ex, (fees or {}).get(ex, {}))) for ex in self.exchanges}
        self._credentials = dict(DEFAULT_CREDENTIALS, **(credentials or {}))
        self.state_file = Path(state_file) if state_file else None
        self.volume_fraction = volume_fraction  # None: an order fills whole; f: at most f * bar volume per bar
        self.lock = threading.RLock()
        self.faults = Faults()
        saved = self._read_state() or {}
        self.dialect_state: dict[str, dict] = saved.get("dialects", {})  # per-dialect extras kept in the state file
        self.engines: dict[str, Engine] = self._make_engines(saved)
        self._seq = int(saved.get("seq", 0))  # number of the last change written (snapshot or journal)
        self._journal: IO[str] | None = None  # the open journal file while a state file is kept
        self._journal_entries = 0
        if self.state_file is not None:
            self._replay_journal()
            self.compact()
            for ex, eng in self.engines.items():
                eng.journal = lambda entry, ex=ex: self._append(ex, entry)
        self._current = self.exchanges[0]
        self._server: ServerThread | None = None
        self._ticker_task: concurrent.futures.Future | None = None
        self.url: str | None = None
        self.enable_control = control

    # ------------------------------------------------------------------ engines and state
    def market_rules(self, exchange_id: str) -> dict[str, MarketRules]:
        return {s: market_rules(s, b, exchange_id, self.descriptions[s], self.fees[exchange_id])
                for s, b in self.bars.items()}

    def _make_engines(self, saved: dict) -> dict[str, Engine]:
        engines = {}
        for ex in self.exchanges:
            if saved and ex in saved.get("engines", {}):
                engines[ex] = Engine.from_state(saved["engines"][ex], self.bars, ids=venues.profile(ex).sim_order_id,
                                               marks=self.marks)
            else:
                engines[ex] = Engine(self.market_rules(ex), self.bars, self.balances, start=self.start, ids=venues.profile(ex).sim_order_id,
                                     max_volume_fraction=self.volume_fraction, marks=self.marks)
        return engines

    def _read_state(self) -> dict | None:
        if self.state_file is None or not self.state_file.exists():
            return None
        try:
            return json.loads(self.state_file.read_text())
        except ValueError as exc:
            raise ValueError(f"state file {self.state_file} is not valid JSON ({exc}); delete it to start afresh") from None

    # The state file is a snapshot plus a journal (<state file>.journal, one JSON line per accepted
    # change, written before the change is answered).  Each change costs one short append instead
    # of rewriting everything; the snapshot is rewritten (compacted) at start, at shutdown and every
    # COMPACT_EVERY changes.  Entries carry a sequence number and the snapshot the last one it
    # includes, so a crash between writing the snapshot and emptying the journal repeats nothing.
    COMPACT_EVERY = 20_000

    @property
    def journal_file(self) -> Path | None:
        return None if self.state_file is None else self.state_file.with_name(self.state_file.name + ".journal")

    def _replay_journal(self) -> None:
        path = self.journal_file
        assert path is not None  # replayed only with a state file
        if not path.exists():
            return
        lines = path.read_text().split("\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                if i == len(lines) - 1:  # cut off mid-write by a crash: that change was never answered
                    break
                raise ValueError(f"journal {path} line {i + 1} is not valid JSON; delete it and the state file to start afresh") from None
            if entry["seq"] <= self._seq:
                continue  # already in the snapshot
            if entry["op"] == "dialect":
                self.dialect_state.setdefault(entry["ex"], {}).setdefault(entry["key"], []).append(entry["value"])
            else:
                S.apply(self.engine_for(entry["ex"]), entry)
            self._seq = entry["seq"]

    def _append(self, exchange_id: str, entry: dict) -> None:
        with self.lock:
            self._seq += 1
            assert self._journal is not None  # the engines journal only while the file is open
            self._journal.write(json.dumps(dict(entry, seq=self._seq, ex=exchange_id)) + "\n")
            self._journal.flush()  # in the OS's hands: survives the simulator process dying
            self._journal_entries += 1

    def note_dialect(self, exchange_id: str, key: str, value) -> None:
        """Append `value` to the dialect's list `key` in the kept state (e.g. Crypto.com's advanced order ids)."""
        with self.lock:
            self.dialect_state.setdefault(exchange_id, {}).setdefault(key, []).append(value)
            if self._journal is not None:
                self._append(exchange_id, {"op": "dialect", "key": key, "value": value})

    def compact(self) -> None:
        """Write the whole state to the state file (atomically) and start an empty journal; no-op without one."""
        if self.state_file is None:
            return
        with self.lock:
            snapshot = {"version": 1, "seq": self._seq, "engines": {ex: e.to_state() for ex, e in self.engines.items()},
                        "dialects": self.dialect_state}
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            tmp.write_text(json.dumps(snapshot))
            os.replace(tmp, self.state_file)
            if self._journal is not None:
                self._journal.close()
            assert self.journal_file is not None  # there is a state file
            self._journal = open(self.journal_file, "w")
            self._journal_entries = 0

    def maybe_compact(self) -> None:
        """Compact once the journal holds COMPACT_EVERY changes (keeps restarts quick)."""
        if self._journal_entries >= self.COMPACT_EVERY:
            self.compact()

    def engine_for(self, exchange_id: str) -> Engine:
        try:
            return self.engines[exchange_id]
        except KeyError:
            raise ValueError(f"this venue serves {', '.join(self.engines)}, not {exchange_id!r}") from None

    @property
    def engine(self) -> Engine:
        """The engine of the exchange last named in ccxt_config() (the first one before that)."""
        return self.engines[self._current]

    def credentials(self, exchange_id: str) -> Credentials:
        return self._credentials[exchange_id]

    # ------------------------------------------------------------------ clock
    def step(self) -> bool:
        """Process the next bar of every market on every dialect; False when no bars are left."""
        with self.lock:
            moved = [e.step() for e in self.engines.values()]
            self.maybe_compact()
            return any(moved)

    def watch_path(self, exchange_id: str, client) -> Callable[[], None]:
        """Let `client` (an engine PathClient: a broker's managed stops) act inside each bar of
        `exchange_id`'s replay, where the trades cross its levels. Its `at` runs in the stepping
        thread with the venue's lock released, so it can trade over HTTP meanwhile. Returns the
        call that stops it. Step mode only: the client's own thread steps the venue."""
        if self.mode != "step":
            raise ValueError(f"watch_path needs mode='step' (the client steps the replay), not {self.mode!r}")
        lock = self.lock

        class Unlocked:
            levels = staticmethod(client.levels)

            @staticmethod
            def at(symbol, price):
                lock.release()       # held once, by step(): the server thread takes it per request
                try:
                    client.at(symbol, price)
                finally:
                    lock.acquire()

        watcher = Unlocked()
        clients = self.engine_for(exchange_id).path_clients
        clients.append(watcher)
        return lambda: clients.remove(watcher)

    def now_ms(self) -> int:
        with self.lock:
            return self.engine.now_ms()

    async def _realtime(self) -> None:
        interval = 1.0 / self.speed
        while True:
            await asyncio.sleep(interval)
            if not self.step():
                return

    # ------------------------------------------------------------------ server
    def start_server(self) -> Venue:
        dialects = [venues.profile(ex).dialect_class()(self) for ex in self.exchanges]
        control = {("POST", "/sim/step"): self._control_step, ("GET", "/sim/status"): self._control_status} if self.enable_control else None
        self._server = ServerThread(build_app(dialects, self.faults, control, root=self.root), self.host, self.port)
        port = self._server.start()
        self.url = f"http://{self.host}:{port}"
        if self.mode == "realtime":
            self._ticker_task = self._server.submit(self._realtime())
        return self

    def close(self) -> None:
        if self._ticker_task is not None:
            self._ticker_task.cancel()
            self._ticker_task = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._journal is not None:  # kept in a state file, and not closed yet
            self.compact()
            self._journal.close()
            self._journal = None
            for eng in self.engines.values():  # later changes (after shutdown) are not kept
                eng.journal = None

    def __enter__(self) -> Venue:
        return self.start_server()

    def __exit__(self, *exc) -> None:
        self.close()

    async def _control_step(self, request: web.Request) -> web.Response:
        try:
            steps = int(request.query.get("n", "1"))
        except ValueError:
            return json_error(400, f"n must be a whole number of bars, got {request.query['n'][:40]!r}")
        done = 0
        for _ in range(max(1, min(steps, 100_000))):
            if not self.step():
                break
            done += 1
        return web.json_response({"stepped": done, "now": self.now_ms(), "bars_left": self.engine.bars_left()})

    async def _control_status(self, request: web.Request) -> web.Response:
        return web.json_response({"now": self.now_ms(), "bars_left": self.engine.bars_left(), "mode": self.mode})

    # ------------------------------------------------------------------ clients
    def ccxt_config(self, exchange_id: str) -> dict:
        """Config for ccxt.<exchange_id>(...) (or bracket_plugin's subclasses) pointing at this venue."""
        if exchange_id not in self.engines:
            raise ValueError(f"exchange_id must be one of {', '.join(self.engines)}, got {exchange_id!r}")
        if self.url is None:
            raise RuntimeError("the venue is not serving: use `with Venue(...) as venue:` or call start_server()")
        self._current = exchange_id
        creds = self.credentials(exchange_id)
        sim = venues.profile(exchange_id).sim
        base = f"{self.url}/{exchange_id}"
        api = dict({k: base for k in sim.url_keys}, **{k: base + p for k, p in sim.url_paths.items()})
        api["ws"] = _stream_urls(exchange_id, "ws" + base[len("http"):] + STREAM_PATH.rstrip("/"))
        config = {"apiKey": creds.api_key, "secret": creds.secret, "urls": {"api": api}}
        if creds.passphrase:
            config["password"] = creds.passphrase
        return config
