"""From an order group to exchange requests (pure: no I/O, no backtrader objects).

A BracketSpec describes what the strategy asked for (entry and exit legs, backtrader exec types
already mapped to leg kinds). `plan()` looks at the exchange's capabilities (its ccxt `has` dict)
and answers with a Plan:

- `first`: the one request to send now (a native list order, or a single order);
- `watch`: a stop leg kept locally and sent as a plain order when its trigger is touched
  (managed OCO on an exchange without native OCO: the limit leg rests on the book and holds the
  funds, the stop leg holds nothing until it fires, so spot funds are never locked twice);
- `then`: the exits, as a BracketSpec of their own, to plan and place once the entry has fully
  filled (managed OTO / OTOCO).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..venues import RECEIVED, find
from ..vocab import GroupKind, LegKind, Role

# leg kinds (what the exchange is asked for), group kinds and roles: the one vocabulary (vocab.py)
MARKET, LIMIT, STOP, STOP_LIMIT = LegKind.MARKET, LegKind.LIMIT, LegKind.STOP, LegKind.STOP_LIMIT
KINDS = tuple(LegKind)
SINGLE, OCO, OTO, OTOCO = GroupKind.SINGLE, GroupKind.OCO, GroupKind.OTO, GroupKind.OTOCO
ENTRY, TAKE_PROFIT, STOP_LOSS = Role.ENTRY, Role.TAKE_PROFIT, Role.STOP_LOSS

class PlanError(ValueError):
    """The group cannot be expressed on this exchange; the message names the field and rule."""


@dataclass(frozen=True)
class LegSpec:
    role: str            # entry | take_profit | stop_loss (single orders: entry)
    side: str            # buy | sell
    amount: float
    kind: str            # one of KINDS
    price: float | None = None    # limit price (limit, stop_limit)
    trigger: float | None = None  # trigger price (stop, stop_limit)
    ref: int | None = None        # backtrader order ref, carried for the caller

    def __post_init__(self) -> None:
        if self.side not in ('buy', 'sell'):
            raise PlanError(f'side: must be buy or sell, got {self.side!r}')
        if self.kind not in KINDS:
            raise PlanError(f'kind: must be one of {KINDS}, got {self.kind!r}')
        if not self.amount or self.amount <= 0:
            raise PlanError(f'amount: must be > 0, got {self.amount!r}')
        if self.kind in (LIMIT, STOP_LIMIT) and not (self.price and self.price > 0):
            raise PlanError(f'price: a {self.kind} leg needs a price > 0, got {self.price!r}')
        if self.kind in (STOP, STOP_LIMIT) and not (self.trigger and self.trigger > 0):
            raise PlanError(f'trigger: a {self.kind} leg needs a trigger price > 0, got {self.trigger!r}')


@dataclass(frozen=True)
class BracketSpec:
    kind: str                 # single | oco | oto | otoco
    symbol: str
    legs: tuple[LegSpec, ...]

    def leg(self, role: str) -> LegSpec | None:
        return next((leg for leg in self.legs if leg.role == role), None)

    @property
    def entry(self) -> LegSpec | None:
        return self.leg(ENTRY)

    @property
    def exits(self) -> tuple[LegSpec, ...]:
        return tuple(leg for leg in self.legs if leg.role != ENTRY)


@dataclass(frozen=True)
class Request:
    method: str                      # exchange method name (snake_case)
    args: tuple
    params: dict = field(default_factory=dict)
    roles: tuple[str, ...] = ()      # which legs of the spec this request carries


@dataclass(frozen=True)
class Plan:
    mode: str                         # native | single | managed
    first: Request
    watch: LegSpec | None = None
    then: BracketSpec | None = None
    drop: tuple[str, ...] = ()        # legs that will never be placed (see plan_oco)
    spec: BracketSpec | None = None   # the group as sent: amounts to the lot, exits net of a base fee


def plan(spec: BracketSpec, has: dict, exchange_id: str = '', stop_slippage: float = 0.01,
         last: float | None = None, lot: float | None = None, dust: float = 0.0) -> Plan:
    """Choose native list orders where the exchange has them, managed legs where it does not.
    `last`: the last price, when known; an OCO whose levels the market has already crossed cannot
    be placed as a list (exchanges refuse it), see `_plan_crossed`. `lot`: the market's amount
    step, when known: amounts are sized as the venue will take them (`sized`; `dust`: the base the
    account holds beyond its positions, less than a lot, signed); the plan's `spec` is the group as
    sent."""
    _check_shape(spec)
    spec = sized(spec, exchange_id, lot, dust)
    if spec.kind == SINGLE:
        out = Plan('single', single_request(spec.symbol, spec.legs[0]))
    elif spec.kind == OCO:
        out = _plan_crossed(spec, last) or _plan_oco(spec, has, exchange_id, stop_slippage)
    else:
        out = _plan_oto(spec, has, exchange_id, stop_slippage)
    return replace(out, spec=spec)


def floor_lot(amount: float, lot: float | None) -> float:
    """`amount` down to the lot (the venue truncates to it); float noise below a lot is kept exact."""
    if not lot:
        return amount
    return round(int(amount / lot + 1e-9) * lot, 12)


def ceil_lot(amount: float, lot: float | None) -> float:
    if not lot:
        return amount
    n = int(amount / lot + 1e-9)
    return round((n if n * lot >= amount - 1e-12 else n + 1) * lot, 12)


def exit_amount(entry_amount: float, entry_side: str, exchange_id: str, lot: float | None, dust: float = 0.0) -> float:
    """What an exit of an entry of `entry_amount` must be on this venue: the amount itself, except
    where fills pay their fee in the asset received (the venue profile's fee_currency): a long's
    sell exits sell what the entry left in the account after its fee (rounded down to the lot); a
    short's buy-back exits buy enough that what they receive, net of their own fee, covers it
    (rounded up). Both at the venue's higher rate, which no fill exceeds. `dust`: what the account
    held of the base before the entry, less than a lot (left by earlier exits): taken along, so
    it never grows past a lot."""
    venue = find(exchange_id)
    if venue is None or venue.fee_currency != RECEIVED:
        return floor_lot(entry_amount, lot)
    rate = float(max(venue.maker_fee, venue.taker_fee))
    if entry_side == 'buy':
        return floor_lot(entry_amount * (1 - rate) + dust, lot)
    return ceil_lot(max(entry_amount - dust, 0.0) / (1 - rate), lot)


def sized(spec: BracketSpec, exchange_id: str, lot: float | None, dust: float = 0.0) -> BracketSpec:
    """The group with every amount as the venue will take it (see exit_amount)."""
    entry = spec.entry
    legs = []
    for leg in spec.legs:
        if entry is None or leg.role == ENTRY:
            amount = floor_lot(leg.amount, lot)
        elif entry.side == 'buy':     # never sell more than the entry leaves in the account
            amount = floor_lot(min(leg.amount + max(dust, 0.0),
                                   exit_amount(floor_lot(entry.amount, lot), 'buy', exchange_id, lot, dust)), lot)
        else:
            amount = exit_amount(leg.amount, 'sell', exchange_id, lot, dust)
        if amount <= 0:
            raise PlanError(f'amount: {leg.amount} of the {leg.role} leg is less than one lot ({lot})')
        legs.append(leg if amount == leg.amount else replace(leg, amount=amount))
    return replace(spec, legs=tuple(legs))


def single_request(symbol: str, leg: LegSpec) -> Request:
    """ccxt create_order for one leg; trigger orders go through ccxt's unified `triggerPrice`."""
    if leg.kind == MARKET:
        return Request('create_order', (symbol, 'market', leg.side, leg.amount, None), {}, (leg.role,))
    if leg.kind == LIMIT:
        return Request('create_order', (symbol, 'limit', leg.side, leg.amount, leg.price), {}, (leg.role,))
    if leg.kind == STOP:
        return Request('create_order', (symbol, 'market', leg.side, leg.amount, None),
                       {'triggerPrice': leg.trigger}, (leg.role,))
    return Request('create_order', (symbol, 'limit', leg.side, leg.amount, leg.price),
                   {'triggerPrice': leg.trigger}, (leg.role,))


def stop_limit_price(leg: LegSpec, exchange_id: str, slippage: float) -> float | None:
    """The stop leg's limit price: its own for a stop-limit; for a plain stop only where the
    exchange insists on one (its profile's stop_leg_needs_limit), `slippage` away from the
    trigger on the losing side."""
    if leg.kind == STOP_LIMIT:
        return leg.price
    venue = find(exchange_id)
    if venue is not None and venue.stop_leg_needs_limit:
        assert leg.trigger is not None   # a stop leg has its trigger (LegSpec checks it)
        return leg.trigger * (1 - slippage) if leg.side == 'sell' else leg.trigger * (1 + slippage)
    return None


def _plan_crossed(spec: BracketSpec, last: float | None) -> Plan | None:
    """Exits placed after the market already crossed a level (e.g. an entry filled and the bar
    closed beyond its stop): a crossed stop has fired, so it goes out as the order it turns
    into (market, or the stop-limit's limit) and the take-profit is dropped; a crossed
    take-profit goes out as a plain limit (marketable) with the stop watched locally."""
    if last is None:
        return None
    tp, sl = spec.leg(TAKE_PROFIT), spec.leg(STOP_LOSS)
    # _check_shape passed: an OCO has both legs, the limit its price, the stop its trigger
    assert tp is not None and sl is not None and tp.price is not None and sl.trigger is not None
    sell = sl.side == 'sell'
    if (last <= sl.trigger) if sell else (last >= sl.trigger):
        fired = (LegSpec(STOP_LOSS, sl.side, sl.amount, MARKET, ref=sl.ref) if sl.kind == STOP
                 else LegSpec(STOP_LOSS, sl.side, sl.amount, LIMIT, price=sl.price, ref=sl.ref))
        return Plan('managed', single_request(spec.symbol, fired), drop=(TAKE_PROFIT,))
    if (last >= tp.price) if sell else (last <= tp.price):
        return Plan('managed', single_request(spec.symbol, tp), watch=sl)
    return None


def _plan_oco(spec: BracketSpec, has: dict, exchange_id: str, slippage: float) -> Plan:
    limit, stop = spec.leg(TAKE_PROFIT), spec.leg(STOP_LOSS)
    assert limit is not None and stop is not None   # _check_shape: an OCO has both legs
    if has.get('createOcoOrder'):
        return Plan('native', Request(
            'create_oco_order',
            (spec.symbol, limit.side, limit.amount, limit.price, stop.trigger,
             stop_limit_price(stop, exchange_id, slippage)),
            {}, (TAKE_PROFIT, STOP_LOSS)))
    # limit leg rests and holds the funds; the stop leg is watched locally
    return Plan('managed', single_request(spec.symbol, limit), watch=stop)


def _plan_oto(spec: BracketSpec, has: dict, exchange_id: str, slippage: float) -> Plan:
    entry = spec.entry
    assert entry is not None   # _check_shape: an OTO / OTOCO has its entry
    exits = spec.exits
    tp, sl = spec.leg(TAKE_PROFIT), spec.leg(STOP_LOSS)
    venue = find(exchange_id)
    native_entry = entry.kind in (venue.native_entry_kinds if venue is not None else (MARKET, LIMIT))
    if native_entry and spec.kind == OTOCO and has.get('createOtocoOrder'):
        assert tp is not None and sl is not None   # _check_shape: an OTOCO has both exits
        params: dict[str, str | float | None] = {'entryType': entry.kind}
        sll = stop_limit_price(sl, exchange_id, slippage)
        if sll is not None:
            params['stopLossLimitPrice'] = sll
        # a backtrader Limit exit never fills worse than its price: make it a limit leg
        params['takeProfitLimitPrice'] = tp.price
        if tp.amount != entry.amount:
            params['exitAmount'] = tp.amount     # exits net of the entry's fee (exit_amount)
        return Plan('native', Request(
            'create_otoco_order',
            (spec.symbol, entry.side, entry.amount, entry.price, tp.price, sl.trigger),
            params, (ENTRY, STOP_LOSS, TAKE_PROFIT)))
    if native_entry and spec.kind == OTO and has.get('createOtoOrder'):
        exit_ = exits[0]
        params = {'entryType': entry.kind}
        if exit_.amount != entry.amount:
            params['exitAmount'] = exit_.amount
        if exit_.role == STOP_LOSS:
            sll = stop_limit_price(exit_, exchange_id, slippage)
            if sll is not None:
                params['stopLossLimitPrice'] = sll
            args: tuple = (spec.symbol, entry.side, entry.amount, entry.price, exit_.trigger, None)
        else:
            params['takeProfitLimitPrice'] = exit_.price
            args = (spec.symbol, entry.side, entry.amount, entry.price, None, exit_.price)
        return Plan('native', Request('create_oto_order', args, params, (ENTRY, exit_.role)))
    # managed: the entry alone now, the exits (native OCO where possible) once it has filled
    then_kind = OCO if len(exits) == 2 else SINGLE
    then = BracketSpec(then_kind, spec.symbol, exits if then_kind == OCO else (replace(exits[0]),))
    return Plan('managed', single_request(spec.symbol, entry), then=then)


def _check_shape(spec: BracketSpec) -> None:
    roles = [leg.role for leg in spec.legs]
    if len(set(roles)) != len(roles):
        raise PlanError(f'legs: each role at most once, got {roles}')
    if spec.kind == SINGLE:
        if len(spec.legs) != 1:
            raise PlanError(f'legs: a single order has one leg, got {len(spec.legs)}')
        return
    if spec.kind == OCO:
        tp, sl = spec.leg(TAKE_PROFIT), spec.leg(STOP_LOSS)
        if len(spec.legs) != 2 or tp is None or sl is None:
            raise PlanError('legs: an OCO needs exactly one limit leg and one stop / stop-limit leg')
        if tp.kind != LIMIT or sl.kind not in (STOP, STOP_LIMIT):
            raise PlanError(f'kind: an OCO pairs a limit with a stop or stop-limit, got {tp.kind} + {sl.kind}')
        if tp.side != sl.side or tp.amount != sl.amount:
            raise PlanError('legs: both legs of an OCO must have the same side and size')
        assert tp.price is not None and sl.trigger is not None   # a limit has its price, a stop its trigger (LegSpec)
        if tp.side == 'sell' and not tp.price > sl.trigger:
            raise PlanError(f'price: a sell OCO needs its limit price above its stop price, got {tp.price} <= {sl.trigger}')
        if tp.side == 'buy' and not tp.price < sl.trigger:
            raise PlanError(f'price: a buy OCO needs its limit price below its stop price, got {tp.price} >= {sl.trigger}')
        return
    if spec.kind not in (OTO, OTOCO):
        raise PlanError(f'kind: must be single, oco, oto or otoco, got {spec.kind!r}')
    entry = spec.entry
    exits = spec.exits
    want = 2 if spec.kind == OTOCO else 1
    if entry is None or len(exits) != want:
        raise PlanError(f'legs: an {spec.kind.upper()} needs an entry and {want} exit leg(s)')
    for x in exits:
        if x.side == entry.side:
            raise PlanError(f'side: the {x.role} leg must be on the other side of the entry ({entry.side})')
        if x.amount > entry.amount:
            raise PlanError(f'amount: the {x.role} leg ({x.amount}) exceeds the entry ({entry.amount})')
    tp, sl = spec.leg(TAKE_PROFIT), spec.leg(STOP_LOSS)
    if tp is not None and tp.kind != LIMIT:
        raise PlanError(f'kind: the take-profit leg must be a limit, got {tp.kind}')
    if sl is not None and sl.kind not in (STOP, STOP_LIMIT):
        raise PlanError(f'kind: the stop-loss leg must be a stop or stop-limit, got {sl.kind}')
    if tp is not None and sl is not None:
        assert tp.price is not None and sl.trigger is not None   # a limit has its price, a stop its trigger (LegSpec)
        if entry.side == 'buy' and not sl.trigger < tp.price:
            raise PlanError(f'price: a long bracket needs stop ({sl.trigger}) < take-profit ({tp.price})')
        if entry.side == 'sell' and not sl.trigger > tp.price:
            raise PlanError(f'price: a short bracket needs stop ({sl.trigger}) > take-profit ({tp.price})')
