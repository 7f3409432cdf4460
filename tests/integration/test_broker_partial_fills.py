"""Partial fills end to end: BracketBroker -> ccxt -> HTTP -> simulator with `volume_fraction` on,
so each order fills over several bars. Checks the broker's claims for both dialects (KuCoin: managed
OTOCO = limit entry, then the native OCO; Crypto.com: native OTOCO) and for an `oco=` exit pair:
- the entry notifies Partial, then Completed, with executed sizes from the exchange's fills;
- exits go live only once the entry has filled completely, sized to what it filled;
- the first fill of one exit cancels the other (exchange OCO rule), so a long position never
  goes below zero and ends flat (on Crypto.com, whose buys pay their fee in the base, the exits
  sell what the account holds after it and leave less than a lot);
- nothing of a finished list is left open on the venue.
"""
from decimal import Decimal

import backtrader as bt
import pytest

from bracket_plugin.backtrader.paper import run_paper
from bracket_plugin.backtrader.planner import exit_amount, floor_lot
from bracket_plugin.sim import Venue
from conformance import VENUES, native_brackets

SIZE = 40.0             # ETH; at 1% of bars of a few hundred ETH, each order needs several bars
FRACTION = '0.01'
BALANCES = {'ETH': 1000, 'BTC': 100}
LIVE = ('open', 'triggered')
LOT = 0.0001


def net(amount, exchange_id) -> Decimal:
    """What exits of a buy of `amount` sell: all of it, or on a venue charging the buy's fee in the
    base what the account holds after it, down to the lot."""
    return Decimal(str(exit_amount(float(amount), 'buy', exchange_id, LOT)))


def tick(x):
    return round(round(x / 1e-6) * 1e-6, 12)


class Recorder(bt.Strategy):
    """Logs notifications as (bar, name, status, executed size) and, every bar, the strategy's
    position and a snapshot of the venue's orders: (side, role, status, amount, filled)."""
    params = (('log', None), ('positions', None), ('snapshots', None), ('venue', None), ('exchange', None),
              ('at', 20))

    def __init__(self):
        self.names = {}

    def notify_order(self, o):
        self.p.log.append((len(self), self.names.get(o.ref), o.getstatusname(), round(o.executed.size, 8)))

    def name(self, orders, prefix):
        for i, o in enumerate(orders):
            self.names[o.ref] = f'{prefix}{i}'
        return orders

    def next(self):
        self.p.positions.append(self.position.size)
        engine = self.p.venue.engine_for(self.p.exchange)
        self.p.snapshots.append([(o.side, o.role, o.status, o.amount, o.filled) for o in engine.orders()])
        self.step()

    def step(self):
        pass

    def stop(self):
        # a leg left Partial after its last fill would still be listed here
        self.p.log.append((len(self), 'END', 'open orders', len(self.broker.get_orders_open())))


class PartialBracket(Recorder):
    """One long bracket: a limit entry above the close (fills from the next bar, over several bars),
    take-profit 2% and stop 3% away."""

    def step(self):
        if len(self) == self.p.at:
            c = self.data.close[0]
            self.name(self.buy_bracket(size=SIZE, exectype=bt.Order.Limit, price=tick(c * 1.01),
                                       stopprice=tick(c * 0.97), limitprice=tick(c * 1.02)), 'b')


class PartialOcoExit(Recorder):
    """Buys SIZE at market (filled over several bars); once the position is complete, protects it
    with a Limit and a Stop linked by oco=; the limit is close enough to be reached soon."""

    def step(self):
        if len(self) == self.p.at:
            self.name([self.buy(size=SIZE)], 'mkt')
        elif len(self) > self.p.at and self.bought and 'oco0' not in self.names.values():
            c, held = self.data.close[0], floor_lot(self.position.size, LOT)   # what the buy left
            lim = self.sell(size=held, exectype=bt.Order.Limit, price=tick(c * 1.002))
            self.name([lim, self.sell(size=held, exectype=bt.Order.Stop, price=tick(c * 0.97), oco=lim)], 'oco')

    bought = False

    def notify_order(self, o):
        super().notify_order(o)
        self.bought |= self.names.get(o.ref) == 'mkt0' and o.status == o.Completed


