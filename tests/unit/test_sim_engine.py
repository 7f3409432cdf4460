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


# ------------------------------------------------------------------ fees
def test_fees_in_quote_maker_for_resting_limit_taker_for_gap_and_market():
    eng = engine((101, 101, 101, 101), (101, 101, 99, 100), (95, 96, 94, 95))
    before = eng.balances()
    maker = eng.place(req("buy", "limit", 10, 100))
    eng.step()
    taker = eng.place(req("sell", "market", 10))
    eng.step()
    assert maker.fee == D(1000) * D("0.001") and maker.fee_currency == "BTC"
    assert taker.fee == D(950) * D("0.002")
    after = eng.balances()
    assert after["ETH"][0] == before["ETH"][0]  # base moves by exactly the filled amounts
    assert after["BTC"][0] == before["BTC"][0] - D(1000) - maker.fee + D(950) - taker.fee


# ------------------------------------------------------------------ holds
def test_limit_buy_holds_amount_times_price_plus_fee_and_cancel_releases():
    eng = engine((101, 101, 101, 101), (101, 102, 100.5, 101), balances={"ETH": D(0), "BTC": D(2000)})
    o = eng.place(req("buy", "limit", 10, 100))
    assert eng.balances()["BTC"] == (D(2000), D(2000) - D(1002), D(1002))  # 1000 + larger fee rate 0.2 %
    with pytest.raises(Reject) as ei:
        eng.place(req("buy", "limit", 10, 100))
    assert ei.value.reason == E.INSUFFICIENT_BALANCE
    eng.cancel(o.id)
    assert eng.balances()["BTC"] == (D(2000), D(2000), D(0))
    assert o.status == "canceled" and o.reason == "user"


def test_sell_holds_base_and_market_buy_by_funds():
    eng = engine((100, 100, 100, 100), (98, 99, 97, 98), balances={"ETH": D(5), "BTC": D(1000)})
    eng.place(req("sell", "limit", 5, 120))
    assert eng.balances()["ETH"] == (D(5), D(0), D(5))
    with pytest.raises(Reject) as ei:
        eng.place(req("sell", "stop_market", 1, trigger=90))
    assert ei.value.reason == E.INSUFFICIENT_BALANCE
    o = eng.place(OrderRequest(SYM, "buy", "market", funds=500))
    assert eng.balances()["BTC"][2] == D(500) * D("1.002")
    eng.step()
    # 500 / 98 = 5.102..., floored to the lot 0.01
    assert (o.filled, o.cost, o.status) == (D("5.10"), D("5.10") * 98, "filled")
    assert eng.balances()["BTC"][0] == D(1000) - D("499.80") - D("499.80") * D("0.002")


def test_otoco_exits_hold_nothing_until_the_entry_fills_then_hold_the_base_once():
    eng = engine((101, 101, 101, 101), (101, 101, 99, 100), (100, 101, 99, 100), balances={"ETH": D(0), "BTC": D(2000)})
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105),
                                   req("sell", "stop_market", 10, trigger=95)])
    assert eng.balances()["ETH"] == (D(0), D(0), D(0))
    assert eng.balances()["BTC"][2] == D(1002)
    eng.step()
    assert eng.balances()["ETH"] == (D(10), D(0), D(10))
    assert eng.balances()["BTC"][2] == D(0)
    with pytest.raises(Reject):
        eng.place(req("sell", "market", 1))
    eng.cancel_list(lst.id)
    assert eng.balances()["ETH"] == (D(10), D(10), D(0))
    assert [o.status for o in eng.list_orders(lst.id)] == ["filled", "canceled", "canceled"]
    assert lst.status == "canceled"


def test_market_buy_that_gaps_beyond_the_account_is_rejected_at_the_fill():
    # hold = 10 * last 100 * 1.002 = 1002; the next open is 150, so 1500 + fee cannot be paid
    eng = engine((100, 100, 100, 100), (150, 151, 149, 150), balances={"ETH": D(0), "BTC": D(1100)})
    o = eng.place(req("buy", "market", 10))
    eng.step()
    assert o.status == "rejected" and o.reason == E.INSUFFICIENT_BALANCE
    assert eng.fills() == [] and eng.balances()["BTC"] == (D(1100), D(1100), D(0))


