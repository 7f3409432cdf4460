"""A PNG chart of one run, drawn headless (matplotlib's Agg backend; no display needed).

Top: the price (close, with the bar range shaded) and every bracket: its entry, take-profit and
stop-loss levels while it was live, and its fills. Bottom: the account value over the run.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: never try a GUI backend on a server

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

ENTRY, TAKE, STOP = "#1f6feb", "#1a7f37", "#cf222e"
PRICE, RANGE, EQUITY = "#57606a", "#d0d7de", "#8250df"


def _utc(ts_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).replace(tzinfo=None)


def _when(iso: str | None, default: dt.datetime) -> dt.datetime:
    return dt.datetime.fromisoformat(iso) if iso else default


def draw(result, bars, path, title: str = "", subtitle: str = "") -> Path:
    """Writes the chart of `result` (a RunResult) over `bars` (from read_bars) to `path`; returns the path.

    Three panels: the whole run with every fill, a close-up of the last few brackets with their
    levels drawn as risk/reward boxes on candles, and the account value.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    times = [_utc(b.ts) for b in bars]
    close = [float(b.close) for b in bars]

    fig = plt.figure(figsize=(16, 12), dpi=110)
    grid = fig.add_gridspec(3, 1, height_ratios=[3, 2.6, 1.2], hspace=0.32)
    ax = fig.add_subplot(grid[0])
    ax_zoom = fig.add_subplot(grid[1])
    ax_eq = fig.add_subplot(grid[2], sharex=ax)

    # whole run
    ax.plot(times, close, color=PRICE, lw=0.7)
    _levels(ax, result.brackets, times[-1], lw=1.2)
    _fills(ax, result.fills, size=30)
    lo, hi = _zoom_window(result.brackets, times)
    ax.axvspan(times[lo], times[hi], color="#fff8c5", alpha=0.8, lw=0, zorder=0)
    ax.set_title(title, loc="left", fontsize=14, fontweight="bold", pad=22)
    if subtitle:
        ax.text(0, 1.015, subtitle, transform=ax.transAxes, fontsize=10.5, color="#57606a")
    ax.legend(handles=_legend(), loc="upper left", ncol=5, fontsize=9, framealpha=0.92)

    # close-up of the last brackets, on candles
    _candles(ax_zoom, bars[lo:hi + 1], times[lo:hi + 1])
    shown = [b for b in result.brackets if _when(b["ended"], times[-1]) >= times[lo] and _when(b["created"], times[0]) <= times[hi]]
    _levels(ax_zoom, shown, times[hi], lw=2.0, boxes=dict(zip(times, close)))
    _fills(ax_zoom, [f for f in result.fills if times[lo] <= dt.datetime.fromisoformat(f["bar"]) <= times[hi]], size=70)
    half = (times[1] - times[0]) / 2 if len(times) > 1 else dt.timedelta(minutes=1)
    ax_zoom.set_xlim(times[lo] - half, times[hi] + half)
    ax_zoom.set_title(f"close-up: {times[lo]:%Y-%m-%d %H:%M} to {times[hi]:%Y-%m-%d %H:%M} UTC (shaded above)", loc="left", fontsize=10.5, color="#57606a")
    ax_zoom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax_zoom.xaxis.get_major_locator()))

    # account value
    if result.equity:
        eq_t = [dt.datetime.fromisoformat(t) for t, _ in result.equity]
        eq_v = [v for _, v in result.equity]
        ax_eq.plot(eq_t, eq_v, color=EQUITY, lw=1.1)
        ax_eq.fill_between(eq_t, eq_v, min(eq_v), color=EQUITY, alpha=0.12, lw=0)
        ax_eq.axhline(eq_v[0], color="#8c959f", lw=0.7, ls="--")
    quote = (result.meta.get("symbol") or "/").split("/")[-1]
    symbol = result.meta.get("symbol", "")
    ax.set_ylabel(f"price ({symbol})" if symbol else "price")
    ax_zoom.set_ylabel(f"price ({symbol})" if symbol else "price")
    ax_eq.set_ylabel(f"account value ({quote})" if quote else "account value")
    ax.tick_params(labelbottom=False)
    ax_eq.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax_eq.xaxis.get_major_locator()))
    for a in (ax, ax_zoom, ax_eq):
        a.grid(True, color="#eaeef2", lw=0.6)
        a.margins(x=0.005)
        for side in ("top", "right"):
            a.spines[side].set_visible(False)
    fig.savefig(path, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def _zoom_window(brackets, times, pad: int = 10, most: int = 130) -> tuple[int, int]:
    """Bar indexes of a close-up: the span of at most `most` bars holding the most complete brackets
    (the latest such span on ties); the last bars when there are no brackets."""
    n = len(times)
    if not brackets:
        return max(0, n - 120), n - 1
    index = {t: i for i, t in enumerate(times)}
    spans = sorted((index.get(_when(b["created"], times[0]), 0), index.get(_when(b["ended"], times[-1]), n - 1)) for b in brackets)
    best = (0, 0, 0)  # (count, lo, hi)
    for lo, _ in spans:
        inside = [hi for start, hi in spans if lo <= start and hi <= lo + most - 2 * pad]
        if inside and len(inside) >= best[0]:
            best = (len(inside), lo, max(inside))
    if best[0] == 0:  # every bracket is longer than the window: show the last one's start
        lo = spans[-1][0]
        best = (1, lo, min(n - 1, lo + most - 2 * pad))
    _, lo, hi = best
    return max(0, lo - pad), min(n - 1, hi + pad)


def _candles(ax, bars, times) -> None:
    width = (times[1] - times[0]).total_seconds() / 86400 * 0.62 if len(times) > 1 else 0.002
    x = mdates.date2num(times)
    up = [float(b.close) >= float(b.open) for b in bars]
    colours = ["#8c959f" if u else "#424a53" for u in up]
    ax.vlines(x, [float(b.low) for b in bars], [float(b.high) for b in bars], colors=colours, lw=0.8, zorder=2)
    bottoms = [min(float(b.open), float(b.close)) for b in bars]
    heights = [max(abs(float(b.close) - float(b.open)), 1e-9) for b in bars]
    ax.bar(x, heights, width, bottoms, color=["white" if u else "#424a53" for u in up], edgecolor=colours, lw=0.8, zorder=3)
    ax.xaxis_date()


def _levels(ax, brackets, last, lw: float, boxes: dict | None = None) -> None:
    """Each bracket's entry, take-profit and stop levels while it was live.

    With `boxes` ({time: close}) the reward and risk are shaded from the entry level, or for an OCO
    exit (no entry leg) from the close when the exits were placed."""
    for b in brackets:
        start = _when(b["created"], last)
        end = _when(b["ended"], last)
        for level, colour, style in ((b["entry_price"], ENTRY, "--"), (b["take_profit"], TAKE, "-"), (b["stop_loss"], STOP, "-")):
            if level is not None:
                ax.hlines(level, start, end, colors=colour, lw=lw, linestyles=style, zorder=4)
        if boxes and b["take_profit"] is not None and b["stop_loss"] is not None:
            mid = b["entry_price"] if b["entry_price"] is not None else boxes.get(start)
            if mid is not None:
                ax.fill_between([start, end], mid, b["take_profit"], color=TAKE, alpha=0.13, lw=0, zorder=1)
                ax.fill_between([start, end], mid, b["stop_loss"], color=STOP, alpha=0.13, lw=0, zorder=1)


def _fills(ax, fills, size: float) -> None:
    for f in fills:
        when = dt.datetime.fromisoformat(f["bar"])
        if f["role"] == "entry":
            marker, colour = ("^" if f["side"] == "buy" else "v"), ENTRY
        else:
            marker, colour = "o", TAKE if f["role"] == "take_profit" else STOP if f["role"] == "stop_loss" else PRICE
        ax.scatter([when], [f["price"]], marker=marker, s=size, color=colour, edgecolors="white", linewidths=0.8, zorder=6)


def _legend():
    return [
        Line2D([], [], color=PRICE, lw=1, label="close"),
        Line2D([], [], color=ENTRY, lw=1.6, ls="--", label="entry level"),
        Line2D([], [], color=ENTRY, lw=0, marker="^", label="entry fill (▲ buy, ▼ sell)"),
        Line2D([], [], color=TAKE, lw=1.6, marker="o", label="take-profit level / fill"),
        Line2D([], [], color=STOP, lw=1.6, marker="o", label="stop-loss level / fill"),
    ]


def heatmap(df, x: str, y: str, path, value: str = "net_pnl", title: str = "") -> Path:
    """A PNG of `value` over two swept parameters (a sweep's DataFrame), the mean over the other
    parameters and the data files, each cell labelled."""
    table = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index().sort_index(axis=1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(table.columns), 1.0 + 0.6 * len(table.index)), dpi=110)
    mesh = ax.imshow(table.values, cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(len(table.columns)), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.columns])
    ax.set_yticks(range(len(table.index)), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for (i, j), v in np.ndenumerate(table.values):
        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7)
    fig.colorbar(mesh, ax=ax, label=value.replace("_", " "))
    ax.set_title(title or f"{value.replace('_', ' ')} by {x} and {y}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
