"""Deterministic matching engine of the simulator: replays OHLCV bars on a virtual clock.

Pure: no I/O, no wall clock, no threads.  The HTTP dialects (sim/kucoin.py, sim/cryptocom.py) turn
requests into `OrderRequest`s, call `Engine.place` / `place_list` / `cancel...`, and render
`SimOrder` / `SimList` / `Fill` in their exchange's own shape.  `Reject.reason` is one of the
REASONS constants below; each dialect maps it to its exchange's error code.

Clock: for every market, `bars[:cursor]` are closed; `now_ms()` is the open time of the next bar to
process (= the close time of the last processed one).  `step()` processes the next bar of every
market whose next bar opens at the earliest pending timestamp, then advances the clock.

Fill rules (identical to backtrader's BackBroker without slippage, see rules.py): nothing fills at
placement; market orders fill at the next bar's open; a limit fills at the open if the open is
better, else at its price if the bar reaches it; a stop fills at the open if the open is through the
trigger, else at the trigger; a stop-limit triggers like a stop and then rests as a limit.  Orders
are tried in placement order; the legs of a list are stored entry first, then the stop-loss leg, so
a bar touching both exits fills the stop.  OTO/OTOCO exits go live after the entry's full fill and
are tried from the next bar on.  A fill of one OCO leg (or of one exit) cancels the others.

Options: time in force (IOC, FOK), expiry (backtrader's `valid`), post-only limits, and partial
fills capped at a fraction of each bar's volume (`max_volume_fraction`).
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, ItemsView, Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from operator import attrgetter
from typing import Protocol

from bracket_plugin.bars import Bar, interval_ms
from bracket_plugin.sim import rules as R
from bracket_plugin.sim import state as S
from bracket_plugin.sim.rules import BUY, DOWN, SELL, TAKER, UP, MarketRules
from bracket_plugin.venues import MARK
from bracket_plugin.vocab import ListKind, OrderType, Role, VenueStatus

# --- rejection reasons (stable strings; the dialects map them to exchange codes) ----------------
INSUFFICIENT_BALANCE = "insufficient_balance"
BELOW_MIN_SIZE = "below_min_size"
BELOW_MIN_NOTIONAL = "below_min_notional"
BAD_TICK = "bad_tick"
BAD_LOT = "bad_lot"
UNKNOWN_SYMBOL = "unknown_symbol"
DUPLICATE_CLIENT_ID = "duplicate_client_id"
TOO_MANY_STOPS = "too_many_stops"
TRIGGER_WRONG_SIDE = "trigger_wrong_side"
BAD_LEG_COMBINATION = "bad_leg_combination"
NOT_FOUND = "not_found"
NOT_CANCELABLE = "not_cancelable"
BAD_REQUEST = "bad_request"
REASONS = frozenset({
    INSUFFICIENT_BALANCE, BELOW_MIN_SIZE, BELOW_MIN_NOTIONAL, BAD_TICK, BAD_LOT, UNKNOWN_SYMBOL,
    DUPLICATE_CLIENT_ID, TOO_MANY_STOPS, TRIGGER_WRONG_SIDE, BAD_LEG_COMBINATION, NOT_FOUND,
    NOT_CANCELABLE, BAD_REQUEST,
})

# order types, roles, list kinds and statuses: the package's one vocabulary (vocab.py). Statuses:
# 'pending' = list exit waiting for its entry; 'open' = live; 'triggered' = a stop-limit whose
# trigger fired, resting as a limit; the rest are final.
ORDER_TYPES = tuple(OrderType)
TRIGGER_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
ROLES = tuple(Role)
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
LIST_KINDS = tuple(ListKind)
LIVE = (VenueStatus.OPEN, VenueStatus.TRIGGERED)
CANCELABLE = (VenueStatus.PENDING, VenueStatus.OPEN, VenueStatus.TRIGGERED)
FINAL = (VenueStatus.FILLED, VenueStatus.CANCELED, VenueStatus.REJECTED)


class PathClient(Protocol):
    """Who watches price levels of its own on the engine's bars (`Engine.path_clients`): a
    broker's managed stops, which the venue does not hold."""

    def levels(self, symbol: str) -> Iterable[tuple[Decimal | float, str]]:
        """(level, direction 'up' | 'down') of each level watched on `symbol` now."""

    def at(self, symbol: str, price: Decimal) -> None:
        """The trades are at `price` now, inside the bar: act (orders sent now trade here)."""


class Reject(Exception):
    """An order, list or cancel refused by the engine; nothing changed.  `reason` is in REASONS."""

    def __init__(self, reason: str, message: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class OrderRequest:
    """One order as a dialect received it.

    type: 'limit' (price), 'market' (amount, or funds for a buy by quote amount), 'stop_market'
    (trigger), 'stop_limit' (trigger and price).  direction ('up'|'down') says which way the price
    must cross the trigger; None derives it (see rules.default_direction): a stop_loss leg fires
    against the position, a take_profit trigger with it, a trigger without role from the side the
    market is on.  role: 'entry'|'stop_loss'|'take_profit'|None; a single trigger order with a role
    has its trigger checked against the market like a list leg (Crypto.com STOP_LOSS/TAKE_PROFIT).
    time_in_force: 'GTC' | 'IOC' | 'FOK' (IOC/FOK: limit and market orders only; tried on the next
    bar only, what is left is canceled; FOK fills completely or not at all).  expire_ms: a GTC
    order (not a market order) expires when a bar opening after this time comes, as backtrader's
    `valid`; an expiring list leg cancels its list.  post_only: a limit that would take at the
    last price is canceled right after it is accepted (reason 'post_only'), as KuCoin does.
    """

    symbol: str
    side: str
    type: str
    amount: Decimal | str | int | None = None
    price: Decimal | str | int | None = None
    trigger: Decimal | str | int | None = None
    funds: Decimal | str | int | None = None
    client_id: str | None = None
    role: str | None = None
    direction: str | None = None
    time_in_force: str = "GTC"
    expire_ms: int | None = None
    post_only: bool = False


@dataclass
class SimOrder:
    id: str
    client_id: str | None
    symbol: str
    side: str
    type: str
    amount: Decimal  # for a market buy by funds: 0 until it fills
    price: Decimal | None  # limit price
    trigger: Decimal | None
    direction: str | None  # trigger direction
    status: str
    created_ms: int
    updated_ms: int
    fee_currency: str
    funds: Decimal | None = None
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # quote value of the fills
    fee: Decimal = Decimal(0)
    list_id: str | None = None
    role: str | None = None
    leg: int | None = None  # index of the leg in the request of its list
    triggered_ms: int | None = None
    # why canceled/rejected: 'user', 'oco', 'list', 'expired', 'ioc', 'fok', 'post_only',
    # 'insufficient_balance', 'below_min_size'
    reason: str | None = None
    time_in_force: str = "GTC"
    expire_ms: int | None = None
    post_only: bool = False

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.filled, Decimal(0))

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGER_TYPES


