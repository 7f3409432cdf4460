"""Backtest (BackBroker) vs paper (BracketBroker -> ccxt -> HTTP -> simulator): same trades.

Quick suite: the first 800 bundled bars, every example strategy, both dialects, exact equality.
Slow suite: all 5,760 bars. On KuCoin one ShortBracket trade differs, for a reason pinned here:
the managed OTOCO places its exits as a native OCO after the entry fills, but when the entry's bar
closed already beyond the take-profit KuCoin refuses the OCO ("price not in the given range"),
so the take-profit goes out as a plain limit and the stop is watched locally; on the next bar both
levels are touched and BackBroker's stop wins, while on the exchange the resting limit fills.
"""
import pytest

from bracket_plugin import venues
from bracket_plugin.backtrader.paper import run_paper, run_venue_backtest
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.runs import run_backtest
from bracket_plugin.sim.venue import EXCHANGE_RULES
from conformance import VENUES, facts

STRATEGIES = [BreakoutBracket, OcoExit, ShortBracket]
FEES = {ex: float(rules['taker_fee']) for ex, rules in EXCHANGE_RULES.items()}




@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('strategy', STRATEGIES, ids=lambda s: s.__name__)
def test_paper_trades_equal_backtest_on_a_slice(strategy, exchange_id, slice_path):
    back = run_backtest(strategy, slice_path, cash=1.0, commission=FEES[exchange_id])
    paper = run_paper(strategy, exchange_id, slice_path, cash=1.0)
    assert len(back.trades) >= 2          # the slice exercises the strategy
    assert paper.trades == back.trades
    assert [b['outcome'] for b in paper.brackets] == [b['outcome'] for b in back.brackets]
    if venues.profile(exchange_id).fee_currency == venues.QUOTE:
        assert paper.fills == back.fills
        # same fee rate: cash and value agree to float noise
        assert paper.value == pytest.approx(back.value, rel=1e-9, abs=1e-9)
        return
    # a buy's fee is charged in the base (docs/broker.md, difference 14): the same fills, but each exit of a
    # long sells (and each buy-back of a short buys) the entry net of that fee, to within a lot
    assert [{**f, 'size': 0} for f in paper.fills] == [{**f, 'size': 0} for f in back.fills]
    rate = float(venues.profile(exchange_id).taker_fee)
    for p, b in zip(paper.fills, back.fills):
        if p['role'] == 'entry':
            assert p['size'] == b['size']
        elif p['side'] == 'sell':
            assert b['size'] * (1 - rate) - 0.0001 < p['size'] <= b['size'] * (1 - rate) + 0.0001
        else:
            assert b['size'] / (1 - rate) - 0.0001 < p['size'] < b['size'] / (1 - rate) + 0.0001


@pytest.mark.slow
@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('strategy', STRATEGIES, ids=lambda s: s.__name__)
def test_paper_trades_equal_backtest_on_all_bundled_bars(strategy, exchange_id):
    data = bundled_data_path()
    back = run_backtest(strategy, data, cash=1.0, commission=FEES[exchange_id])
    paper = run_paper(strategy, exchange_id, data, cash=1.0)
    venue = run_venue_backtest(strategy, exchange_id, data, cash=1.0)
    assert venue.trades == paper.trades and venue.fills == paper.fills   # the venue backtest, on every bar
    assert len(back.trades) >= 30
    assert len(paper.trades) == len(back.trades)
    known = facts(exchange_id).KNOWN_PARITY_DIFFERENCES
    differing = {(strategy.__name__, b['entry_time']) for b, p in zip(back.trades, paper.trades) if b != p}
    assert differing == {k for k in known if k[0] == strategy.__name__}
    for b, p in zip(back.trades, paper.trades):
        if (strategy.__name__, b['entry_time']) in known:
            assert (b['exit_reason'], p['exit_reason']) == ('stop_loss', 'take_profit')
            assert b['exit_time'] == p['exit_time']


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('strategy', [BreakoutBracket, OcoExit], ids=lambda s: s.__name__)
def test_parity_holds_under_injected_faults(strategy, exchange_id, slice_path):
    from bracket_plugin.sim import Venue
    back = run_backtest(strategy, slice_path, cash=1.0, commission=FEES[exchange_id])
    with Venue(data=str(slice_path), symbol='ETH/BTC', exchanges=(exchange_id,)) as venue:
        rules = [venue.faults.add(pattern=p, kind=k, count=n) for p, k, n in facts(exchange_id).RUN_FAULTS]
        paper = run_paper(strategy, exchange_id, slice_path, cash=1.0, venue=venue,
                          store_kwargs={'retry_delay': 0.01})
        fired = sum(r.fired for r in rules)
        lists = venue.engine_for(exchange_id).lists('ETH/BTC')
        intents = paper.store.journal.intents()
    assert fired >= 4                                   # the faults did hit the run
    assert paper.trades == back.trades
    # nothing placed twice: one exchange object per journaled intent
    assert len(lists) == sum(1 for i in intents if i['method'].startswith('create_') and i['method'] != 'create_order')
    assert all(i['state'] in ('done', 'failed') for i in intents)