# ------------------------------------------------------------------ cancel
def test_cancel_of_one_leg_cancels_the_whole_list_and_final_orders_are_not_cancelable():
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    lst = eng.place_list("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)])
    tp, sl = eng.list_orders(lst.id)
    eng.cancel(sl.id)
    assert tp.status == sl.status == "canceled" and lst.status == "canceled"
    for call, arg in ((eng.cancel, sl.id), (eng.cancel_list, lst.id)):
        with pytest.raises(Reject) as ei:
            call(arg)
        assert ei.value.reason == E.NOT_CANCELABLE
    for call in (eng.cancel, eng.order, eng.get_list, eng.order_by_client_id, eng.list_by_client_id):
        with pytest.raises(Reject) as ei:
            call("nope")
        assert ei.value.reason == E.NOT_FOUND


def test_cancel_all_by_symbol():
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    a = eng.place(req("buy", "limit", 1, 90))
    lst = eng.place_list("otoco", [req("buy", "limit", 1, 95), req("sell", "limit", 1, 105),
                                   req("sell", "stop_market", 1, trigger=90)])
    ids = eng.cancel_all(SYM)
    assert set(ids) == {a.id, *lst.order_ids}
    assert eng.open_orders() == [] and lst.status == "canceled"
    with pytest.raises(Reject) as ei:
        eng.cancel_all("XRP/BTC")
    assert ei.value.reason == E.UNKNOWN_SYMBOL


# ------------------------------------------------------------------ rejections
@pytest.mark.parametrize("request_, reason", [
    (OrderRequest("XRP/BTC", "buy", "limit", amount=1, price=100), E.UNKNOWN_SYMBOL),
    (req("buy", "limit", "0.05", 100), E.BELOW_MIN_SIZE),
    (req("buy", "limit", "0.1", 5), E.BELOW_MIN_NOTIONAL),
    (OrderRequest(SYM, "buy", "market", funds="0.5"), E.BELOW_MIN_NOTIONAL),
    (req("buy", "limit", 1, "100.005"), E.BAD_TICK),
    (req("sell", "stop_market", 1, trigger="95.001"), E.BAD_TICK),
    (req("buy", "limit", "1.005", 100), E.BAD_LOT),
    (req("buy", "limit", 1, None), E.BAD_REQUEST),
    (req("buy", "limit", -1, 100), E.BAD_REQUEST),
    (req("buy", "limit", "abc", 100), E.BAD_REQUEST),
    (req("hold", "limit", 1, 100), E.BAD_REQUEST),
    (req("buy", "iceberg", 1, 100), E.BAD_REQUEST),
    (req("buy", "market", 1, 100), E.BAD_REQUEST),
    (req("buy", "stop_limit", 1, 100), E.BAD_REQUEST),
    (OrderRequest(SYM, "sell", "market", funds=100), E.BAD_REQUEST),
    (req("buy", "limit", 1000, 100), E.INSUFFICIENT_BALANCE),
    # a single trigger with a role is checked against the market (last 100): Crypto.com 50007
    (req("sell", "stop_market", 1, trigger=101, role="stop_loss"), E.TRIGGER_WRONG_SIDE),
    (req("sell", "stop_market", 1, trigger=99, role="take_profit"), E.TRIGGER_WRONG_SIDE),
    (req("buy", "stop_market", 1, trigger=99, role="stop_loss"), E.TRIGGER_WRONG_SIDE),
])
def test_single_order_rejections(request_, reason):
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    before = (eng.balances(), eng.to_state())
    with pytest.raises(Reject) as ei:
        eng.place(request_)
    assert ei.value.reason == reason
    assert str(ei.value).startswith(reason) and ei.value.message
    assert (eng.balances(), eng.to_state()) == before  # nothing changed, no id used


def test_trigger_without_role_takes_its_direction_from_the_market_side():
    eng = engine((100, 100, 100, 100), (100, 106, 99, 105))
    up = eng.place(req("sell", "stop_market", 1, trigger=104))  # a sell trigger above the market fires upwards
    down = eng.place(req("sell", "stop_market", 1, trigger=98))
    explicit = eng.place(req("sell", "stop_market", 1, trigger=104, direction="down"))  # KuCoin stop=loss
    assert (up.direction, down.direction, explicit.direction) == ("up", "down", "down")
    eng.step()
    assert fill_of(eng, up) == (1, D(104), "taker")
    assert down.status == "open"
    assert fill_of(eng, explicit) == (1, D(100), "taker")  # already through at the open


def test_take_profit_trigger_leg_fires_with_the_position():
    eng = engine((101, 101, 101, 101), (101, 101, 99, 100), (100, 107, 99, 106))
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100),
                                   req("sell", "stop_market", 10, trigger=95),
                                   req("sell", "stop_market", 10, trigger=106, role="take_profit")])
    step_until_done(eng)
    legs = {o.role: o for o in eng.list_orders(lst.id)}
    assert legs["take_profit"].direction == "up"
    assert fill_of(eng, legs["take_profit"]) == (2, D(106), "taker")
    assert legs["stop_loss"].status == "canceled"


