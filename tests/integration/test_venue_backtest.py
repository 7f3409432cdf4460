"""Venue backtest (BracketBroker -> the simulator's engine in process) against the paper run
(BracketBroker -> ccxt -> HTTP -> the simulator): the same trades, for every example strategy,
venue and market; and every BackBroker difference carries the venue rule behind it."""
import pytest

from bracket_plugin import differences, venues
from bracket_plugin.backtrader.paper import run_paper, run_venue_backtest
from bracket_plugin.bars import read_bars
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.markets import MarketInfo
from bracket_plugin.runs import run_backtest
from bracket_plugin.sim.venue import EXCHANGE_RULES, default_balances
from markets import MARKETS, calmer_marks, market_file

STRATEGIES = [BreakoutBracket, OcoExit, ShortBracket]
BARS = 700


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('markets')
    return {name: market_file(d, name, BARS) for name in MARKETS}


@pytest.mark.parametrize('market', list(MARKETS))
@pytest.mark.parametrize('exchange_id', venues.ids())
@pytest.mark.parametrize('strategy', STRATEGIES, ids=lambda s: s.__name__)
def test_venue_backtest_equals_paper_and_backbroker_differences_carry_a_rule(strategy, exchange_id, market, files):
    path, symbol, size = files[market]
    params = {'size': size}
    venue = run_venue_backtest(strategy, exchange_id, path, symbol, params=params)
    paper = run_paper(strategy, exchange_id, path, symbol, params=params)
    assert len(venue.trades) >= 2          # the market exercises the strategy
    assert venue.trades == paper.trades
    assert venue.fills == paper.fills
    assert [b['outcome'] for b in venue.brackets] == [b['outcome'] for b in paper.brackets]
    assert venue.value == pytest.approx(paper.value, rel=1e-9, abs=1e-12)
    cash = float(default_balances({symbol: read_bars(path)})[symbol.split('/')[1]])   # the venue account's quote
    back = run_backtest(strategy, path, symbol, cash=cash, params=params,
                        commission=float(EXCHANGE_RULES[exchange_id]['taker_fee']))
    info = MarketInfo.from_ccxt(venue.store.exchange.market(symbol))
    labelled = differences.label(back.trades, venue.trades, info, venues.profile(exchange_id))
    assert [d for d in labelled if d['rule'] == differences.UNEXPLAINED] == []


def test_a_strategy_rounding_to_another_tick_differs_from_backbroker_by_tick_rounding(files):
    path, symbol, size = files['usdt_near_1']
    params = {'size': size, 'tick': 0.000001}     # the ETH/BTC tick, hard-coded as the examples once were
    venue = run_venue_backtest(OcoExit, 'kucoin', path, symbol, params=params)
    back = run_backtest(OcoExit, path, symbol, cash=1e9, params=params, commission=0.001)
    info = MarketInfo.from_ccxt(venue.store.exchange.market(symbol))
    assert info.tick_size == 0.0001
    labelled = differences.label(back.trades, venue.trades, info, venues.profile('kucoin'))
    assert labelled and {d['rule'] for d in labelled} == {differences.TICK}
    for d in labelled:
        assert d['venue']['exit_price'] == info.round_price(d['venue']['exit_price'])


def test_strategies_read_the_market_rules_in_every_kind_of_run(files):
    path, symbol, size = files['btc_near_30k']
    seen = []

    class Reads(OcoExit):
        def start(self):
            from bracket_plugin import market_info
            seen.append(market_info(self.data))

    run_backtest(Reads, path, symbol, cash=1e9, params={'size': size})
    run_venue_backtest(Reads, 'cryptocom', path, symbol, params={'size': size})
    run_paper(Reads, 'kucoin', path, symbol, params={'size': size})
    assert [(i.tick_size, i.lot_size, i.min_size, i.min_notional) for i in seen] == [(0.1, 0.00001, 0.00001, 5.0)] * 3


