"""Properties of the matching engine over random bar paths and random order activity.

Hypothesis draws a bar path and a script of actions (single orders, OCO/OTO/OTOCO lists, cancels,
steps); after every action the invariants below must hold.
"""
import json
from decimal import Decimal as D
from decimal import localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bracket_plugin.bars import Bar
from bracket_plugin.sim import state
from bracket_plugin.sim.engine import Engine, OrderRequest, Reject
from bracket_plugin.sim.rules import MarketRules

SYM = "ETH/BTC"
RULES = MarketRules(SYM, "ETH", "BTC", tick_size=D("0.01"), lot_size=D("0.1"), min_size=D("0.1"),
                    min_notional=D("1"), maker_fee=D("0.001"), taker_fee=D("0.002"))
START = {"ETH": D(30), "BTC": D(3000)}
CENT = D("0.01")


@st.composite
def bar_paths(draw):
    n = draw(st.integers(3, 14))
    rows, last = [], 10_000  # cents
    for _ in range(n):
        o = last + draw(st.sampled_from([0, 0, 0, -300, 300, -50, 50]))
        c = o + draw(st.integers(-400, 400))
        h = max(o, c) + draw(st.integers(0, 300))
        lo = min(o, c) - draw(st.integers(0, 300))
        rows.append(tuple(D(x) * CENT for x in (o, h, lo, c)))
        last = c
    return [Bar(i * 60_000, *r, D(100)) for i, r in enumerate(rows)]


def _price(draw, around, lo, hi):
    return (D(around) + D(draw(st.integers(lo, hi)))) * CENT


@st.composite
def actions(draw):
    kind = draw(st.sampled_from(["step", "step", "single", "oco", "oto", "otoco", "cancel", "cancel_list"]))
    side = draw(st.sampled_from(["buy", "sell"]))
    other = "sell" if side == "buy" else "buy"
    amount = D(draw(st.integers(1, 60))) / 10
    sgn = 1 if side == "buy" else -1
    if kind == "single":
        t = draw(st.sampled_from(["limit", "market", "stop_market", "stop_limit"]))
        p = _price(draw, 10_000, -600, 600)
        tif = draw(st.sampled_from(["GTC", "GTC", "IOC", "FOK"])) if t in ("limit", "market") else "GTC"
        expire = draw(st.sampled_from([None, None, 60_000, 180_000, 400_000])) if tif == "GTC" else None
        return kind, OrderRequest(SYM, side, t, amount=amount, price=p if t in ("limit", "stop_limit") else None,
                                  trigger=_price(draw, 10_000, -600, 600) if t.startswith("stop") else None,
                                  time_in_force=tif, expire_ms=expire,
                                  post_only=t == "limit" and tif == "GTC" and draw(st.booleans()))
    if kind == "oco":
        lim = _price(draw, 10_000, 0, 800) if side == "sell" else _price(draw, 10_000, -800, 0)
        trig = _price(draw, 10_000, -800, 0) if side == "sell" else _price(draw, 10_000, 0, 800)
        t = draw(st.sampled_from(["stop_market", "stop_limit"]))
        sl = OrderRequest(SYM, side, t, amount=amount, trigger=trig,
                          price=trig - sgn * D(draw(st.integers(-50, 50))) * CENT if t == "stop_limit" else None)
        return kind, [OrderRequest(SYM, side, "limit", amount=amount, price=lim), sl]
    if kind in ("oto", "otoco"):
        et = draw(st.sampled_from(["limit", "limit", "market"]))
        entry_p = _price(draw, 10_000, -400, 400)
        entry = OrderRequest(SYM, side, et, amount=amount, price=entry_p if et == "limit" else None)
        ref = entry_p if et == "limit" else None
        base = ref if ref is not None else D(100)
        stop = base - sgn * D(draw(st.integers(20, 800))) * CENT
        tp = base + sgn * D(draw(st.integers(20, 800))) * CENT
        exit_amt = amount - D(draw(st.integers(0, 5))) / 10
        expire = draw(st.sampled_from([None, None, 120_000, 300_000]))
        entry = OrderRequest(SYM, side, et, amount=amount, price=entry_p if et == "limit" else None, expire_ms=expire)
        sl = OrderRequest(SYM, other, "stop_market", amount=exit_amt, trigger=stop, expire_ms=expire)
        if kind == "oto":
            return kind, [entry, sl]
        return kind, [entry, OrderRequest(SYM, other, "limit", amount=exit_amt, price=tp), sl]
    return kind, draw(st.integers(0, 40))


