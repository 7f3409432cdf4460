"""OHLCV bar files: the one reader for the package (simulator, backtests, CLI).

Format: CSV with a header row `timestamp,open,high,low,close,volume`; timestamp is the bar's
open time in milliseconds since the epoch (UTC). Prices are kept as Decimal, exactly as written,
so the simulator fills at the file's own prices.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


class BarsFileError(ValueError):
    """A bar file is missing or malformed; the message says where and how to fix it."""


@dataclass(frozen=True, slots=True)
class Bar:
    ts: int  # open time, ms
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def bundled_data_path() -> Path:
    """Real ETH/BTC 5-minute bars (2018-01-10 to 2018-01-30) shipped with the package."""
    return Path(str(resources.files("bracket_plugin") / "data" / "ETH_BTC-5m.csv"))


def read_bars(path: str | Path) -> list[Bar]:
    path = Path(path)
    if not path.is_file():
        raise BarsFileError(f"data file {path} does not exist: pass --data with a CSV of columns {','.join(COLUMNS)}")
    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        header = [h.strip().lower() for h in next(rows, [])]
        if tuple(header[:6]) != COLUMNS:
            raise BarsFileError(
                f"data file {path}: header must start with {','.join(COLUMNS)} (timestamp in ms), got {','.join(header) or 'an empty file'}"
            )
        bars = [_parse_row(path, n, row) for n, row in enumerate(rows, start=2) if row]
    if not bars:
        raise BarsFileError(f"data file {path} has a header but no bars")
    _check_order(path, bars)
    return bars


def _parse_row(path: Path, line: int, row: list[str]) -> Bar:
    if len(row) < 6:
        raise BarsFileError(f"data file {path}, line {line}: expected 6 columns ({','.join(COLUMNS)}), got {len(row)}")
    try:
        ts = int(row[0])
        o, h, lo, c, v = (Decimal(x.strip()) for x in row[1:6])
    except (ValueError, InvalidOperation):
        raise BarsFileError(f"data file {path}, line {line}: timestamp must be an integer (ms) and prices numbers, got {row[:6]}") from None
    if not (lo <= min(o, c) and h >= max(o, c) and lo > 0):
        raise BarsFileError(f"data file {path}, line {line}: needs 0 < low <= open,close <= high, got {row[:6]}")
    return Bar(ts, o, h, lo, c, v)


def _check_order(path: Path, bars: list[Bar]) -> None:
    for prev, cur in zip(bars, bars[1:]):
        if cur.ts <= prev.ts:
            raise BarsFileError(f"data file {path}: timestamps must increase, {cur.ts} follows {prev.ts}")


def bars_frame(bars: list[Bar]):
    """The bars as a pandas DataFrame (float columns, UTC-naive datetime index) for backtrader's PandasData."""
    import pandas as pd

    frame = pd.DataFrame(
        [(b.open, b.high, b.low, b.close, b.volume) for b in bars],
        columns=["open", "high", "low", "close", "volume"],
        dtype=float,
    )
    frame.index = pd.to_datetime([b.ts for b in bars], unit="ms")
    return frame


def interval_ms(bars: list[Bar]) -> int:
    """The bar interval, taken as the smallest step between consecutive bars."""
    if len(bars) < 2:
        return 60_000
    return min(b.ts - a.ts for a, b in zip(bars, bars[1:]))


def rescaled(bars: list[Bar], level: Decimal | str, decimals: int) -> list[Bar]:
    """The same market moves at another price level: every price times level / first open, written
    with `decimals` digits (volume in base scaled the other way, so the quote volume stays)."""
    factor = Decimal(str(level)) / bars[0].open
    q = Decimal(1).scaleb(-decimals)

    def px(p: Decimal) -> Decimal:
        return max((p * factor).quantize(q), q)

    out = []
    for b in bars:
        o, h, lo, c = px(b.open), px(b.high), px(b.low), px(b.close)
        out.append(Bar(b.ts, o, max(h, o, c), min(lo, o, c), c, (b.volume / factor).quantize(Decimal("0.0001"))))
    return out


def write_bars(path: str | Path, bars: list[Bar]) -> Path:
    """Write bars in the format read_bars reads."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for b in bars:
            w.writerow([b.ts, b.open, b.high, b.low, b.close, b.volume])
    return path
