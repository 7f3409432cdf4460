"""BracketBroker: a backtrader broker that sends order groups to the exchange as list orders.

- buy()/sell() take the same arguments as BackBroker. Orders are held until their group is
  complete (backtrader's transmit rule); every order created during one `next()` is gathered
  before the next bar (`flush()`, called by the feed before it loads a bar, and by `next()`), so
  a bracket becomes an OTOCO and an `oco=` pair one OCO.
- Notifications follow BackBroker: Submitted when created, Accepted once the exchange took the
  group, Partial / Completed from the exchange's fills (executed size, price and the exchange's
  fee as commission, through order.execute / addcomminfo so notify_trade works), Canceled,
  Rejected, Margin (insufficient funds).
- Cash and value: cash starts at `cash` (default: the free quote balance) and moves with this
  broker's own fills (minus fees); a position is the net base from this broker's fills;
  value = cash + sum(position * last close). That is BackBroker's arithmetic, so backtest and
  paper runs compare.
"""
from __future__ import annotations

import collections
import logging

import backtrader as bt
from backtrader.order import BuyOrder, Order, SellOrder
from backtrader.position import Position

from . import store as S
from .groups import OrderInfo, Pending, group_spec, partition
from .planner import PlanError

log = logging.getLogger('bracket_plugin.backtrader')


