"""Runs of a backtrader strategy and the trade lists they produce.

One analyzer, `TradeRecorder`, watches the orders of a run (backtest on BackBroker, or paper/live
on the BracketBroker) and turns them into fills, round-trip trades and bracket outcomes. Because
both kinds of run use the same recorder, their trade lists compare with `==`.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import backtrader as bt

from .bars import BarsFileError, bars_frame, interval_ms, read_bars  # noqa: F401  (BarsFileError re-exported)
from .markets import MarketInfo, describe

# Name under which the recorder is added to cerebro; run_paper uses the same one.
RECORDER = "trades"

# Float noise from averaging partial fills must not make two identical runs compare unequal.
_DIGITS = 10

_DEAD = (bt.Order.Canceled, bt.Order.Expired, bt.Order.Margin, bt.Order.Rejected)
_STOPS = (bt.Order.Stop, bt.Order.StopLimit, bt.Order.StopTrail, bt.Order.StopTrailLimit)


class StrategyFileError(ValueError):
    """A strategy file cannot be loaded; the message says why and how to fix it."""


@dataclass
class RunResult:
    trades: list[dict]
    fills: list[dict]
    equity: list[tuple[str, float]]
    brackets: list[dict]
    cash: float
    value: float
    fees: float
    # Free-form facts about the run (symbol, data path, exchange...) for reports and charts.
    meta: dict = field(default_factory=dict)
    # The BracketStore of a run through BracketBroker (paper, venue backtest): journal, groups, requests.
    store: Any = None


def _iso(dtnum: float) -> str:
    return bt.num2date(dtnum).isoformat()


def _role(order, grouped: bool) -> str:
    """What an order is for: the exit legs of a bracket or OCO group are named by their exec type."""
    if order.parent is None and not grouped:
        return "entry"
    return "stop_loss" if order.exectype in _STOPS else "take_profit"


class TradeRecorder(bt.Analyzer):
    """Records executed orders and pairs them into round-trip trades.

    get_analysis() -> {'fills', 'trades', 'brackets', 'equity', 'fees'} (see RunResult).
    A fill is {'bar', 'side', 'size', 'price', 'role'}; 'bar' is the strategy's current bar when the
    fill is notified. An order is an exit leg when it has a bracket parent or is linked by `oco=`.
    """

    def start(self):
        self.fills: list[dict] = []
        self.trades: list[dict] = []
        self.equity: list[tuple[str, float]] = []
        self.fees = 0.0
        self._orders: dict[int, bt.Order] = {}  # ref -> latest notified order
        self._fill_bar: dict[int, str] = {}  # ref -> bar of its last fill
        self._last_bar: dict[int, str] = {}  # ref -> bar of its last notification
        self._done: dict[int, tuple[float, float, float]] = {}  # ref -> executed (size, value, comm) seen so far
        self._oco_leader: dict[int, int] = {}  # ref -> ref of its OCO group leader
        self._position = 0.0
        self._open: dict | None = None

    # -- order stream -------------------------------------------------------------------------
    def notify_order(self, order):
        ref = order.ref
        self._orders[ref] = order
        self._last_bar[ref] = self._now()
        self._link_oco(order)
        if order.status not in (bt.Order.Partial, bt.Order.Completed):
            return
        size_seen, value_seen, comm_seen = self._done.get(ref, (0.0, 0.0, 0.0))
        cum_size = abs(order.executed.size)
        delta = cum_size - size_seen
        if delta <= 1e-12:
            return
        cum_value = cum_size * order.executed.price
        price = (cum_value - value_seen) / delta
        comm = order.executed.comm - comm_seen
        self._done[ref] = (cum_size, cum_value, order.executed.comm)
        self._fill_bar[ref] = self._now()
        self.fees += comm
        fill = {
            "bar": self._now(),
            "side": "buy" if order.isbuy() else "sell",
            "size": round(delta, _DIGITS),
            "price": round(price, _DIGITS),
            "role": _role(order, ref in self._oco_leader),
        }
        self.fills.append(fill)
        self._book(fill, self._flat(order.data))

    def _link_oco(self, order) -> None:
        """Notes the OCO group of an order: from `order.oco` when the broker keeps it on the order,
        else from the broker's group map (BackBroker keeps `oco=` links only in `_ocos`)."""
        linked = order.oco.ref if order.oco is not None else None
        if linked is None:
            leaders = getattr(self.strategy.broker, "_ocos", None) or {}
            linked = leaders.get(order.ref)
        if linked is None or linked == order.ref:
            return
        leader = self._oco_leader.get(linked, linked)
        self._oco_leader[linked] = leader
        self._oco_leader[order.ref] = leader

    def _now(self) -> str:
        return self.strategy.datetime.datetime(0).isoformat()

    def _flat(self, data) -> bool:
        """The broker holds less than one lot of the market: a position a fee charged in the base
        left as dust is closed, as far as any order could tell."""
        held = self.strategy.broker.getposition(data).size
        info = getattr(data, 'market_info', None)
        return abs(held) <= 1e-12 or (info is not None and info.is_dust(held))

    def _book(self, fill: dict, flat: bool = False) -> None:
        """Pairs fills into round trips: a trade opens when the position leaves zero and closes when
        it returns (`flat`: the broker's position after this fill is below one lot)."""
        signed = fill["size"] if fill["side"] == "buy" else -fill["size"]
        remaining = signed
        while abs(remaining) > 1e-12:
            if self._open is None:
                self._open = {
                    "entry_time": fill["bar"], "exit_time": None,
                    "side": "long" if remaining > 0 else "short",
                    "size": 0.0, "entry_price": 0.0, "exit_price": None, "exit_reason": "open",
                    "_exit_size": 0.0, "_exit_value": 0.0,
                }
                self.trades.append(self._open)
            t = self._open
            direction = 1.0 if t["side"] == "long" else -1.0
            if remaining * direction > 0:  # adds to the position
                new = t["size"] + abs(remaining)
                t["entry_price"] = round((t["entry_price"] * t["size"] + fill["price"] * abs(remaining)) / new, _DIGITS)
                t["size"] = round(new, _DIGITS)
                self._position += remaining
                remaining = 0.0
                continue
            held = abs(self._position)
            take = min(held, abs(remaining))
            t["_exit_size"] += take
            t["_exit_value"] += take * fill["price"]
            t["exit_price"] = round(t["_exit_value"] / t["_exit_size"], _DIGITS)
            t["exit_time"] = fill["bar"]
            t["exit_reason"] = fill["role"] if fill["role"] in ("take_profit", "stop_loss") else "other"
            self._position -= take * direction
            remaining += take * direction
            if flat:
                remaining = self._position = 0.0   # what is left over is the fee's dust, not a new trade
            if abs(self._position) <= 1e-12:
                self._position = 0.0
                self._open = None
            else:
                t["exit_reason"] = "open"  # partly closed: still open

    # -- equity -------------------------------------------------------------------------------
    def next(self):
        self.equity.append((self._now(), float(self.strategy.broker.getvalue())))

    # -- results ------------------------------------------------------------------------------
    def get_analysis(self):
        trades = [{k: v for k, v in t.items() if not k.startswith("_")} for t in self.trades]
        return {
            "fills": list(self.fills),
            "trades": trades,
            "brackets": self._brackets(),
            "equity": list(self.equity),
            "fees": round(self.fees, 12),
        }

    def _brackets(self) -> list[dict]:
        """Groups (bracket parent + children, or OCO groups) and how each ended."""
        groups: dict[int, list] = {}
        parents = {o.parent.ref for o in self._orders.values() if o.parent is not None}
        for ref, order in self._orders.items():
            if order.parent is not None:
                key = order.parent.ref
            elif ref in self._oco_leader:
                key = self._oco_leader[ref]
            elif ref in parents:
                key = ref
            else:
                continue
            groups.setdefault(key, []).append(order)
        out = []
        for key in sorted(groups):
            out.append(self._describe(key, sorted(groups[key], key=lambda o: o.ref)))
        return out

    def _describe(self, key: int, orders: list) -> dict:
        entry = next((o for o in orders if o.parent is None and o.ref == key and any(c.parent is not None for c in orders)), None)
        legs = [o for o in orders if o is not entry]
        kind = "otoco" if entry is not None and len(legs) == 2 else ("oto" if entry is not None else "oco")
        sl = next((o for o in legs if o.exectype in _STOPS), None)
        tp = next((o for o in legs if o.exectype == bt.Order.Limit), None)
        side_order = entry if entry is not None else legs[0]
        if entry is not None:
            side = "long" if entry.isbuy() else "short"
        else:  # an OCO exit protects the opposite side
            side = "short" if side_order.isbuy() else "long"

        def fill_of(o):
            if o is None or o.ref not in self._done:
                return None
            return {"price": round(o.executed.price, _DIGITS), "bar": self._fill_bar[o.ref]}

        if sl is not None and sl.status == bt.Order.Completed:
            outcome = "stop_loss"
        elif tp is not None and tp.status == bt.Order.Completed:
            outcome = "take_profit"
        elif any(o.status in (bt.Order.Margin, bt.Order.Rejected) for o in orders):
            outcome = "rejected"
        elif all(o.status in _DEAD for o in legs) or (entry is not None and entry.status in _DEAD):
            outcome = "canceled"
        else:
            outcome = "open"
        return {
            "kind": kind,
            "side": side,
            "size": abs(side_order.created.size),
            "created": _iso(min(o.created.dt for o in orders)),
            "entry_price": round(entry.created.price, _DIGITS) if entry is not None and entry.created.price else None,
            "take_profit": round(tp.created.price, _DIGITS) if tp is not None else None,
            "stop_loss": round(sl.created.price, _DIGITS) if sl is not None else None,
            "entry_fill": fill_of(entry),
            "exit_fill": fill_of(sl) if outcome == "stop_loss" else fill_of(tp) if outcome == "take_profit" else None,
            "ended": self._ended(orders),
            "outcome": outcome,
        }

    def _ended(self, orders) -> str | None:
        if any(o.alive() for o in orders):
            return None
        return max(self._last_bar[o.ref] for o in orders)


