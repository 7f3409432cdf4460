"""BracketStore: owns one exchange instance, the journal and the group states.

A thin I/O shell around the pure parts (planner, orderstate, policy):

- Every event (a fill, an answer, a cancel confirmed, a stop touched, the strategy's cancel) is
  applied to its group as ONE journal transaction: the fill row, the group row and the intents of
  the actions the event triggers commit together, and only then are those actions sent
  (`_apply`). A crash anywhere leaves a journal from which `reconcile()` resumes.
- Every venue call goes through one `Policy` (done / refused / unknown). An unknown create is
  settled by looking it up by its client order id and is sent again only under that same id once
  the venue says it does not have it; an unknown cancel, or a cancel answered `OrderNotFound`, is
  settled by reading the order. Unknown outcomes are looked at again on later cycles, with backoff.
- Fills are read page by page until caught up (`_read_fills`) and applied once each (trade id).
- Every `reconcile_every` cycles the live orders and lists are read (`_reconcile_open`), so a
  cancel made outside this store reaches the strategy, and an unprotected position is reported.
- With `streams=True` fills, order changes and market trades also come as events (streams.py);
  a watched stop fires on the trade that crosses it (`on_price`, also called by a replay that
  pauses inside a bar: `levels` / `at`). REST stays the fallback and the record.

No singleton: every store has its own exchange and journal (a journal is held by one store).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

import ccxt
from ccxt.base.decimal_to_precision import TICK_SIZE

from ..venues import RECEIVED, find
from . import journal as J
from .journal import Journal
from .orderstate import (
    CANCEL_LEG,
    CANCEL_LIST,
    CANCELED,
    FILLED,
    LIVE,
    OPEN,
    PLACE_THEN,
    REJECTED,
    SEND_WATCHED,
    WAITING,
    Group,
    IllegalMove,
    Leg,
)
from .planner import ENTRY, LIMIT, OCO, SINGLE, STOP, BracketSpec, LegSpec, Request, exit_amount, plan, single_request
from .policy import DONE, Backoff, Outcome, Policy

if TYPE_CHECKING:
    from .broker import BracketBroker
    from .feed import BracketFeed
    from .streams import StreamListener

log = logging.getLogger('bracket_plugin.backtrader')

# events for the broker: (kind, group key, ...)
EV_ACCEPTED = 'accepted'      # (roles)
EV_REJECTED = 'rejected'      # (roles, reason 'margin'|'rejected', message)
EV_FILL = 'fill'              # (role, amount, price, quote fee, ts, trade id, base fee)
EV_CANCELED = 'canceled'      # (roles)
EV_UNPROTECTED = 'unprotected'  # (message)

LIST_CANCEL = {'oco': 'cancel_oco_order', 'oto': 'cancel_oto_order', 'otoco': 'cancel_otoco_order'}
_LEG_STATUS = {'open': OPEN, 'closed': FILLED, 'canceled': CANCELED, 'expired': CANCELED, 'rejected': REJECTED}
MAX_FILL_PAGES = 200           # pages of fills read in one cycle before the rest waits for the next
REWIND_MS = 60_000             # fills re-read from this long before a create whose answer was late
LATE_GRACE_MS = 120_000        # an unwanted create not found on the venue is looked for this long
UNSETTLED_AFTER = 8            # failed tries to settle a request before the trader is told


def fee_parts(fee: dict | None, symbol: str) -> tuple[float, float]:
    """(quote fee, base fee) of a ccxt trade's fee: venues that charge the asset received take a
    buy's fee in the base, which comes out of the position, not out of the cash."""
    cost = float((fee or {}).get('cost') or 0.0)
    if (fee or {}).get('currency') == symbol.split('/')[0]:
        return 0.0, cost
    return cost, 0.0


def _is_create(method: str) -> bool:
    return method.startswith('create_')


def _request(it: dict) -> Request:
    a = it['args']
    return Request(it['method'], tuple(a['args']), a['params'], tuple(a['roles']))


