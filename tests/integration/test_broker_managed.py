"""The managed path: native list orders switched off by a capabilities override.

A managed stop is watched by the broker, not held by the venue. The simulator's replay pauses
inside each bar where its trades cross a watched stop (`Venue.watch_path`), as a continuous market
passes through the level, and the broker acts there: the resting take-profit is canceled and the
stop goes out as a market order, which trades at the trigger (the first tick past it), or at the
open when the bar opened through it. These tests pin that the managed path then trades as
BackBroker does, and that a watched stop never locks funds the resting leg holds. Without pauses
(a store that only sees closed bars), the stop fills one bar later, at that bar's open.
"""
import datetime as dt

import pytest

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange, run_paper, run_venue_backtest
from bracket_plugin.backtrader.planner import LIMIT, OCO, STOP, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec
from bracket_plugin.bars import bundled_data_path, read_bars
from bracket_plugin.differences import both_levels_touched
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.runs import run_backtest
from bracket_plugin.sim import Venue
from conformance import VENUES

NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}
STRATEGIES = [BreakoutBracket, OcoExit, ShortBracket]


def _iso(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).replace(tzinfo=None).isoformat()


def _bars_by_time(bars) -> dict:
    return {_iso(b.ts): b for b in bars}


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('strategy', STRATEGIES, ids=lambda s: s.__name__)
def test_managed_stop_fills_inside_the_bar_that_touches_it_as_backbroker(strategy, exchange_id, slice_path):
    bars = _bars_by_time(read_bars(slice_path))
    back = run_backtest(strategy, slice_path, cash=1.0)
    paper = run_paper(strategy, exchange_id, slice_path, cash=1.0, capabilities=NO_LISTS)
    assert paper.trades == back.trades and len(back.trades) >= 2
    stops = [t for t in paper.trades if t['exit_reason'] == 'stop_loss']
    # not vacuous: stops that traded inside their bar, away from its open (at the trigger)
    assert any(t['exit_price'] != float(bars[t['exit_time']].open) for t in stops), stops
    # no list order ever reached the exchange; watched stops went out when touched (a stop already
    # crossed when the exits are placed goes out with them, not as a watched one)
    creates = [i for i in paper.store.journal.intents() if i['method'].startswith('create_')]
    assert {i['method'] for i in creates} == {'create_order'}
    assert 1 <= sum(i['step'] == 'watched' for i in creates) <= len(stops)


def test_watched_stop_never_locks_the_resting_legs_funds(slice_path):
    with Venue(data=str(slice_path), symbol='ETH/BTC', exchanges=('kucoin',), start=100) as venue:
        store = BracketStore(paper_exchange(venue, 'kucoin', NO_LISTS), journal=':memory:', retry_delay=0)
        engine = venue.engine_for('kucoin')
        last = float(engine.last_price('ETH/BTC'))
        tp, sl = round(last * 1.05, 6), round(last * 0.995, 6)
        spec = BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tp),
                                            LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=sl)))
        eth_free_before = engine.balances()['ETH'][1]
        group = store.submit(spec)
        open_orders = engine.open_orders('ETH/BTC')
        assert [(o.type, float(o.price)) for o in open_orders] == [('limit', tp)]   # the stop is not on the book
        assert engine.balances()['ETH'][1] == eth_free_before - 1                 # held once, by the limit
        max_open = 1
        for _ in range(300):
            if not venue.step():
                break
            bar = engine.closed_bars('ETH/BTC', limit=1)[0]
            store.poll({'ETH/BTC': (float(bar.high), float(bar.low), float(bar.close))})
            max_open = max(max_open, len(engine.open_orders('ETH/BTC')))
            if group.done:
                break
        assert group.done and group.legs[STOP_LOSS].status == 'filled'
        assert max_open == 1  # never both legs on the book
        orders = engine.orders('ETH/BTC')
        limit, market = orders[-2], orders[-1]
        assert (limit.type, limit.status) == ('limit', 'canceled')
        assert (market.type, market.status) == ('market', 'filled')
        assert market.created_ms >= limit.updated_ms   # canceled first, then sent


@pytest.mark.parametrize('exchange_id', VENUES)
def test_managed_path_on_all_bundled_bars_equals_backbroker(exchange_id):
    """All 5,760 bars, every example strategy: trade for trade as BackBroker, the bars that touch
    both levels of a bracket included (the watched stop acts before the resting take-profit is
    tried, as BackBroker tries the stop it created first). bench/managed_parity.py tabulates it."""
    data = bundled_data_path()
    bars = _bars_by_time(read_bars(data))
    both = 0
    for strategy in STRATEGIES:
        back = run_backtest(strategy, data, cash=1.0)
        venue = run_venue_backtest(strategy, exchange_id, data, cash=1.0, capabilities=NO_LISTS)
        assert venue.trades == back.trades and len(back.trades) >= 30
        both += sum(both_levels_touched(b, bars[b['ended']]) for b in back.brackets if b['ended'])
    assert both >= 1    # the bars where the order of the two levels decides are there, and agree


@pytest.mark.slow
def test_managed_path_paper_run_on_all_bundled_bars_equals_backbroker():
    data = bundled_data_path()
    for strategy in STRATEGIES:
        back = run_backtest(strategy, data, cash=1.0)
        paper = run_paper(strategy, 'kucoin', data, cash=1.0, capabilities=NO_LISTS)
        assert paper.trades == back.trades


def test_without_pauses_a_managed_stop_fills_one_bar_later_at_the_open(slice_path):
    """A store that sees only closed bars (a venue with no stream, nothing pausing inside the bar)
    fires the stop on the bar's close: it fills one bar later, at that bar's open."""
    bars = read_bars(slice_path)
    with Venue(data=str(slice_path), symbol='ETH/BTC', exchanges=('kucoin',), start=100) as venue:
        store = BracketStore(paper_exchange(venue, 'kucoin', NO_LISTS), journal=':memory:', retry_delay=0)
        engine = venue.engine_for('kucoin')
        last = float(engine.last_price('ETH/BTC'))
        tp, sl = round(last * 1.05, 6), round(last * 0.995, 6)
        group = store.submit(BracketSpec(OCO, 'ETH/BTC', (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tp),
                                                          LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=sl))))
        touched = None
        for _ in range(300):
            if group.done or not venue.step():
                break
            bar = engine.closed_bars('ETH/BTC', limit=1)[0]
            if touched is None and float(bar.low) <= sl:
                touched = bar
            store.poll({'ETH/BTC': (float(bar.high), float(bar.low), float(bar.close))})
        fill = engine.fills('ETH/BTC')[-1]
        assert touched is not None and group.legs[STOP_LOSS].status == 'filled'
        after = next(b for b in bars if b.ts > touched.ts)
        assert (fill.ts, fill.price) == (after.ts, after.open)