class BarProgress(bt.Analyzer):
    """Calls `callback(done, total)` once per bar, for progress bars."""

    params = (("callback", None), ("total", None))

    def next(self):
        if self.p.callback is not None:
            self.p.callback(len(self.strategy), self.p.total)


def result_from(strategy, meta: dict | None = None) -> RunResult:
    """The RunResult of a finished cerebro run whose strategy carries a TradeRecorder named RECORDER."""
    a = getattr(strategy.analyzers, RECORDER).get_analysis()
    broker = strategy.broker
    return RunResult(
        trades=a["trades"], fills=a["fills"], equity=a["equity"], brackets=a["brackets"],
        cash=float(broker.getcash()), value=float(broker.getvalue()), fees=a["fees"], meta=dict(meta or {}),
    )


def data_feed(bars, name: str, market: MarketInfo | None = None):
    """A backtrader feed over bars from `read_bars`, with the file's bar interval; `market` (the
    market's rules, markets.market_info) travels on the feed for the strategy to read."""
    minutes = max(1, interval_ms(bars) // 60_000)
    feed = bt.feeds.PandasData(dataname=bars_frame(bars), name=name, timeframe=bt.TimeFrame.Minutes, compression=minutes)
    feed.market_info = market
    return feed


def described_market(data_path, symbol: str, bars) -> MarketInfo:
    """The market rules of a bar file as a backtest sees them: its description, else the rules the
    simulator derives from the bars (the same ones a venue backtest or paper run trades under)."""
    from .sim.rules import default_rules

    return MarketInfo.from_rules(default_rules(symbol, bars, description=describe(data_path)))


def run_backtest(
    strategy_cls,
    data_path,
    symbol: str = "ETH/BTC",
    cash: float = 1.0,
    params: dict | None = None,
    commission: float = 0.001,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Runs `strategy_cls` on BackBroker over the bars in `data_path`; commission is a fraction of notional."""
    bars = read_bars(data_path)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data_feed(bars, symbol, described_market(data_path, symbol, bars)))
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    cerebro.addstrategy(strategy_cls, **(params or {}))
    cerebro.addanalyzer(TradeRecorder, _name=RECORDER)
    if progress is not None:
        cerebro.addanalyzer(BarProgress, callback=progress, total=len(bars))
    strat = cerebro.run()[0]
    return result_from(strat, {"mode": "backtest", "symbol": symbol, "data": str(data_path), "cash_start": cash,
                               "commission": commission, "strategy": strategy_cls.__name__, "bars": len(bars)})


def load_strategy(path, name: str | None = None):
    """The bt.Strategy subclass defined in the file at `path` (`name` picks one when there are several)."""
    path = Path(path)
    if not path.is_file():
        raise StrategyFileError(f"strategy file {path} does not exist: pass the path of a .py file that defines a backtrader Strategy")
    if path.suffix != ".py":
        raise StrategyFileError(f"strategy file {path} is not a .py file: pass a Python file that defines a bt.Strategy subclass")
    modname = f"bracket_user_strategy_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(modname, path)
    assert spec is not None and spec.loader is not None   # a .py file path always has a source loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report its error in one line
        sys.modules.pop(modname, None)
        where = ""
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                where = f" (line {tb.tb_lineno})"
            tb = tb.tb_next
        raise StrategyFileError(f"strategy file {path} fails to import{where}: {type(exc).__name__}: {exc}") from None
    found = [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, bt.Strategy) and obj.__module__ == modname
    ]
    if name is not None:
        found = [c for c in found if c.__name__ == name]
        if not found:
            raise StrategyFileError(f"strategy file {path} has no bt.Strategy subclass named {name}")
    if not found:
        raise StrategyFileError(
            f"strategy file {path} defines no bt.Strategy subclass: add `class MyStrategy(bt.Strategy): ...` to it"
        )
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        raise StrategyFileError(f"strategy file {path} defines several strategies ({names}): pick one as {path}:NAME")
    return found[0]


def strategy_params(strategy_cls) -> dict:
    """The strategy's parameters and their defaults."""
    return {k: getattr(strategy_cls.params, k) for k in strategy_cls.params._getkeys()}


# The package's one bar reader, under the name the run contracts use.
load_bars = read_bars
