"""The simulator's matching engine: one test per fill rule, hold, fee, rejection and list life cycle.

Bars are tiny hand-made paths (daily bars, prices around 100) so each expected price is visible.
"""
import json
from decimal import Decimal as D

import pytest

import bracket_plugin.sim.engine as E
from bracket_plugin.bars import Bar, bundled_data_path, read_bars
from bracket_plugin.sim.engine import Engine, OrderRequest, Reject
from bracket_plugin.sim.rules import MarketRules, default_rules

SYM = "ETH/BTC"
DAY = 86_400_000
RULES = MarketRules(SYM, "ETH", "BTC", tick_size=D("0.01"), lot_size=D("0.01"), min_size=D("0.1"),
                    min_notional=D("1"), maker_fee=D("0.001"), taker_fee=D("0.002"))


def bars(*rows):
    return [Bar(i * DAY, *(D(str(x)) for x in row), D(1000)) for i, row in enumerate(rows)]


def engine(*rows, balances=None, start=1, rules=RULES):
    bal = {"ETH": D(100), "BTC": D(100_000)} if balances is None else balances
    return Engine({SYM: rules}, {SYM: bars(*rows)}, bal, start=start)


def req(side, type_, amount=10, price=None, trigger=None, **kw):
    return OrderRequest(SYM, side, type_, amount=amount, price=price, trigger=trigger, **kw)


def step_until_done(eng):
    while eng.step():
        pass


def fill_of(eng, order):
    fs = eng.fills(order_id=order.id)
    assert len(fs) == 1, fs
    return fs[0].ts // DAY, fs[0].price, fs[0].liquidity


# ------------------------------------------------------------------ clock, data
def test_clock_and_closed_bars_follow_the_cursor():
    eng = engine((100, 101, 99, 100), (100, 102, 98, 101), (101, 103, 100, 102), start=1)
    assert eng.now_ms() == 1 * DAY
    assert [b.ts for b in eng.closed_bars(SYM)] == [0]
    assert eng.last_price(SYM) == D(100)
    assert eng.step() is True
    assert eng.now_ms() == 2 * DAY and eng.last_price(SYM) == D(101)
    assert [b.ts for b in eng.closed_bars(SYM, limit=1)] == [DAY]
    assert [b.ts for b in eng.closed_bars(SYM, since=DAY)] == [DAY]
    assert eng.step() is True and eng.step() is False
    assert eng.now_ms() == 3 * DAY
    t = eng.ticker(SYM)
    assert (t.last, t.open, t.high, t.low) == (D(102), D(101), D(103), D(100))  # 24 h = the last daily bar


def test_default_rules_for_bundled_eth_btc():
    r = default_rules(SYM, read_bars(bundled_data_path()))
    assert (r.tick_size, r.lot_size, r.min_size, r.min_notional) == (D("0.000001"), D("0.0001"), D("0.001"), D("0.0001"))
    assert (r.base, r.quote) == ("ETH", "BTC")


# ------------------------------------------------------------------ fill rules
def test_nothing_fills_at_placement_and_market_fills_at_next_open():
    eng = engine((100, 100, 100, 100), (103, 104, 95, 96))
    o = eng.place(req("buy", "market", 1))
    assert o.status == "open" and eng.fills() == []
    eng.step()
    assert fill_of(eng, o) == (1, D(103), "taker")
    assert o.status == "filled" and o.filled == D(1)


def test_limit_buy_fills_at_its_price_when_touched_maker():
    eng = engine((101, 101, 101, 101), (101, 101, 99, 100))
    o = eng.place(req("buy", "limit", 10, 100))
    eng.step()
    assert fill_of(eng, o) == (1, D(100), "maker")


def test_limit_buy_gap_below_fills_at_open_taker():
    eng = engine((101, 101, 101, 101), (98, 99, 97, 98))
    o = eng.place(req("buy", "limit", 10, 100))
    eng.step()
    assert fill_of(eng, o) == (1, D(98), "taker")


