"""Properties of order groups driven by the broker's state machine (orderstate.Group) and planner
against the simulator's matching engine (in process, no HTTP), over random bar paths.

For native lists (KuCoin / Crypto.com capabilities) and the managed path (no list orders):
- at most one exit of a group ever fills;
- the exits never fill more than the entry filled;
- once the group is done, none of its orders is live on the engine;
- the managed path never has two exit orders resting at once (funds are locked once).
"""
from decimal import Decimal as D

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bracket_plugin.backtrader.orderstate import CANCEL_LEG, CANCEL_LIST, PLACE_THEN, SEND_WATCHED, WAITING, Group
from bracket_plugin.backtrader.planner import (
    ENTRY,
    LIMIT,
    MARKET,
    OCO,
    OTOCO,
    STOP,
    STOP_LOSS,
    TAKE_PROFIT,
    BracketSpec,
    LegSpec,
    plan,
    single_request,
)
from bracket_plugin.bars import Bar
from bracket_plugin.sim.engine import Engine, OrderRequest, Reject
from bracket_plugin.sim.rules import default_rules

SYM = 'ETH/BTC'
HAS = {
    'kucoin': {'createOcoOrder': True},
    'cryptocom': {'createOcoOrder': True, 'createOtoOrder': True, 'createOtocoOrder': True},
    'managed': {},
}
TICK = D('0.001')
LIVE = ('pending', 'open', 'triggered')


def q(x) -> D:
    return (D(str(x)) / TICK).to_integral_value() * TICK


@st.composite
def bar_paths(draw):
    n = draw(st.integers(8, 25))
    steps = draw(st.lists(st.integers(-150, 150), min_size=n, max_size=n))
    wicks = draw(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 120)), min_size=n, max_size=n))
    bars, price = [], 10000  # cents of a price around 100
    for i, (s, (up, down)) in enumerate(zip(steps, wicks)):
        o, c = price, max(price + s, 500)
        h, lo = max(o, c) + up, max(min(o, c) - down, 100)
        bars.append(Bar(1_700_000_000_000 + i * 300_000, D(o) / 100, D(h) / 100, D(lo) / 100, D(c) / 100, D(1)))
        price = c
    return bars


@st.composite
def groups(draw):
    kind = draw(st.sampled_from([OTOCO, OCO]))
    side = draw(st.sampled_from(['buy', 'sell']))
    other = 'sell' if side == 'buy' else 'buy'
    tp_pct, sl_pct, off = draw(st.integers(2, 30)), draw(st.integers(2, 30)), draw(st.integers(-10, 10))
    entry_kind = draw(st.sampled_from([LIMIT, MARKET]))
    return kind, side, other, tp_pct / 1000, sl_pct / 1000, off / 1000, entry_kind


def make_spec(g, last):
    kind, side, other, tp, sl, off, entry_kind = g
    if kind == OCO:   # exits protecting a position on `other`'s side: a sell OCO protects a long
        up = 1 if side == 'sell' else -1
        return BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, side, 1.0, LIMIT, price=float(q(last * (1 + up * tp)))),
                                      LegSpec(STOP_LOSS, side, 1.0, STOP, trigger=float(q(last * (1 - up * sl))))))
    px = last * (1 + off)
    up = 1 if side == 'buy' else -1
    entry = LegSpec(ENTRY, side, 1.0, entry_kind, price=float(q(px)) if entry_kind == LIMIT else None)
    return BracketSpec(OTOCO, SYM, (entry, LegSpec(STOP_LOSS, other, 1.0, STOP, trigger=float(q(px * (1 - up * sl)))),
                                    LegSpec(TAKE_PROFIT, other, 1.0, LIMIT, price=float(q(px * (1 + up * tp))))))


