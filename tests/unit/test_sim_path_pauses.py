"""Pauses inside a bar (Engine.path_clients): the replay stops where the bar's trades cross a level
a client watches, in path order, and an order the client sends there trades at that price."""
from decimal import Decimal as D

import pytest

from bracket_plugin.bars import Bar
from bracket_plugin.sim import rules as R
from bracket_plugin.sim.engine import Engine, OrderRequest
from bracket_plugin.sim.rules import DOWN, UP, MarketRules

SYM = "ETH/BTC"
DAY = 86_400_000
RULES = MarketRules(SYM, "ETH", "BTC", tick_size=D("0.01"), lot_size=D("0.01"), min_size=D("0.1"), min_notional=D("1"))


def bars(*rows):
    return [Bar(i * DAY, *(D(str(x)) for x in row), D(1000)) for i, row in enumerate(rows)]


def engine(*rows):
    return Engine({SYM: RULES}, {SYM: bars(*rows)}, {"ETH": D(100), "BTC": D(100_000)}, start=1)


class StopWatcher:
    """A client that watches sell (down) or buy (up) stops and sends a market order where touched."""

    def __init__(self, eng, levels, order="market", limit=None):
        self.eng, self.watched, self.order, self.limit = eng, list(levels), order, limit
        self.pauses = []

    def levels(self, symbol):
        return list(self.watched)

    def at(self, symbol, price):
        self.pauses.append(price)
        for level, direction in list(self.watched):
            if (price <= D(str(level))) if direction == DOWN else (price >= D(str(level))):
                self.watched.remove((level, direction))
                side = "sell" if direction == DOWN else "buy"
                self.eng.place(OrderRequest(SYM, side, self.order, amount=1,
                                            price=None if self.limit is None else self.limit))


def fills(eng):
    return [(f.ts // DAY, f.side, f.price) for f in eng.fills()]


def test_a_stop_touched_inside_the_bar_trades_at_its_level_in_that_bar():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99), (99, 100, 97, 98))
    client = StopWatcher(eng, [(95, DOWN)])
    eng.path_clients.append(client)
    eng.step()
    assert client.pauses == [D(95)] and fills(eng) == [(1, "sell", D(95))]


def test_a_gap_through_the_level_trades_at_the_open():
    eng = engine((100, 100, 100, 100), (93, 96, 92, 95))
    client = StopWatcher(eng, [(95, DOWN)])
    eng.path_clients.append(client)
    eng.step()
    assert fills(eng) == [(1, "sell", D(93))]


def test_a_level_between_ticks_trades_at_the_first_tick_past_it():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99))
    down = StopWatcher(eng, [(95.005, DOWN)])
    eng.path_clients.append(down)
    eng.step()
    assert fills(eng) == [(1, "sell", D("95.00"))]
    eng = engine((100, 100, 100, 100), (100, 106, 99, 101))
    up = StopWatcher(eng, [(104.991, UP)])
    eng.path_clients.append(up)
    eng.step()
    assert fills(eng) == [(1, "buy", D("105.00"))]


def test_an_untouched_level_pauses_nothing():
    eng = engine((100, 100, 100, 100), (100, 101, 96, 99))
    client = StopWatcher(eng, [(95, DOWN), (102, UP)])
    eng.path_clients.append(client)
    eng.step()
    assert client.pauses == [] and fills(eng) == []


def test_pauses_follow_the_bars_path():
    # a bar closing up went down first (open, low, high, close): the lower level comes first
    up_bar = engine((100, 100, 100, 100), (100, 106, 94, 105))
    client = StopWatcher(up_bar, [(104, UP), (96, DOWN)])
    up_bar.path_clients.append(client)
    up_bar.step()
    assert client.pauses == [D(96), D(104)]
    # one closing down went up first
    down_bar = engine((100, 100, 100, 100), (100, 106, 94, 95))
    client = StopWatcher(down_bar, [(96, DOWN), (104, UP)])
    down_bar.path_clients.append(client)
    down_bar.step()
    assert client.pauses == [D(104), D(96)]


def test_a_watched_stop_acts_before_the_resting_take_profit_on_a_bar_touching_both():
    """The client cancels its resting take-profit where its stop is touched: the take-profit,
    which the bar also reaches, is not filled (as a native OCO's stop leg placed first)."""
    eng = engine((100, 100, 100, 100), (100, 106, 94, 105))
    tp = eng.place(OrderRequest(SYM, "sell", "limit", amount=1, price=D(104)))

    class Bracket(StopWatcher):
        def at(self, symbol, price):
            self.eng.cancel(tp.id)
            super().at(symbol, price)

    eng.path_clients.append(Bracket(eng, [(96, DOWN)]))
    eng.step()
    assert tp.status == "canceled" and fills(eng) == [(1, "sell", D(96))]


def test_a_limit_sent_at_a_pause_is_tried_as_a_stop_limit_fired_there():
    # fired at 95 on a bar going down to 94: a sell limit at 94.5 is reached after the trigger
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99))
    eng.path_clients.append(StopWatcher(eng, [(95, DOWN)], order="limit", limit=D("94.5")))
    eng.step()
    [(day, side, price)] = fills(eng)
    assert (day, side) == (1, "sell") and D("94.5") <= price <= D(95)
    # a limit the rest of the bar never reaches rests, and is tried from the next bar
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99), (99, 102, 98, 101))
    eng.path_clients.append(StopWatcher(eng, [(95, DOWN)], order="limit", limit=D("101.5")))
    eng.step()
    assert fills(eng) == []
    eng.step()
    assert fills(eng) == [(2, "sell", D("101.5"))]


def test_orders_sent_outside_a_pause_wait_for_the_next_bar():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99))
    eng.place(OrderRequest(SYM, "sell", "market", amount=1))
    eng.step()
    assert fills(eng) == [(1, "sell", D(100))]


@pytest.mark.parametrize("direction,trigger,expected", [
    (DOWN, D(95), D(95)), (DOWN, D(101), D(100)), (DOWN, D(93), None),
    (UP, D(101), D(101)), (UP, D(99), D(100)), (UP, D(102), None),
])
def test_crossing(direction, trigger, expected):
    bar = bars((100, 101, 94, 99))[0]
    assert R.crossing(direction, trigger, bar, D("0.01")) == expected
