"""Paper runs: a strategy on BracketBroker against an in-process simulator in step mode.

run_paper() replays a bar file through the venue (one `venue.step()` per bar, driven by the feed),
so the strategy trades through ccxt and real HTTP exactly as it would live, and returns the same
RunResult that runs.run_backtest returns (same TradeRecorder): the two compare with `==`.
run_venue_backtest() runs the same broker against the venue's engine in process (no HTTP), with
the same result.
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
              stop_slippage: float = 0.01, progress=None, venue=None, store_kwargs: dict | None = None,
              balances: dict | None = None, marks=None):
    """Run `strategy_cls` live against an in-process simulator replaying `data_path`.

    cash: the broker's starting cash in the quote currency (as run_backtest's). balances: the venue
    account's starting totals per currency (default: the simulator's default balances). journal:
    path of the SQLite journal (default: in memory). capabilities: ccxt config merged into the
    exchange's (e.g. `{'has': {'createOcoOrder': False}}` to force managed legs). venue: an already
    started Venue (tests use it for fault injection); otherwise one is started and closed here.
    marks: a CSV of mark price bars, for venues whose triggers watch the mark (default: the last price).
    """
    from bracket_plugin.sim import Venue

    own = venue is None
    if own:
        venue = Venue(data=str(data_path), symbol=symbol, mode='step', exchanges=(exchange_id,),
                      balances=balances, mark_data=marks).start_server()
    try:
        exchange = paper_exchange(venue, exchange_id, capabilities)
        return run_on_venue(strategy_cls, exchange, venue.step, data_path, symbol, cash, params, journal, analyzers,
                            stop_slippage, progress, store_kwargs, mode='paper',
                            watch=lambda store: venue.watch_path(exchange_id, store))
    finally:
        if own:
            venue.close()


def run_venue_backtest(strategy_cls, exchange_id: str, data_path, symbol: str = 'ETH/BTC', cash: float | None = 1.0,
                       params: dict | None = None, journal=None, capabilities: dict | None = None, analyzers=(),
                       stop_slippage: float = 0.01, progress=None, store_kwargs: dict | None = None,
                       balances: dict | None = None, marks=None):
    """Run `strategy_cls` on BracketBroker against the simulator's engine in process (no HTTP, no
    sockets, no ccxt round trips), under the venue's rules: its ticks, lots, minimums, fees, leg
    types and refusals. Same arguments and RunResult as run_paper, whose trades it equals.

    It runs as a backtest does: the bars are preloaded (indicators computed at once), and the
    broker moves the venue one bar before each cycle, so the orders meet the bars in the same
    order as in a paper run, where the feed steps the venue."""
    from bracket_plugin import venues
    from bracket_plugin.markets import MarketInfo
    from bracket_plugin.runs import data_feed
    from bracket_plugin.sim import Venue
    from bracket_plugin.sim.inprocess import EngineExchange

    venue = Venue(data=str(data_path), symbol=symbol, mode='step', exchanges=(exchange_id,), balances=balances,
                  mark_data=marks)
    bars = venue.bars[symbol]
    exchange = EngineExchange(venue.engine_for(exchange_id), venues.profile(exchange_id),
                              has=(capabilities or {}).get('has'))
    store = BracketStore(exchange, journal=journal or ':memory:', stop_slippage=stop_slippage, poll_interval=0,
                         **(store_kwargs or {}))
    data = data_feed(bars, symbol, MarketInfo.from_ccxt(exchange.market(symbol)))
    data.p.symbol = symbol          # what the broker and the store know a feed by
    store._datas.append(data)
    venue.watch_path(exchange_id, store)   # managed stops act inside the bar, as in a paper run
    return _run(strategy_cls, store, data, bars, store.getbroker(cash=cash, advance=venue.step), params, analyzers,
                progress, {'mode': 'venue_backtest', 'exchange': exchange.id, 'symbol': symbol, 'data': str(data_path),
                           'cash_start': cash, 'journal': journal or ':memory:'})


def run_on_venue(strategy_cls, exchange, advance, data_path, symbol, cash, params, journal, analyzers,
                 stop_slippage, progress, store_kwargs, mode: str, watch=None):
    """A strategy on BracketBroker over `exchange`, the venue moved one bar at a time by `advance`
    (the feed steps it when it has no new bar: a live-style run, as against a real venue).
    watch(store): lets the store's managed stops act inside the venue's bars; returns the call
    that stops that."""
    bars = read_bars(data_path)
    if journal is None:
        journal = ':memory:'   # a run that needs no restart keeps its journal in memory
    store = BracketStore(exchange, journal=journal, stop_slippage=stop_slippage, poll_interval=0,
                         **(store_kwargs or {}))
    minutes = max(1, interval_ms(bars) // 60_000)
    data = store.getdata(symbol, timeframe=bt.TimeFrame.Minutes, compression=minutes, advance=advance, since=bars[0].ts,
                         name=symbol)
    unwatch = watch(store) if watch is not None else None
    try:
        return _run(strategy_cls, store, data, bars, store.getbroker(cash=cash), params, analyzers, progress,
                    {'mode': mode, 'exchange': exchange.id, 'symbol': symbol, 'data': str(data_path), 'cash_start': cash,
                     'journal': journal})
    finally:
        if unwatch is not None:
            unwatch()


def _run(strategy_cls, store, data, bars, broker, params, analyzers, progress, meta: dict):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    cerebro.addstore(store)   # store messages (e.g. an unprotected position) reach notify_store
    cerebro.setbroker(broker)
    cerebro.addstrategy(strategy_cls, **(params or {}))
    cerebro.addanalyzer(TradeRecorder, _name=RECORDER)
    for a in analyzers:
        cerebro.addanalyzer(a)
    if progress is not None:
        cerebro.addanalyzer(BarProgress, callback=progress, total=len(bars))
    strat = cerebro.run()[0]
    result = result_from(strat, dict(meta, strategy=strategy_cls.__name__, bars=len(bars), requests=store.requests))
    result.store = store
    return result
