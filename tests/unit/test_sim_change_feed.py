"""The engine's change feed (what streams publish) and a bar's price path."""
from decimal import Decimal as D

from bracket_plugin.bars import Bar
from bracket_plugin.sim.engine import Engine, OrderRequest
from bracket_plugin.sim.rules import MarketRules, price_path

SYM = "ETH/BTC"
DAY = 86_400_000
RULES = MarketRules(SYM, "ETH", "BTC", tick_size=D("0.01"), lot_size=D("0.01"), min_size=D("0.1"), min_notional=D("1"))


def engine(*rows):
    bars = [Bar(i * DAY, *(D(str(x)) for x in row), D(1000)) for i, row in enumerate(rows)]
    return Engine({SYM: RULES}, {SYM: bars}, {"ETH": D(100), "BTC": D(100_000)}, start=1)


def test_changes_since_returns_each_changed_order_and_list_once_in_the_order_of_its_latest_change():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99), (99, 100, 97, 98))
    seq0, orders, lists = eng.changes_since(0)
    assert (seq0, orders, lists) == (0, [], [])
    resting = eng.place(OrderRequest(SYM, "buy", "limit", amount=1, price=90))
    oco = eng.place_list("oco", [OrderRequest(SYM, "sell", "limit", amount=1, price=110),
                                 OrderRequest(SYM, "sell", "stop_market", amount=1, trigger=95)])
    seq1, orders, lists = eng.changes_since(seq0)
    ids = [o.id for o in orders]
    assert ids[0] == resting.id and sorted(ids[1:]) == sorted(oco.order_ids)
    assert [lst.id for lst in lists] == [oco.id]
    eng.step()                                   # the stop fills at 95; the limit leg is canceled
    seq2, orders, lists = eng.changes_since(seq1)
    assert {o.status for o in orders} == {"filled", "canceled"} and len(orders) == 2
    assert resting.id not in [o.id for o in orders]           # untouched: not published again
    assert [(lst.id, lst.status) for lst in lists] == [(oco.id, "done")]
    assert eng.changes_since(seq2) == (seq2, [], [])
    (fill,) = eng.fills_after(0)
    assert fill.price == D(95) and eng.fills_after(1) == []


def test_watchers_hear_every_accepted_change_after_it_is_made():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 99))
    heard = []
    eng.watchers.append(lambda entry: heard.append((entry["op"], eng.changes_since(0)[0])))
    o = eng.place(OrderRequest(SYM, "buy", "limit", amount=1, price=90))
    eng.cancel(o.id)
    eng.step()
    assert [op for op, _ in heard] == ["place", "cancel", "step"]
    assert heard[0][1] < heard[1][1]             # the change was made before the watcher ran


def test_price_path_goes_to_the_extreme_the_bar_closed_away_from_first():
    up = Bar(0, D(100), D(104), D(97), D(103), D(1))
    down = Bar(0, D(100), D(104), D(97), D(98), D(1))
    assert price_path(up) == (D(100), D(97), D(104), D(103))
    assert price_path(down) == (D(100), D(104), D(97), D(98))