@pytest.mark.parametrize("kind,legs,reason", [
    ("oco", [req("sell", "limit", 10, 105), req("sell", "limit", 10, 95)], E.BAD_LEG_COMBINATION),
    ("oco", [req("sell", "limit", 10, 105), req("buy", "stop_market", 10, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 5, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oco", [req("sell", "limit", 10, 105)], E.BAD_LEG_COMBINATION),
    ("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=101)], E.TRIGGER_WRONG_SIDE),
    ("oco", [req("buy", "limit", 10, 95), req("buy", "stop_market", 10, trigger=99)], E.TRIGGER_WRONG_SIDE),
    ("oto", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105)], E.BAD_LEG_COMBINATION),
    ("oto", [req("buy", "limit", 10, 100), req("buy", "stop_market", 10, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oto", [req("buy", "stop_market", 10, trigger=101), req("sell", "stop_market", 10, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oto", [req("buy", "limit", 10, 100), req("sell", "stop_market", 10, trigger=100)], E.TRIGGER_WRONG_SIDE),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105), req("sell", "limit", 10, 106)], E.BAD_LEG_COMBINATION),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "stop_market", 10, trigger=95),
               req("sell", "stop_market", 10, trigger=94)], E.BAD_LEG_COMBINATION),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 20, 105),
               req("sell", "stop_market", 20, trigger=95)], E.BAD_LEG_COMBINATION),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 99),
               req("sell", "stop_market", 10, trigger=95)], E.TRIGGER_WRONG_SIDE),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105),
               req("sell", "stop_market", 10, trigger=101)], E.TRIGGER_WRONG_SIDE),
    ("otoco", [req("sell", "limit", 10, 100), req("buy", "limit", 10, 95),
               req("buy", "stop_market", 10, trigger=99)], E.TRIGGER_WRONG_SIDE),
    ("ocoo", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)], E.BAD_REQUEST),
    ("oto", [req("buy", "market", 10), req("sell", "stop_market", 11, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oco", [req("sell", "limit", 10, 105, role="entry"), req("sell", "stop_market", 10, trigger=95)], E.BAD_LEG_COMBINATION),
    ("oto", [req("buy", "limit", 10, 100), req("sell", "stop_market", 10, trigger=95, role="entry")], E.BAD_LEG_COMBINATION),
    ("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105, role="entry"),
               req("sell", "stop_market", 10, trigger=95)], E.BAD_LEG_COMBINATION),
])
def test_list_rejections(kind, legs, reason):
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    before = eng.to_state()
    with pytest.raises(Reject) as ei:
        eng.place_list(kind, legs)
    assert ei.value.reason == reason, ei.value
    assert eng.to_state() == before


