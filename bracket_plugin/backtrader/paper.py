"""Paper runs: a strategy on BracketBroker against an in-process simulator in step mode.

run_paper() replays a bar file through the venue (one `venue.step()` per bar, driven by the feed),
so the strategy trades through ccxt and real HTTP exactly as it would live, and returns the same
RunResult that runs.run_backtest returns (same TradeRecorder): the two compare with `==`.
"""
from __future__ import annotations

import backtrader as bt

import bracket_plugin
from bracket_plugin.bars import interval_ms, read_bars
from bracket_plugin.runs import RECORDER, BarProgress, TradeRecorder, result_from

from .store import BracketStore


def paper_exchange(venue, exchange_id: str, capabilities: dict | None = None):
    """A bracket_plugin exchange pointed at the venue (rate limiter off: loopback)."""
    config = dict(venue.ccxt_config(exchange_id), enableRateLimit=False, timeout=10_000)
    if capabilities:
        config.update(capabilities)   # e.g. {'has': {'createOcoOrder': False}}: ccxt deep-extends it
    return bracket_plugin.exchange(exchange_id, config)


def run_paper(strategy_cls, exchange_id: str, data_path, symbol: str = 'ETH/BTC', cash: float | None = 1.0,
              params: dict | None = None, journal=None, capabilities: dict | None = None, analyzers=(),
              stop_slippage: float = 0.01, progress=None, venue=None, store_kwargs: dict | None = None):
    """Run `strategy_cls` live against an in-process simulator replaying `data_path`.

    cash: the broker's starting cash in the quote currency (as run_backtest's), the venue account
    itself holds the simulator's default balances. journal: path of the SQLite journal (default: in memory). capabilities: ccxt config merged into the exchange's (e.g.
    `{'has': {'createOcoOrder': False}}` to force managed legs). venue: an already started Venue
    (tests use it for fault injection); otherwise one is started and closed here.
    """
    from bracket_plugin.sim import Venue

    bars = read_bars(data_path)
    own = venue is None
    if own:
        venue = Venue(data=str(data_path), symbol=symbol, mode='step', exchanges=(exchange_id,)).start_server()
    if journal is None:
        journal = ':memory:'   # a paper run that needs no restart keeps its journal in memory
    try:
        exchange = paper_exchange(venue, exchange_id, capabilities)
        store = BracketStore(exchange, journal=journal, stop_slippage=stop_slippage, poll_interval=0,
                             **(store_kwargs or {}))
        cerebro = bt.Cerebro(stdstats=False)
        minutes = max(1, interval_ms(bars) // 60_000)
        data = store.getdata(symbol, timeframe=bt.TimeFrame.Minutes, compression=minutes, advance=venue.step, since=bars[0].ts,
                             name=symbol)
        cerebro.adddata(data)
        cerebro.addstore(store)   # store messages (e.g. an unprotected position) reach notify_store
        broker = store.getbroker(cash=cash)
        cerebro.setbroker(broker)
        cerebro.addstrategy(strategy_cls, **(params or {}))
        cerebro.addanalyzer(TradeRecorder, _name=RECORDER)
        for a in analyzers:
            cerebro.addanalyzer(a)
        if progress is not None:
            cerebro.addanalyzer(BarProgress, callback=progress, total=len(bars))
        strat = cerebro.run()[0]
        result = result_from(strat, {'mode': 'paper', 'exchange': exchange_id, 'symbol': symbol,
                                     'data': str(data_path), 'cash_start': cash, 'strategy': strategy_cls.__name__,
                                     'bars': len(bars), 'requests': store.requests,
                                     'journal': journal})
        result.store = store  # for tests and the CLI: journal, groups, request counts
        return result
    finally:
        if own:
            venue.close()