class Driver:
    """What BracketStore does, against the engine directly."""

    def __init__(self, engine, venue):
        self.engine, self.venue = engine, venue
        self.seen = 0
        self.max_resting_exits = 0

    def send(self, group, req):
        e = self.engine
        try:
            if req.method == 'create_order':
                sym, typ, side, amount, price = req.args
                trig = req.params.get('triggerPrice')
                t = {'market': 'stop_market' if trig else 'market', 'limit': 'stop_limit' if trig else 'limit'}[typ]
                o = e.place(OrderRequest(sym, side, t, amount=D(str(amount)), price=q(price) if price else None,
                                         trigger=q(trig) if trig else None, role=req.roles[0]))
                group.placed(req.roles, {req.roles[0]: o.id})
            elif req.method == 'create_oco_order':
                sym, side, amount, price, stop, stop_limit = req.args
                lst = e.place_list('oco', [
                    OrderRequest(sym, side, 'limit', amount=D(str(amount)), price=q(price)),
                    OrderRequest(sym, side, 'stop_limit' if stop_limit else 'stop_market', amount=D(str(amount)),
                                 price=q(stop_limit) if stop_limit else None, trigger=q(stop))])
                group.placed(req.roles, dict(zip((TAKE_PROFIT, STOP_LOSS), lst.order_ids)), lst.id)
            else:
                sym, side, amount, price, tp, sl = req.args
                other = 'sell' if side == 'buy' else 'buy'
                entry = (OrderRequest(sym, side, 'limit', amount=D(str(amount)), price=q(price))
                         if req.params['entryType'] == 'limit' else OrderRequest(sym, side, 'market', amount=D(str(amount))))
                sll = req.params.get('stopLossLimitPrice')
                lst = e.place_list('otoco', [
                    entry,
                    OrderRequest(sym, other, 'stop_limit' if sll else 'stop_market', amount=D(str(amount)),
                                 price=q(sll) if sll else None, trigger=q(sl), role='stop_loss'),
                    OrderRequest(sym, other, 'limit', amount=D(str(amount)), price=q(tp), role='take_profit')])
                group.placed(req.roles, dict(zip((ENTRY, STOP_LOSS, TAKE_PROFIT), lst.order_ids)), lst.id)
        except Reject:
            self.act(group, group.rejected(req.roles))

    def act(self, group, actions):
        for a in actions:
            if a[0] == PLACE_THEN:
                exits = tuple(group.spec.leg(r) for r in group.exit_roles())
                p = plan(BracketSpec(OCO, SYM, exits), HAS[self.venue], self.venue, 0.01, float(self.engine.last_price(SYM)))
                group.apply_exit_plan(p)
                self.send(group, p.first)
            elif a[0] == CANCEL_LIST:
                self.engine.cancel_list(a[1])
                self.act(group, group.canceled_on_exchange([r for r, leg in group.legs.items() if leg.list_id == a[1]]))
            elif a[0] == CANCEL_LEG:
                self.engine.cancel(group.legs[a[1]].order_id)
                # the venue's fills come first (a leg may have part-filled before the cancel), as the store reads them
                self.cycle_fills(group)
                self.act(group, group.canceled_on_exchange([a[1]]))
            elif a[0] == SEND_WATCHED:
                leg = group.spec.leg(a[1])
                group.watch = None
                assert group.legs[a[1]].status == WAITING
                self.send(group, single_request(SYM, LegSpec(a[1], leg.side, group.legs[a[1]].remaining, MARKET)))

    def cycle_fills(self, group):
        fills = self.engine.fills(SYM)
        new, self.seen = fills[self.seen:], len(fills)
        for f in new:
            _, actions = group.fill(f.order_id, float(f.amount), float(f.price), float(f.fee))
            self.act(group, actions)

    def cycle(self, group, armed_now):
        self.cycle_fills(group)
        for role, leg in group.legs.items():
            if leg.order_id and not leg.done:
                status = self.engine.order(leg.order_id).status
                if status in ('canceled', 'rejected'):
                    self.act(group, group.leg_status(role, status))
        if group.watch and not armed_now and not group.done:
            bar = self.engine.closed_bars(SYM, limit=1)[0]
            leg = group.spec.leg(group.watch)
            if (bar.low <= D(str(leg.trigger))) if leg.side == 'sell' else (bar.high >= D(str(leg.trigger))):
                actions = group.stop_touched()
                self.act(group, actions)
        resting = [leg for r, leg in group.legs.items() if r != ENTRY and leg.order_id
                   and self.engine.order(leg.order_id).status in LIVE and self.engine.order(leg.order_id).list_id is None]
        self.max_resting_exits = max(self.max_resting_exits, len(resting))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_paths(), g=groups(), venue=st.sampled_from(sorted(HAS)))
def test_group_invariants_over_random_bars(bars, g, venue):
    rules = default_rules(SYM, bars)
    engine = Engine({SYM: rules}, {SYM: bars}, {'ETH': D(1000), 'BTC': D(1_000_000)}, start=1)
    spec = make_spec(g, float(engine.last_price(SYM)))
    p = plan(spec, HAS[venue], venue, 0.01, float(engine.last_price(SYM)))
    group = Group.new('g1', spec, p)
    d = Driver(engine, venue)
    d.send(group, p.first)
    armed = True
    while engine.step():
        watch_before = group.watch
        d.cycle(group, armed)
        armed = group.watch is not None and watch_before is None
        exits = [group.legs[r] for r in group.exit_roles()]
        # at most one exit fills; exits never exceed the entry
        assert sum(1 for leg in exits if leg.filled > 0) <= 1
        if spec.kind == OTOCO:
            assert sum(leg.filled for leg in exits) <= group.legs[ENTRY].filled + 1e-12
        assert d.max_resting_exits <= 1
        # the journal's form of the group is the group: a restart resumes from exactly this state
        assert Group.from_dict(group.to_dict()).to_dict() == group.to_dict()
        if group.done:
            ids = {leg.order_id for leg in group.legs.values() if leg.order_id}
            assert not [o for o in engine.open_orders(SYM) if o.id in ids]
            break
    event(f'{venue} {spec.kind}: ' + ','.join(sorted(r for r, leg in group.legs.items() if leg.status == 'filled')))
    # the engine agrees with the state machine on what filled
    for role, leg in group.legs.items():
        if leg.order_id:
            o = engine.order(leg.order_id)
            if o.list_id is None or role != ENTRY:
                assert float(o.filled) == leg.filled or (leg.filled == 0 and o.filled == 0)