def check_invariants(eng: Engine):
    for cur, (total, free, used) in eng.balances().items():
        assert total >= 0 and free >= 0 and used >= 0, (cur, total, free, used)
    # the running hold totals equal the holds summed afresh; nothing held once no order is open
    recount = {}
    with localcontext(prec=120):  # summed exactly
        for cur, amount in eng.to_state()["holds"].values():
            recount[cur] = recount.get(cur, D(0)) + D(amount)
    assert {c: u for c, (_, _, u) in eng.balances().items() if u} == {c: a for c, a in recount.items() if a}
    if not eng.open_orders():
        assert all(u == 0 for _, _, u in eng.balances().values())
    assert [o.id for o in eng.open_orders()] == [o.id for o in eng.orders(status=("pending", "open", "triggered"))]
    fills_by_order = {}
    for f in eng.fills():
        fills_by_order.setdefault(f.order_id, []).append(f)
        assert f.fee == f.price * f.amount * (RULES.maker_fee if f.liquidity == "maker" else RULES.taker_fee)
    for o in eng.orders():
        assert o.filled <= o.amount or o.funds is not None
        assert o.filled == sum((f.amount for f in fills_by_order.get(o.id, [])), D(0))
        if o.status == "filled":
            assert o.filled == o.amount
    for lst in eng.lists():
        legs = eng.list_orders(lst.id)
        if lst.status != "open":
            assert not [o for o in legs if o.status in ("pending", "open", "triggered")], lst
        if lst.kind == "oco":
            assert sum(o.status == "filled" for o in legs) <= 1
            continue
        entry, exits = legs[0], legs[1:]
        assert entry.role == "entry"
        filled_exits = [o for o in exits if o.filled > 0]
        assert len(filled_exits) <= 1
        assert sum((o.filled for o in exits), D(0)) <= entry.filled
        if entry.status != "filled":
            assert all(o.status in ("pending", "canceled") for o in exits)
        for x in filled_exits:  # an exit fills on a later bar than its entry
            assert min(f.ts for f in fills_by_order[x.id]) > max(f.ts for f in fills_by_order[entry.id])


def accounting_holds(eng: Engine):
    """Totals equal the start plus the fills (base moves by the amounts; quote by cost and fee)."""
    base, quote = START["ETH"], START["BTC"]
    for f in eng.fills():
        sign = 1 if f.side == "buy" else -1
        base += sign * f.amount
        quote -= sign * f.price * f.amount + f.fee
    bal = eng.balances()
    assert bal["ETH"][0] == base and bal["BTC"][0] == quote


def run_script(bars, script, eng=None, fraction=None):
    eng = eng or Engine({SYM: RULES}, {SYM: bars}, dict(START), start=1, max_volume_fraction=fraction)
    for kind, arg in script:
        before = eng.to_state()
        try:
            if kind == "step":
                eng.step()
            elif kind == "single":
                eng.place(arg)
            elif kind in ("oco", "oto", "otoco"):
                eng.place_list(kind, arg)
            elif kind == "cancel":
                live = eng.open_orders()
                if live:
                    eng.cancel(live[arg % len(live)].id)
            else:
                live = eng.lists(status="open")
                if live:
                    eng.cancel_list(live[arg % len(live)].id)
        except Reject:
            assert eng.to_state() == before, "a Reject must change nothing"
        check_invariants(eng)
    return eng


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_paths(), script=st.lists(actions(), min_size=1, max_size=30))
def test_invariants_hold_after_every_action(bars, script):
    eng = run_script(bars, script)
    while eng.step():
        check_invariants(eng)
    accounting_holds(eng)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_paths(), script=st.lists(actions(), min_size=1, max_size=30),
       fraction=st.sampled_from([D("0.01"), D("0.02"), D("0.05"), D("0.3")]))
def test_invariants_hold_with_partial_fills(bars, script, fraction):
    eng = run_script(bars, script, fraction=fraction)
    while eng.step():
        check_invariants(eng)
    accounting_holds(eng)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_paths(), script=st.lists(actions(), min_size=1, max_size=30), cut=st.integers(0, 30))
def test_replay_is_deterministic_and_survives_a_state_restart(bars, script, cut):
    straight = run_script(bars, script)
    first = run_script(bars, script[:cut])
    restarted = Engine.from_state(first.to_state(), {SYM: bars})
    resumed = run_script(bars, script[cut:], eng=restarted)
    assert resumed.to_state() == straight.to_state()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_paths(), script=st.lists(actions(), min_size=1, max_size=30),
       fraction=st.sampled_from([None, D("0.05")]))
def test_journal_replayed_on_a_fresh_engine_rebuilds_the_same_state(bars, script, fraction):
    """The state file's journal: every accepted change as JSON, repeated in order, gives the same state."""
    eng = Engine({SYM: RULES}, {SYM: bars}, dict(START), start=1, max_volume_fraction=fraction)
    entries = []
    eng.journal = entries.append
    run_script(bars, script, eng=eng)
    while eng.step():
        pass
    fresh = Engine({SYM: RULES}, {SYM: bars}, dict(START), start=1, max_volume_fraction=fraction)
    for entry in entries:
        state.apply(fresh, json.loads(json.dumps(entry)))
    assert fresh.to_state() == eng.to_state()