def test_duplicate_client_ids_across_orders_and_lists():
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    eng.place(req("buy", "limit", 1, 90, client_id="x1"))
    lst = eng.place_list("oco", [req("sell", "limit", 1, 105, client_id="leg-a"),
                                 req("sell", "stop_market", 1, trigger=95)], client_id="list-1")
    assert eng.list_by_client_id("list-1") is lst
    assert eng.order_by_client_id("leg-a").list_id == lst.id
    for bad in (req("buy", "limit", 1, 90, client_id="list-1"), req("buy", "limit", 1, 90, client_id="leg-a")):
        with pytest.raises(Reject) as ei:
            eng.place(bad)
        assert ei.value.reason == E.DUPLICATE_CLIENT_ID
    with pytest.raises(Reject) as ei:
        eng.place_list("oco", [req("sell", "limit", 1, 105), req("sell", "stop_market", 1, trigger=95)], client_id="x1")
    assert ei.value.reason == E.DUPLICATE_CLIENT_ID
    eng.cancel_list(lst.id)
    with pytest.raises(Reject) as ei:  # still taken after the list ended
        eng.place(req("buy", "limit", 1, 90, client_id="list-1"))
    assert ei.value.reason == E.DUPLICATE_CLIENT_ID


def test_too_many_open_stops_per_market():
    rules = MarketRules(SYM, "ETH", "BTC", D("0.01"), D("0.01"), D("0.1"), D("1"), max_open_stops=2)
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100), rules=rules)
    eng.place(req("sell", "stop_market", 1, trigger=95))
    eng.place(req("buy", "limit", 1, 90))  # limits do not count
    lst = eng.place_list("oco", [req("sell", "limit", 1, 105), req("sell", "stop_market", 1, trigger=94)])
    with pytest.raises(Reject) as ei:
        eng.place(req("sell", "stop_limit", 1, price=92, trigger=93))
    assert ei.value.reason == E.TOO_MANY_STOPS
    eng.cancel_list(lst.id)
    assert eng.place(req("sell", "stop_limit", 1, price=92, trigger=93)).status == "open"


# ------------------------------------------------------------------ more clock and lists
def test_two_markets_step_by_timestamp():
    ltc = MarketRules("LTC/BTC", "LTC", "BTC", D("0.01"), D("0.01"), D("0.1"), D("1"))
    b1 = bars((100, 100, 100, 100), (100, 101, 99, 100), (100, 101, 95, 96))
    b2 = [Bar(DAY * 2, D(50), D(50), D(50), D(50), D(1)), Bar(DAY * 3, D(50), D(52), D(48), D(51), D(1))]
    eng = Engine({SYM: RULES, "LTC/BTC": ltc}, {SYM: b1, "LTC/BTC": b2}, {"BTC": D(10_000), "ETH": D(10), "LTC": D(0)})
    assert eng.now_ms() == 0 and eng.last_price("LTC/BTC") == D(50)
    eng.step()
    assert eng.now_ms() == DAY and eng.closed_bars("LTC/BTC") == []
    eng.step()
    assert eng.now_ms() == 2 * DAY
    o = eng.place(OrderRequest("LTC/BTC", "buy", "limit", amount=1, price=49))
    s = eng.place(req("sell", "stop_market", 1, trigger=97))
    eng.step()  # day 2: both markets
    assert fill_of(eng, s) == (2, D(97), "taker") and o.status == "open"
    eng.step()  # day 3: LTC only
    assert fill_of(eng, o) == (3, D(49), "maker")
    assert eng.step() is False and eng.bars_left() == 0
    assert set(eng.balances()) == {"ETH", "BTC", "LTC"}


def test_market_entry_oto_exit_amount_follows_the_filled_entry():
    eng = engine((100, 100, 100, 100), (101, 101, 99, 100), (100, 101, 94, 95))
    lst = eng.place_list("oto", [OrderRequest(SYM, "buy", "market", funds=500),
                                 req("sell", "stop_market", 10, trigger=96)])
    step_until_done(eng)
    entry, sl = eng.list_orders(lst.id)
    assert entry.filled == D("4.95")  # 500 / 101 floored to the lot
    assert sl.amount == D("4.95") and fill_of(eng, sl) == (2, D(96), "taker")
    assert lst.status == "done" and eng.balances()["ETH"][0] == D(100)


def test_ids_are_distinct_across_orders_lists_and_fills():
    eng = engine((100, 100, 100, 100), (100, 106, 94, 100))
    a = eng.place(req("buy", "market", 1))
    lst = eng.place_list("oco", [req("sell", "limit", 1, 105), req("sell", "stop_market", 1, trigger=95)])
    eng.step()
    ids = [a.id, lst.id, *lst.order_ids, *(f.id for f in eng.fills())]
    assert len(ids) == len(set(ids)) == 6