@dataclass
class SimList:
    id: str
    client_id: str | None
    kind: str  # 'oco' | 'oto' | 'otoco'
    symbol: str
    order_ids: list[str]  # in leg order of the request
    status: str  # 'open' | 'done' | 'canceled'
    created_ms: int
    updated_ms: int


@dataclass(frozen=True)
class Fill:
    id: str
    order_id: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # 'maker' | 'taker'
    ts: int  # open time of the bar that filled it

    @property
    def cost(self) -> Decimal:
        return self.price * self.amount


@dataclass(frozen=True)
class Ticker:
    symbol: str
    ts: int
    last: Decimal
    bid: Decimal
    ask: Decimal
    open: Decimal  # 24 h window of closed bars
    high: Decimal
    low: Decimal
    volume: Decimal  # base
    quote_volume: Decimal


_bar_ts = _fill_ts = attrgetter("ts")


def default_ids(kind: str, n: int) -> str:
    """Numeric id strings from one counter for orders, lists and fills (unique across kinds)."""
    return str(1_000_000_000 + n)


# the range of numbers an order may carry: far beyond any market's sizes and ticks, and narrow
# enough that the lot and tick checks stay exact at the decimal module's default precision
MIN_NUMBER = Decimal("1e-30")
MAX_NUMBER = Decimal("1e15")


def number(name: str, value: object, required: bool = False) -> Decimal | None:
    """A positive number (Decimal, int, or their text) within MIN_NUMBER .. MAX_NUMBER, or None;
    anything else is Reject(BAD_REQUEST).  The one parser of order numbers, the dialects' too."""
    if value is None:
        if required:
            raise Reject(BAD_REQUEST, f"{name} is required")
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):  # ValueError: an int of more digits than str() writes
        raise Reject(BAD_REQUEST, f"{name} must be a number, got {_short(value)}") from None
    if not d.is_finite() or d <= 0:
        raise Reject(BAD_REQUEST, f"{name} must be a positive number, got {_short(value)}")
    if not MIN_NUMBER <= d <= MAX_NUMBER:
        raise Reject(BAD_REQUEST, f"{name} must be between {MIN_NUMBER:g} and {MAX_NUMBER:g}, got {_short(value)}")
    return d


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 1000 else "a huge integer"
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class _Hold:
    currency: str
    amount: Decimal


# running totals are added to and subtracted from for the life of the engine: with this precision
# each step is exact, so removing a hold gives back exactly the total from before it was added
_EXACT = Context(prec=120)


class _HoldBook:
    """What open orders hold, by key ('o:<order id>' or 'l:<list id>'), with a running total per
    currency so a balance check costs the same however many orders rest."""

    def __init__(self) -> None:
        self._by_key: dict[str, _Hold] = {}
        self._used: dict[str, Decimal] = {}
        self._count: dict[str, int] = {}

    def set(self, key: str, hold: _Hold) -> None:
        self.pop(key)
        self._by_key[key] = hold
        cur = hold.currency
        self._used[cur] = _EXACT.add(self._used.get(cur, Decimal(0)), hold.amount)
        self._count[cur] = self._count.get(cur, 0) + 1

    def pop(self, key: str) -> _Hold | None:
        hold = self._by_key.pop(key, None)
        if hold is not None:
            cur = hold.currency
            self._count[cur] -= 1
            if self._count[cur]:
                self._used[cur] = _EXACT.subtract(self._used[cur], hold.amount)
            else:  # nothing held any more: exactly zero, whatever the arithmetic left
                del self._used[cur], self._count[cur]
        return hold

    def used(self, currency: str) -> Decimal:
        return self._used.get(currency, Decimal(0))

    def used_all(self) -> dict[str, Decimal]:
        return dict(self._used)

    def items(self) -> ItemsView[str, _Hold]:
        return self._by_key.items()


