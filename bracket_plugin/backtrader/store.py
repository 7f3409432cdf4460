"""BracketStore: owns one exchange instance, the journal and the group states.

Thin I/O shell around the pure parts (planner, orderstate): it sends what the plan says, writes
every intent to the journal before sending it and every outcome after, reads fills (one
`fetch_my_trades` per symbol with live orders per cycle), and emits events that the broker turns
into backtrader notifications. No singleton: every store has its own exchange and journal.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace

import ccxt

from . import journal as J
from .journal import Journal
from .orderstate import (CANCEL_LEG, CANCEL_LIST, CANCELED, FILLED, LIVE, OPEN, PLACE_THEN, REJECTED,
                         SEND_WATCHED, WAITING, Group)
from .planner import (ENTRY, LIMIT, OCO, SINGLE, STOP, STOP_LIMIT, BracketSpec, LegSpec,
                      Request, plan, single_request)

log = logging.getLogger('bracket_plugin.backtrader')

# events for the broker: (kind, group key, ...)
EV_ACCEPTED = 'accepted'      # (roles)
EV_REJECTED = 'rejected'      # (roles, reason 'margin'|'rejected', message)
EV_FILL = 'fill'              # (role, amount, price, fee, ts)
EV_CANCELED = 'canceled'      # (roles)
EV_UNPROTECTED = 'unprotected'  # (message)

LIST_CANCEL = {'oco': 'cancel_oco_order', 'oto': 'cancel_oto_order', 'otoco': 'cancel_otoco_order'}
_LEG_STATUS = {'open': OPEN, 'closed': FILLED, 'canceled': CANCELED, 'expired': CANCELED, 'rejected': REJECTED}


# answers that say the order was not, and will not be, placed; anything else is an unknown outcome
DEFINITE_REFUSALS = (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.BadSymbol, ccxt.NotSupported,
                     ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)


class UnknownOutcome(Exception):
    """A create could not be confirmed either way; it stays in the journal as `unknown`."""


class BracketStore:
    def __init__(self, exchange, config: dict | None = None, journal='bracket_journal.sqlite',
                 poll_interval: float = 5.0, stop_slippage: float = 0.01, max_attempts: int = 5,
                 retry_delay: float = 0.5, reconcile: bool = True):
        if isinstance(exchange, str):
            import bracket_plugin
            exchange = bracket_plugin.exchange(exchange, dict(config or {}))
        self.exchange = exchange
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self.poll_interval = poll_interval
        self.stop_slippage = stop_slippage
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.groups: dict[str, Group] = {}
        self.events: deque = deque()
        self.notifs: deque = deque()          # store messages (e.g. an unprotected position)
        self.requests = 0                     # exchange calls made through the store
        self.last: dict[str, float] = {}      # symbol -> close of the last closed bar seen
        self.cycle = 0                        # poll cycles (one per bar)
        self._reported: set[str] = set()      # groups already reported unprotected
        self._armed: dict[str, int] = {}      # group key -> cycle in which its stop began to be watched
        self._broker = None
        self._datas = []
        if reconcile:
            self.reconcile()

    # backtrader factory methods ---------------------------------------------------------------
    def getbroker(self, **kwargs):
        from .broker import BracketBroker
        if self._broker is None:
            self._broker = BracketBroker(store=self, **kwargs)
        return self._broker

    def getdata(self, symbol: str, **kwargs):
        from .feed import BracketFeed
        data = BracketFeed(store=self, symbol=symbol, **kwargs)
        self._datas.append(data)
        return data

    # cerebro.addstore(store) delivers these to Strategy.notify_store(msg)
    def start(self, data=None, broker=None):
        pass

    def stop(self):
        pass

    def get_notifications(self) -> list:
        out = [(msg, (), {}) for msg in self.notifs]
        self.notifs.clear()
        return out

    # sending ------------------------------------------------------------------------------------
    def submit(self, spec: BracketSpec, key: str | None = None) -> Group:
        """Plan and send a group. Raises PlanError before anything is sent."""
        p = plan(spec, self.exchange.has, self.exchange.id, self.stop_slippage)
        key = key or self.journal.new_group_key()
        group = Group.new(key, spec, p)
        self.groups[key] = group
        if p.watch is not None:
            self._armed[key] = self.cycle
        self._save(group)
        self._send(group, 'first', p.first)
        return group

    def _save(self, group: Group):
        state = 'done' if group.done else 'live'
        self.journal.save_group(group.key, group.spec.symbol, state, group.to_dict())

    def _send(self, group: Group, step: str, req: Request):
        cid = self.journal.record_intent(group.key, step, group.spec.symbol, req.method,
                                         {'args': list(req.args), 'params': req.params, 'roles': list(req.roles)})
        try:
            result = self._create(req, cid)
        except UnknownOutcome as exc:
            log.warning('create %s (%s) outcome unknown after %d attempts: %s; will look it up again',
                        req.method, cid, self.max_attempts, exc)
            return
        except ccxt.InsufficientFunds as exc:
            self._refused(group, req, cid, 'margin', exc)
            return
        except DEFINITE_REFUSALS as exc:
            self._refused(group, req, cid, 'rejected', exc)
            return
        self._attach(group, req, cid, result)

    def _call(self, name, *args):
        self.requests += 1
        return getattr(self.exchange, name)(*args)

    def _create(self, req: Request, cid: str):
        """One create; after an uncertain outcome the order is looked up by client id before any resend."""
        params = dict(req.params, clientOrderId=cid)
        for attempt in range(self.max_attempts):
            self.journal.mark(cid, J.SENT)
            try:
                return self._call(req.method, *req.args, params)
            except ccxt.DuplicateOrderId:
                found = self._lookup(req, cid)
                if found is not None:
                    return found
                raise
            except (ccxt.InsufficientFunds, *DEFINITE_REFUSALS):
                raise
            except ccxt.BaseError as exc:
                # timeout, reset, 5xx, 429, lost answer, or an error ccxt could not classify
                # (e.g. a 5xx page ccxt reads as a bare ExchangeError): the order may exist
                self.journal.mark(cid, J.UNKNOWN, error=type(exc).__name__)
                found = self._lookup_patiently(req, cid)
                if found is not None:
                    return found
                time.sleep(self.retry_delay * (2 ** attempt))
        raise UnknownOutcome(f'{req.method} {cid}: no answer after {self.max_attempts} attempts')

    def _lookup_patiently(self, req, cid):
        last = None
        for attempt in range(self.max_attempts):
            try:
                return self._lookup(req, cid)
            except ccxt.BaseError as exc:
                last = exc
                time.sleep(self.retry_delay * (2 ** attempt))
        raise UnknownOutcome(f'lookup of {cid} failed: {type(last).__name__}')

    def _lookup(self, req: Request, cid: str):
        """The order or list created under `cid`, or None if the exchange does not know it."""
        symbol = req.args[0]
        if req.method != 'create_order':
            try:
                return self._call('fetch_oco_order', None, symbol, {'clientOrderId': cid})
            except ccxt.OrderNotFound:
                return None
        trig = 'triggerPrice' in req.params
        try:
            params = {'clientOrderId': cid}
            if trig and self.exchange.id == 'kucoin':
                params['trigger'] = True
            return self._call('fetch_order', None, symbol, params)
        except (ccxt.OrderNotFound, ccxt.ArgumentsRequired, ccxt.BadRequest, ccxt.NotSupported):
            pass
        # second opinion (and the only way where a by-client-id query is missing): open and past orders
        for name, flag in (('fetch_open_orders', 'fetchOpenOrders'), ('fetch_closed_orders', 'fetchClosedOrders'),
                           ('fetch_orders', 'fetchOrders')):
            if not self.exchange.has.get(flag):
                continue
            try:
                orders = self._call(name, symbol)
            except (ccxt.NotSupported, ccxt.ArgumentsRequired):
                continue
            for o in orders:
                if o.get('clientOrderId') == cid:
                    return o
        return None

    def _refused(self, group, req, cid, reason, exc):
        self.journal.mark(cid, J.FAILED, error=f'{type(exc).__name__}: {exc}'[:500])
        log.warning('%s refused (%s): %s', req.method, reason, exc)
        before = self._statuses(group)
        actions = group.rejected(req.roles)
        self.events.append((EV_REJECTED, group.key, tuple(req.roles), reason, str(exc)))
        self._emit_canceled(group, before)
        self._act(group, actions)
        self._save(group)

    def _attach(self, group: Group, req: Request, cid: str, result: dict):
        """Record the exchange ids of a placed request (a list: learn leg ids from its details)."""
        if req.method == 'create_order':
            ids = {req.roles[0]: result['id']}
            list_id = None
        else:
            list_id = result['id']
            legs = result.get('orders') or []
            if len(legs) < len(req.roles) or not all(l.get('id') for l in legs):
                result = self._call('fetch_oco_order', list_id, req.args[0])
                legs = result.get('orders') or []
            ids = {l['role']: l['id'] for l in legs if l.get('role') in req.roles}
        self.journal.mark(cid, J.DONE, exchange_id=list_id or ids[req.roles[0]])
        group.placed(req.roles, ids, list_id)
        self.events.append((EV_ACCEPTED, group.key, tuple(req.roles)))
        self._save(group)

    # actions from the state machine ----------------------------------------------------------
    def _act(self, group: Group, actions):
        for action in actions:
            kind = action[0]
            if kind == PLACE_THEN:
                self._place_then(group)
            elif kind == CANCEL_LIST:
                self._cancel_list(group, action[1])
            elif kind == CANCEL_LEG:
                self._cancel_leg(group, action[1])
            elif kind == SEND_WATCHED:
                self._send_watched(group, action[1])

    def _place_then(self, group: Group):
        # exits protect what the entry bought or sold (all of it, unless it was cancelled part-filled)
        held = group.legs[ENTRY].filled
        exits = tuple(replace(group.spec.leg(r), amount=min(group.spec.leg(r).amount, held))
                      for r in group.exit_roles())
        for leg in exits:
            group.legs[leg.role].amount = leg.amount
        then = BracketSpec(OCO if len(exits) == 2 else SINGLE, group.spec.symbol, exits)
        p = plan(then, self.exchange.has, self.exchange.id, self.stop_slippage, self.last.get(group.spec.symbol))
        before = self._statuses(group)
        group.apply_exit_plan(p)
        if p.watch is not None:
            self._armed[group.key] = self.cycle
        self._emit_canceled(group, before)
        self._save(group)
        self._send(group, 'then', p.first)

    def _cancel_list(self, group: Group, list_id: str):
        # a native OTO(CO) is one list; every other list we place is an OCO (managed exits)
        kind = group.spec.kind if group.mode == 'native' else 'oco'
        try:
            self._call(LIST_CANCEL[kind], list_id, group.spec.symbol)
        except ccxt.OrderNotFound:
            pass  # already done on the exchange: its fills or final status come with the next poll
        roles = [r for r, l in group.legs.items() if l.list_id == list_id and not l.done]
        self._confirm_canceled(group, roles)

    def _cancel_leg(self, group: Group, role: str):
        leg = group.legs[role]
        spec_leg = group.spec.leg(role)
        params = {'trigger': True} if spec_leg.kind in (STOP, STOP_LIMIT) and self.exchange.id == 'kucoin' \
            and leg.list_id is None and not (group.watch == role) else {}
        try:
            self._call('cancel_order', leg.order_id, group.spec.symbol, params)
        except ccxt.OrderNotFound:
            return False
        self._confirm_canceled(group, [role])
        return True

    def _confirm_canceled(self, group, roles):
        roles = [r for r in roles if not group.legs[r].done]
        group.canceled_on_exchange(roles)
        if roles:
            self.events.append((EV_CANCELED, group.key, tuple(roles)))
        self._save(group)

    def _send_watched(self, group: Group, role: str):
        leg = group.legs[role]
        spec_leg = group.spec.leg(role)
        amount = leg.remaining
        if spec_leg.kind == STOP:
            req = single_request(group.spec.symbol, LegSpec(role, spec_leg.side, amount, 'market'))
        else:
            req = single_request(group.spec.symbol, LegSpec(role, spec_leg.side, amount, LIMIT, price=spec_leg.price))
        group.watch = None
        leg.status = WAITING  # placed() turns it open
        self._save(group)
        self._send(group, 'watched', req)

    def cancel(self, key: str):
        group = self.groups[key]
        before = self._statuses(group)
        mark = len(self.events)
        actions = group.cancel()
        self._emit_canceled(group, before)
        self._act(group, actions)
        # one Canceled event for the whole group, so the broker can notify in BackBroker's order
        mine = [e for e in list(self.events)[mark:] if e[0] == EV_CANCELED and e[1] == key]
        if len(mine) > 1:
            rest = [e for e in list(self.events)[mark:] if not (e[0] == EV_CANCELED and e[1] == key)]
            for _ in range(len(self.events) - mark):
                self.events.pop()
            self.events.append((EV_CANCELED, key, tuple(r for e in mine for r in e[2])))
            self.events.extend(rest)
        self._save(group)

    @staticmethod
    def _statuses(group):
        return {r: l.status for r, l in group.legs.items()}

    def _emit_canceled(self, group, before):
        roles = tuple(r for r, l in group.legs.items() if l.status == CANCELED and before[r] != CANCELED)
        if roles:
            self.events.append((EV_CANCELED, group.key, roles))

    # polling ------------------------------------------------------------------------------------
    def live_symbols(self) -> list[str]:
        return sorted({g.spec.symbol for g in self.groups.values() if not g.done})

    def poll(self, bars: dict | None = None):
        """One cycle: resolve unknown creates, read fills per symbol, check watched stops on the
        bars just closed ({symbol: (high, low, close)})."""
        self.cycle += 1
        for symbol, bar in (bars or {}).items():
            self.last[symbol] = bar[2]
        self._resolve_unknown()
        for symbol in self.live_symbols():
            try:
                self._poll_fills(symbol)
            except ccxt.BaseError as exc:
                # the cursor did not move: the same fills are read again next cycle
                log.warning('fills of %s not read this cycle: %s', symbol, type(exc).__name__)
        if bars:
            for group in list(self.groups.values()):
                if group.done or group.watch is None or group.spec.symbol not in bars:
                    continue
                if self._armed.get(group.key, -1) >= self.cycle:
                    continue  # armed during this cycle: its bar was over before the stop existed
                leg = group.spec.leg(group.watch)
                high, low = bars[group.spec.symbol][:2]
                touched = low <= leg.trigger if leg.side == 'sell' else high >= leg.trigger
                if touched:
                    self._fire_watch(group)
        for group in self.groups.values():
            if not group.done:
                self._save(group)
        self.check_unprotected()

    def _fire_watch(self, group: Group):
        actions = group.stop_touched()
        for a in actions:
            if a[0] == CANCEL_LEG and not self._cancel_leg(group, a[1]):
                # the resting leg is gone (filled): no stop to send; the fill arrives by polling
                return
        self._act(group, [a for a in actions if a[0] != CANCEL_LEG])

    def _poll_fills(self, symbol: str):
        since = self.journal.cursor(symbol)
        for attempt in range(self.max_attempts):
            try:
                trades = self._call('fetch_my_trades', symbol, since)
                break
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable):
                # transient (timeout, reset, 429, 5xx): retry within the cycle, then give the cycle up
                if attempt == self.max_attempts - 1:
                    raise
                time.sleep(self.retry_delay * (2 ** attempt))
        refresh = set()
        for t in sorted(trades, key=lambda t: (t.get('timestamp') or 0)):
            oid = str(t.get('order'))
            group = next((g for g in self.groups.values() if g.leg_by_order(oid) is not None), None)
            if group is None:
                continue
            fee = float((t.get('fee') or {}).get('cost') or 0.0)
            if not self.journal.add_fill(str(t['id']), oid, symbol, t['side'], float(t['amount']),
                                         float(t['price']), fee, int(t.get('timestamp') or 0)):
                continue
            before = {r: l.status for r, l in group.legs.items()}
            role, actions = group.fill(oid, float(t['amount']), float(t['price']), fee)
            self.events.append((EV_FILL, group.key, role, float(t['amount']), float(t['price']), fee,
                                int(t.get('timestamp') or 0)))
            # an exit's fill ends its sibling (the exchange cancels it; a watched stop is dropped)
            siblings = [r for r, l in group.legs.items() if l.status == CANCELED and before[r] != CANCELED]
            if siblings:
                self.events.append((EV_CANCELED, group.key, tuple(siblings)))
            self._act(group, actions)
            if group.legs[role].list_id:
                refresh.add((group.key, group.legs[role].list_id))
            self._save(group)
        if trades:
            self.journal.set_cursor(symbol, max(int(t.get('timestamp') or 0) for t in trades))
        for key, list_id in refresh:
            self._refresh_list(self.groups[key], list_id)

    def _refresh_list(self, group: Group, list_id: str):
        """After a fill of a list leg: the list's own view of its legs (siblings canceled by it)."""
        try:
            lst = self._call('fetch_oco_order', list_id, group.spec.symbol)
        except ccxt.BaseError as exc:
            log.warning('list %s refresh failed: %s', list_id, exc)
            return
        for leg in lst.get('orders') or []:
            role = leg.get('role')
            if role not in group.legs:
                continue
            if leg.get('id') and not group.legs[role].order_id:
                group.legs[role].order_id = leg['id']
            status = _LEG_STATUS.get(leg.get('status'))
            if status in (CANCELED, REJECTED) and not group.legs[role].done:
                actions = group.leg_status(role, status)
                self.events.append((EV_CANCELED, group.key, (role,)))
                self._act(group, actions)
        self._save(group)

    def _resolve_unknown(self):
        for it in self.journal.intents([J.UNKNOWN]):
            group = self.groups.get(it['group_key'])
            if group is None:
                continue
            req = Request(it['method'], tuple(it['args']['args']), it['args']['params'], tuple(it['args']['roles']))
            try:
                found = self._lookup(req, it['client_oid'])
            except ccxt.BaseError:
                continue
            if found is not None:
                self._attach(group, req, it['client_oid'], found)
            else:
                # not on the exchange: send it again under the same client id
                self.journal.mark(it['client_oid'], J.FAILED, error='not found after unknown outcome')
                self._send(group, it['step'], req)

    # restart ------------------------------------------------------------------------------------
    def reconcile(self):
        """Rebuild groups from the journal, settle creates that were in flight, apply fills that
        came while we were away, finish managed steps, and report unprotected positions."""
        for row in self.journal.groups():
            self.groups[row['key']] = Group.from_dict(row['data'])
        if not self.groups:
            return
        for it in self.journal.intents([J.INTENT, J.SENT]):
            # sent (or about to be) when the process stopped: its outcome is unknown
            self.journal.mark(it['client_oid'], J.UNKNOWN, error='process stopped')
        self._resolve_unknown()
        for symbol in self.live_symbols():
            self._poll_fills(symbol)
        for group in list(self.groups.values()):
            if group.done:
                continue
            entry = group.legs.get(ENTRY)
            if (group.mode == 'managed' and entry is not None and entry.status == FILLED
                    and not group.then_placed):
                self._place_then(group)
            for list_id in {l.list_id for l in group.legs.values() if l.list_id and l.status in LIVE}:
                self._refresh_list(group, list_id)
            self._save(group)
        self.check_unprotected()

    def _report_unprotected(self, group: Group):
        entry = group.legs[ENTRY]
        msg = (f'UNPROTECTED POSITION: group {group.key} on {group.spec.symbol} holds {entry.filled} '
               f'from its entry but none of its exits is live')
        log.error(msg)
        self.notifs.append(msg)
        self.events.append((EV_UNPROTECTED, group.key, msg))

    def check_unprotected(self):
        for group in self.groups.values():
            if group.key not in self._reported and group.unprotected():
                self._reported.add(group.key)
                self._report_unprotected(group)