class BracketBroker(bt.BrokerBase):
    params = (
        ('cash', None),   # starting cash in the quote currency; None: the exchange's free balance
        ('advance', None),  # venue backtest: moves the in-process venue one bar, before each cycle
    )

    def __init__(self, store=None, **kwargs):
        super().__init__()
        for k, v in kwargs.items():
            setattr(self.p, k, v)
        self.store = store
        self.notifs: collections.deque[Order] = collections.deque()
        self.positions: collections.defaultdict[bt.AbstractDataBase, Position] = collections.defaultdict(Position)
        self.orders = {}           # ref -> order
        self._group_orders = {}    # group key -> {role: order}
        self._group_of = {}        # order ref -> group key (a cancel finds its group at once)
        self._pending = Pending()
        self._queue = []           # ('submit', family) | ('cancel', order), in call order
        self._ocos = {}            # ref -> oco leader ref (as BackBroker keeps it)
        self._canceling = None     # the order whose cancel is being sent
        self._seen_bar = {}        # symbol -> datetime of the last bar handed to the store
        self._counted = set()     # trade ids already in cash and positions (rebuilt from the journal)
        self.cash = 0.0
        self.value = 0.0
        self.startingcash = 0.0
        self._started = False

    # setup -----------------------------------------------------------------------------------------
    def start(self):
        super().start()
        if self._started:
            return
        self._started = True
        journal = self.store.journal
        start = journal.meta('cash_start')
        if start is None:
            start = float(self.p.cash) if self.p.cash is not None else float(self._free_quote())
            journal.set_meta('cash_start', repr(start))
        else:
            start = float(start)
            if self.p.cash is not None and float(self.p.cash) != start:
                log.warning('cash=%r ignored: this journal started with %r, and its fills are counted from there',
                            self.p.cash, start)
        # a restart: cash and positions come back from this journal's fills (orders of earlier runs)
        self.cash = start
        for d in self.store._datas:
            for f in journal.fills(d.p.symbol):
                self.positions[d].update((f['amount'] if f['side'] == 'buy' else -f['amount']) - f['fee_base'], f['price'])
                self._counted.add(f['trade_id'])
            self.cash += journal.cash_flow(d.p.symbol)
        self.startingcash = start
        self.value = self.cash + sum(pos.size * pos.price for pos in self.positions.values())

    def _free_quote(self):
        datas = self.store._datas
        if not datas:
            return 0.0
        quote = self.store.exchange.market(datas[0].p.symbol)['quote']
        bal = self.store.exchange.fetch_balance()
        return float((bal.get(quote) or {}).get('free') or 0.0)

    def setcash(self, cash):
        self.p.cash = cash
        self.cash = float(cash)
        self.value = self.cash

    set_cash = setcash

    def getcash(self):
        return self.cash

    get_cash = getcash

    def getvalue(self, datas=None):
        if datas is None:
            return self.value
        return sum(self.positions[d].size * d.close[0] for d in datas)

    get_value = getvalue

    def getposition(self, data):
        return self.positions[data]

    def get_notification(self):
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    def notify(self, order):
        self.notifs.append(order.clone())

    def orderstatus(self, order):
        return self.orders[order.ref].status

    def get_orders_open(self, safe=False):
        """Orders still alive (as BackBroker's; `safe` returns clones)."""
        alive = [o for o in self.orders.values() if o.alive()]
        return [o.clone() for o in alive] if safe else alive

    # creating orders ---------------------------------------------------------------------------
    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0,
            oco=None, trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs):
        return self._order(BuyOrder, owner, data, size, price, plimit, exectype, valid, tradeid, oco,
                           trailamount, trailpercent, parent, transmit, kwargs)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0,
             oco=None, trailamount=None, trailpercent=None, parent=None, transmit=True, **kwargs):
        return self._order(SellOrder, owner, data, size, price, plimit, exectype, valid, tradeid, oco,
                           trailamount, trailpercent, parent, transmit, kwargs)

    def _order(self, cls, owner, data, size, price, plimit, exectype, valid, tradeid, oco, trailamount,
               trailpercent, parent, transmit, kwargs):
        if valid is not None:
            # exchange orders are good-till-canceled: an expiry is not sent (docs/broker.md: differences)
            log.warning('valid=%r ignored: exchange orders rest until filled or canceled', valid)
        order = cls(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype,
                    valid=None, tradeid=tradeid, oco=oco, trailamount=trailamount, trailpercent=trailpercent,
                    parent=parent, transmit=transmit)
        order.addinfo(**kwargs)
        self.orders[order.ref] = order
        self._ocos[order.ref] = self._ocos.get(oco.ref, oco.ref) if oco is not None else order.ref
        order.submit(self)
        self.notify(order)
        info = OrderInfo(order.ref, order.isbuy(), abs(order.created.size), order.exectype,
                         price if order.exectype != Order.Market else None,
                         plimit, parent.ref if parent is not None else None, transmit,
                         oco.ref if oco is not None else None)
        try:
            family = self._pending.add(info)
        except PlanError as exc:
            self._reject([order], exc)
            return order
        if family is not None:
            self._queue.append(('submit', family))
        return order

    def cancel(self, order, bracket=False):
        if not order.alive():
            return False
        self._queue.append(('cancel', order))
        return True

    # sending -------------------------------------------------------------------------------------
    def flush(self):
        """Send every complete group and every cancel asked for since the last flush."""
        queue, self._queue = self._queue, []
        families = []
        for op, item in queue + [('end', None)]:
            if op == 'submit':
                families.append(item)
                continue
            # a cancel (or the end) closes the run of families before it: send them first
            if families:
                self._submit(families)
                families = []
            if op == 'cancel':
                self._cancel(item)

    def _submit(self, families):
        for group in partition(families):
            orders = [self.orders[i.ref] for i in group]
            data = orders[0].data
            symbol = data.p.symbol
            try:
                spec = group_spec(symbol, group)
                key = self.store.journal.new_group_key()
                self._group_orders[key] = {leg.role: self.orders[leg.ref] for leg in spec.legs}
                self._group_of.update((leg.ref, key) for leg in spec.legs)
                self.store.submit(spec, key=key)
            except PlanError as exc:
                self._reject(orders, exc)
                continue
            self._drain()

    def _cancel(self, order):
        key = self._group_of.get(order.ref)
        if key is not None and not any(o is order for o in self._group_orders[key].values()):
            key = None   # not this order object (a clone), or its group key went to a later group
        if key is None or not order.alive():
            return
        self._canceling = order
        try:
            self.store.cancel(key)
            self._drain()
        finally:
            self._canceling = None

    def _reject(self, orders, exc):
        log.warning('orders %s rejected before sending: %s', [o.ref for o in orders], exc)
        for o in orders:
            if o.alive():
                o.reject(self)
                self.notify(o)

    # the bar cycle ------------------------------------------------------------------------------
    def next(self):
        self.flush()
        if self.p.advance is not None:
            # venue backtest: the bar cerebro delivers now is the one the venue processes now, with
            # what the strategy placed on the bar before (as a BracketFeed steps it in paper runs)
            self.p.advance()
        bars = {}   # only bars that closed since the last cycle (cycles without a bar happen live)
        for d in self.store._datas:
            if len(d) and self._seen_bar.get(d.p.symbol) != d.datetime[0]:
                self._seen_bar[d.p.symbol] = d.datetime[0]
                bars[d.p.symbol] = (d.high[0], d.low[0], d.close[0], d.datetime[0])
        self.store.poll(bars)
        self._drain()
        self._update_value()

    def _update_value(self):
        value = self.cash
        for d, pos in self.positions.items():
            if pos.size:
                value += pos.size * d.close[0]
        self.value = value

    def _drain(self):
        """Turn store events into order state changes and notifications."""
        while self.store.events:
            ev = self.store.events.popleft()
            kind, key = ev[0], ev[1]
            orders = self._group_orders.get(key)
            if orders is None:
                if kind == S.EV_FILL:
                    self._orphan_fill(key, *ev[2:9])
                continue
            if kind == S.EV_ACCEPTED:
                # in creation order, as BackBroker; legs still waiting in our plan (exits of a managed
                # bracket, a watched stop) are Accepted with the rest: a later placement is silent
                legs = self.store.groups[key].legs
                self._sync_sizes(key)
                for role, o in sorted(orders.items(), key=lambda kv: kv[1].ref):
                    if o.status == Order.Submitted and (role in ev[2] or legs[role].status == 'waiting'):
                        o.accept(self)
                        self.notify(o)
            elif kind == S.EV_REJECTED:
                roles, reason = ev[2], ev[3]
                for role in roles:
                    o = orders.get(role)
                    if o is not None and o.alive():
                        if reason == 'margin':
                            o.margin()
                        else:
                            o.reject(self)
                        self.notify(o)
            elif kind == S.EV_CANCELED:
                # the order the strategy canceled first, then the rest of its group (BackBroker's order)
                targets = sorted((orders[r] for r in ev[2] if r in orders),
                                 key=lambda o: (o is not self._canceling, o.ref))
                for o in targets:
                    if o.alive():
                        o.cancel()
                        self.notify(o)
            elif kind == S.EV_FILL:
                role, amount, price, fee, ts = ev[2:7]
                o = orders.get(role)
                if o is not None:
                    self._sync_sizes(key)
                    self._execute(o, amount, price, fee, ev[8])
            elif kind == S.EV_UNPROTECTED:
                pass  # logged and queued as a store notification by the store

    def _sync_sizes(self, key):
        """The group's orders say the amounts the venue was sent (rounded to the lot, exits net of a
        fee charged in the base: planner.sized), so each completes when its leg has filled."""
        legs = self.store.groups[key].legs
        for role, o in self._group_orders.get(key, {}).items():
            leg = legs.get(role)
            if leg is None or o.executed.size or abs(o.size) == leg.amount:
                continue
            size = leg.amount if o.isbuy() else -leg.amount
            o.size = o.created.size = size
            o.executed.remsize = size

    def _execute(self, order, amount, price, fee, fee_base=0.0):
        """Apply one exchange fill to the order and the position, as BackBroker._execute does. A
        fee charged in the base (`fee_base`) leaves the position, not the cash; the order's
        commission counts it at the fill's price."""
        if order.status in (Order.Submitted,):
            order.accept(self)
        data = order.data
        rem = abs(order.executed.remsize)
        # fills summed as floats can leave a remainder like 1e-15 after the last one, which would
        # keep the order Partial for good: a fill within float noise of the rest completes it
        if amount >= rem - 1e-9 * abs(order.size):
            amount = rem
        size = min(amount, rem) if order.isbuy() else -min(amount, rem)
        if not size:
            return
        comminfo = self.getcommissioninfo(data)
        position = self.positions[data]
        pprice_orig = position.price
        psize, pprice, opened, closed = position.pseudoupdate(size, price)
        pnl = comminfo.profitandloss(-closed, pprice_orig, price) if closed else 0.0
        closedvalue = comminfo.getoperationcost(closed, pprice_orig) if closed else 0.0
        openedvalue = comminfo.getoperationcost(opened, price) if opened else 0.0
        comm = fee + fee_base * price
        closedcomm = comm * abs(closed) / abs(size)
        openedcomm = comm - closedcomm
        # spot cash: a buy pays, a sell receives, the quote part of the fee is paid from it
        self.cash -= size * price + fee
        position.update(size - fee_base, price, data.datetime.datetime())
        order.execute(data.datetime[0], size, price, closed, closedvalue, closedcomm,
                      opened, openedvalue, openedcomm, comminfo.margin, pnl, psize, pprice)
        order.addcomminfo(comminfo)
        self.notify(order)

    def _orphan_fill(self, key, role, amount, price, fee, ts, trade_id, fee_base=0.0):
        """A fill of a group re-attached after a restart (no strategy order): position and cash only."""
        if trade_id in self._counted:
            return   # read at restart, already in the rebuilt cash and position
        self._counted.add(trade_id)
        group = self.store.groups[key]
        side = group.planned(role).side
        size = amount if side == 'buy' else -amount
        for d in self.store._datas:
            if d.p.symbol == group.spec.symbol:
                self.positions[d].update(size - fee_base, price)
                self.cash -= size * price + fee
                break
        log.info('fill of re-attached group %s (%s): %s @ %s', key, role, size, price)