def test_limit_sell_touched_and_gap():
    eng = engine((100, 100, 100, 100), (101, 106, 100, 104), (110, 111, 109, 110))
    touched = eng.place(req("sell", "limit", 1, 105))
    eng.step()
    gap = eng.place(req("sell", "limit", 1, 108))
    eng.step()
    assert fill_of(eng, touched) == (1, D(105), "maker")
    assert fill_of(eng, gap) == (2, D(110), "taker")


def test_limit_not_reached_stays_open():
    eng = engine((101, 101, 101, 101), (101, 102, 100.5, 101))
    o = eng.place(req("buy", "limit", 10, 100))
    eng.step()
    assert o.status == "open" and eng.fills() == []


def test_sell_stop_fills_at_trigger_or_at_gap_open():
    eng = engine((100, 100, 100, 100), (100, 101, 94, 96), (93, 94, 90, 91))
    touched = eng.place(req("sell", "stop_market", 1, trigger=95))
    eng.step()
    gapped = eng.place(req("sell", "stop_market", 1, trigger=95))
    eng.step()
    assert fill_of(eng, touched) == (1, D(95), "taker")
    assert fill_of(eng, gapped) == (2, D(93), "taker")
    assert touched.direction == "down"


def test_buy_stop_fills_at_trigger_or_at_gap_open():
    eng = engine((100, 100, 100, 100), (100, 106, 99, 104), (108, 109, 107, 108))
    touched = eng.place(req("buy", "stop_market", 1, trigger=105))
    eng.step()
    gapped = eng.place(req("buy", "stop_market", 1, trigger=106))
    eng.step()
    assert fill_of(eng, touched) == (1, D(105), "taker")
    assert fill_of(eng, gapped) == (2, D(108), "taker")


def test_stop_limit_gap_through_limit_waits_then_fills_at_limit():
    # BackBroker demo C: sell stop 95 / limit 94.5, bar opens at 90 -> triggered, fills next bar at 94.5
    eng = engine((100, 100, 100, 100), (90, 91, 89, 90), (90, 110, 89, 100))
    o = eng.place(req("sell", "stop_limit", 1, price=94.5, trigger=95))
    eng.step()
    assert o.status == "triggered" and o.triggered_ms == DAY and eng.fills() == []
    eng.step()
    assert fill_of(eng, o) == (2, D("94.5"), "maker")


def test_stop_limit_triggered_inside_bar_fills_at_trigger():
    eng = engine((100, 100, 100, 100), (100, 101, 93, 94))
    o = eng.place(req("sell", "stop_limit", 1, price=94, trigger=95))
    eng.step()
    # limit 94 below trigger 95: BackBroker fills at the trigger
    assert fill_of(eng, o) == (1, D(95), "taker")


def test_stop_limit_limit_above_trigger_fills_at_limit_when_close_allows():
    # sell, trigger 95 hit inside an up bar (open <= close), limit 96 <= close 97: fills at the limit
    eng = engine((100, 100, 100, 100), (96, 98, 94, 97))
    o = eng.place(req("sell", "stop_limit", 1, price=96, trigger=95))
    eng.step()
    assert fill_of(eng, o) == (1, D(96), "maker")


def test_stop_limit_limit_above_trigger_on_down_bar_waits():
    eng = engine((100, 100, 100, 100), (98, 98, 94, 94.5), (95, 97, 95, 96))
    o = eng.place(req("sell", "stop_limit", 1, price=96, trigger=95))
    eng.step()
    assert o.status == "triggered" and eng.fills() == []
    eng.step()
    assert fill_of(eng, o) == (2, D(96), "maker")


def test_orders_are_tried_in_placement_order_and_settle_against_balance():
    # two sells of the whole base cannot both be held
    eng = engine((100, 100, 100, 100), (100, 106, 94, 100), balances={"ETH": D(10), "BTC": D(0)})
    eng.place(req("sell", "limit", 10, 105))
    with pytest.raises(Reject) as ei:
        eng.place(req("sell", "stop_market", 10, trigger=95))
    assert ei.value.reason == E.INSUFFICIENT_BALANCE


