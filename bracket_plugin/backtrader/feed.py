"""BracketFeed: live OHLCV bars from the store's exchange, closed bars only.

It first delivers up to `backfill` closed bars of history, then each bar as it closes. Before it
asks for a new bar it lets the broker send what the strategy placed during the last `next()`
(`broker.flush()`), so a group reaches the exchange before the bar it may fill in.

`advance`: for deterministic paper runs against a simulator in step mode, a callable (e.g.
`venue.step`) called when no new closed bar is there; it returning False ends the feed. Without
it, the feed checks for the next closed bar every `poll` seconds (default: the store's
poll_interval) and, between checks, lets cerebro run a cycle without a bar, so the broker reads
fills and the strategy gets its notifications without waiting for the bar to close.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import deque

import backtrader as bt
from backtrader.feed import DataBase

from ..markets import MarketInfo

CLOSE_GRACE_MS = 1_000   # the last bar of an answer counts as closed this long after its end (closed_bars)

_UNITS = {bt.TimeFrame.Minutes: ('m', 60_000), bt.TimeFrame.Days: ('d', 86_400_000),
          bt.TimeFrame.Weeks: ('w', 604_800_000)}


def timeframe_string(timeframe: int, compression: int) -> tuple[str, int]:
    """backtrader (timeframe, compression) -> ccxt timeframe ('5m', '1h', '1d') and its length in ms."""
    if timeframe == bt.TimeFrame.Minutes and compression % 60 == 0:
        return f'{compression // 60}h', compression * 60_000
    if timeframe not in _UNITS:
        raise ValueError(f'timeframe: only Minutes, Days and Weeks are supported, got {bt.TimeFrame.getname(timeframe)}')
    unit, ms = _UNITS[timeframe]
    return f'{compression}{unit}', compression * ms


def closed_bars(bars: list, tf_ms: int, venue_now_ms: int) -> list:
    """The closed bars of a candle answer: every bar before the last (a later one has begun on the
    venue), and the last once the venue's clock is CLOSE_GRACE_MS past its end. The grace covers a
    local clock a little ahead of the venue's and the moment a venue takes to add a bar's last
    trades: a bar read too early would be delivered without them, and never again."""
    if bars and bars[-1][0] + tf_ms + CLOSE_GRACE_MS > venue_now_ms:
        return bars[:-1]
    return bars


class BracketFeed(DataBase):
    _name: str        # backtrader's data name (cerebro.adddata(data, name=...)); the symbol if not given
    params = (
        ('store', None),
        ('symbol', None),
        ('backfill', 0),        # closed bars of history delivered first (0: none)
        ('advance', None),      # step-mode simulator: called when no new bar is there
        ('poll', None),         # seconds between checks for a new bar (None: the store's poll_interval)
        ('limit', 500),         # bars per fetch_ohlcv request
        ('since', None),        # ms: first bar wanted (simulators replaying old data); None: the latest
    )

    def __init__(self):
        if self.p.symbol is None:
            raise ValueError('symbol: a BracketFeed needs the market symbol, e.g. ETH/BTC')
        self._name = self._name or self.p.symbol
        self.tf, self.tf_ms = timeframe_string(self.p.timeframe, self.p.compression)
        self._bars: deque[list] = deque()
        self._last_ts = None
        self._fetched_once = False
        self._unread = False      # the last fetch failed: fetch again before stepping the venue
        self._next_fetch = 0.0    # live: monotonic time of the next candle request

    def islive(self):
        return True

    def haslivedata(self):
        return bool(self._bars)

    def start(self):
        super().start()
        self.market_info = self._market_info()
        self._history = 0
        if self.p.backfill:
            for bar in self._fetch(self.p.since, self.p.backfill) or ():
                self._bars.append(bar)
                self._last_ts = bar[0]
            self._history = len(self._bars)
        elif self.p.since is None:
            # no history wanted: the bars closed before the start are not delivered as new ones
            recent = self._fetch(None, 2)
            if recent:
                self._last_ts = recent[-1][0]
        # as backtrader's live feeds: DELAYED while history is delivered, LIVE from the first new bar
        self.put_notification(self.DELAYED if self._history else self.LIVE)

    def _market_info(self) -> MarketInfo | None:
        """The venue's rules for this market (markets.market_info), None if they cannot be read now."""
        market = self.p.store.market(self.p.symbol)
        return None if market is None else MarketInfo.from_ccxt(market)

    def _closed(self, bars):
        """Drop the bar still forming, on the venue's clock (the store's, measured once)."""
        return closed_bars(bars, self.tf_ms, self.p.store.venue_ms())

    def _poll_seconds(self) -> float:
        return self.p.poll if self.p.poll is not None else self.p.store.poll_interval

    def _fetch(self, since, limit):
        """Closed bars after the last one delivered, or None if the venue could not be read now
        (the store's request policy already retried; the feed tries again on its next turn)."""
        out = self.p.store.policy.read('fetch_ohlcv', self.p.symbol, self.tf, since, limit)
        if not out.done:
            return None
        bars = out.result
        if self.p.advance is None:
            bars = self._closed(bars)
        return [b for b in bars if self._last_ts is None or b[0] > self._last_ts]

    def _load(self):
        broker = self.p.store._broker
        if broker is not None:
            broker.flush()
        # step mode: once caught up, the next bar only exists after a step
        # (with several feeds on one simulator a step serves them all: look before stepping)
        alone = len(self.p.store._datas) == 1
        step_first = self.p.advance is not None and self._fetched_once and alone and not self._unread
        while not self._bars:
            if self.p.advance is None and time.monotonic() < self._next_fetch:
                if self.p.store.wait(self._next_fetch - time.monotonic()):
                    return None   # woken early by a streamed event: a cycle without a bar, no candle request
            if step_first:
                if not self.p.advance():
                    return False
            step_first = self.p.advance is not None
            since = self._last_ts + 1 if self._last_ts is not None else self.p.since
            self._fetched_once = True
            bars = self._fetch(since, self.p.limit)
            self._unread = bars is None
            if bars is None:
                # the venue did not answer: a cycle without a bar (fills and notifications go on),
                # then the same bars are asked for again, without stepping past them
                return None
            for bar in bars:
                self._bars.append(bar)
                self._last_ts = bar[0]
            if self._bars or self.p.advance is not None:
                continue
            # live: no closed bar yet. Let cerebro run a cycle without a bar (the broker polls
            # fills and delivers notifications), then come back: after the poll interval, or at
            # once when a streamed event comes (the next bar is asked for on the poll's cadence)
            self._next_fetch = time.monotonic() + self._poll_seconds()
            self.p.store.wait(self._poll_seconds())
            return None
        if self._history:
            self._history -= 1
        elif self._laststatus != self.LIVE:
            self.put_notification(self.LIVE)
        ts, o, h, lo, c, v = self._bars.popleft()[:6]
        self.lines.datetime[0] = bt.date2num(dt.datetime.fromtimestamp(ts / 1000, dt.UTC).replace(tzinfo=None))
        self.lines.open[0], self.lines.high[0], self.lines.low[0], self.lines.close[0] = o, h, lo, c
        self.lines.volume[0] = v
        self.lines.openinterest[0] = 0.0
        return True