@pytest.fixture(scope='module')
def slice_path(bundled_slice):
    return bundled_slice(200)


def run(strategy, exchange_id, path):
    log, positions, snapshots = [], [], []
    with Venue(data=str(path), symbol='ETH/BTC', exchanges=(exchange_id,), volume_fraction=FRACTION,
               balances=BALANCES) as venue:
        run_paper(strategy, exchange_id, path, cash=1.0, venue=venue,
                  params={'log': log, 'positions': positions, 'snapshots': snapshots,
                                   'venue': venue, 'exchange': exchange_id})
        engine = venue.engine_for(exchange_id)
        return log, (positions, snapshots), engine, engine.fills(), engine.orders(), engine.open_orders(), engine.lists()


def of(log, name):
    return [(bar, status, size) for bar, n, status, size in log if n == name]


def fills_of(fills, order):
    return [f for f in fills if f.order_id == order.id]


def running_position(fills):
    """The account's ETH from these fills, after each one (fills are recorded in time order); a fee
    charged in ETH comes out of it."""
    pos, out = Decimal(0), []
    for f in fills:
        pos += (f.amount if f.side == 'buy' else -f.amount) - (f.fee if f.fee_currency == 'ETH' else 0)
        out.append(pos)
    return out


def assert_partial_then_completed(notes, size):
    """Partial (at least twice: the order filled over several bars), then one Completed, last;
    executed size grows with each and ends at `size`."""
    fills = [(s, x) for _, s, x in notes if s in ('Partial', 'Completed')]
    statuses = [s for s, _ in fills]
    assert statuses.count('Partial') >= 2 and statuses[-1] == 'Completed' and statuses.count('Completed') == 1
    sizes = [abs(x) for _, x in fills]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert sizes[-1] == pytest.approx(size, abs=1e-9)


@pytest.mark.parametrize('exchange_id', VENUES)
def test_bracket_entry_fills_partially_exits_follow_the_filled_entry(exchange_id, slice_path):
    log, (positions, snapshots), engine, fills, orders, still_open, lists = run(PartialBracket, exchange_id, slice_path)

    (entry,) = [o for o in orders if o.side == 'buy']
    exits = [o for o in orders if o.side == 'sell']
    entry_fills = fills_of(fills, entry)
    # the run really filled the entry in parts, on several bars, summing to the bracket's size
    assert len(entry_fills) >= 3 and len({f.ts for f in entry_fills}) == len(entry_fills)
    assert sum(f.amount for f in entry_fills) == entry.filled == Decimal(str(SIZE))

    # notifications: the entry Partial..Completed with the exchange's cumulative fills
    entry_notes = of(log, 'b0')
    assert_partial_then_completed(entry_notes, SIZE)
    partial_sizes = [x for _, s, x in entry_notes if s in ('Partial', 'Completed')]
    cumulative = [float(sum(f.amount for f in entry_fills[:i + 1])) for i in range(len(entry_fills))]
    assert partial_sizes == pytest.approx(cumulative, abs=1e-9)
    completed_bar = [b for b, s, _ in entry_notes if s == 'Completed'][0]

    # exits: sized to the filled entry (net of a fee charged in the base); both on the venue (one OCO pair)
    assert sorted(o.role for o in exits) == ['stop_loss', 'take_profit']
    held = net(entry.filled, exchange_id)
    assert all(o.amount == held for o in exits)
    # live (open/triggered) or filling only in snapshots where the entry had filled completely;
    # and at least one snapshot saw the entry part-filled, so the check had something to catch
    part_filled_seen, pending_exits_seen = False, False
    for snap in snapshots:
        (e,) = [s for s in snap if s[0] == 'buy'] or [None]
        if e is None:
            continue
        complete = e[4] == e[3]
        part_filled_seen |= 0 < e[4] < e[3]
        pending_exits_seen |= 0 < e[4] < e[3] and any(x[0] == 'sell' and x[2] == 'pending' for x in snap)
        for side, role, status, _amount, filled in snap:
            if side == 'sell':
                assert complete or (status not in LIVE and filled == 0), (role, status, e)
                if not native_brackets(exchange_id):
                    assert complete   # the managed exits are placed only after the entry filled
    assert part_filled_seen
    # a native OTOCO's exits wait on the venue, pending, while the entry fills
    assert pending_exits_seen == native_brackets(exchange_id)
    # the exits' fills come after the entry's last fill; no exit notification before its Completed
    exit_fills = [f for f in fills if f.side == 'sell']
    assert exit_fills and min(f.ts for f in exit_fills) > max(f.ts for f in entry_fills)
    assert all(b >= completed_bar for b, n, s, _ in log if n in ('b1', 'b2') and s in ('Partial', 'Completed'))

    # exactly one exit filled, in parts; the other was canceled by the exchange's OCO rule at its first fill
    (filled_exit,) = [o for o in exits if o.filled > 0]
    (other,) = [o for o in exits if o is not filled_exit]
    assert len(fills_of(fills, filled_exit)) >= 2
    assert filled_exit.status == 'filled' and filled_exit.filled == held
    assert (other.status, other.reason, other.filled) == ('canceled', 'oco', 0)
    name = {'stop_loss': 'b1', 'take_profit': 'b2'}
    assert_partial_then_completed(of(log, name[filled_exit.role]), float(held))
    first_exit_partial = [b for b, s, _ in of(log, name[filled_exit.role]) if s == 'Partial'][0]
    assert [(b, s) for b, s, _ in of(log, name[other.role]) if s not in ('Submitted', 'Accepted')] \
        == [(first_exit_partial, 'Canceled')]

    # the position never goes below zero (account fills and the broker's view) and ends flat
    account = running_position(fills)
    assert min(account) >= 0 and held <= max(account) <= Decimal(str(SIZE)) and 0 <= account[-1] < Decimal(str(LOT))
    assert min(positions) >= -1e-9 and max(positions) == pytest.approx(float(max(account)))
    assert positions[-1] == pytest.approx(float(account[-1]), abs=1e-9)

    # nothing of the finished list is left open, on the venue or in the broker
    assert still_open == [] and log[-1][1:] == ('END', 'open orders', 0)
    assert all(lst.status != 'open' for lst in lists)