class BracketStore:
    def __init__(self, exchange, config: dict | None = None, journal='bracket_journal.sqlite',
                 poll_interval: float = 5.0, stop_slippage: float = 0.01, max_attempts: int = 5,
                 retry_delay: float = 0.05, reconcile: bool = True, reconcile_every: int = 12,
                 protect_partial: bool = False, streams: bool = False):
        """reconcile_every: cycles between two reads of the live orders and lists (one cycle per
        bar, and live one every poll_interval seconds without a bar). protect_partial: an entry
        that ends part-filled (canceled by the strategy or the venue) keeps exits sized to its
        fill, instead of being reported unprotected. streams: take fills, order changes and the
        market's trades from the venue's websocket streams as they happen (streams.py), REST
        polling staying the fallback and the record."""
        if isinstance(exchange, str):
            import bracket_plugin
            exchange = bracket_plugin.exchange(exchange, dict(config or {}))
        self.exchange = exchange
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self.poll_interval = poll_interval
        self.stop_slippage = stop_slippage
        self.policy = Policy(exchange, attempts=max_attempts, backoff=Backoff(base=retry_delay))
        self.reconcile_every = max(1, int(reconcile_every))
        self.protect_partial = protect_partial
        self.groups: dict[str, Group] = {}
        # indexes kept by _track (every change of a group is saved, and tracked), so the per-bar
        # loops cost what the open groups cost, not every group of the run:
        self._live: dict[str, None] = {}      # keys of the groups not done, in group order
        self._watching: dict[str, None] = {}  # ... of those, the ones watching a stop
        self._unlearned: dict[str, None] = {}  # ... of those, the ones with a list leg whose id is unknown
        self._changed: dict[str, None] = {}   # keys to look at in check_unprotected
        self._rank: dict[str, int] = {}       # key -> position in self.groups
        self._by_order: dict[str, str] = {}   # exchange order id -> group key
        self.events: deque = deque()
        self.notifs: deque = deque()          # store messages (e.g. an unprotected position)
        self.last: dict[str, float] = {}      # symbol -> close of the last closed bar seen
        self.last_ts: dict[str, float] = {}   # symbol -> time of that bar (as the caller gives it)
        self.cycle = 0                        # poll cycles (one per bar)
        self._reported: set[str] = set()      # groups already reported unprotected
        self._armed: dict[str, int] = {}      # group key -> cycle in which its stop began to be watched
        self._mid_bar: set[str] = set()       # ... armed mid-bar on a streamed market: skip that closed bar
        self._retry: dict[str, tuple[int, int]] = {}   # client id -> (failures, cycle of the next look)
        self._running = False
        self._broker: BracketBroker | None = None
        self._datas: list[BracketFeed] = []
        self.streams = streams
        self.listener: StreamListener | None = None   # once the first cycle starts it
        self._stale: set[str] = set()         # symbols whose fills a streamed event says to read by REST
        self._foreign_end = False             # a streamed order ended by the venue: read the live orders
        self._clock_read = False              # the venue's clock measured (venue_ms)
        if reconcile:
            self.reconcile()

    def market(self, symbol: str) -> dict | None:
        """The venue's (ccxt) market, its markets loaded first if need be; None if it cannot be read
        now or the venue does not list the symbol (the first request about it says so)."""
        if getattr(self.exchange, 'markets', None) is None and not self.policy.read('load_markets').done:
            return None
        try:
            return self.exchange.market(symbol)
        except ccxt.BadSymbol:
            return None

    def _lot(self, symbol: str) -> float | None:
        """The market's amount step (ccxt TICK_SIZE precision), None where it cannot be known."""
        market = self.market(symbol) if getattr(self.exchange, 'precisionMode', TICK_SIZE) == TICK_SIZE else None
        return float((market or {}).get('precision', {}).get('amount') or 0) or None

    def _dust(self, symbol: str, lot: float | None, group: Group | None = None) -> float:
        """The base this journal's fills left in the account beyond its positions: less than a lot
        (signed), what exits sized net of a fee charged in the base leave; `group`'s own entry
        fills not counted. 0.0 when the net is a real position."""
        venue = find(self.exchange.id)
        if not lot or venue is None or venue.fee_currency != RECEIVED:
            return 0.0     # fees in the quote leave no dust: no journal read
        net = self.journal.net_position(symbol)
        if group is not None and group.legs[ENTRY].order_id:
            net -= self.journal.net_position(symbol, group.legs[ENTRY].order_id)
        return net if abs(net) < lot * (1 - 1e-9) else 0.0

    @property
    def _separate_triggers(self) -> bool:
        """Untriggered stop orders are read and cancelled apart on this venue (its profile says)."""
        venue = find(self.exchange.id)
        return venue is not None and venue.separate_trigger_orders

    def venue_ms(self) -> int:
        """The venue's clock now: the local one less the difference the exchange class corrects its
        nonce by. Measured on the first call (one read; if it fails, the local clock stands until a
        refused timestamp makes the policy measure it)."""
        if not self._clock_read:
            self._clock_read = True
            self.policy.read('load_time_difference')
        return self.exchange.milliseconds() - int((self.exchange.options or {}).get('timeDifference') or 0)

    @property
    def requests(self) -> int:
        """Exchange calls made through the store (its feeds' included)."""
        return self.policy.requests

    # backtrader factory methods ---------------------------------------------------------------
    def getbroker(self, **kwargs):
        from .broker import BracketBroker
        if self._broker is None:
            self._broker = BracketBroker(store=self, **kwargs)
        return self._broker

    def getdata(self, symbol: str, **kwargs):
        from .feed import BracketFeed
        data = BracketFeed(store=self, symbol=symbol, **kwargs)  # type: ignore[call-arg]  # backtrader params
        self._datas.append(data)
        return data

    # cerebro.addstore(store) delivers these to Strategy.notify_store(msg)
    def start(self, data=None, broker=None):
        pass

    def stop(self):
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (live, between cycles), less when a streamed event comes; True if one did."""
        if self.listener is not None:
            return self.listener.wait(seconds)
        time.sleep(seconds)
        return False

    def get_notifications(self) -> list:
        out: list[tuple[str, tuple, dict]] = [(msg, (), {}) for msg in self.notifs]
        self.notifs.clear()
        return out

    # transitions --------------------------------------------------------------------------------
    def _save(self, group: Group):
        state = 'done' if group.done else 'live'
        self.journal.save_group(group.key, group.spec.symbol, state, group.to_dict())
        self._track(group)

    def _track(self, group: Group):
        """Bring the indexes up to date with a group that changed (or was added)."""
        key = group.key
        if self.groups.get(key) is not group:
            return   # not (or no longer) the store's group
        if key not in self._rank:
            self._rank[key] = len(self._rank)
        self._changed[key] = None
        for leg in group.legs.values():
            if leg.order_id:
                self._by_order[leg.order_id] = key
        live = not group.done
        self._keep(self._live, key, live)
        self._keep(self._watching, key, live and group.watch is not None)
        self._keep(self._unlearned, key, live and any(leg.list_id and not leg.order_id and not leg.done
                                                      for leg in group.legs.values()))

    def _keep(self, index: dict, key: str, member: bool):
        """Add `key` to, or drop it from, an index kept in group order."""
        if not member:
            index.pop(key, None)
        elif key not in index:
            behind = index and self._rank[next(reversed(index))] > self._rank[key]
            index[key] = None
            if behind:   # a group that left comes back (rare): sorted again, to keep the group order
                keys = sorted(index, key=self._rank.__getitem__)
                index.clear()
                index.update(dict.fromkeys(keys))

    def _reindex(self):
        self._changed, self._rank, self._by_order = {}, {}, {}
        for index in (self._live, self._watching, self._unlearned):
            index.clear()
        for group in self.groups.values():
            self._track(group)

    def _groups_in(self, index: dict) -> list[Group]:
        return [self.groups[k] for k in index]

    def _apply(self, group: Group, event, *args, fill: tuple | None = None, before_events=(),
               intent: tuple | None = None, also=None) -> bool:
        """Apply one event to `group` as one transaction: the fill row (if any; a fill applied
        before is skipped), the outcome of an intent (if any: (client id, state, exchange id,
        error)), `also()` (more rows of the same change), the group row and the intents of the
        actions it triggers. Then emit events and send the new intents. False if the fill was
        already applied."""
        before = self._statuses(group)
        try:
            with self.journal.transaction():
                if fill is not None and not self.journal.add_fill(*fill):
                    return False
                if intent is not None:
                    self.journal.mark(intent[0], intent[1], exchange_id=intent[2], error=intent[3])
                if also is not None:
                    also()
                actions = event(*args) if event is not None else []
                self._record(group, actions)
                self._save(group)
        except IllegalMove as exc:
            # a bug, not a venue answer: nothing was written; the group goes back to its journalled
            # state and the run goes on (the watched stops of every other group stay watched)
            msg = f'group {group.key}: event refused and not applied ({exc}); the group is left as journalled'
            log.exception(msg)
            self.notifs.append(msg)
            row = self.journal.group(group.key)
            if row is not None:
                self.groups[group.key] = Group.from_dict(row['data'])
                self._track(self.groups[group.key])
            return False
        self.events.extend(before_events)
        self._emit_canceled(group, before)
        self._run()
        return True

    def _record(self, group: Group, actions):
        """Turn the state machine's actions into journalled intents (inside the caller's transaction)."""
        for action in actions:
            kind = action[0]
            if kind == PLACE_THEN:
                req = self._plan_then(group)
                self._intent(group, 'then', req)
            elif kind == SEND_WATCHED:
                self._intent(group, 'watched', self._watched_request(group, action[1]))
            elif kind == CANCEL_LEG:
                leg = group.legs[action[1]]
                self._intent(group, 'cancel', Request('cancel_order', (leg.order_id, group.spec.symbol,
                                                                        self._leg_params(group, action[1])),
                                                      {}, (action[1],)))
            elif kind == CANCEL_LIST:
                list_id = action[1]
                roles = tuple(r for r, leg in group.legs.items() if leg.list_id == list_id)
                self._intent(group, 'cancel', Request(self._list_cancel(group), (list_id, group.spec.symbol),
                                                      {}, roles))

    def _intent(self, group: Group, step: str, req: Request):
        self.journal.record_intent(group.key, step, group.spec.symbol, req.method,
                                   {'args': list(req.args), 'params': req.params, 'roles': list(req.roles)})

    def _plan_then(self, group: Group) -> Request:
        # exits protect what the entry bought or sold (all of it, unless it ended part-filled), as
        # the account holds it after the entry's fee
        symbol, lot = group.spec.symbol, self._lot(group.spec.symbol)
        entry = group.legs[ENTRY]
        held = exit_amount(entry.filled, group.planned(ENTRY).side, self.exchange.id, lot, self._dust(symbol, lot, group))
        exits = tuple(replace(group.planned(r), amount=min(group.planned(r).amount, held))
                      for r in group.exit_roles() if group.legs[r].status == WAITING)
        for leg in exits:
            group.legs[leg.role].amount = leg.amount
        then = BracketSpec(OCO if len(exits) == 2 else SINGLE, symbol, exits)
        p = plan(then, self.exchange.has, self.exchange.id, self.stop_slippage, self.last.get(symbol), lot)
        group.apply_exit_plan(p)
        if p.watch is not None:
            self._arm(group)
        return p.first

    def _arm(self, group: Group):
        """A stop begins to be watched: only bars after the last one seen may fire it (kept in the
        group, so a restart that delivers older bars again does not fire it on them)."""
        self._armed[group.key] = self.cycle
        group.armed_after = self.last_ts.get(group.spec.symbol)
        if self.listener is not None and self.listener.up(group.spec.symbol):
            # armed inside a bar the market's stream is showing: the stream sees what crosses from
            # now on; that bar's range, once closed, mixes prices from before the stop existed
            self._mid_bar.add(group.key)

    def _watched_request(self, group: Group, role: str) -> Request:
        leg = group.legs[role]
        spec_leg = group.planned(role)
        amount = leg.remaining
        if spec_leg.kind == STOP:
            req = single_request(group.spec.symbol, LegSpec(role, spec_leg.side, amount, 'market'))
        else:
            req = single_request(group.spec.symbol, LegSpec(role, spec_leg.side, amount, LIMIT, price=spec_leg.price))
        group.watch = None
        return req

    def _list_cancel(self, group: Group) -> str:
        # a native OTO(CO) is one list; every other list we place is an OCO (managed exits)
        return LIST_CANCEL[group.spec.kind if group.mode == 'native' else 'oco']

    def _leg_params(self, group: Group, role: str) -> dict:
        """KuCoin keeps untriggered stop orders apart: reads and cancels of one say so. A leg is
        such an order when the create that placed it carried a trigger price."""
        if not self._separate_triggers or group.legs[role].list_id is not None:
            return {}
        sent = [it for it in self.journal.intents([J.DONE, J.UNKNOWN, J.INTENT], group.key)
                if it['method'] == 'create_order' and role in it['args']['roles']]
        return {'trigger': True} if sent and 'triggerPrice' in sent[-1]['args']['params'] else {}

    # sending ------------------------------------------------------------------------------------
    def submit(self, spec: BracketSpec, key: str | None = None) -> Group:
        """Plan and send a group. Raises PlanError before anything is sent."""
        lot = self._lot(spec.symbol)
        p = plan(spec, self.exchange.has, self.exchange.id, self.stop_slippage, lot=lot, dust=self._dust(spec.symbol, lot))
        key = key or self.journal.new_group_key()
        assert p.spec is not None    # plan() returns the group as sent
        group = Group.new(key, p.spec, p)     # amounts as sent (the lot; exits net of a base fee)
        group.protect_partial = self.protect_partial
        self.groups[key] = group
        if p.watch is not None:
            self._arm(group)
        with self.journal.transaction():
            self._save(group)
            self._intent(group, 'first', p.first)
        self._run()
        return group

    def _run(self):
        """Send every intent not sent yet, in the order recorded (each changes its state, so this ends)."""
        if self._running:
            return            # the outer loop picks up intents recorded while it runs
        self._running = True
        try:
            while True:
                fresh = self.journal.intents([J.INTENT, J.SENT])
                if not fresh:
                    return
                for it in fresh:
                    self._execute(it)
        finally:
            self._running = False

    def _execute(self, it: dict, settle_only: bool = False):
        group = self.groups.get(it['group_key'])
        if group is None:
            self.journal.mark(it['client_oid'], J.FAILED, error='group not in this journal')
            return
        req = _request(it)
        if _is_create(req.method):
            if settle_only:
                self._settle_create(group, req, it)
            else:
                self._send_create(group, req, it)
        else:
            self._send_cancel(group, req, it)

    # creates --------------------------------------------------------------------------------------
    def _send_create(self, group: Group, req: Request, it: dict, resends: int = 1):
        cid = it['client_oid']
        if all(group.legs[r].done for r in req.roles):
            # the group ended (canceled) before this was sent
            self.journal.mark(cid, J.FAILED, error='group ended before sending')
            return
        out = self.policy.write(req.method, *req.args, dict(req.params, clientOrderId=cid))
        if out.done:
            self._attach(group, req, it, out.result)
        elif out.refused and out.error is not None and not out.refused_as(ccxt.DuplicateOrderId):
            self._refused(group, req, cid, out.error)
        else:
            # unknown, or the venue already has this client id (an earlier send went through)
            log.warning('create %s (%s): %s; looking it up by client id', req.method, cid, type(out.error).__name__)
            self.journal.mark(cid, J.UNKNOWN, error=type(out.error).__name__)
            self._settle_create(group, req, it, resends)

    def _settle_create(self, group: Group, req: Request, it: dict, resends: int = 1):
        """Look an unknown create up by client id: attach it if found; if the venue says it has no
        such order, send it again under the same id (at most `resends` times now)."""
        cid = it['client_oid']
        found = self._lookup(req, cid)
        if found.unknown:
            self._later(cid)
            return
        if found.result is not None:
            self._attach(group, req, it, found.result, rewind=True)
            return
        if all(group.legs[r].done for r in req.roles):
            # no longer wanted; but a venue may still process it late: keep looking for a while,
            # so that an order appearing after all is canceled rather than left untracked
            if time.time() * 1000 - it['created_ms'] < LATE_GRACE_MS:
                self._later(cid)
            else:
                self.journal.mark(cid, J.FAILED, error='not on the venue; group ended meanwhile')
            return
        if resends <= 0:
            self._later(cid)
            return
        log.warning('create %s (%s) is not on the venue: sending it again under the same client id', req.method, cid)
        self._send_create(group, req, it, resends - 1)

    def _later(self, cid: str):
        failures = self._retry.get(cid, (0, 0))[0] + 1
        self._retry[cid] = (failures, self.cycle + self.policy.backoff.cycles(failures))
        if failures == UNSETTLED_AFTER:
            it = self.journal.intent(cid)
            msg = (f'UNSETTLED REQUEST: {it["method"]} {cid} of group {it["group_key"]} on {it["symbol"]}: the venue '
                   f'has not answered whether it took it after {failures} tries ({it["error"]}); still trying')
            log.error(msg)
            self.notifs.append(msg)

    def _lookup(self, req: Request, cid: str) -> Outcome:
        """DONE with the order or list created under `cid`, DONE with None if the venue does not
        know it, or UNKNOWN."""
        symbol = req.args[0]
        if not req.method == 'create_order':
            out = self.policy.read('fetch_oco_order', None, symbol, {'clientOrderId': cid})
            return Outcome(DONE, None) if out.refused_as(ccxt.OrderNotFound) else out
        params: dict[str, str | bool] = {'clientOrderId': cid}
        if 'triggerPrice' in req.params and self._separate_triggers:
            params['trigger'] = True
        out = self.policy.read('fetch_order', None, symbol, params)
        if out.done or out.unknown:
            return out
        # refused (not found, or no by-client-id query): a second opinion from the order lists
        for name, flag in (('fetch_open_orders', 'fetchOpenOrders'), ('fetch_closed_orders', 'fetchClosedOrders'),
                           ('fetch_orders', 'fetchOrders')):
            if not self.exchange.has.get(flag):
                continue
            listed = self.policy.read(name, symbol)
            if listed.unknown:
                return listed
            if listed.done:
                for o in listed.result:
                    if o.get('clientOrderId') == cid:
                        return Outcome(DONE, o)
        return Outcome(DONE, None)

    def _refused(self, group: Group, req: Request, cid: str, exc: BaseException):
        if self._replanned_crossed(group, req, cid, exc):
            return
        reason = 'margin' if isinstance(exc, ccxt.InsufficientFunds) else 'rejected'
        log.warning('%s refused (%s): %s', req.method, reason, exc)
        self._apply(group, group.rejected, req.roles,
                    intent=(cid, J.FAILED, None, f'{type(exc).__name__}: {exc}'[:500]),
                    before_events=[(EV_REJECTED, group.key, tuple(req.roles), reason, str(exc))])

    def _replanned_crossed(self, group: Group, req: Request, cid: str, exc: BaseException) -> bool:
        """Exits refused as a list because the market crossed a level after the last bar we saw
        (a venue refuses an OCO whose stop is already beyond the price): planned once more against
        the venue's last price, as the orders they turn into. True if so."""
        if req.method == 'create_order' or isinstance(exc, ccxt.InsufficientFunds) \
                or self.journal.intent(cid)['step'] != 'then':
            return False
        last = self._venue_last(group.spec.symbol)
        exits = tuple(group.planned(r) for r in group.exit_roles() if group.legs[r].status == WAITING)
        if last is None or len(exits) != 2:
            return False
        crossed = plan(BracketSpec(OCO, group.spec.symbol, exits), self.exchange.has, self.exchange.id,
                       self.stop_slippage, last, self._lot(group.spec.symbol))
        if crossed.first.method == req.method:
            return False    # the levels are not crossed: a refusal for another reason
        log.warning('exits of %s refused as a list (%s); the market (%s) crossed a level: sent as the orders '
                    'they turn into', group.key, exc, last)
        self.last[group.spec.symbol] = last

        def replan():
            group.then_placed = False
            return [(PLACE_THEN,)]
        self._apply(group, replan, intent=(cid, J.FAILED, None, f'crossed, planned again: {exc}'[:500]))
        return True

    def _venue_last(self, symbol: str) -> float | None:
        """The venue's last price now (a ticker read), or None if it cannot be read."""
        out = self.policy.read('fetch_ticker', symbol)
        last = out.result.get('last') if out.done else None
        return None if last is None else float(last)

    def _attach(self, group: Group, req: Request, it: dict, result: dict, rewind: bool = False):
        """Record the venue ids of a placed request with the group's change, in one transaction."""
        cid = it['client_oid']
        if req.method == 'create_order':
            ids, list_id = {req.roles[0]: result['id']}, None
        else:
            list_id = result['id']
            legs = result.get('orders') or []
            if len(legs) < len(req.roles) or not all(leg.get('id') for leg in legs):
                read = self.policy.read('fetch_oco_order', list_id, req.args[0])
                if read.done:
                    legs = read.result.get('orders') or []
                # else: leg ids stay unknown; `_learn_leg_ids` reads them before fills are read
            ids = {leg['role']: leg['id'] for leg in legs if leg.get('role') in req.roles and leg.get('id')}
        ended = all(group.legs[r].done for r in req.roles)

        def placed():
            group.placed(req.roles, ids, list_id)
            if not ended:
                return []
            # the group ended while this create was unknown: what the venue holds must go too
            return [(CANCEL_LIST, list_id)] if list_id else [(CANCEL_LEG, req.roles[0])]

        self._retry.pop(cid, None)
        self._apply(group, placed, intent=(cid, J.DONE, list_id or ids.get(req.roles[0]), None),
                    also=(lambda: self._rewind(req.args[0], it['created_ms'])) if rewind else None,
                    before_events=[] if ended else [(EV_ACCEPTED, group.key, tuple(req.roles))])

    def _rewind(self, symbol: str, since_ms: int):
        """Read fills again from before `since_ms`: an order found late may have filled meanwhile."""
        cursor = self.journal.cursor(symbol)
        back = since_ms - REWIND_MS - abs(int(self.exchange.options.get('timeDifference', 0) or 0))
        if cursor is not None and cursor > back:
            self.journal.set_cursor(symbol, back)

    # cancels --------------------------------------------------------------------------------------
    def _send_cancel(self, group: Group, req: Request, it: dict, resends: int = 1):
        """A cancel, settled by reading the order when its answer is unknown or `OrderNotFound`.
        The strategy's cancel of a bracket whose entry has not filled reads the fills first: an
        entry fill that won the race voids the cancel, so the exits still protect the position."""
        cid = it['client_oid']
        entry = group.legs.get(ENTRY)
        if group.cancel_requested and ENTRY in req.roles and entry is not None:
            if not entry.done:
                self._read_fills(group.spec.symbol)
            if entry.status == FILLED:
                log.warning('group %s: its entry filled before the cancel reached the venue; the cancel is void '
                            'and the exits stay', group.key)
                self._apply(group, group.cancel_lost,
                            intent=(cid, J.DONE, None, 'entry filled before the cancel reached the venue: exits kept'))
                return
        if all(group.legs[r].status in (FILLED, REJECTED) for r in req.roles):
            self.journal.mark(cid, J.DONE, error='legs ended before the cancel was sent')
            return
        out = self.policy.write(req.method, *req.args)
        if out.done:
            self._canceled(group, req, cid)
            return
        if out.refused and not out.refused_as(ccxt.OrderNotFound):
            log.error('cancel of %s %s refused: %s', group.key, req.roles, out.error)

            def not_canceling():
                for r in req.roles:
                    group.legs[r].canceling = False
                return []
            self._apply(group, not_canceling,
                        intent=(cid, J.FAILED, None, f'{type(out.error).__name__}: {out.error}'[:500]))
            self.notifs.append(f'CANCEL REFUSED: group {group.key} {list(req.roles)} on {group.spec.symbol}: '
                               f'{out.error}')
            return
        self._settle_cancel(group, req, it, resends)

    def _settle_cancel(self, group: Group, req: Request, it: dict, resends: int):
        cid = it['client_oid']
        statuses = self._read_statuses(group, req)
        if statuses is None:
            self.journal.mark(cid, J.UNKNOWN, error='cancel outcome unknown')
            self._later(cid)
            return
        if any(s == OPEN for r, s in statuses.items() if not group.legs[r].done):
            # the cancel did not take (or not yet): sent again, now once and later with backoff (a
            # repeated cancel is harmless; a watched stop waits for it)
            self.journal.mark(cid, J.UNKNOWN, error='still open after cancel')
            if resends > 0:
                self._send_cancel(group, req, it, resends - 1)
            else:
                self._later(cid)
            return
        self._canceled(group, req, cid, statuses)

    def _read_statuses(self, group: Group, req: Request) -> dict | None:
        """{role: status} of the legs a cancel was about, as the venue has them; None if unknown."""
        symbol = group.spec.symbol
        if req.method == 'cancel_order':
            role = req.roles[0]
            out = self.policy.read('fetch_order', req.args[0], symbol, self._leg_params(group, role))
            if out.refused_as(ccxt.OrderNotFound):
                return {role: CANCELED}     # gone without a trace of a fill: fills would say otherwise
            return {role: _LEG_STATUS.get(out.result.get('status'), OPEN)} if out.done else None
        out = self.policy.read('fetch_oco_order', req.args[0], symbol)
        if out.refused_as(ccxt.OrderNotFound):
            return {r: CANCELED for r in req.roles}
        if not out.done:
            return None
        seen = {leg.get('role'): _LEG_STATUS.get(leg.get('status'), OPEN) for leg in out.result.get('orders') or []}
        if out.result.get('status') in ('canceled', 'closed', 'expired', 'rejected'):
            seen = {r: (s if s != OPEN else CANCELED) for r, s in seen.items()}
        return {r: seen.get(r, CANCELED) for r in req.roles}

    def _canceled(self, group: Group, req: Request, cid: str, statuses: dict | None = None):
        """The venue confirmed the cancel: read the fills first (a canceled leg may have part-filled,
        and the stop that fires next is sized by them), then apply the cancel."""
        self._read_fills(group.spec.symbol)
        gone = [r for r in req.roles if (statuses or {}).get(r, CANCELED) != FILLED and not group.legs[r].done]
        self._apply(group, group.canceled_on_exchange, gone, intent=(cid, J.DONE, None, None))
        self._retry.pop(cid, None)

    # the strategy's cancel --------------------------------------------------------------------------
    def cancel(self, key: str):
        group = self.groups[key]
        mark = len(self.events)
        self._apply(group, group.cancel)
        # one Canceled event for the whole group, so the broker can notify in BackBroker's order
        mine = [e for e in list(self.events)[mark:] if e[0] == EV_CANCELED and e[1] == key]
        if len(mine) > 1:
            rest = [e for e in list(self.events)[mark:] if not (e[0] == EV_CANCELED and e[1] == key)]
            for _ in range(len(self.events) - mark):
                self.events.pop()
            self.events.append((EV_CANCELED, key, tuple(r for e in mine for r in e[2])))
            self.events.extend(rest)

    @staticmethod
    def _statuses(group):
        return {r: leg.status for r, leg in group.legs.items()}

    def _emit_canceled(self, group, before):
        roles = tuple(r for r, leg in group.legs.items() if leg.status == CANCELED and before.get(r) != CANCELED)
        if roles:
            self.events.append((EV_CANCELED, group.key, roles))

    # polling ------------------------------------------------------------------------------------
    def live_symbols(self) -> list[str]:
        return sorted({self.groups[k].spec.symbol for k in self._live})

    def poll(self, bars: dict | None = None):
        """One cycle: settle unknown outcomes, read fills per symbol, check watched stops on the
        bars just closed ({symbol: (high, low, close[, time])}), and on schedule read the live orders."""
        events = self._stream_events()
        woken = bool(events) and not bars   # a cycle a streamed event asked for: not a poll
        if not woken:
            self.cycle += 1
        for symbol, bar in (bars or {}).items():
            self.last[symbol] = bar[2]
            if len(bar) > 3:
                self.last_ts[symbol] = bar[3]
        self._settle_unknown()
        self._run()
        self._apply_stream(events)
        for symbol in self.live_symbols():
            if self._fills_by_rest(symbol, woken):
                self._read_fills(symbol)
        if bars:
            for group in self._groups_in(self._watching):
                if group.done or group.watch is None or group.spec.symbol not in bars:
                    continue
                bar = bars[group.spec.symbol]
                if len(bar) > 3 and group.armed_after is not None:
                    if bar[3] <= group.armed_after:
                        continue  # a bar from before the stop existed (e.g. history after a restart)
                elif self._armed.get(group.key, -1) >= self.cycle:
                    continue  # armed during this cycle: its bar was over before the stop existed
                if group.key in self._mid_bar:
                    self._mid_bar.discard(group.key)
                    continue
                high, low = bars[group.spec.symbol][:2]
                if self._touched(group, low if group.watched_level()[1] == 'down' else high):
                    self._apply(group, group.stop_touched)
        if (not woken and self.cycle % self.reconcile_every == 0) or self._foreign_end:
            self._foreign_end = False
            self._reconcile_open()
        self.check_unprotected()

    # streams ------------------------------------------------------------------------------------
    def _stream_events(self) -> list[tuple]:
        if not self.streams:
            return []
        if self.listener is None:
            from .streams import StreamListener
            symbols = {d.p.symbol for d in self._datas} | set(self.live_symbols())
            if not symbols:
                return []
            self.listener = StreamListener(self.exchange, symbols).start()
        return self.listener.drain()

    def _fills_by_rest(self, symbol: str, woken: bool) -> bool:
        """Read `symbol`'s fills by REST this cycle? Always without streams; with them, when its
        streams are down or just came back, when an event could not be applied as it came, and on
        the reconcile schedule (a stream can be silent without failing)."""
        listener = self.listener
        if listener is None or symbol not in listener.symbols or not listener.up(symbol):
            return True
        stale = symbol in self._stale or symbol in listener.take_missed()
        self._stale.discard(symbol)
        return stale or (not woken and self.cycle % self.reconcile_every == 0)

    def _apply_stream(self, events: list[tuple]):
        """Streamed events in arrival order: a complete trade of a known order is applied as it came
        (once: by trade id); any other trade asks for a REST read of its symbol; an order the venue
        ended (canceled, expired, rejected) asks for a read of the live orders; a market trade is a
        price the watched stops see."""
        from .streams import ORDER, PRICE, TRADE
        for kind, symbol, item in events:
            if kind == PRICE:
                if item.get('price') is not None:
                    self.on_price(symbol, float(item['price']))
            elif kind == TRADE:
                if not self._apply_streamed_trade(symbol, item):
                    self._stale.add(symbol)
            elif kind == ORDER and item.get('status') in ('canceled', 'expired', 'rejected'):
                key = self._by_order.get(str(item.get('id')))
                group = self.groups.get(key) if key else None
                leg = group.leg_by_order(str(item['id'])) if group is not None else None
                if leg is not None and not leg.done and not leg.canceling:
                    self._foreign_end = True    # not by us: read the live orders now

    def _apply_streamed_trade(self, symbol: str, t: dict) -> bool:
        """Apply a streamed trade as a REST one; False if it cannot be (no fee: KuCoin's order
        stream carries none; an order whose leg id is not known yet)."""
        fee = t.get('fee') or {}
        if t.get('id') is None or t.get('order') is None or fee.get('cost') is None or t.get('amount') is None:
            return False
        if str(t['order']) not in self._by_order:
            return False
        for key, list_id in self._apply_trade(symbol, t):
            self._refresh_list(self.groups[key], list_id)
        return True

    @staticmethod
    def _touched(group: Group, price: float) -> bool:
        """The group's watched stop is touched by a trade at `price` (a sell stop at or below it)."""
        trigger, direction = group.watched_level()
        return price <= trigger if direction == 'down' else price >= trigger

    def _watched_on(self, symbol: str) -> list[Group]:
        return [g for g in self._groups_in(self._watching)
                if g.spec.symbol == symbol and not g.done and g.watch is not None]

    def on_price(self, symbol: str, price: float):
        """The market trades at `price` now (a streamed trade, or a replay paused inside a bar):
        every watched stop it touches fires at once, not at the bar's close."""
        for group in self._watched_on(symbol):
            if group.watch is not None and self._touched(group, price):
                self._apply(group, group.stop_touched)

    # an engine PathClient (sim.engine): a replay pauses inside each bar where it crosses our stops
    def levels(self, symbol: str) -> list[tuple[float, str]]:
        return [g.watched_level() for g in self._watched_on(symbol) if not g.firing]

    def at(self, symbol: str, price) -> None:
        self.on_price(symbol, float(price))

    def _settle_unknown(self, force: bool = False):
        for it in self.journal.intents([J.UNKNOWN]):
            if not force and self._retry.get(it['client_oid'], (0, 0))[1] > self.cycle:
                continue
            self._execute(it, settle_only=True)

    def _read_fills(self, symbol: str) -> bool:
        """Every fill since the cursor, page by page, applied in time order, each once. Venues
        answer the newest first within [since, until], so pages go back in time; or, where the
        exchange class says `my_trades_oldest_first` (Binance), the oldest first from `since` on,
        so pages go forward. False if they could not all be read."""
        if not self._learn_leg_ids(symbol):
            return False    # a fill of a leg whose id we do not know yet would be passed over
        since = self.journal.cursor(symbol)
        page_size = getattr(self.exchange, 'my_trades_page_size', None)
        forward = getattr(self.exchange, 'my_trades_oldest_first', False)
        # forward pages start somewhere: from the beginning when no fill was read yet
        trades: dict[str, dict] = {}
        start, until, complete = (0 if forward and since is None else since), None, True
        for _ in range(MAX_FILL_PAGES):
            out = self.policy.read('fetch_my_trades', symbol, start, page_size, {} if until is None else {'until': until})
            if not out.done:
                log.warning('fills of %s not read this cycle: %s', symbol, type(out.error).__name__)
                return False    # the cursor did not move: the same fills are read again next cycle
            page = out.result
            fresh = [t for t in page if str(t['id']) not in trades]
            trades.update((str(t['id']), t) for t in page)
            if page_size is None or len(page) < page_size:
                break
            stamps = [int(t.get('timestamp') or 0) for t in page]
            if forward:     # the next page starts at this one's newest (its other fills at that ms come again)
                start = max(stamps) if fresh else max(stamps) + 1
                continue
            until = min(stamps) if fresh else min(stamps) - 1
            if since is not None and until < since:
                break
        else:
            log.warning('fills of %s: more than %d pages since the cursor; the rest next cycle', symbol, MAX_FILL_PAGES)
            complete = False   # keep the cursor: what was read is applied once, the rest is read again
        refresh = set()
        for t in sorted(trades.values(), key=lambda t: (int(t.get('timestamp') or 0), str(t['id']))):
            refresh |= self._apply_trade(symbol, t)
        if trades and complete:
            self.journal.set_cursor(symbol, max(int(t.get('timestamp') or 0) for t in trades.values()))
        for key, list_id in refresh:
            self._refresh_list(self.groups[key], list_id)
        return True

    def _apply_trade(self, symbol: str, t: dict) -> set:
        oid = str(t.get('order'))
        found = self._leg_of(oid)
        if found is None:
            return set()
        group, leg = found
        amount, price = float(t['amount']), float(t['price'])
        fee, fee_base = fee_parts(t.get('fee'), symbol)
        ts = int(t.get('timestamp') or 0)
        applied = self._apply(group, lambda: group.fill(oid, amount, price, fee)[1],
                              fill=(str(t['id']), oid, symbol, t['side'], amount, price, fee, ts, fee_base),
                              before_events=[(EV_FILL, group.key, leg.role, amount, price, fee, ts, str(t['id']),
                                              fee_base)])
        return {(group.key, leg.list_id)} if applied and leg.list_id else set()

    def _leg_of(self, order_id: str) -> tuple[Group, Leg] | None:
        """The group and leg of a venue order id: by the index, else (an id learned but not indexed
        yet) by looking through every group."""
        key = self._by_order.get(order_id)
        group = self.groups.get(key) if key is not None else None
        leg = group.leg_by_order(order_id) if group is not None else None
        if group is not None and leg is not None:
            return group, leg
        return next(((g, found) for g in self.groups.values() if (found := g.leg_by_order(order_id)) is not None), None)

    def _learn_leg_ids(self, symbol: str) -> bool:
        """Lists whose leg ids are not known yet (their read failed after the create): read them."""
        for group in self._groups_in(self._unlearned):
            if group.done or group.spec.symbol != symbol:
                continue
            missing = {leg.list_id for leg in group.legs.values() if leg.list_id and not leg.order_id and not leg.done}
            for list_id in missing:
                if not self._refresh_list(group, list_id):
                    return False
        return True

    def _refresh_list(self, group: Group, list_id: str) -> bool:
        """The list's own view of its legs: ids, and siblings canceled by the venue."""
        out = self.policy.read('fetch_oco_order', list_id, group.spec.symbol)
        if not out.done:
            log.warning('list %s not read: %s', list_id, type(out.error).__name__)
            return False
        self._apply_leg_views(group, out.result.get('orders') or [])
        return True

    def _apply_leg_views(self, group: Group, views: list[dict]):
        learned, ended = False, []
        for view in views:
            role = view.get('role')
            if role not in group.legs:
                continue
            leg = group.legs[role]
            if view.get('id') and not leg.order_id:
                leg.order_id = str(view['id'])
                learned = True
            status = _LEG_STATUS.get(str(view.get('status')), OPEN)
            if status in (CANCELED, REJECTED) and not leg.done:
                ended.append((role, status))
        if learned:
            with self.journal.transaction():
                self._rewind(group.spec.symbol, self._created_ms(group))
                self._save(group)
        for role, status in ended:
            self._apply(group, group.leg_status, role, status)

    def _created_ms(self, group: Group) -> int:
        its = self.journal.intents(group_key=group.key)
        return min((it['created_ms'] for it in its), default=0)

    def _reconcile_open(self):
        """Read what should be live on the venue, per symbol: the open lists (one read) and the open
        orders (one read); then each list or order we hold live that neither shows, to learn how it
        ended. A cancel made outside this store so reaches the strategy as Canceled."""
        by_symbol: dict[str, list[tuple[Group, str]]] = {}
        for group in self._groups_in(self._live):
            if not group.done:
                for role, leg in group.legs.items():
                    if leg.status in LIVE and (leg.list_id or leg.order_id):
                        by_symbol.setdefault(group.spec.symbol, []).append((group, role))
        for symbol, legs in by_symbol.items():
            lists = {(g.key, g.legs[r].list_id) for g, r in legs if g.legs[r].list_id}
            singles = [(g, r) for g, r in legs if not g.legs[r].list_id]
            if lists:
                self._reconcile_lists(symbol, lists)
            if singles:
                self._reconcile_singles(symbol, singles)

    def _reconcile_lists(self, symbol: str, lists: set):
        out = self.policy.read('fetch_open_oco_orders', symbol)
        if not out.done:
            return    # next time
        open_lists = {str(x['id']): x for x in out.result}
        for key, list_id in sorted(lists):
            group = self.groups[key]
            view = open_lists.get(list_id)
            if view is not None:
                self._apply_leg_views(group, view.get('orders') or [])
            else:
                self._refresh_list(group, list_id)   # no longer open: how did it end?

    def _reconcile_singles(self, symbol: str, legs: list):
        page = getattr(self.exchange, 'open_orders_page_size', None)
        listed = self.policy.read('fetch_open_orders', symbol, None, page)
        if not listed.done:
            return
        open_ids = {str(o.get('id')) for o in listed.result}
        filled = False
        for group, role in legs:
            leg = group.legs[role]
            if leg.order_id in open_ids or leg.done:
                continue
            out = self.policy.read('fetch_order', leg.order_id, symbol, self._leg_params(group, role))
            status = _LEG_STATUS.get(out.result.get('status')) if out.done else None
            filled |= status == FILLED
            if status in (CANCELED, REJECTED) and not leg.done:
                log.warning('%s leg of group %s is %s on the venue (not by this store)', role, group.key, status)
                self._apply(group, group.leg_status, role, status)
        if filled:
            self._read_fills(symbol)   # one read for every leg that filled unseen

    # restart ------------------------------------------------------------------------------------
    def reconcile(self):
        """Rebuild groups from the journal, settle what was in flight, apply fills that came while
        we were away, read the live orders, and report unprotected positions."""
        for row in self.journal.groups():
            self.groups[row['key']] = Group.from_dict(row['data'])
        self._reindex()
        if not self.groups:
            return
        for it in self.journal.intents([J.INTENT, J.SENT]):
            if _is_create(it['method']):
                # recorded (and perhaps sent) when the process stopped: its outcome is unknown
                self.journal.mark(it['client_oid'], J.UNKNOWN, error='process stopped')
        self._settle_unknown(force=True)
        self._run()
        for symbol in self.live_symbols():
            # exits planned from fills that came while we were away need the market's price (an OCO
            # whose level the market crossed goes out as the orders it turns into)
            if symbol not in self.last:
                last = self._venue_last(symbol)
                if last is not None:
                    self.last[symbol] = last
            self._read_fills(symbol)
        for group in list(self.groups.values()):
            entry = group.legs.get(ENTRY)
            if (not group.done and group.mode == 'managed' and entry is not None and entry.status == FILLED
                    and not group.then_placed and not self.journal.intents([J.INTENT, J.UNKNOWN], group.key)):
                self._apply(group, group._entry_filled)   # a journal written before intents were atomic
        self._reconcile_open()
        self.check_unprotected()

    def _report_unprotected(self, group: Group):
        entry = group.legs[ENTRY]
        why = (f'its entry ended part-filled ({entry.filled} of {entry.amount}) and its exits were canceled'
               if entry.status != FILLED else 'none of its exits is live')
        msg = (f'UNPROTECTED POSITION: group {group.key} on {group.spec.symbol} holds {entry.filled} '
               f'from its entry but {why}')
        log.error(msg)
        self.notifs.append(msg)
        self.events.append((EV_UNPROTECTED, group.key, msg))

    def check_unprotected(self):
        # a group can only become unprotected by a change (tracked), or, when it is already, by
        # its owed creates ending (a journal change): only those groups are looked at
        keys, self._changed = self._changed, {}
        for key in sorted(keys, key=self._rank.__getitem__):
            group = self.groups[key]
            if group.key in self._reported or not group.unprotected():
                continue
            if self._owed(group):
                self._changed[key] = None   # looked at again next time
            else:
                self._reported.add(group.key)
                self._report_unprotected(group)

    def _owed(self, group: Group) -> bool:
        """Creates still owed to the venue for this group (exits being placed)."""
        return any(_is_create(it['method']) for it in self.journal.intents(J.OPEN_STATES, group.key))