# ------------------------------------------------------------------ partial fills (max_volume_fraction)
def partial_engine(*rows, volumes, fraction="0.5", balances=None):
    bs = [Bar(i * DAY, *(D(str(x)) for x in row), D(v)) for i, (row, v) in enumerate(zip(rows, volumes))]
    bal = {"ETH": D(100), "BTC": D(100_000)} if balances is None else balances
    return Engine({SYM: RULES}, {SYM: bs}, bal, start=1, max_volume_fraction=D(fraction))


def test_partial_fill_keeps_the_order_open_and_its_hold_pro_rata():
    eng = partial_engine((101, 101, 101, 101), (101, 101, 99, 100), (101, 101, 99, 100),
                         volumes=[100, 8, 40], balances={"ETH": D(0), "BTC": D(2000)})
    o = eng.place(req("buy", "limit", 10, 100))
    eng.step()
    assert (o.status, o.filled) == ("open", D(4))
    assert eng.balances()["BTC"][2] == D(1002) * 6 / 10
    eng.step()
    assert (o.status, o.filled, o.cost) == ("filled", D(10), D(1000))
    assert [f.amount for f in eng.fills(order_id=o.id)] == [D(4), D(6)]
    assert eng.balances()["BTC"] == (D(999), D(999), D(0))  # 2000 - 1000 - maker fee 1


def test_partial_fill_of_an_oco_leg_cancels_the_other_and_the_list_ends_when_it_completes():
    eng = partial_engine((100, 100, 100, 100), (100, 106, 99, 105), (105, 106, 104, 105),
                         volumes=[100, 8, 100], balances={"ETH": D(10), "BTC": D(0)})
    lst = eng.place_list("oco", [req("sell", "limit", 10, 105), req("sell", "stop_market", 10, trigger=95)])
    tp, sl = eng.list_orders(lst.id)
    eng.step()
    assert (tp.filled, tp.status, sl.status, lst.status) == (D(4), "open", "canceled", "open")
    assert eng.balances()["ETH"] == (D(6), D(0), D(6))
    eng.step()
    assert tp.status == "filled" and lst.status == "done" and eng.balances()["ETH"] == (D(0), D(0), D(0))


def test_exits_wait_for_the_entry_to_fill_completely():
    eng = partial_engine((101, 101, 101, 101), (101, 101, 99, 100), (100, 101, 94, 95), (95, 96, 94, 95),
                         volumes=[100, 8, 100, 100])
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100), req("sell", "limit", 10, 105),
                                   req("sell", "stop_market", 10, trigger=96)])
    entry, tp, sl = eng.list_orders(lst.id)
    eng.step()
    assert entry.filled == D(4) and sl.status == "pending"
    eng.step()  # the entry completes at 100 on this bar, which also crosses 96: the stop is not live yet
    assert entry.status == "filled" and sl.status == "open" and sl.filled == 0
    eng.step()
    assert fill_of(eng, sl) == (3, D(95), "taker") and tp.status == "canceled"


def test_a_fired_stop_that_is_partly_filled_fills_the_rest_as_a_market_order():
    eng = partial_engine((100, 100, 100, 100), (100, 101, 94, 96), (97, 99, 96, 98), volumes=[100, 8, 100])
    o = eng.place(req("sell", "stop_market", 10, trigger=95))
    eng.step()
    assert (o.status, o.filled) == ("triggered", D(4))
    eng.step()  # back above the trigger, but a fired stop is a market order on the exchange
    assert o.status == "filled"
    assert [(f.price, f.amount) for f in eng.fills(order_id=o.id)] == [(D(95), D(4)), (D(97), D(6))]


# ------------------------------------------------------------------ time in force, expiry, post-only
def test_ioc_limit_is_tried_on_one_bar_then_canceled():
    eng = engine((101, 101, 101, 101), (101, 102, 100.5, 101), (99, 100, 98, 99))
    o = eng.place(req("buy", "limit", 1, 100, time_in_force="IOC"))
    eng.step()
    assert (o.status, o.reason, o.filled) == ("canceled", "ioc", 0)
    assert eng.balances()["BTC"][2] == 0
    eng.step()
    assert eng.fills() == []


