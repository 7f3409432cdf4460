"""Market-data helpers shared by the dialects: number text, candle aggregation, time windows."""
from __future__ import annotations

from decimal import Decimal
from typing import overload

from bracket_plugin.bars import Bar


@overload
def num(value: Decimal | int, places: int | None = None) -> str: ...
@overload
def num(value: Decimal | int | None, places: int | None = None) -> str | None: ...

def num(value: Decimal | int | None, places: int | None = None) -> str | None:
    """Plain decimal text (never exponent notation); `places` pads, as KuCoin's v3 answers do."""
    if value is None:
        return None
    d = Decimal(value)
    if places is not None:
        return f"{d:.{places}f}"
    text = format(d.normalize(), "f")
    return text if text != "-0" else "0"


def aggregate(bars: list[Bar], native_ms: int, frame_ms: int) -> list[Bar]:
    """Bars of `frame_ms` built from bars of `native_ms` (frame must be a whole multiple).
    A frame is stamped with its open time aligned to the epoch, like the exchanges do."""
    if frame_ms == native_ms:
        return list(bars)
    if frame_ms % native_ms:
        raise ValueError(f"timeframe of {frame_ms} ms is not a whole multiple of the data's {native_ms} ms bars")
    out: list[Bar] = []
    for b in bars:
        start = b.ts - b.ts % frame_ms
        if out and out[-1].ts == start:
            last = out[-1]
            out[-1] = Bar(start, last.open, max(last.high, b.high), min(last.low, b.low), b.close, last.volume + b.volume)
        else:
            out.append(Bar(start, b.open, b.high, b.low, b.close, b.volume))
    return out


def candles_from(engine, symbol: str, frame_ms: int, start_ms: int | None) -> list[Bar]:
    """The candles of `frame_ms` built from the closed bars, those opening from `start_ms` on.
    Only the bars they need are read (a candle opening at or after `start_ms` is made of bars
    from the first frame boundary >= start_ms on), so a request for the newest candles costs the
    same however many bars were replayed."""
    since = None if start_ms is None else -(-start_ms // frame_ms) * frame_ms
    return aggregate(engine.closed_bars(symbol, since=since), engine.interval_ms(symbol), frame_ms)


def market_window(start_ms: int | None, end_ms: int | None, wall_now_ms: int, market_now_ms: int) -> tuple[int | None, int]:
    """Translate a candle window a client computed from its own clock into market time.

    ccxt fills in `end = now` (and `start = now - limit * frame`) from the wall clock, while the
    simulator's market lives at `market_now_ms`; a window ending after the market's now is read
    as "the most recent candles" and moved back by the difference.
    """
    if end_ms is None:
        return start_ms, market_now_ms
    if end_ms <= market_now_ms:
        return start_ms, end_ms
    shift = end_ms - market_now_ms
    if start_ms is not None and start_ms > market_now_ms:
        start_ms -= shift
    return start_ms, market_now_ms