@pytest.mark.parametrize('exchange_id', VENUES)
def test_oco_exit_partial_fill_of_one_leg_cancels_the_other(exchange_id, slice_path):
    log, (positions, snapshots), engine, fills, orders, still_open, lists = run(PartialOcoExit, exchange_id, slice_path)
    (buy,) = [o for o in orders if o.side == 'buy']
    legs = [o for o in orders if o.side == 'sell']
    # the market buy filled over several bars, and the broker reported it so
    assert len(fills_of(fills, buy)) >= 2
    assert_partial_then_completed(of(log, 'mkt0'), SIZE)
    # the pair went out only once the position was complete (the strategy's rule), as one OCO list
    held = net(SIZE, exchange_id)
    assert len(legs) == 2 and all(o.amount == held for o in legs)
    assert len(lists) == 1 and lists[0].kind == 'oco' and lists[0].status == 'done'
    (limit,) = [o for o in legs if o.filled > 0]
    (stop,) = [o for o in legs if o is not limit]
    assert limit.type == 'limit' and len(fills_of(fills, limit)) >= 2 and limit.filled == held
    # the limit's first partial fill canceled the stop (exchange rule; BackBroker would keep it)
    assert (stop.status, stop.reason, stop.filled) == ('canceled', 'oco', 0)
    first_partial = [b for b, s, _ in of(log, 'oco0') if s == 'Partial'][0]
    assert [(b, s) for b, s, _ in of(log, 'oco1') if s not in ('Submitted', 'Accepted')] == [(first_partial, 'Canceled')]
    assert_partial_then_completed(of(log, 'oco0'), float(held))
    # position: never below zero, ends flat (less than a lot), on the account and in the broker
    account = running_position(fills)
    assert min(account) >= 0 and 0 <= account[-1] < Decimal(str(LOT))
    assert min(positions) >= -1e-9 and positions[-1] == pytest.approx(float(account[-1]), abs=1e-9)
    assert still_open == [] and log[-1][1:] == ('END', 'open orders', 0)