@pytest.mark.parametrize('run', [run_venue_backtest, run_paper], ids=['venue_backtest', 'paper'])
def test_fees_charged_in_the_base_on_cryptocom_leave_less_than_a_lot(run, files):
    path, symbol, size = files['eth_btc']
    result = run(BreakoutBracket, 'cryptocom', path, symbol, params={'size': size})
    back = run_backtest(BreakoutBracket, path, symbol, cash=10.0, params={'size': size}, commission=0.00075)
    lot = 0.0001
    assert result.trades == back.trades and len(back.trades) >= 2       # same round trips ...
    entries = [f for f in result.fills if f['role'] == 'entry']
    exits = [f for f in result.fills if f['role'] != 'entry']
    assert all(f['size'] == 1.0 for f in entries)
    # ... but each exit sells what the account held after the entry's fee (1 * (1 - 0.075%)),
    # rounded down to the lot, with the dust earlier exits left: it never reaches a lot
    held, dust = 0.0, 0.0
    for f in exits:
        expected = int((0.99925 + dust) / lot + 1e-9) * lot
        assert f['size'] == pytest.approx(expected, abs=1e-12)
        dust = 0.99925 + dust - f['size']
        assert 0 <= dust < lot
        held = dust
    position = result.store._broker.positions
    assert [round(p.size, 10) for p in position.values()] == [round(held, 10)]
    # the venue charged the buys' fees in ETH, the sells' in BTC
    if run is run_venue_backtest:
        trades = result.store.exchange.fetch_my_trades(symbol)
        assert {(t['side'], t['fee']['currency']) for t in trades} == {('buy', 'ETH'), ('sell', 'BTC')}


@pytest.mark.parametrize('strategy', STRATEGIES, ids=lambda s: s.__name__)
def test_cryptocom_triggers_on_a_mark_series_the_same_in_the_venue_backtest_and_paper(strategy, files, tmp_path):
    path, symbol, size = files['eth_btc']
    marks = calmer_marks(path, tmp_path / 'marks.csv')
    params = {'size': size}
    venue = run_venue_backtest(strategy, 'cryptocom', path, symbol, params=params, marks=marks)
    paper = run_paper(strategy, 'cryptocom', path, symbol, params=params, marks=marks)
    assert venue.trades == paper.trades and venue.fills == paper.fills
    # KuCoin's triggers watch the last price: the same series changes nothing there
    assert run_venue_backtest(strategy, 'kucoin', path, symbol, params=params, marks=marks).trades == \
        run_venue_backtest(strategy, 'kucoin', path, symbol, params=params).trades
    cash = float(default_balances({symbol: read_bars(path)})[symbol.split('/')[1]])
    back = run_backtest(strategy, path, symbol, cash=cash, params=params, commission=0.00075)
    info = MarketInfo.from_ccxt(venue.store.exchange.market(symbol))
    labelled = differences.label(back.trades, venue.trades, info, venues.profile('cryptocom'), marks=True)
    assert [d for d in labelled if d['rule'] == differences.UNEXPLAINED] == []


def test_a_calmer_mark_changes_the_exits_of_cryptocom_stops(files, tmp_path):
    path, symbol, size = files['eth_btc']
    marks = calmer_marks(path, tmp_path / 'marks.csv')
    with_marks = run_venue_backtest(BreakoutBracket, 'cryptocom', path, symbol, params={'size': size}, marks=marks)
    plain = run_venue_backtest(BreakoutBracket, 'cryptocom', path, symbol, params={'size': size})
    changed = [(a, b) for a, b in zip(plain.trades, with_marks.trades) if a != b]
    assert changed
    # the first trade that differs: its stop fired later (or not at all) on the calmer mark
    a, b = changed[0]
    assert a['exit_reason'] == 'stop_loss' and (b['exit_reason'] != 'stop_loss' or b['exit_time'] > a['exit_time'])
