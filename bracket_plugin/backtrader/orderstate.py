"""The life of one order group, as a pure state machine (no I/O).

A Group holds one leg record per role (entry / take_profit / stop_loss) and which exchange
request carries which leg. Events come in (placed, fill, leg status from the exchange, stop
touched, cancel asked); each call answers the actions the store must perform (place the exits,
cancel a leg, send a watched stop). The store journals the Group after every event, so a restart
resumes from the same state.

Leg statuses: waiting (exists only in our plan: exits of a managed bracket before the entry
fills, or a watched stop), inactive (on the exchange but not live yet: exits of a native OTO(CO)),
open, filled, canceled, rejected. Every change of a leg's status goes through LEG_MOVES, the
table of (status, event) -> status; an event the table does not list for the leg's status raises
IllegalMove instead of corrupting the group.

A watched stop fires in two steps, so that a lost cancel answer can never lose it: the trigger
sets `firing` and cancels the resting leg; only once the venue confirms that leg canceled (and its
fills are read) is the stop sent, sized to what the resting leg did not fill. If the resting leg
filled instead, its fill ends the stop as any exit fill ends its sibling.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from ..vocab import LegStatus
from .planner import ENTRY, OCO, SINGLE, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec, Plan

WAITING, INACTIVE, OPEN, FILLED, CANCELED, REJECTED = LegStatus   # the one vocabulary (vocab.py)
TERMINAL = (FILLED, CANCELED, REJECTED)
LIVE = (INACTIVE, OPEN)

# leg events
PLACED_LIVE, PLACED_PENDING, ACTIVATED, PART_FILLED, FULLY_FILLED, CANCEL_SEEN, REJECT_SEEN, DROPPED = (
    'placed_live', 'placed_pending', 'activated', 'part_filled', 'fully_filled', 'cancel_seen', 'reject_seen',
    'dropped')
REPLANNED = 'replanned'   # a canceled exit planned anew (protect_partial)

# (status, event) -> status. A fill is always applied, even to a leg we thought canceled: the
# venue's fills are the truth (a cancel can cross a fill).
LEG_MOVES: dict[tuple[str, str], str] = {
    (WAITING, PLACED_LIVE): OPEN, (WAITING, PLACED_PENDING): INACTIVE, (INACTIVE, PLACED_LIVE): OPEN,
    (INACTIVE, PLACED_PENDING): INACTIVE, (OPEN, PLACED_LIVE): OPEN, (OPEN, PLACED_PENDING): OPEN,
    (INACTIVE, ACTIVATED): OPEN, (OPEN, ACTIVATED): OPEN,
    (WAITING, PART_FILLED): OPEN, (INACTIVE, PART_FILLED): OPEN, (OPEN, PART_FILLED): OPEN,
    (CANCELED, PART_FILLED): CANCELED, (REJECTED, PART_FILLED): REJECTED, (FILLED, PART_FILLED): FILLED,
    (WAITING, FULLY_FILLED): FILLED, (INACTIVE, FULLY_FILLED): FILLED, (OPEN, FULLY_FILLED): FILLED,
    (CANCELED, FULLY_FILLED): FILLED, (REJECTED, FULLY_FILLED): FILLED, (FILLED, FULLY_FILLED): FILLED,
    (WAITING, CANCEL_SEEN): CANCELED, (INACTIVE, CANCEL_SEEN): CANCELED, (OPEN, CANCEL_SEEN): CANCELED,
    (WAITING, REJECT_SEEN): REJECTED, (INACTIVE, REJECT_SEEN): REJECTED, (OPEN, REJECT_SEEN): REJECTED,
    (WAITING, DROPPED): CANCELED, (CANCELED, DROPPED): CANCELED,
    (CANCELED, REPLANNED): WAITING, (WAITING, REPLANNED): WAITING,
}


class IllegalMove(ValueError):
    """An event that the leg's status does not allow (a bug, never a venue answer)."""


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
    canceling: bool = False      # a cancel of this leg is owed to the venue (journalled as an intent)

    def move(self, event: str) -> None:
        to = LEG_MOVES.get((self.status, event))
        if to is None:
            raise IllegalMove(f'leg {self.role}: event {event} is not allowed in status {self.status}')
        self.status = to

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
    firing: bool = False                     # the watched stop's trigger was touched (see module doc)
    protect_partial: bool = False            # a canceled, part-filled entry keeps exits for its fill
    armed_after: float | None = None         # time of the last bar before the watched stop existed

    @classmethod
    def new(cls, key: str, spec: BracketSpec, plan: Plan) -> Group:
        g = cls(key, spec, plan.mode)
        for leg in spec.legs:
            g.legs[leg.role] = Leg(leg.role, leg.amount)
        if plan.watch is not None:
            g.watch = plan.watch.role
        for role in plan.drop:
            g.legs[role].move(DROPPED)
        return g

    def apply_exit_plan(self, plan: Plan) -> None:
        """The exits of a managed bracket were planned (entry filled): note watch and drops."""
        self.then_placed = True
        if plan.watch is not None:
            self.watch = plan.watch.role
        for role in plan.drop:
            self.legs[role].move(DROPPED)

    # queries -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return all(leg.done for leg in self.legs.values())

    def exit_roles(self) -> list[str]:
        return [r for r in (TAKE_PROFIT, STOP_LOSS) if r in self.legs]

    def has_entry(self) -> bool:
        return self.spec.kind not in (SINGLE, OCO)

    def planned(self, role: str) -> LegSpec:
        """The leg of `role` as planned (its spec's; every leg of a group has one)."""
        leg = self.spec.leg(role)
        if leg is None:
            raise KeyError(f'group {self.key} has no {role} leg')
        return leg

    def watched_level(self) -> tuple[float, str]:
        """(trigger, direction) of the watched stop: a sell stop fires when the price comes down to
        its trigger, a buy stop when it goes up to it. Only while a stop is watched."""
        assert self.watch is not None
        stop = self.planned(self.watch)
        assert stop.trigger is not None     # a stop has its trigger (LegSpec)
        return stop.trigger, 'down' if stop.side == 'sell' else 'up'

    def leg_by_order(self, order_id: str) -> Leg | None:
        return next((leg for leg in self.legs.values() if leg.order_id == order_id), None)

    def unprotected(self) -> bool:
        """Entry filled (in part or whole), no exit live or pending, none filled: a position nobody
        protects. A strategy's own cancel counts too: it is told, not guessed at."""
        if not self.has_entry() or self.legs[ENTRY].filled <= 0:
            return False
        exits = [self.legs[r] for r in self.exit_roles()]
        return all(leg.status in (CANCELED, REJECTED) for leg in exits) and not any(leg.filled for leg in exits)

    # events --------------------------------------------------------------------------------
    def placed(self, roles: Collection[str], order_ids: dict[str, str | None], list_id: str | None = None) -> None:
        """A request carrying `roles` was accepted by the exchange."""
        entry_live = ENTRY in roles
        for role in roles:
            leg = self.legs[role]
            leg.order_id = order_ids.get(role) or leg.order_id
            leg.list_id = list_id
            if leg.status in (WAITING, INACTIVE):
                # exits riding with their entry on the exchange wait for it to fill
                leg.move(PLACED_PENDING if (entry_live and role != ENTRY) else PLACED_LIVE)

    def rejected(self, roles: Collection[str]) -> list[tuple]:
        """A request was refused: its legs are rejected, the rest of the group is canceled."""
        for role in roles:
            if not self.legs[role].done:
                self.legs[role].move(REJECT_SEEN)
        self.firing = False
        return self._cancel_rest()

    def fill(self, order_id: str, amount: float, price: float, fee: float) -> tuple[str | None, list[tuple]]:
        """Apply one fill; answer (role, actions)."""
        leg = self.leg_by_order(order_id)
        if leg is None:
            return None, []
        amount = min(amount, leg.remaining)   # never more than the leg's size
        was_done = leg.done
        leg.filled += amount
        leg.cost += amount * price
        leg.fee += fee
        leg.move(FULLY_FILLED if leg.remaining <= leg.amount * 1e-9 else PART_FILLED)
        actions: list[tuple] = []
        if leg.role == ENTRY:
            if leg.status == FILLED and not was_done:
                actions += self._entry_filled()
        else:
            # a fill of one exit ends the other (the exchange cancels it; we stop watching it)
            self.firing = False
            for r in self.exit_roles():
                other = self.legs[r]
                if r != leg.role and not other.done:
                    if other.status == WAITING or other.list_id is not None and other.list_id == leg.list_id:
                        other.move(CANCEL_SEEN)   # never sent, or canceled by the venue with the list
                    elif not other.canceling:
                        other.canceling = True    # a separate order (managed): we cancel it
                        actions.append((CANCEL_LEG, r))
        return leg.role, actions

    def _entry_filled(self) -> list[tuple]:
        actions = []
        for r in self.exit_roles():
            leg = self.legs[r]
            if leg.status == INACTIVE:
                leg.move(ACTIVATED)
        if self.mode == 'managed' and not self.then_placed and any(self.legs[r].status == WAITING for r in self.exit_roles()):
            actions.append((PLACE_THEN,))
        return actions

    def leg_status(self, role: str, status: str) -> list[tuple]:
        """The exchange reports a leg's status (from a list or order fetch)."""
        leg = self.legs[role]
        leg.canceling = False
        if leg.done or status == leg.status:
            return []
        if status in (CANCELED, REJECTED):
            leg.move(CANCEL_SEEN if status == CANCELED else REJECT_SEEN)
            if role == ENTRY and leg.filled > 0:
                return self._part_filled_entry_ended()
            if self.firing and role != self.watch and self.watch is not None:
                return self._fire()
            return self._cancel_rest()
        if status == OPEN and leg.status == INACTIVE:
            leg.move(ACTIVATED)
        return []

    def _part_filled_entry_ended(self) -> list[tuple]:
        """The entry ended part-filled. Without `protect_partial` (or after the strategy's own
        cancel without it) its exits go, and `unprotected()` reports the position; with it, exits
        sized to the filled part are placed (managed legs, whatever the group's mode was)."""
        if not self.protect_partial:
            return self._cancel_rest()
        actions: list[tuple] = []
        for r in self.exit_roles():
            leg = self.legs[r]
            if leg.done or leg.status == WAITING:
                continue
            if leg.list_id and leg.list_id == self.legs[ENTRY].list_id:
                continue          # gone with the entry's list; re-planned below once canceled
            if not leg.canceling:
                leg.canceling = True
                actions.append((CANCEL_LEG, r))
        live = [r for r in self.exit_roles() if self.legs[r].status in LIVE]
        if not live:
            for r in self.exit_roles():
                leg = self.legs[r]
                if leg.filled or leg.status not in (CANCELED, WAITING):
                    continue
                leg.move(REPLANNED)
                leg.order_id, leg.list_id, leg.canceling = None, None, False
            self.mode, self.then_placed, self.watch = 'managed', False, None
            actions.append((PLACE_THEN,))
        return actions

    def _fire(self) -> list[tuple]:
        """The resting leg is confirmed gone: send the watched stop for what it did not fill."""
        self.firing = False
        assert self.watch is not None     # firing only while a stop is watched
        planned = self.planned(self.watch)
        stop = self.legs[self.watch]
        rest = sum(self.legs[r].filled for r in self.exit_roles() if r != self.watch)
        stop.amount = max(planned.amount - rest, 0.0)
        if stop.amount <= planned.amount * 1e-9:
            stop.move(DROPPED)
            self.watch = None
            return []
        return [(SEND_WATCHED, self.watch)]

    def stop_touched(self) -> list[tuple]:
        """The watched stop's trigger was touched on a closed bar: free the resting leg's funds,
        then send the stop as a plain order."""
        if self.watch is None or self.legs[self.watch].status != WAITING or self.firing:
            return []
        self.firing = True
        actions = []
        for r in self.exit_roles():
            leg = self.legs[r]
            if r != self.watch and leg.status in LIVE:
                if not leg.canceling:
                    leg.canceling = True
                    actions.append((CANCEL_LEG, r))
        return actions or self._fire()

    def cancel(self) -> list[tuple]:
        """The strategy cancels any leg: like BackBroker, the whole group goes."""
        self.cancel_requested = True
        self.firing = False
        entry = self.legs.get(ENTRY)
        if entry is not None and not entry.done and self.mode == 'managed':
            # only the entry goes for now: its confirmation decides the exits (dropped if it never
            # filled; kept if a fill won the race to the venue; part-filled: see protect_partial)
            if entry.status == WAITING:
                entry.move(DROPPED)
                return self._cancel_rest()
            if not entry.canceling:
                entry.canceling = True
                return [(CANCEL_LEG, ENTRY)]
            return []
        return self._cancel_rest()

    def cancel_lost(self) -> list[tuple]:
        """The entry filled before the strategy's cancel reached the venue: the cancel is void and
        the exits stay (they protect what the fill bought or sold)."""
        self.cancel_requested = False
        for leg in self.legs.values():
            leg.canceling = False
        return []

    def _cancel_rest(self) -> list[tuple]:
        actions, lists = [], set()
        for leg in self.legs.values():
            if leg.done:
                continue
            if leg.status == WAITING:
                leg.move(DROPPED)
            elif leg.canceling:
                continue      # already owed to the venue
            elif leg.list_id:
                if leg.list_id not in lists:
                    lists.add(leg.list_id)
                    actions.append((CANCEL_LIST, leg.list_id))
            else:
                leg.canceling = True
                actions.append((CANCEL_LEG, leg.role))
        for leg in self.legs.values():
            if leg.list_id in lists:
                leg.canceling = True
        return actions

    def canceled_on_exchange(self, roles: Collection[str]) -> list[tuple]:
        """The venue confirmed these legs canceled (our cancel, or someone else's)."""
        actions = []
        # exits before the entry: a part-filled entry's end decides on them once they are known gone
        for r in sorted(roles, key=lambda r: r == ENTRY):
            actions += self.leg_status(r, CANCELED)
        return actions

    # persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {'key': self.key, 'mode': self.mode, 'watch': self.watch, 'then_placed': self.then_placed,
                'cancel_requested': self.cancel_requested, 'firing': self.firing,
                'protect_partial': self.protect_partial, 'armed_after': self.armed_after,
                'spec': {'kind': self.spec.kind, 'symbol': self.spec.symbol, 'legs': [asdict(leg) for leg in self.spec.legs]},
                'legs': {r: asdict(leg) for r, leg in self.legs.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Group:
        spec = BracketSpec(d['spec']['kind'], d['spec']['symbol'], tuple(LegSpec(**leg) for leg in d['spec']['legs']))
        g = cls(d['key'], spec, d['mode'], watch=d['watch'], then_placed=d['then_placed'],
                cancel_requested=d['cancel_requested'], firing=d.get('firing', False),
                protect_partial=d.get('protect_partial', False), armed_after=d.get('armed_after'))
        g.legs = {r: Leg(**leg) for r, leg in d['legs'].items()}
        return g