def test_fok_fills_completely_or_not_at_all():
    eng = partial_engine((101, 101, 101, 101), (101, 101, 99, 100), (101, 101, 99, 100), volumes=[100, 8, 100])
    kill = eng.place(req("buy", "limit", 10, 100, time_in_force="FOK"))
    eng.step()  # only 4 available on this bar
    assert (kill.status, kill.reason, kill.filled) == ("canceled", "fok", 0)
    fill = eng.place(req("buy", "limit", 10, 100, time_in_force="FOK"))
    eng.step()
    assert fill.status == "filled" and fill.filled == 10


def test_expired_order_is_canceled_on_the_first_bar_after_its_expiry():
    eng = engine((101, 101, 101, 101), (101, 102, 101, 101), (101, 102, 101, 101), (101, 102, 99, 100))
    o = eng.place(req("buy", "limit", 1, 100, expire_ms=2 * DAY))
    eng.step()
    eng.step()  # the bar opening at the expiry time is still tried
    assert o.status == "open"
    eng.step()
    assert (o.status, o.reason, o.updated_ms) == ("canceled", "expired", 3 * DAY) and eng.fills() == []


def test_an_expiring_pending_exit_cancels_the_whole_bracket():
    # BackBroker demo E: the legs share `valid`; the entry never fills, the list ends expired
    eng = engine((101, 101, 101, 101), (101, 102, 101, 101), (101, 102, 101, 101), (101, 102, 101, 101))
    lst = eng.place_list("otoco", [req("buy", "limit", 10, 100, expire_ms=2 * DAY),
                                   req("sell", "limit", 10, 105, expire_ms=2 * DAY),
                                   req("sell", "stop_market", 10, trigger=95, expire_ms=2 * DAY)])
    step_until_done(eng)
    assert lst.status == "canceled"
    assert [(o.status, o.reason) for o in eng.list_orders(lst.id)] == [("canceled", "expired")] * 3
    assert eng.balances()["BTC"][2] == 0


def test_post_only_limit_that_would_take_is_canceled_at_once():
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    taker = eng.place(req("buy", "limit", 1, 100, post_only=True))
    maker = eng.place(req("buy", "limit", 1, "99.5", post_only=True))
    assert (taker.status, taker.reason) == ("canceled", "post_only")
    assert maker.status == "open"
    assert eng.balances()["BTC"][2] == D("99.5") * D("1.002")


@pytest.mark.parametrize("bad", [
    req("sell", "stop_market", 1, trigger=95, time_in_force="IOC"),
    req("buy", "limit", 1, 99, time_in_force="GTD"),
    req("buy", "limit", 1, 99, time_in_force="IOC", expire_ms=5 * DAY),
    req("buy", "limit", 1, 99, expire_ms=0),
    req("buy", "market", 1, post_only=True),
])
def test_time_in_force_rejections(bad):
    eng = engine((100, 100, 100, 100), (100, 101, 99, 100))
    with pytest.raises(Reject) as ei:
        eng.place(bad)
    assert ei.value.reason == E.BAD_REQUEST
    with pytest.raises(Reject) as ei:
        eng.place_list("oco", [req("sell", "limit", 1, 105, time_in_force="IOC"), req("sell", "stop_market", 1, trigger=95)])
    assert ei.value.reason == E.BAD_REQUEST


def test_engine_modules_are_pure():
    """No I/O, clock, randomness or threads in the engine: replays are deterministic."""
    import ast
    import pathlib

    import bracket_plugin.sim.engine as engine_mod

    forbidden = {"os", "io", "time", "datetime", "random", "threading", "socket", "asyncio", "pathlib", "json", "uuid"}
    for name in ("engine.py", "rules.py", "state.py"):
        tree = ast.parse((pathlib.Path(engine_mod.__file__).parent / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                imported.add("open()")
        assert not imported & (forbidden | {"open()"}), (name, imported & (forbidden | {"open()"}))
