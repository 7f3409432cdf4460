"""What a run looks like to a person: summary figures, tables and a progress bar (rich).

Figures come from a RunResult (bracket_plugin.runs) by pure functions; the rich renderables are
built from those figures, so tests check numbers, not terminal output.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

OUTCOMES = ("take_profit", "stop_loss", "open", "canceled", "rejected")
_OUTCOME_LABEL = {"take_profit": "take-profit", "stop_loss": "stop-loss", "open": "still open",
                  "canceled": "canceled", "rejected": "rejected", "other": "other exit"}


def trade_pnl(trade: dict) -> float | None:
    """Gross profit of a closed round trip in quote currency (before fees); None while open."""
    if trade["exit_price"] is None or trade["exit_time"] is None:
        return None
    sign = 1.0 if trade["side"] == "long" else -1.0
    return sign * (trade["exit_price"] - trade["entry_price"]) * trade["size"]


def summarize(result) -> dict:
    """The figures of the summary table."""
    priced = [(t, pnl) for t in result.trades if (pnl := trade_pnl(t)) is not None]   # the closed round trips
    closed, pnls = [t for t, _ in priced], [pnl for _, pnl in priced]
    wins = sum(1 for p in pnls if p > 0)
    gross = sum(pnls)
    outcomes = Counter(b["outcome"] for b in result.brackets)
    return {
        "trades": len(closed),
        "open_trades": len(result.trades) - len(closed),
        "wins": wins,
        "losses": len(closed) - wins,
        "win_rate": wins / len(closed) if closed else None,
        "gross_pnl": gross,
        "fees": result.fees,
        "net_pnl": gross - result.fees,
        "exits": dict(Counter(t["exit_reason"] for t in closed)),
        "brackets": {k: outcomes.get(k, 0) for k in OUTCOMES} | {k: v for k, v in outcomes.items() if k not in OUTCOMES},
        "value": result.value,
    }


def _num(x: float | None, digits: int = 8) -> str:
    return "-" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".") if x != 0 else "0"


def summary_table(results, title: str) -> Table:
    """Summary figures of one run, or of several side by side ({column name: RunResult})."""
    if not isinstance(results, dict):
        results = {"": results}
    first = next(iter(results.values()))
    quote = (first.meta.get("symbol") or "/").split("/")[-1] or "quote"
    table = Table(title=title, box=box.SIMPLE_HEAVY, show_header=len(results) > 1 or any(results), title_justify="left")
    table.add_column("")
    for name in results:
        table.add_column(name, justify="right")
    rows: dict[str, list[str]] = {}
    for result in results.values():
        s = summarize(result)
        ended = ", ".join(f"{_OUTCOME_LABEL.get(k, k)} {v}" for k, v in s["brackets"].items() if v or k in ("take_profit", "stop_loss"))
        cells = {
            "round trips": f"{s['trades']}" + (f"  (+{s['open_trades']} open)" if s["open_trades"] else ""),
            "win rate": "-" if s["win_rate"] is None else f"{s['win_rate']:.0%}  ({s['wins']} won, {s['losses']} lost)",
            f"PnL before fees ({quote})": _signed(s["gross_pnl"]),
            f"fees ({quote})": _num(s["fees"]),
            f"net PnL ({quote})": _signed(s["net_pnl"]),
            "brackets": f"{sum(s['brackets'].values())}: {ended}" if s["brackets"] else "0",
            f"final value ({quote})": _num(s["value"]),
        }
        for label, cell in cells.items():
            rows.setdefault(label, []).append(cell)
    for label, row in rows.items():
        table.add_row(f"[bold]{label}[/]", *row)
    return table


def _signed(x: float) -> str:
    colour = "green" if x > 0 else "red" if x < 0 else ""
    text = ("+" if x > 0 else "") + _num(x)
    return f"[{colour}]{text}[/]" if colour else text


def _trade_cells(t: dict | None) -> list[str]:
    if t is None:
        return ["", "", "", "", "", ""]
    return [t["entry_time"].replace("T", " ")[:16], t["side"], _num(t["entry_price"]),
            (t["exit_time"] or "").replace("T", " ")[:16], _num(t["exit_price"]), _OUTCOME_LABEL.get(t["exit_reason"], t["exit_reason"])]


def trades_table(trades: list[dict], title: str = "trades") -> Table:
    table = Table(title=title, box=box.SIMPLE, title_justify="left")
    for name in ("#", "entry bar", "side", "entry", "exit bar", "exit", "exit by", "PnL"):
        table.add_column(name, justify="right" if name in ("#", "entry", "exit", "PnL") else "left")
    for n, t in enumerate(trades, 1):
        pnl = trade_pnl(t)
        table.add_row(str(n), *_trade_cells(t), "-" if pnl is None else _signed(pnl))
    return table


def first_difference(a: list[dict], b: list[dict]) -> int | None:
    """Index of the first trade that differs between two lists (or where one ends), None when equal."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _trade_columns(table: Table, who: str) -> None:
    """The columns of one run's trade (as _trade_cells fills them)."""
    table.add_column(f"{who} entry bar")
    table.add_column("side")
    table.add_column("entry", justify="right")
    table.add_column("exit bar")
    table.add_column("exit", justify="right")
    table.add_column("exit by")


def comparison_table(backtest: list[dict], live: list[dict], live_name: str, name: str = "backtest") -> Table:
    """Both trade lists side by side; rows that differ are marked."""
    table = Table(title=f"{name} vs {live_name}", box=box.SIMPLE, title_justify="left")
    table.add_column("#", justify="right")
    for who in (name, live_name):
        _trade_columns(table, who)
    table.add_column("")
    for i in range(max(len(backtest), len(live))):
        a = backtest[i] if i < len(backtest) else None
        b = live[i] if i < len(live) else None
        same = a == b
        table.add_row(str(i + 1), *_trade_cells(a), *_trade_cells(b), "[green]=[/]" if same else "[bold red]≠[/]",
                      style=None if same else "red")
    return table


def differences_table(labelled: list[dict], title: str) -> Table:
    """Each BackBroker difference (differences.label) with the venue rule behind it, then a count per rule."""
    from .differences import counts

    table = Table(title=title, box=box.SIMPLE, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("rule")
    for who in ("backtest", "venue"):
        _trade_columns(table, who)
    for d in labelled:
        table.add_row(str(d["trade"] + 1), d["rule"], *_trade_cells(d["backtest"]), *_trade_cells(d["venue"]))
    for rule, n in counts(labelled).items():
        table.add_row("", f"[bold]{rule}: {n}[/]")
    return table


def stderr_console() -> Console:
    return Console(stderr=True)


@contextmanager
def progress_bar(label: str, quiet: bool = False, console: Console | None = None, unit: str = "bars"):
    """Yields a callback(done, total) that drives a progress bar on stderr; a no-op when quiet or not a TTY."""
    console = console or stderr_console()
    if quiet or not console.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def best_table(df, params: list[str], n: int, by: str = "net_pnl") -> Table:
    """The `n` best rows of a sweep (bracket_plugin.sweeps), by `by`, highest first."""
    cols = ["data", *params, "trades", "win_rate", "net_pnl", "fees", "max_drawdown"]
    table = Table(title=f"best {min(n, len(df))} of {len(df)} by {by}")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="left" if c == "data" else "right")
    for _, row in df.sort_values(by, ascending=False, kind="stable").head(n).iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append("—" if v is None or v != v else f"{v:.1%}" if c in ("win_rate", "max_drawdown")
                         else _num(v) if isinstance(v, float) else str(v))
        table.add_row(*cells)
    return table