class Engine:
    """Spot matching engine for one account over one or more markets.

    markets: rules per symbol; bars: bar list per symbol (same keys); balances: starting totals per
    currency; start: index of the first bar NOT yet closed in every market (bars[:start] are
    history); ids: id factory (kind 'order'|'list'|'fill', counter) -> str.
    max_volume_fraction: None (default) fills every order in full; a fraction f caps each order's
    fill on one bar at f * the bar's volume (floored to the lot), so big orders fill partially
    over several bars.
    marks: mark price bars per symbol, matched to the trades' bars by open time.  A market whose
    rules watch the mark (`trigger_price == 'mark'`) fires and checks its triggers on them; a bar
    with no mark bar, or a market with no series, uses the trades' prices (mark = last).
    """

    def __init__(self, markets: dict[str, MarketRules], bars: dict[str, list[Bar]],
                 balances: dict[str, Decimal] | None = None, start: int = 0,
                 ids: Callable[[str, int], str] = default_ids, max_volume_fraction: Decimal | str | None = None,
                 marks: dict[str, list[Bar]] | None = None):
        if set(markets) != set(bars):
            raise ValueError(f"markets and bars must name the same symbols: {sorted(markets)} vs {sorted(bars)}")
        for sym, bs in bars.items():
            if not bs:
                raise ValueError(f"no bars for {sym}")
            if not 0 <= start <= len(bs):
                raise ValueError(f"start must be between 0 and {len(bs)} for {sym}, got {start}")
        self._rules = dict(markets)
        self._bars = {s: list(b) for s, b in bars.items()}
        self._cursor = {s: start for s in bars}
        self._interval = {s: interval_ms(b) for s, b in self._bars.items()}
        unknown = set(marks or {}) - set(bars)
        if unknown:
            raise ValueError(f"marks name symbols with no bars: {sorted(unknown)}")
        # only the markets that watch the mark keep their series: elsewhere triggers watch the trades
        self._marks = {s: {b.ts: b for b in m} for s, m in (marks or {}).items() if self._rules[s].trigger_price == MARK}
        self._total: dict[str, Decimal] = {}
        for r in self._rules.values():
            self._total.setdefault(r.base, Decimal(0))
            self._total.setdefault(r.quote, Decimal(0))
        for cur, amt in (balances or {}).items():
            self._total[cur] = Decimal(str(amt))
        self._holds = _HoldBook()
        self._orders: dict[str, SimOrder] = {}  # insertion order = placement (and trial) order
        self._active: dict[str, SimOrder] = {}  # the non-final ones, same order (keeps step() cheap)
        self._lists: dict[str, SimList] = {}
        self._fills: list[Fill] = []
        self._client_ids: dict[str, tuple[str, str]] = {}  # client id -> ('order'|'list', id)
        self._counter = 0
        self._ids = ids
        frac = None if max_volume_fraction is None else Decimal(str(max_volume_fraction))
        if frac is not None and not 0 < frac <= 1:
            raise ValueError(f"max_volume_fraction must be in (0, 1], got {max_volume_fraction}")
        self.max_volume_fraction = frac
        # called with a journal entry (see state.op_*) after each accepted change; the venue's state
        # file appends them, so a restart repeats them on the last snapshot
        self.journal: Callable[[dict], None] | None = None
        # called like `journal`, after it: whoever publishes changes as they happen (streams)
        self.watchers: list[Callable[[dict], None]] = []
        # clients that watch levels of their own (a broker's managed stops): each bar pauses where
        # its trades cross one, as a continuous market would pass through it (see _walk)
        self.path_clients: list[PathClient] = []
        self._inside: dict[str, tuple[Bar, Decimal]] = {}   # symbol -> (bar, price) during a pause
        self._seq = 0                           # number of the latest change to an order or a list
        self._changes: dict[str, int] = {}      # 'o:<id>' / 'l:<id>' -> number of its latest change

    # ---------------------------------------------------------------- clock and market data
    def now_ms(self) -> int:
        """Open time of the next bar to process; after the last bar, its open time + interval."""
        pending = [self._bars[s][c].ts for s, c in self._cursor.items() if c < len(self._bars[s])]
        if pending:
            return min(pending)
        return max(self._bars[s][-1].ts + self._interval[s] for s in self._bars)

    def symbols(self) -> list[str]:
        return list(self._rules)

    def rules(self, symbol: str) -> MarketRules:
        return self._rules_for(symbol)

    def markets(self) -> dict[str, MarketRules]:
        return dict(self._rules)

    def currencies(self) -> list[str]:
        return list(self._total)

    def interval_ms(self, symbol: str) -> int:
        self._rules_for(symbol)
        return self._interval[symbol]

    def bars_left(self, symbol: str | None = None) -> int:
        syms = [symbol] if symbol else list(self._bars)
        return sum(len(self._bars[s]) - self._cursor[s] for s in syms)

    def closed_bars(self, symbol: str, since: int | None = None, limit: int | None = None) -> list[Bar]:
        """Closed bars, oldest first: from `since` (ms, inclusive) on, at most `limit` of them;
        without `since`, the most recent `limit`."""
        self._rules_for(symbol)
        bars, cursor = self._bars[symbol], self._cursor[symbol]
        if since is not None:
            # bars are in time order: a bisect finds the first one, so a request costs what it returns
            closed = bars[bisect_left(bars, since, 0, cursor, key=_bar_ts):cursor]
            return closed[:limit] if limit is not None else closed
        if limit and limit > 0:
            return bars[max(0, cursor - limit):cursor]   # the most recent: no copy of the rest
        return bars[:cursor][-limit:] if limit else bars[:cursor]

    def last_price(self, symbol: str) -> Decimal:
        """Close of the last closed bar (before any bar closed: the first bar's open)."""
        self._rules_for(symbol)
        c = self._cursor[symbol]
        return self._bars[symbol][c - 1].close if c else self._bars[symbol][0].open

    def mark_price(self, symbol: str) -> Decimal:
        """The price this market's triggers watch, as of the last closed bar: the mark bar's close
        where the market watches a mark series that has that bar, else the last price."""
        last = self.last_price(symbol)
        c = self._cursor[symbol]
        mark = self._marks.get(symbol, {}).get(self._bars[symbol][c - 1].ts) if c else None
        return mark.close if mark is not None else last

    def _mark_bar(self, symbol: str, bar: Bar) -> Bar | None:
        marks = self._marks.get(symbol)
        return marks.get(bar.ts) if marks else None

    def ticker(self, symbol: str) -> Ticker:
        """Last price and 24 h statistics from closed bars; bid = ask = last (no order book)."""
        last = self.last_price(symbol)
        now = self.now_ms()
        window = self.closed_bars(symbol, since=now - 86_400_000)
        if not window:
            return Ticker(symbol, now, last, last, last, last, last, last, Decimal(0), Decimal(0))
        return Ticker(
            symbol, now, last, last, last, window[0].open, max(b.high for b in window),
            min(b.low for b in window), sum((b.volume for b in window), Decimal(0)),
            sum((b.volume * b.close for b in window), Decimal(0)),
        )

    # ---------------------------------------------------------------- balances
    def balances(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """{currency: (total, free, used)}; used = what open orders hold."""
        used = self._holds.used_all()
        return {c: (t, t - used.get(c, Decimal(0)), used.get(c, Decimal(0))) for c, t in self._total.items()}

    def _free(self, currency: str) -> Decimal:
        return self._total.get(currency, Decimal(0)) - self._holds.used(currency)

    # ---------------------------------------------------------------- lookups
    def order(self, order_id: str) -> SimOrder:
        try:
            return self._orders[order_id]
        except KeyError:
            raise Reject(NOT_FOUND, f"order {order_id} does not exist") from None

    def order_by_client_id(self, client_id: str) -> SimOrder:
        kind, oid = self._client_ids.get(client_id, ("", ""))
        if kind != "order":
            raise Reject(NOT_FOUND, f"no order with client id {client_id}")
        return self._orders[oid]

    def get_list(self, list_id: str) -> SimList:
        try:
            return self._lists[list_id]
        except KeyError:
            raise Reject(NOT_FOUND, f"order list {list_id} does not exist") from None

    def list_by_client_id(self, client_id: str) -> SimList:
        kind, lid = self._client_ids.get(client_id, ("", ""))
        if kind != "list":
            raise Reject(NOT_FOUND, f"no order list with client id {client_id}")
        return self._lists[lid]

    def list_orders(self, list_id: str) -> list[SimOrder]:
        return [self._orders[i] for i in self.get_list(list_id).order_ids]

    def open_orders(self, symbol: str | None = None) -> list[SimOrder]:
        """Orders not final (pending list exits included), in placement order."""
        return [o for o in self._active.values() if symbol is None or o.symbol == symbol]

    def orders(self, symbol: str | None = None, status: str | Iterable[str] | None = None,
               since: int | None = None, limit: int | None = None) -> list[SimOrder]:
        """Orders in placement order, filtered by symbol, status (one or several) and created_ms >= since."""
        statuses = (status,) if isinstance(status, str) else tuple(status) if status else None
        # asked for live statuses only: the non-final orders are all in _active, in the same order
        live = statuses is not None and not set(statuses) & set(FINAL)
        out = [o for o in (self._active if live else self._orders).values()
               if (symbol is None or o.symbol == symbol) and (statuses is None or o.status in statuses)
               and (since is None or o.created_ms >= since)]
        return out[:limit] if limit is not None else out

    def lists(self, symbol: str | None = None, status: str | Iterable[str] | None = None,
              kind: str | None = None) -> list[SimList]:
        statuses = (status,) if isinstance(status, str) else tuple(status) if status else None
        return [lst for lst in self._lists.values()
                if (symbol is None or lst.symbol == symbol) and (statuses is None or lst.status in statuses)
                and (kind is None or lst.kind == kind)]

    def fills(self, symbol: str | None = None, since: int | None = None, order_id: str | None = None) -> list[Fill]:
        # fills are appended bar by bar (their ts never decreases): the ones since `since` are a tail
        first = 0 if since is None else bisect_left(self._fills, since, key=_fill_ts)
        return [f for f in self._fills[first:]
                if (symbol is None or f.symbol == symbol) and (since is None or f.ts >= since)
                and (order_id is None or f.order_id == order_id)]

    # ---------------------------------------------------------------- placing
    def place(self, req: OrderRequest) -> SimOrder:
        """Accept one order (nothing fills now) or raise Reject with nothing changed."""
        o = self._build(req, role=req.role, check_role_side=req.role in ("stop_loss", "take_profit"))
        self._check_client_ids([o.client_id])
        self._check_stop_count(o.symbol, [o])
        need = self._hold_need(o)
        self._check_free({need.currency: need.amount})
        self._commit_order(o)
        self._holds.set(f"o:{o.id}", need)
        if o.post_only:
            assert o.price is not None   # post_only is for limit orders only (_build)
            if o.price >= self.last_price(o.symbol) if o.side == BUY else o.price <= self.last_price(o.symbol):
                self._finish(o, "canceled", "post_only", o.created_ms)
        self._record(S.op_place(req))
        if o.symbol in self._inside and o.status in LIVE:
            self._try_inside(o)
        return o

    def place_list(self, kind: str, legs: list[OrderRequest], client_id: str | None = None) -> SimList:
        """Accept an order list, or raise Reject with nothing changed.

        oco: one limit + one trigger, same side; a fill of either cancels the other; holds once.
        oto: legs[0] is the entry (limit or market), legs[1] one trigger on the opposite side.
        otoco: legs[0] the entry, then one stop-type trigger (role stop_loss) and one take-profit
        leg (a limit, or a trigger with role take_profit) on the opposite side, in any order.
        Exits go live (status 'open') once the entry is fully filled, are tried from the next bar,
        hold the bought base (or the quote a buy-back needs) once, and a fill of one cancels the other.
        """
        if kind not in LIST_KINDS:
            raise Reject(BAD_REQUEST, f"list kind must be one of {LIST_KINDS}, got {kind!r}")
        if any(leg.time_in_force != "GTC" or leg.post_only for leg in legs):
            raise Reject(BAD_REQUEST, "the legs of a list are GTC orders without post_only")
        want = {"oco": 2, "oto": 2, "otoco": 3}[kind]
        if len(legs) != want:
            raise Reject(BAD_LEG_COMBINATION, f"{kind} needs {want} legs, got {len(legs)}")
        symbols = {leg.symbol for leg in legs}
        if len(symbols) != 1:
            raise Reject(BAD_LEG_COMBINATION, f"all legs of a list must be on one market, got {sorted(symbols)}")
        if kind == "oco":
            orders = self._build_oco(legs)
        else:
            orders = self._build_oto(kind, legs)
        self._check_client_ids([client_id] + [o.client_id for o in orders])
        self._check_stop_count(orders[0].symbol, orders)
        if kind == "oco":
            need = max((self._hold_need(o) for o in orders), key=lambda h: h.amount)
            hold_key = "l:"
        else:
            need = self._hold_need(orders[0])
            hold_key = "o:"
        self._check_free({need.currency: need.amount})
        now = self.now_ms()
        lst = SimList(self._next_id("list"), client_id, kind, orders[0].symbol, [], "open", now, now)
        # trial order: entry, then the stop-loss leg, then the rest (BackBroker creates the stop first)
        trial = sorted(orders, key=lambda o: (o.role != "entry", o.role != "stop_loss", not o.is_trigger))
        for o in trial:
            o.list_id = lst.id
            self._commit_order(o)
        lst.order_ids = [o.id for o in orders]   # _build_oco / _build_oto answer the legs in request order
        self._lists[lst.id] = lst
        self._touch("l:" + lst.id)
        if client_id:
            self._client_ids[client_id] = ("list", lst.id)
        self._holds.set(hold_key + (lst.id if kind == "oco" else orders[0].id), need)
        self._record(S.op_place_list(kind, legs, client_id))
        return lst

    def _build_oco(self, legs: list[OrderRequest]) -> list[SimOrder]:
        types = sorted(leg.type for leg in legs)
        if not (types[0] == "limit" and types[1] in TRIGGER_TYPES):
            raise Reject(BAD_LEG_COMBINATION, f"oco needs one limit and one stop_market/stop_limit leg, got {types}")
        if legs[0].side != legs[1].side:
            raise Reject(BAD_LEG_COMBINATION, "both legs of an oco must have the same side")
        orders = []
        if any(leg.role == "entry" for leg in legs):
            raise Reject(BAD_LEG_COMBINATION, "an oco has no entry leg; roles are stop_loss and take_profit")
        for i, leg in enumerate(legs):
            role = leg.role or ("stop_loss" if leg.type in TRIGGER_TYPES else "take_profit")
            o = self._build(leg, role=role, check_role_side=leg.type in TRIGGER_TYPES)
            o.leg = i
            orders.append(o)
        if orders[0].amount != orders[1].amount:
            raise Reject(BAD_LEG_COMBINATION, "both legs of an oco must have the same amount")
        return orders

    def _build_oto(self, kind: str, legs: list[OrderRequest]) -> list[SimOrder]:
        entry_req, exits = legs[0], legs[1:]
        if entry_req.type not in ("limit", "market"):
            raise Reject(BAD_LEG_COMBINATION, f"the entry of an {kind} must be a limit or market order, got {entry_req.type}")
        if entry_req.role not in (None, "entry"):
            raise Reject(BAD_LEG_COMBINATION, f"the first leg of an {kind} is its entry, got role {entry_req.role}")
        entry = self._build(entry_req, role="entry")
        entry.leg = 0
        if any(x.side == entry.side for x in exits):
            raise Reject(BAD_LEG_COMBINATION, f"the exits of an {kind} must be on the opposite side of the entry")
        if kind == "oto":
            x = exits[0]
            if x.type not in TRIGGER_TYPES:
                raise Reject(BAD_LEG_COMBINATION, f"the second leg of an oto must be a trigger order, got {x.type}")
            roles = [x.role or "stop_loss"]
            if roles[0] not in ("stop_loss", "take_profit"):
                raise Reject(BAD_LEG_COMBINATION, f"the exit of an oto is a stop_loss or take_profit, got role {roles[0]}")
        else:
            roles = [self._otoco_role(x) for x in exits]
            if sorted(roles) != ["stop_loss", "take_profit"]:
                raise Reject(BAD_LEG_COMBINATION, f"an otoco needs one stop_loss trigger and one take_profit leg, got {roles}")
        # exits are checked against the entry price (the market may be elsewhere until the entry fills)
        reference = entry.price if entry.type == "limit" else self.mark_price(entry.symbol)
        assert reference is not None   # a limit entry has its price (_build)
        orders = [entry]
        for i, (x, role) in enumerate(zip(exits, roles), start=1):
            o = self._build(x, role=role, check_role_side=x.type in TRIGGER_TYPES, reference=reference, status="pending")
            if role == "take_profit" and o.type == "limit":
                assert o.price is not None   # a limit has its price (_build)
                if o.price <= reference if o.side == SELL else o.price >= reference:
                    raise Reject(TRIGGER_WRONG_SIDE,
                                 f"take_profit price {o.price} must be on the profit side of the entry {reference}")
            # a sell exit may not sell more than a buy entry brings; a buy-back may buy more than was
            # sold (a fee charged in the base comes out of what it receives)
            if entry.funds is None and o.side == SELL and o.amount > entry.amount:
                raise Reject(BAD_LEG_COMBINATION, f"exit amount {o.amount} exceeds the entry amount {entry.amount}")
            o.leg = i
            orders.append(o)
        return orders

    @staticmethod
    def _otoco_role(x: OrderRequest) -> str:
        if x.role:
            if x.role == "stop_loss" and x.type not in TRIGGER_TYPES:
                raise Reject(BAD_LEG_COMBINATION, "the stop_loss leg of an otoco must be a trigger order")
            return x.role
        return "stop_loss" if x.type in TRIGGER_TYPES else "take_profit"

    def _build(self, req: OrderRequest, role: str | None, check_role_side: bool = False,
               reference: Decimal | None = None, status: str = "open") -> SimOrder:
        """Validate one order request against its market (pure: no state changes)."""
        r = self._rules.get(req.symbol)
        if r is None:
            raise Reject(UNKNOWN_SYMBOL, f"symbol {req.symbol!r} is not listed (markets: {', '.join(self._rules)})")
        if req.side not in (BUY, SELL):
            raise Reject(BAD_REQUEST, f"side must be 'buy' or 'sell', got {req.side!r}")
        if req.type not in ORDER_TYPES:
            raise Reject(BAD_REQUEST, f"type must be one of {ORDER_TYPES}, got {req.type!r}")
        if role is not None and role not in ROLES:
            raise Reject(BAD_REQUEST, f"role must be one of {ROLES}, got {role!r}")
        if req.direction not in (None, UP, DOWN):
            raise Reject(BAD_REQUEST, f"direction must be 'up' or 'down', got {req.direction!r}")
        if req.client_id is not None and not isinstance(req.client_id, str):
            raise Reject(BAD_REQUEST, "client_id must be a string")
        if req.time_in_force not in TIME_IN_FORCE:
            raise Reject(BAD_REQUEST, f"time_in_force must be one of {TIME_IN_FORCE}, got {req.time_in_force!r}")
        if req.time_in_force != "GTC" and req.type not in ("limit", "market"):
            raise Reject(BAD_REQUEST, f"time_in_force {req.time_in_force} is only for limit and market orders")
        if req.expire_ms is not None and (req.time_in_force != "GTC" or type(req.expire_ms) is not int
                                          or req.expire_ms < self.now_ms()):
            raise Reject(BAD_REQUEST, f"expire_ms must be an integer time (ms) not before now ({self.now_ms()}) on a GTC order")
        if req.post_only and (req.type != "limit" or req.time_in_force != "GTC"):
            raise Reject(BAD_REQUEST, "post_only is only for GTC limit orders")
        funds = number("funds", req.funds)
        if funds is not None and (req.type != "market" or req.side != BUY):
            raise Reject(BAD_REQUEST, "funds is only accepted on a market buy")
        if funds is not None and req.amount is not None:
            raise Reject(BAD_REQUEST, "give either amount or funds, not both")
        amount = number("amount", req.amount, required=funds is None)
        price = number("price", req.price, required=req.type in ("limit", "stop_limit"))
        trigger = number("trigger", req.trigger, required=req.type in TRIGGER_TYPES)
        if req.type == "market" and price is not None:
            raise Reject(BAD_REQUEST, "a market order takes no price")
        if req.type in ("limit", "market") and trigger is not None:
            raise Reject(BAD_REQUEST, f"a {req.type} order takes no trigger; use stop_market or stop_limit")
        for name, value in (("price", price), ("trigger", trigger)):
            if value is not None and not R.is_multiple(value, r.tick_size):
                raise Reject(BAD_TICK, f"{name} {value} is not a multiple of the tick size {r.tick_size}")
        last = self.last_price(req.symbol)
        if amount is not None:
            if not R.is_multiple(amount, r.lot_size):
                raise Reject(BAD_LOT, f"amount {amount} is not a multiple of the lot size {r.lot_size}")
            if amount < r.min_size:
                raise Reject(BELOW_MIN_SIZE, f"amount {amount} is below the minimum size {r.min_size} {r.base}")
            notional = amount * (price or trigger or last)
            if notional < r.min_notional:
                raise Reject(BELOW_MIN_NOTIONAL, f"amount * price {notional} is below the minimum {r.min_notional} {r.quote}")
        elif funds is not None and funds < r.min_notional:   # (no amount: funds is there, `number` required it)
            raise Reject(BELOW_MIN_NOTIONAL, f"funds {funds} is below the minimum {r.min_notional} {r.quote}")
        direction = None
        if trigger is not None:
            watched = self.mark_price(req.symbol)   # the price the trigger will watch
            direction = req.direction or R.default_direction(req.side, role, trigger, watched)
            ref = watched if reference is None else reference
            if check_role_side and R.trigger_on_wrong_side(direction, trigger, ref):
                where = "below" if direction == DOWN else "above"
                raise Reject(TRIGGER_WRONG_SIDE, f"{role or 'trigger'} trigger {trigger} of a {req.side} must be {where} the reference price {ref}")
        now = self.now_ms()
        return SimOrder(
            id="", client_id=req.client_id, symbol=req.symbol, side=req.side, type=req.type,
            amount=amount or Decimal(0), price=price, trigger=trigger, direction=direction, status=status,
            created_ms=now, updated_ms=now, fee_currency=r.fee_currency(req.side), funds=funds, role=role,
            time_in_force=req.time_in_force, expire_ms=req.expire_ms, post_only=bool(req.post_only),
        )

    def _check_client_ids(self, cids: list[str | None]) -> None:
        given = [c for c in cids if c]
        for c in given:
            if c in self._client_ids:
                raise Reject(DUPLICATE_CLIENT_ID, f"client id {c!r} was already used")
        if len(set(given)) != len(given):
            raise Reject(DUPLICATE_CLIENT_ID, f"client ids within one request must differ: {given}")

    def _check_stop_count(self, symbol: str, new: list[SimOrder]) -> None:
        limit = self._rules[symbol].max_open_stops
        adding = sum(1 for o in new if o.is_trigger)
        if limit is None or not adding:
            return
        current = sum(1 for o in self._active.values()
                      if o.symbol == symbol and o.is_trigger and o.status in ("pending", "open"))
        if current + adding > limit:
            raise Reject(TOO_MANY_STOPS, f"at most {limit} untriggered stop orders per market; {current} are open on {symbol}")

    def _hold_need(self, o: SimOrder, available: Decimal | None = None) -> _Hold:
        """What an order may spend: a sell its base amount; a buy amount * (limit, trigger or last
        price) or its funds, plus the larger fee rate."""
        r = self._rules[o.symbol]
        if o.side == SELL:
            return _Hold(r.base, o.amount)
        if o.funds is not None:
            spend = o.funds
        elif o.type in ("limit", "stop_limit"):
            assert o.price is not None   # limit and stop-limit orders have their price (_build)
            spend = o.amount * o.price
        else:
            spend = o.amount * (o.trigger or self.last_price(o.symbol))
        # a fee charged in the base comes out of what the buy receives: the quote holds the cost alone
        return _Hold(r.quote, spend if r.fee_currency(BUY) == r.base else spend * (1 + r.max_fee))

    def _check_free(self, needs: dict[str, Decimal]) -> None:
        for cur, amt in needs.items():
            free = self._free(cur)
            if amt > free:
                raise Reject(INSUFFICIENT_BALANCE, f"needs {amt} {cur}, {free} {cur} free")

    def _commit_order(self, o: SimOrder) -> None:
        o.id = self._next_id("order")
        self._orders[o.id] = o
        self._active[o.id] = o
        self._touch("o:" + o.id)
        if o.client_id:
            self._client_ids[o.client_id] = ("order", o.id)

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return self._ids(kind, self._counter)

    # ---------------------------------------------------------------- canceling
    def cancel(self, order_id: str) -> SimOrder:
        """Cancel one order; an order of a list cancels its whole list (as BackBroker and the
        exchanges do).  Reject not_found / not_cancelable."""
        o = self.order(order_id)
        if o.status not in CANCELABLE:
            raise Reject(NOT_CANCELABLE, f"order {order_id} is {o.status}")
        if o.list_id:
            self._end_list(self._lists[o.list_id], "canceled", reason="user", ts=self.now_ms())
        else:
            self._finish(o, "canceled", "user", self.now_ms())
        self._record(S.op_cancel(order_id))
        return o

    def cancel_list(self, list_id: str) -> SimList:
        lst = self.get_list(list_id)
        if lst.status != "open":
            raise Reject(NOT_CANCELABLE, f"order list {list_id} is {lst.status}")
        self._end_list(lst, "canceled", reason="user", ts=self.now_ms())
        self._record(S.op_cancel_list(list_id))
        return lst

    def cancel_all(self, symbol: str | None = None, lists: bool = True, singles: bool = True) -> list[str]:
        """Cancel every open order (and list) on `symbol` (or everywhere); returns the canceled order ids."""
        if symbol is not None:
            self._rules_for(symbol)
        targets = [o for o in self._active.values()
                   if (symbol is None or o.symbol == symbol) and o.status in CANCELABLE
                   and (lists if o.list_id else singles)]
        for o in targets:
            if o.status in CANCELABLE:  # a list leg may have gone with its sibling
                self.cancel(o.id)
        return [o.id for o in targets]

    def _finish(self, o: SimOrder, status: str, reason: str | None, ts: int) -> None:
        o.status = status
        o.reason = reason
        o.updated_ms = ts
        self._touch("o:" + o.id)
        self._holds.pop(f"o:{o.id}")
        self._active.pop(o.id, None)

    def _end_list(self, lst: SimList, status: str, reason: str, ts: int, keep: str | None = None) -> None:
        for oid in lst.order_ids:
            o = self._orders[oid]
            if oid != keep and o.status in CANCELABLE:
                self._finish(o, "canceled", reason, ts)
        lst.status = status
        lst.updated_ms = ts
        self._touch("l:" + lst.id)
        self._holds.pop(f"l:{lst.id}")

    # ---------------------------------------------------------------- the bar loop
    def step(self) -> bool:
        """Process the next bar of every market opening at the earliest pending time.

        Orders live at the start of the step are tried once each, in placement order; an order
        canceled by a sibling's fill earlier in the step is skipped.  In the same pass, as in
        BackBroker, an order past its expire_ms is canceled first (with its list).  Returns False
        (and does nothing) when no bars are left.
        """
        pending = {s: self._bars[s][c] for s, c in self._cursor.items() if c < len(self._bars[s])}
        if not pending:
            return False
        t = min(b.ts for b in pending.values())
        bars = {s: b for s, b in pending.items() if b.ts == t}
        snapshot = [(o, o.status in LIVE) for o in self._active.values() if o.symbol in bars]
        for s, bar in bars.items():
            self._walk(s, bar)
        for o, live in snapshot:
            if o.status not in CANCELABLE:
                continue  # ended earlier in this pass
            if o.expire_ms is not None and o.type != "market" and t > o.expire_ms:
                self._expire(o, t)
            elif live:
                self._try(o, bars[o.symbol])
                if o.time_in_force != "GTC" and o.status in LIVE:
                    self._finish(o, "canceled", o.time_in_force.lower(), t)
        for s in bars:
            self._cursor[s] += 1
        self._record(S.op_step())
        return True

    def run(self, max_steps: int | None = None) -> int:
        """Step until no bars are left (or max_steps); returns the number of bars processed."""
        n = 0
        while (max_steps is None or n < max_steps) and self.step():
            n += 1
        return n

    def _walk(self, symbol: str, bar: Bar) -> None:
        """Pause the bar where its trades cross a level a path client watches, in path order, and
        let the client act there: a market order it sends fills at that price, a limit is tried on
        the rest of the bar (_try_inside). This runs before the bar's resting orders are tried, so a
        watched stop and a resting take-profit touched by one bar end as a native OCO's legs do:
        the stop first (BackBroker's order too)."""
        tick = self._rules[symbol].tick_size
        stops = []
        for client in tuple(self.path_clients):
            for level, direction in client.levels(symbol):
                price = R.crossing(direction, Decimal(str(level)), bar, tick)
                if price is not None:
                    stops.append((R.path_position(bar, price, direction), price, client))
        for _, price, client in sorted(stops, key=lambda x: x[0]):
            self._inside[symbol] = (bar, price)
            try:
                client.at(symbol, price)
            finally:
                del self._inside[symbol]

    def _try_inside(self, o: SimOrder) -> None:
        """An order placed during a pause (_walk): a market order fills at the pause's price; a
        limit is tried as a stop-limit fired there would be (BackBroker's inference from the bar)."""
        bar, price = self._inside[o.symbol]
        if o.type == "market":
            self._execute(o, price, TAKER, bar)
        elif o.type == "limit":
            assert o.price is not None   # a limit has its price (_build)
            m = R.match_stop_limit(o.side, DOWN if o.side == SELL else UP, price, o.price, bar)
            if m.price is not None:
                self._execute(o, m.price, m.liquidity, bar)

    def _try(self, o: SimOrder, bar: Bar) -> None:
        if o.type == "market" or (o.type == "stop_market" and o.status == "triggered"):
            m = R.match_market(bar)  # a fired stop that is not yet (fully) filled is a market order
        elif o.type == "limit" or o.status == "triggered":
            assert o.price is not None   # a limit or a triggered stop-limit: it has its price (_build)
            m = R.match_limit(o.side, o.price, bar)
        else:
            # a trigger order not yet triggered: _build set its trigger and direction, a stop-limit's price
            assert o.trigger is not None and o.direction is not None
            if o.type == "stop_market":
                m = R.match_stop(o.direction, o.trigger, bar, self._mark_bar(o.symbol, bar))
            else:
                assert o.price is not None
                m = R.match_stop_limit(o.side, o.direction, o.trigger, o.price, bar, self._mark_bar(o.symbol, bar))
        if m.triggered and o.status == "open":
            o.status = "triggered"
            o.triggered_ms = bar.ts
            o.updated_ms = bar.ts
            self._touch("o:" + o.id)
        if m.price is not None:
            self._execute(o, m.price, m.liquidity, bar)

    def _execute(self, o: SimOrder, price: Decimal, liquidity: str, bar: Bar) -> None:
        r = self._rules[o.symbol]
        lst = self._lists.get(o.list_id) if o.list_id else None
        if o.funds is not None and o.filled == 0:
            # a market buy by funds: its amount is fixed by the first fill's price
            o.amount = R.floor_to(o.funds / price, r.lot_size)
            if o.amount <= 0:
                self._reject_at_fill(o, lst, BELOW_MIN_SIZE, bar.ts)
                return
        amount = o.remaining
        if self.max_volume_fraction is not None:
            amount = min(amount, R.floor_to(bar.volume * self.max_volume_fraction, r.lot_size))
            if amount <= 0:
                return  # no volume for it on this bar
        if o.time_in_force == "FOK" and amount < o.remaining:
            return  # fill or kill: step() cancels it
        cost = amount * price
        fee_currency = r.fee_currency(o.side)
        # the fee is charged on what the fill brings in: base on a buy paying in the base, else quote
        fee = (amount if fee_currency == r.base else cost) * r.fee_rate(liquidity)
        # release what this order (or its list, for an exit / oco leg) holds, then settle on totals
        key = f"o:{o.id}" if lst is None or o.role == "entry" else f"l:{lst.id}"
        hold = self._holds.pop(key)
        quote_fee = fee if fee_currency == r.quote else Decimal(0)
        if (o.side == BUY and cost + quote_fee > self._free(r.quote)) or (o.side == SELL and amount > self._free(r.base)):
            self._reject_at_fill(o, lst, INSUFFICIENT_BALANCE, bar.ts)
            return
        if o.side == BUY:
            self._total[r.quote] -= cost + quote_fee
            self._total[r.base] += amount - (fee - quote_fee)
        else:
            self._total[r.base] -= amount
            self._total[r.quote] += cost - fee
        before = o.remaining
        o.filled += amount
        o.cost += cost
        o.fee += fee
        o.updated_ms = bar.ts
        self._touch("o:" + o.id)
        self._fills.append(Fill(self._next_id("fill"), o.id, o.symbol, o.side, price, amount, fee, fee_currency, liquidity, bar.ts))
        complete = o.remaining <= 0
        if complete:
            self._finish(o, "filled", None, bar.ts)
        elif hold is not None:  # partial fill: keep holding for the rest, pro rata
            self._holds.set(key, _Hold(hold.currency, hold.amount * o.remaining / before))
        if lst is None:
            return
        if o.role == "entry":
            if complete:
                self._arm_exits(lst, o, bar.ts)
        elif complete:
            self._end_list(lst, "done", reason="oco", ts=bar.ts, keep=o.id)
        else:  # a partial fill of one leg cancels the others (Crypto.com; BackBroker's oco= too)
            for sib in (self._orders[i] for i in lst.order_ids if i != o.id):
                if sib.status in CANCELABLE:
                    self._finish(sib, "canceled", "oco", bar.ts)

    def _expire(self, o: SimOrder, ts: int) -> None:
        if o.list_id:
            self._end_list(self._lists[o.list_id], "canceled", reason="expired", ts=ts)
        else:
            self._finish(o, "canceled", "expired", ts)

    def _reject_at_fill(self, o: SimOrder, lst: SimList | None, reason: str, ts: int) -> None:
        self._finish(o, "rejected", reason, ts)
        if lst is not None and lst.status == "open":
            self._end_list(lst, "canceled", reason="list", ts=ts)

    def _arm_exits(self, lst: SimList, entry: SimOrder, ts: int) -> None:
        """Entry fully filled: the exits go live now (tried from the next bar) and hold once."""
        exits = [self._orders[i] for i in lst.order_ids if i != entry.id]
        needs = []
        for x in exits:
            if entry.side == BUY and x.amount > entry.filled:  # a market-by-funds entry may fill less than the exits ask
                x.amount = R.floor_to(entry.filled, self._rules[x.symbol].lot_size)
            x.status = "open"
            x.updated_ms = ts
            self._touch("o:" + x.id)
            needs.append(self._hold_need(x))
        need = max(needs, key=lambda h: h.amount)
        need.amount = min(need.amount, max(self._free(need.currency), Decimal(0)))
        self._holds.set(f"l:{lst.id}", need)

    # ---------------------------------------------------------------- helpers
    def _rules_for(self, symbol: str) -> MarketRules:
        r = self._rules.get(symbol)
        if r is None:
            raise Reject(UNKNOWN_SYMBOL, f"symbol {symbol!r} is not listed (markets: {', '.join(self._rules)})")
        return r

    # ---------------------------------------------------------------- change feed (streams)
    def _record(self, entry: dict) -> None:
        if self.journal is not None:
            self.journal(entry)
        for watch in tuple(self.watchers):   # a watcher may remove itself
            watch(entry)

    def _touch(self, key: str) -> None:
        self._seq += 1
        self._changes.pop(key, None)     # re-inserted last: the dict runs oldest to newest change
        self._changes[key] = self._seq

    def changes_since(self, seq: int) -> tuple[int, list[SimOrder], list[SimList]]:
        """(latest change number, orders, lists) changed after change number `seq`, in the order
        of their latest change: what a stream has to publish since it last looked. Its cost is
        what it returns (the changes are kept newest last)."""
        orders: list[SimOrder] = []
        lists: list[SimList] = []
        for key in reversed(self._changes):
            if self._changes[key] <= seq:
                break
            kind, _, oid = key.partition(":")
            if kind == "o":
                orders.append(self._orders[oid])
            else:
                lists.append(self._lists[oid])
        return self._seq, orders[::-1], lists[::-1]

    def fills_after(self, n: int) -> list[Fill]:
        """The fills after the first `n` (fills are only ever appended)."""
        return self._fills[n:]

    # ---------------------------------------------------------------- state file
    def to_state(self) -> dict:
        """JSON-able snapshot of everything but the bars (which the data files give again)."""
        from bracket_plugin.sim import state

        return state.dump(self)

    @classmethod
    def from_state(cls, data: dict, bars: dict[str, list[Bar]], ids: Callable[[str, int], str] = default_ids,
                   marks: dict[str, list[Bar]] | None = None) -> Engine:
        """Rebuild an engine from `to_state()` output and the same bars (and mark series)."""
        from bracket_plugin.sim import state

        return state.load(cls, data, bars, ids, marks)
