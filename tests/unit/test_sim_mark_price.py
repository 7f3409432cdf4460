"""Triggers on the mark price: a market whose rules watch the mark fires its triggers on the mark
series, and trades on the trades' bars; with no mark series (or no mark bar) the mark is the last
price, and a market that watches the last price ignores the series."""
import dataclasses
from decimal import Decimal as D

import pytest

import bracket_plugin.sim.engine as E
from bracket_plugin.bars import Bar
from bracket_plugin.sim.engine import Engine, OrderRequest, Reject
from bracket_plugin.sim.rules import MarketRules

SYM = "ETH/BTC"
DAY = 86_400_000
LAST_RULES = MarketRules(SYM, "ETH", "BTC", tick_size=D("0.01"), lot_size=D("0.01"), min_size=D("0.1"),
                         min_notional=D("1"))
MARK_RULES = dataclasses.replace(LAST_RULES, trigger_price="mark")


def bars(*rows):
    return [Bar(i * DAY, *(D(str(x)) for x in row), D(1000)) for i, row in enumerate(rows)]


def engine(trades, marks=None, rules=MARK_RULES):
    return Engine({SYM: rules}, {SYM: bars(*trades)}, {"ETH": D(100), "BTC": D(100_000)}, start=1,
                  marks=None if marks is None else {SYM: bars(*marks)})


def run(eng):
    while eng.step():
        pass
    return [(f.ts // DAY, f.price) for f in eng.fills()]


def stop(side="sell", trigger=95, **kw):
    return OrderRequest(SYM, side, "stop_market", amount=1, trigger=trigger, **kw)


# the trades dip to 94 on day 1; the mark (an index of several venues) only to 96
TRADES = [(100, 100, 100, 100), (100, 101, 94, 99), (99, 100, 97, 98)]
CALM_MARK = [(100, 100, 100, 100), (100, 100, 96, 99), (99, 99, 97, 98)]


def test_a_trade_dip_the_mark_does_not_follow_fires_nothing():
    eng = engine(TRADES, CALM_MARK)
    o = eng.place(stop())
    assert run(eng) == []
    assert o.status == "open"


def test_the_same_dip_fires_on_a_venue_that_watches_the_last_price():
    eng = engine(TRADES, CALM_MARK, rules=LAST_RULES)
    eng.place(stop())
    assert run(eng) == [(1, D(95))]


def test_without_a_mark_series_the_mark_is_the_last_price():
    eng = engine(TRADES)
    eng.place(stop())
    assert run(eng) == [(1, D(95))]


def test_a_mark_crossing_inside_the_bar_trades_at_the_trigger_held_inside_the_trades_range():
    # the mark falls through 95 on day 1; the trades never go below 96: the market sell gets 96
    trades = [(100, 100, 100, 100), (100, 101, 96, 99), (99, 100, 97, 98)]
    mark = [(100, 100, 100, 100), (100, 100, 94, 99), (99, 99, 97, 98)]
    eng = engine(trades, mark)
    o = eng.place(stop())
    assert run(eng) == [(1, D(96))]
    assert o.status == "filled" and o.triggered_ms == DAY


def test_a_mark_opening_through_the_trigger_trades_at_the_trades_open():
    trades = [(100, 100, 100, 100), (97, 98, 96, 97)]
    mark = [(100, 100, 100, 100), (94, 95, 93, 94)]
    eng = engine(trades, mark)
    eng.place(stop())
    assert run(eng) == [(1, D(97))]


def test_a_stop_limit_fired_by_the_mark_fills_where_its_limit_accepts_else_rests():
    trades = [(100, 100, 100, 100), (100, 101, 96, 99), (99, 100, 95, 96)]
    mark = [(100, 100, 100, 100), (100, 100, 94, 99), (99, 99, 97, 98)]
    accepting = engine(trades, mark)
    accepting.place(OrderRequest(SYM, "sell", "stop_limit", amount=1, trigger=95, price=95))
    assert run(accepting) == [(1, D(96))]          # fired at 95 on the mark, the trades at 96
    resting = engine(trades, mark)
    o = resting.place(OrderRequest(SYM, "sell", "stop_limit", amount=1, trigger=95, price=97))
    fills = run(resting)
    # 96 is below its limit: it rests as a sell limit at 97 and fills at day 2's open, 99
    assert o.triggered_ms == DAY and fills == [(2, D(99))]


def test_a_mark_series_equal_to_the_trades_gives_the_fills_of_no_series():
    trades = [(100, 100, 100, 100), (100, 101, 94, 99), (99, 100, 90, 92)]
    for order in (stop(), OrderRequest(SYM, "sell", "stop_limit", amount=1, trigger=95, price=96)):
        with_series, without = engine(trades, trades), engine(trades)
        with_series.place(order)
        without.place(order)
        assert run(with_series) == run(without) != []


def test_bars_with_no_mark_bar_watch_the_last_price():
    # the series stops after day 0: day 1's dip is watched on the trades
    eng = engine(TRADES, CALM_MARK[:1])
    eng.place(stop())
    assert run(eng) == [(1, D(95))]


def test_trigger_sides_are_checked_against_the_mark():
    # last close 100, mark close 94: a sell stop at 95 is above the mark, so on the wrong side
    trades = [(100, 100, 100, 100), (100, 100, 100, 100)]
    mark = [(94, 94, 94, 94), (94, 94, 94, 94)]
    eng = engine(trades, mark)
    assert eng.mark_price(SYM) == D(94) and eng.last_price(SYM) == D(100)
    with pytest.raises(Reject) as e:
        eng.place(stop(role="stop_loss"))
    assert e.value.reason == E.TRIGGER_WRONG_SIDE and "94" in str(e.value)
    assert engine(trades, mark, rules=LAST_RULES).place(stop(role="stop_loss")).status == "open"


def test_an_oco_is_refused_when_the_mark_has_crossed_its_stop():
    trades = [(100, 100, 100, 100), (100, 100, 100, 100)]
    mark = [(94, 94, 94, 94), (94, 94, 94, 94)]
    legs = [OrderRequest(SYM, "sell", "limit", amount=1, price=110),
            OrderRequest(SYM, "sell", "stop_market", amount=1, trigger=95)]
    with pytest.raises(Reject) as e:
        engine(trades, mark).place_list("oco", legs)
    assert e.value.reason == E.TRIGGER_WRONG_SIDE
    assert engine(trades, mark, rules=LAST_RULES).place_list("oco", legs).status == "open"


def test_marks_must_name_markets_of_the_engine():
    with pytest.raises(ValueError, match="XRP/USDT"):
        Engine({SYM: MARK_RULES}, {SYM: bars(*TRADES)}, {}, marks={"XRP/USDT": bars(*TRADES)})


def test_the_mark_series_survives_a_restart_from_the_state_file():
    trades = [(100, 100, 100, 100), (100, 101, 96, 99), (99, 100, 97, 98)]
    mark = [(100, 100, 100, 100), (100, 100, 94, 99), (99, 99, 97, 98)]
    eng = engine(trades, mark)
    eng.place(stop())
    again = Engine.from_state(eng.to_state(), {SYM: bars(*trades)}, marks={SYM: bars(*mark)})
    assert run(again) == [(1, D(96))]
