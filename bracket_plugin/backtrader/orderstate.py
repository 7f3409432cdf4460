"""The life of one order group, as a pure state machine (no I/O).

A Group holds one leg record per role (entry / take_profit / stop_loss) and which exchange
request carries which leg. Events come in (placed, fill, leg status from the exchange, stop
touched, cancel asked); each call answers the actions the store must perform (place the exits,
cancel a leg, send a watched stop). The store journals the Group after every event, so a restart
resumes from the same state.

Leg statuses: waiting (exists only in our plan: exits of a managed bracket before the entry
fills, or a watched stop), inactive (on the exchange but not live yet: exits of a native OTO(CO)),
open, filled, canceled, rejected.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .planner import ENTRY, OCO, SINGLE, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec, Plan

WAITING, INACTIVE, OPEN, FILLED, CANCELED, REJECTED = 'waiting', 'inactive', 'open', 'filled', 'canceled', 'rejected'
TERMINAL = (FILLED, CANCELED, REJECTED)
LIVE = (INACTIVE, OPEN)

# actions
PLACE_THEN = 'place_then'        # place the exits (managed bracket, entry fully filled)
SEND_WATCHED = 'send_watched'    # the watched stop fired: send it as a plain order
CANCEL_LEG = 'cancel_leg'        # cancel one resting leg (its order id is in the leg)
CANCEL_LIST = 'cancel_list'      # cancel a whole list order


@dataclass
class Leg:
    role: str
    amount: float
    status: str = WAITING
    order_id: str | None = None
    list_id: str | None = None   # list order carrying this leg, if any
    filled: float = 0.0
    cost: float = 0.0            # sum of amount * price over fills
    fee: float = 0.0

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass
class Group:
    key: str
    spec: BracketSpec
    mode: str                                # native | single | managed
    legs: dict[str, Leg] = field(default_factory=dict)
    watch: str | None = None                 # role of the locally watched stop leg
    then_placed: bool = False
    cancel_requested: bool = False

    @classmethod
    def new(cls, key: str, spec: BracketSpec, plan: Plan) -> 'Group':
        g = cls(key, spec, plan.mode)
        for leg in spec.legs:
            g.legs[leg.role] = Leg(leg.role, leg.amount)
        if plan.watch is not None:
            g.watch = plan.watch.role
        for role in plan.drop:
            g.legs[role].status = CANCELED
        return g

    def apply_exit_plan(self, plan: Plan) -> None:
        """The exits of a managed bracket were planned (entry filled): note watch and drops."""
        self.then_placed = True
        if plan.watch is not None:
            self.watch = plan.watch.role
        for role in plan.drop:
            self.legs[role].status = CANCELED

    # queries -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return all(l.done for l in self.legs.values())

    def exit_roles(self) -> list[str]:
        return [r for r in (TAKE_PROFIT, STOP_LOSS) if r in self.legs]

    def has_entry(self) -> bool:
        return self.spec.kind not in (SINGLE, OCO)

    def leg_by_order(self, order_id: str) -> Leg | None:
        return next((l for l in self.legs.values() if l.order_id == order_id), None)

    def unprotected(self) -> bool:
        """Entry filled, no exit live or pending, none filled: a position nobody protects."""
        if not self.has_entry() or self.legs[ENTRY].filled <= 0 or self.cancel_requested:
            return False
        exits = [self.legs[r] for r in self.exit_roles()]
        return all(l.status in (CANCELED, REJECTED) for l in exits) and not any(l.filled for l in exits)

    # events --------------------------------------------------------------------------------
    def placed(self, roles, order_ids: dict[str, str | None], list_id: str | None = None) -> None:
        """A request carrying `roles` was accepted by the exchange."""
        entry_live = ENTRY in roles
        for role in roles:
            leg = self.legs[role]
            leg.order_id = order_ids.get(role) or leg.order_id
            leg.list_id = list_id
            if leg.status in (WAITING, INACTIVE):
                # exits riding with their entry on the exchange wait for it to fill
                leg.status = INACTIVE if (entry_live and role != ENTRY) else OPEN

    def rejected(self, roles) -> list[tuple]:
        """A request was refused: its legs are rejected, the rest of the group is canceled."""
        for role in roles:
            self.legs[role].status = REJECTED
        return self._cancel_rest()

    def fill(self, order_id: str, amount: float, price: float, fee: float) -> tuple[str | None, list[tuple]]:
        """Apply one fill; answer (role, actions)."""
        leg = self.leg_by_order(order_id)
        if leg is None:
            return None, []
        amount = min(amount, leg.remaining)   # never more than the leg's size
        leg.filled += amount
        leg.cost += amount * price
        leg.fee += fee
        if leg.remaining <= leg.amount * 1e-9:
            leg.status = FILLED
        elif leg.status in (WAITING, INACTIVE):
            leg.status = OPEN
        actions: list[tuple] = []
        if leg.role == ENTRY:
            if leg.status == FILLED:
                actions += self._entry_filled()
        else:
            # a fill of one exit ends the other (the exchange cancels it; we stop watching it)
            for r in self.exit_roles():
                other = self.legs[r]
                if r != leg.role and not other.done:
                    other.status = CANCELED
        return leg.role, actions

    def _entry_filled(self) -> list[tuple]:
        actions = []
        for r in self.exit_roles():
            l = self.legs[r]
            if l.status == INACTIVE:
                l.status = OPEN
        if self.mode == 'managed' and not self.then_placed and any(self.legs[r].status == WAITING for r in self.exit_roles()):
            actions.append((PLACE_THEN,))
        return actions

    def leg_status(self, role: str, status: str) -> list[tuple]:
        """The exchange reports a leg's status (from a list or order fetch)."""
        leg = self.legs[role]
        if leg.done or status == leg.status:
            return []
        if status in (CANCELED, REJECTED):
            leg.status = status
            if role == ENTRY and leg.filled > 0:
                # partially filled entry canceled: exits stay for the filled part (see README)
                return self._entry_filled()
            return self._cancel_rest()
        if status == OPEN and leg.status == INACTIVE:
            leg.status = OPEN
        return []

    def stop_touched(self) -> list[tuple]:
        """The watched stop's trigger was touched on a closed bar: free the resting leg's funds,
        then send the stop as a plain order."""
        if self.watch is None or self.legs[self.watch].status != WAITING:
            return []
        actions = []
        for r in self.exit_roles():
            if r != self.watch and self.legs[r].status in LIVE:
                actions.append((CANCEL_LEG, r))
        actions.append((SEND_WATCHED, self.watch))
        return actions

    def cancel(self) -> list[tuple]:
        """The strategy cancels any leg: like BackBroker, the whole group goes."""
        self.cancel_requested = True
        return self._cancel_rest()

    def _cancel_rest(self) -> list[tuple]:
        actions, lists = [], set()
        for leg in self.legs.values():
            if leg.done:
                continue
            if leg.status == WAITING:
                leg.status = CANCELED
            elif leg.list_id:
                if leg.list_id not in lists:
                    lists.add(leg.list_id)
                    actions.append((CANCEL_LIST, leg.list_id))
            else:
                actions.append((CANCEL_LEG, leg.role))
        return actions

    def canceled_on_exchange(self, roles) -> None:
        for r in roles:
            if not self.legs[r].done:
                self.legs[r].status = CANCELED

    # persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {'key': self.key, 'mode': self.mode, 'watch': self.watch, 'then_placed': self.then_placed,
                'cancel_requested': self.cancel_requested,
                'spec': {'kind': self.spec.kind, 'symbol': self.spec.symbol, 'legs': [asdict(l) for l in self.spec.legs]},
                'legs': {r: asdict(l) for r, l in self.legs.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> 'Group':
        spec = BracketSpec(d['spec']['kind'], d['spec']['symbol'], tuple(LegSpec(**l) for l in d['spec']['legs']))
        g = cls(d['key'], spec, d['mode'], watch=d['watch'], then_placed=d['then_placed'],
                cancel_requested=d['cancel_requested'])
        g.legs = {r: Leg(**l) for r, l in d['legs'].items()}
        return g