# ------------------------------------------------------------------ lists
def test_otoco_stop_wins_when_one_bar_touches_both_exits():
    # BackBroker demo A
    eng = engine((101, 101, 101, 101), (101, 101, 99, 100), (100, 106, 94, 100), (100, 100, 100, 100))
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105),
                                   req("sell", "stop_market", 10, trigger=95)])
    entry, tp, sl = eng.list_orders(lst.id)
    assert (entry.role, tp.role, sl.role) == ("entry", "take_profit", "stop_loss")
    assert tp.status == sl.status == "pending"
    eng.step()
    assert fill_of(eng, entry) == (1, D(100), "maker")
    assert tp.status == sl.status == "open"
    eng.step()
    assert fill_of(eng, sl) == (2, D(95), "taker")
    assert tp.status == "canceled" and tp.reason == "oco"
    assert lst.status == "done"
    assert eng.balances()["ETH"] == (D(100), D(100), D(0))


def test_otoco_exits_go_live_the_bar_after_the_entry_fill():
    # BackBroker demo B: the entry bar also breaches the stop; the stop fills at the next open (92)
    eng = engine((101, 101, 101, 101), (101, 101, 90, 92), (92, 93, 91, 92), (92, 92, 92, 92))
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100), req("sell", "stop_market", 10, trigger=95),
                                   req("sell", "limit", 10, 105)])
    step_until_done(eng)
    entry, sl, tp = eng.list_orders(lst.id)
    assert fill_of(eng, entry) == (1, D(100), "maker")
    assert fill_of(eng, sl) == (2, D(92), "taker")
    assert tp.status == "canceled"


def test_oco_fill_cancels_the_sibling_and_releases_the_single_hold():
    eng = engine((100, 100, 100, 100), (100, 106, 99, 105), balances={"ETH": D(10), "BTC": D(0)})
    lst = eng.place_list("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)])
    assert eng.balances()["ETH"] == (D(10), D(0), D(10))  # held once, not twice
    eng.step()
    tp, sl = eng.list_orders(lst.id)
    assert fill_of(eng, tp) == (1, D(105), "maker")
    assert sl.status == "canceled" and lst.status == "done"
    assert eng.balances()["ETH"] == (D(0), D(0), D(0))
    assert eng.balances()["BTC"][0] == D(1050) - D(1050) * D("0.001")


def test_oco_both_touched_stop_wins():
    # BackBroker demo F (plain oco=): the stop fills at 95, the limit is canceled
    eng = engine((100, 100, 100, 100), (100, 106, 94, 100), (100, 100, 100, 100))
    lst = eng.place_list("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)])
    eng.step()
    tp, sl = eng.list_orders(lst.id)
    assert fill_of(eng, sl) == (1, D(95), "taker") and tp.status == "canceled"


def test_cancel_state_round_trip_is_exact_and_ids_stay_unique():
    eng = engine((100, 100, 100, 100), (100, 106, 99, 105), (105, 105, 105, 105))
    eng.place(req("buy", "limit", 1, 90, client_id="a"))
    lst = eng.place_list("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)], client_id="L")
    eng.step()
    state = json.loads(json.dumps(eng.to_state()))
    again = Engine.from_state(state, {SYM: eng._bars[SYM]})
    assert again.to_state() == eng.to_state()
    assert again.balances() == eng.balances()
    assert again.list_by_client_id("L").status == lst.status == "done"
    new = again.place(req("buy", "limit", 1, 91))
    assert new.id not in {o.id for o in eng.orders()} | {f.id for f in eng.fills()} | {lst.id}
    with pytest.raises(Reject) as ei:
        again.place(req("buy", "limit", 1, 91, client_id="a"))
    assert ei.value.reason == E.DUPLICATE_CLIENT_ID
