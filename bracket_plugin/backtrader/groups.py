"""Gathering backtrader orders into groups (pure: works on plain OrderInfo records).

backtrader links orders two ways (see backtrader's `Strategy.buy_bracket` and its
BackBroker, module `backtrader.brokers.bbroker`):
- parent / transmit: a bracket is a parent plus children created with `parent=`; the group is
  complete when an order with `transmit=True` arrives (the last child of buy_bracket);
- `oco=`: an order names another one; all orders chained this way form one OCO group.

The broker buffers the orders a strategy creates during one `next()` and calls `gather()` before
the next bar, so an `oco=` pair created in one `next()` goes out as one list order.
"""
from __future__ import annotations

from dataclasses import dataclass

from .planner import (
    ENTRY,
    LIMIT,
    MARKET,
    OCO,
    OTO,
    OTOCO,
    SINGLE,
    STOP,
    STOP_LIMIT,
    STOP_LOSS,
    TAKE_PROFIT,
    BracketSpec,
    LegSpec,
    PlanError,
)

# backtrader's Order exec types (`backtrader.order.OrderBase`)
BT_MARKET, BT_CLOSE, BT_LIMIT, BT_STOP, BT_STOPLIMIT, BT_STOPTRAIL, BT_STOPTRAILLIMIT, BT_HISTORICAL = range(8)
EXEC_NAMES = ['Market', 'Close', 'Limit', 'Stop', 'StopLimit', 'StopTrail', 'StopTrailLimit', 'Historical']


@dataclass(frozen=True)
class OrderInfo:
    """What grouping and planning need from one backtrader order."""
    ref: int
    is_buy: bool
    size: float            # absolute
    exectype: int
    price: float | None    # limit price, or trigger for Stop / StopLimit
    plimit: float | None   # limit price of a StopLimit
    parent: int | None = None
    transmit: bool = True
    oco: int | None = None


def leg_kind(info: OrderInfo) -> str:
    """backtrader exec type -> leg kind; the unsupported ones raise naming the rule."""
    if info.exectype == BT_MARKET:
        return MARKET
    if info.exectype == BT_LIMIT:
        return LIMIT
    if info.exectype == BT_STOP:
        return STOP
    if info.exectype == BT_STOPLIMIT:
        if info.plimit is None:
            raise PlanError(f'plimit: order {info.ref} is StopLimit and needs plimit (the limit price after the trigger)')
        return STOP_LIMIT
    raise PlanError(f'exectype: order {info.ref} is {EXEC_NAMES[info.exectype]}, which this broker does not send '
                    '(supported: Market, Limit, Stop, StopLimit)')


def to_leg(info: OrderInfo, role: str) -> LegSpec:
    kind = leg_kind(info)
    side = 'buy' if info.is_buy else 'sell'
    if kind == MARKET:
        return LegSpec(role, side, info.size, kind, ref=info.ref)
    if kind == LIMIT:
        return LegSpec(role, side, info.size, kind, price=info.price, ref=info.ref)
    if kind == STOP:
        return LegSpec(role, side, info.size, kind, trigger=info.price, ref=info.ref)
    return LegSpec(role, side, info.size, kind, price=info.plimit, trigger=info.price, ref=info.ref)


def exit_role(info: OrderInfo) -> str:
    """In a group, limit legs take profit and trigger legs stop out."""
    return TAKE_PROFIT if info.exectype == BT_LIMIT else STOP_LOSS


def bracket_spec(symbol: str, parent: OrderInfo, children: list[OrderInfo]) -> BracketSpec:
    legs = [to_leg(parent, ENTRY)]
    for c in children:
        legs.append(to_leg(c, exit_role(c)))
    if len(children) == 0:
        return BracketSpec(SINGLE, symbol, tuple(legs))
    kind = OTOCO if len(children) == 2 else OTO
    if len(children) > 2:
        raise PlanError(f'parent: order {parent.ref} has {len(children)} children; a bracket has at most 2')
    return BracketSpec(kind, symbol, tuple(legs))


def oco_spec(symbol: str, members: list[OrderInfo]) -> BracketSpec:
    if len(members) != 2:
        raise PlanError(f'oco: orders {[m.ref for m in members]} form an OCO group of {len(members)}; '
                        'exchanges link exactly 2 (one limit, one stop or stop-limit)')
    roles = [exit_role(m) for m in members]
    if sorted(roles) != [STOP_LOSS, TAKE_PROFIT]:
        raise PlanError(f'oco: orders {[m.ref for m in members]} must be one Limit and one Stop/StopLimit')
    legs = [to_leg(m, r) for m, r in zip(members, roles)]
    return BracketSpec(OCO, symbol, tuple(legs))


@dataclass
class Pending:
    """Orders held until their group is complete (backtrader's transmit rule)."""
    held: dict[int, list[OrderInfo]]  # parent ref -> [OrderInfo] (parent first)

    def __init__(self) -> None:
        self.held = {}

    def add(self, info: OrderInfo) -> list[OrderInfo] | None:
        """Hold an order; answer the whole family once an order with transmit=True completes it.
        A child whose parent is unknown raises (backtrader rejects it the same way)."""
        root = info.parent if info.parent is not None else info.ref
        if info.parent is not None and root not in self.held:
            raise PlanError(f'parent: order {info.ref} names parent {info.parent}, which is not pending')
        self.held.setdefault(root, []).append(info)
        if info.transmit:
            return self.held.pop(root)
        return None


def partition(families: list[list[OrderInfo]]) -> list[list[OrderInfo]]:
    """Merge families linked by `oco=` (transitively) into groups; others stay as they are.
    Order of the result follows the first order of each group, as created."""
    leader: dict[int, int] = {}
    for fam in families:
        for o in fam:
            leader[o.ref] = o.ref

    def find(r: int) -> int:
        while leader[r] != r:
            leader[r] = leader[leader[r]]
            r = leader[r]
        return r

    for fam in families:
        head = fam[0].ref
        for o in fam[1:]:
            leader[find(o.ref)] = find(head)
        for o in fam:
            if o.oco is not None and o.oco in leader:
                leader[find(o.ref)] = find(o.oco)
    out: dict[int, list[OrderInfo]] = {}
    for fam in families:
        for o in fam:
            out.setdefault(find(o.ref), []).append(o)
    return sorted(out.values(), key=lambda g: min(o.ref for o in g))


def group_spec(symbol: str, group: list[OrderInfo]) -> BracketSpec:
    """One gathered group -> BracketSpec (single, oco, oto or otoco)."""
    parents = [o for o in group if o.parent is None]
    children = [o for o in group if o.parent is not None]
    if children:
        if len(parents) != 1 or any(o.oco is not None for o in group):
            raise PlanError(f'oco: a bracket (orders {[o.ref for o in group]}) cannot also be linked with oco=')
        return bracket_spec(symbol, parents[0], children)
    if len(group) == 1:
        return bracket_spec(symbol, group[0], [])
    return oco_spec(symbol, group)
