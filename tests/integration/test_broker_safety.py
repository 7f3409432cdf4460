"""The store's safety promises, one test per way they used to fail (real HTTP to the simulator).

Lost cancel answers, creates processed late, fills beyond one page, out-of-band cancels, a skewed
clock, a second store on a journal, cash after a restart, a part-filled entry canceled.
"""
import time

import ccxt
import pytest

from bracket_plugin import venues
from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.journal import JournalInUse
from bracket_plugin.backtrader.paper import paper_exchange
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
    exit_amount,
)
from bracket_plugin.sim import Venue
from conformance import NO_LISTS, VENUES, bracket_modes, facts, native_brackets

SYM = 'ETH/BTC'


@pytest.fixture()
def venue(bundled_slice):
    with Venue(data=str(bundled_slice(600)), symbol=SYM, start=100) as v:
        yield v


def tick(x):
    return round(round(x / 1e-6) * 1e-6, 6)


def long_otoco(px, entry, stop, take, size=1.0):
    """A long bracket with a limit entry; levels as multiples of the price `px`."""
    return BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', size, LIMIT, price=tick(px * entry)),
                                    LegSpec(STOP_LOSS, 'sell', size, STOP, trigger=tick(px * stop)),
                                    LegSpec(TAKE_PROFIT, 'sell', size, LIMIT, price=tick(px * take))))


def store_for(venue, ex_id, caps=None, **kw):
    kw.setdefault('retry_delay', 0.01)
    kw.setdefault('journal', ':memory:')
    return BracketStore(paper_exchange(venue, ex_id, caps), **kw)


def last(venue, ex_id):
    return float(venue.engine_for(ex_id).last_price(SYM))


def bar_of(venue, ex_id):
    b = venue.engine_for(ex_id).closed_bars(SYM, limit=1)[0]
    return {SYM: (float(b.high), float(b.low), float(b.close))}


def run(venue, ex_id, store, cond, limit=300):
    for _ in range(limit):
        if cond():
            return True
        assert venue.step()
        store.poll(bar_of(venue, ex_id))
    return cond()


@pytest.mark.parametrize('ex_id', VENUES)
def test_lost_cancel_answer_of_the_resting_leg_still_sends_the_watched_stop(venue, ex_id):
    """Managed OCO: the stop fires, the cancel of the resting limit is processed but its answer
    lost; the repeated cancel's OrderNotFound is settled by reading the order: canceled, so the
    stop goes out."""
    store = store_for(venue, ex_id, NO_LISTS)
    px = last(venue, ex_id)
    spec = BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.5)),
                                  LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.999))))
    group = store.submit(spec)
    pattern, method = facts(ex_id).SINGLE_CANCEL
    rule = venue.faults.add(pattern=pattern, kind='lose_response', method=method)
    assert run(venue, ex_id, store, lambda: group.done)
    assert rule.fired == 1
    assert group.legs[STOP_LOSS].status == 'filled' and group.legs[TAKE_PROFIT].status == 'canceled'
    assert store.journal.net_position(SYM) == -1.0        # the stop sold; the limit never did
    orders = venue.engine_for(ex_id).orders(SYM)
    assert sorted(o.status for o in orders) == ['canceled', 'filled']


@pytest.mark.parametrize('ex_id', VENUES)
def test_create_processed_while_lookups_fail_is_placed_once_under_one_client_id(venue, ex_id):
    store = store_for(venue, ex_id)
    store.exchange.timeout = 700
    create, lookup = facts(ex_id).OCO_CREATE, facts(ex_id).LIST_LOOKUP
    venue.faults.add(pattern=create, kind='lose_response')
    failing = venue.faults.add(pattern=lookup, kind='http_5xx', count=8)   # more than one cycle's tries
    px = last(venue, ex_id)
    spec = BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.5)),
                                  LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.5))))
    group = store.submit(spec)
    assert group.legs[TAKE_PROFIT].status == 'waiting'     # not known yet: the run goes on
    for _ in range(20):
        store.poll()
        if group.legs[TAKE_PROFIT].status == 'open':
            break
    assert failing.fired == 8
    (lst,) = venue.engine_for(ex_id).lists(SYM)
    (intent,) = store.journal.intents()
    assert intent['state'] == 'done' and intent['exchange_id'] == lst.id
    assert group.legs[TAKE_PROFIT].list_id == lst.id


@pytest.mark.parametrize('ex_id', VENUES)
def test_late_processed_create_is_not_doubled(venue, ex_id):
    """The venue processes the create after the client gave up (and after the first look-up said
    it had no such order): the resend under the same client id is refused as a duplicate, or the
    late one is: one order."""
    from bracket_plugin.sim.faults import KINDS
    if 'late' not in KINDS:
        pytest.skip('simulator without late processing')
    store = store_for(venue, ex_id)
    store.exchange.timeout = 500
    create = facts(ex_id).SINGLE_CREATE
    venue.faults.add(pattern=create, kind='late', delay=1.0, method='POST')
    px = tick(last(venue, ex_id) * 0.5)
    group = store.submit(BracketSpec('single', SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=px),)))
    for _ in range(10):
        time.sleep(0.3)
        store.poll()
    orders = venue.engine_for(ex_id).orders(SYM)
    assert len(orders) == 1 and orders[0].client_id == store.journal.intents()[0]['client_oid']
    assert group.legs[ENTRY].order_id == orders[0].id and group.legs[ENTRY].status == 'open'


@pytest.mark.parametrize('ex_id', VENUES)
def test_fills_beyond_one_page_are_all_read(venue, ex_id):
    """Another bot fills many orders on the account after our entry filled: more fills since the
    cursor than a page holds. Our entry's fill, the oldest, is still found and its exits placed."""
    store = store_for(venue, ex_id, NO_LISTS)
    px = last(venue, ex_id)
    spec = BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', 1.0, MARKET),
                                    LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.5)),
                                    LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.5))))
    group = store.submit(spec)
    venue.step()                                           # our entry fills
    other = getattr(ccxt, ex_id)(dict(venue.ccxt_config(ex_id), enableRateLimit=False))
    page = store.exchange.my_trades_page_size
    for _ in range(page + 20):
        other.create_order(SYM, 'market', 'buy', 0.01)
    venue.step()                                           # theirs fill: all newer than ours
    assert len(venue.engine_for(ex_id).fills(SYM)) > page + 1
    store.poll(bar_of(venue, ex_id))
    assert group.legs[ENTRY].status == 'filled'
    assert group.legs[TAKE_PROFIT].status == 'open'       # the exits went out
    # and no fill of the other bot was taken for ours (Crypto.com: less the buy's fee, paid in ETH)
    profile = venues.profile(ex_id)
    assert store.journal.net_position(SYM) == pytest.approx(
        1.0 - (float(profile.taker_fee) if profile.fee_currency == venues.RECEIVED else 0.0))


@pytest.mark.parametrize('ex_id', VENUES)
def test_entry_canceled_by_someone_else_reaches_the_strategy_within_the_reconcile_interval(venue, ex_id):
    store = store_for(venue, ex_id, NO_LISTS, reconcile_every=3)
    px = last(venue, ex_id)
    spec = long_otoco(px, 0.5, 0.4, 0.7)
    group = store.submit(spec)
    other = getattr(ccxt, ex_id)(dict(venue.ccxt_config(ex_id), enableRateLimit=False))
    other.cancel_order(group.legs[ENTRY].order_id, SYM)
    store.events.clear()
    for _ in range(3):
        venue.step()
        store.poll()
    assert group.done and group.legs[ENTRY].status == 'canceled'
    canceled = [r for e in store.events if e[0] == 'canceled' for r in e[2]]
    assert sorted(canceled) == [ENTRY, STOP_LOSS, TAKE_PROFIT]


@pytest.mark.parametrize('ex_id', VENUES)
def test_exits_canceled_by_someone_else_are_reported_unprotected_within_the_interval(venue, ex_id):
    store = store_for(venue, ex_id, reconcile_every=3)
    px = last(venue, ex_id)
    spec = BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.5)),
                                  LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.5))))
    profile = venues.profile(ex_id)
    if 'otoco' in profile.native and MARKET in profile.native_entry_kinds:   # a native OTOCO with a market entry
        otoco = BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', 1.0, MARKET),) + spec.legs)
    else:
        otoco = BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=tick(px * 1.01)),) + spec.legs)
    group = store.submit(otoco)
    assert run(venue, ex_id, store, lambda: group.legs[ENTRY].status == 'filled', limit=20)
    store.poll()
    lst = group.legs[TAKE_PROFIT].list_id
    assert lst
    other = bracket_client(venue, ex_id)
    other.cancel_oco_order(lst, SYM) if group.mode == 'managed' else getattr(other, 'cancel_' + group.spec.kind + '_order')(lst, SYM)
    for _ in range(3):
        venue.step()
        store.poll()
    assert any('UNPROTECTED POSITION' in m for m in store.notifs)


def bracket_client(venue, ex_id):
    import bracket_plugin
    return bracket_plugin.exchange(ex_id, dict(venue.ccxt_config(ex_id), enableRateLimit=False))


@pytest.mark.parametrize('ex_id', VENUES)
def test_clock_ahead_of_the_venue_is_measured_and_corrected(venue, ex_id):
    skew = facts(ex_id).CLOCK_SKEW_REFUSED_MS
    store = store_for(venue, ex_id)
    ex = store.exchange
    ex.milliseconds = lambda: int(time.time() * 1000) + skew     # the client's clock runs ahead
    px = tick(last(venue, ex_id) * 0.5)
    group = store.submit(BracketSpec('single', SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=px),)))
    assert group.legs[ENTRY].status == 'open'
    assert abs(ex.options['timeDifference'] - skew) < 1_500
    assert store.policy.calls['load_time_difference'] == 1


@pytest.mark.parametrize('ex_id', VENUES)
def test_clock_refusal_that_persists_is_rejected_with_what_to_fix(venue, ex_id):
    store = store_for(venue, ex_id)
    ex = store.exchange
    ex.milliseconds = lambda: int(time.time() * 1000) + 120_000
    ex.load_time_difference = lambda params={}: 0     # a correction that does not help (a jumping clock)
    px = tick(last(venue, ex_id) * 0.5)
    group = store.submit(BracketSpec('single', SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=px),)))
    assert group.legs[ENTRY].status == 'rejected'
    (ev,) = [e for e in store.events if e[0] == 'rejected']
    assert 'clock' in ev[4] and 'NTP' in ev[4]
    assert venue.engine_for(ex_id).orders(SYM) == []


def test_a_second_store_on_a_journal_is_refused(venue, tmp_path):
    path = str(tmp_path / 'j.sqlite')
    first = store_for(venue, 'kucoin', journal=path)
    with pytest.raises(JournalInUse, match='one store at a time'):
        store_for(venue, 'kucoin', journal=path)
    first.journal.close()
    store_for(venue, 'kucoin', journal=path).journal.close()   # free again once the first let go


def test_cash_and_value_after_a_restart_come_from_the_journal(bundled_slice, tmp_path):
    import backtrader as bt

    from bracket_plugin.backtrader.paper import run_paper

    class BuyOnce(bt.Strategy):
        def next(self):
            if len(self) == 2:
                self.buy(size=1.0)

    bars = bundled_slice(40)
    path = str(tmp_path / 'j.sqlite')
    with Venue(data=str(bars), symbol=SYM, mode='step', exchanges=('kucoin',)).start_server() as v:
        first = run_paper(BuyOnce, 'kucoin', bars, cash=1.0, journal=path, venue=v)
        first.store.journal.close()
    assert len(first.fills) == 1
    # the same journal again, with the same explicit cash: position and cash come back together
    with Venue(data=str(bars), symbol=SYM, mode='step', exchanges=('kucoin',)).start_server() as v:
        store = BracketStore(paper_exchange(v, 'kucoin'), journal=path, retry_delay=0.01)
        broker = store.getbroker(cash=1.0)
        store.getdata(SYM)
        broker.start()
        (row,) = store.journal.fills(SYM)
        assert broker.cash == pytest.approx(1.0 - row['amount'] * row['price'] - row['fee'])
        (pos,) = [p for p in broker.positions.values() if p.size]
        assert pos.size == 1.0 and pos.price == row['price']
        assert broker.getvalue() == pytest.approx(1.0 - row['fee'])   # valued at its own price: only the fee is gone
        store.journal.close()


@pytest.mark.parametrize('ex_id,caps', bracket_modes())
@pytest.mark.parametrize('protect', [False, True])
def test_part_filled_entry_canceled_by_the_strategy(bundled_slice, ex_id, caps, protect):
    """A part-filled entry that the strategy cancels: reported unprotected, or (opt-in) protected
    by exits sized to the filled part (a native OTOCO's exits go with its list, then are placed
    anew for the fill)."""
    with Venue(data=str(bundled_slice(600)), symbol=SYM, start=100, volume_fraction='0.01',
               balances={'ETH': 1000, 'BTC': 100}) as venue:
        store = store_for(venue, ex_id, caps, protect_partial=protect)
        px = last(venue, ex_id)
        spec = long_otoco(px, 1.01, 0.5, 1.5, size=40.0)
        group = store.submit(spec)
        assert run(venue, ex_id, store, lambda: group.legs[ENTRY].filled > 0, limit=5)
        part = group.legs[ENTRY].filled
        assert 0 < part < 40.0
        store.cancel(group.key)
        store.poll()
        assert group.legs[ENTRY].status == 'canceled'
        live = [o for o in venue.engine_for(ex_id).orders(SYM) if o.status in ('open', 'triggered') or o.list_id]
        if protect:
            assert group.legs[TAKE_PROFIT].status == 'open'
            # the exits protect what the part fill left in the account (net of a fee paid in ETH)
            held = exit_amount(group.legs[ENTRY].filled, 'buy', ex_id, 0.0001)
            assert group.legs[TAKE_PROFIT].amount == pytest.approx(held)
            assert any(float(o.amount) == pytest.approx(held) for o in live if o.side == 'sell')
            assert not any('UNPROTECTED' in m for m in store.notifs)
        else:
            assert all(o.status not in ('open', 'triggered') for o in live)
            (msg,) = [m for m in store.notifs if 'UNPROTECTED POSITION' in m]
            assert 'part-filled' in msg and group.key in msg


@pytest.mark.parametrize('ex_id', VENUES)
def test_strategy_cancel_of_an_entry_someone_else_canceled_is_answered_at_once(venue, ex_id):
    """The venue answers the cancel with OrderNotFound: a question, settled by reading the order
    (canceled), so the strategy gets Canceled now, not never."""
    store = store_for(venue, ex_id, NO_LISTS)
    px = last(venue, ex_id)
    spec = long_otoco(px, 0.5, 0.4, 0.7)
    group = store.submit(spec)
    getattr(ccxt, ex_id)(dict(venue.ccxt_config(ex_id), enableRateLimit=False)).cancel_order(
        group.legs[ENTRY].order_id, SYM)
    store.events.clear()
    store.cancel(group.key)
    assert group.done and group.legs[ENTRY].status == 'canceled'
    (ev,) = [e for e in store.events if e[0] == 'canceled']
    assert sorted(ev[2]) == [ENTRY, STOP_LOSS, TAKE_PROFIT]


@pytest.mark.parametrize('ex_id,caps', bracket_modes())
def test_entry_fill_that_wins_the_race_with_a_failing_cancel_keeps_the_exits(venue, ex_id, caps):
    cancel = facts(ex_id).BRACKET_LIST_CANCEL if native_brackets(ex_id, caps) else facts(ex_id).SINGLE_CANCEL[0]
    """The strategy cancels a bracket, the cancel does not get through (5xx) while the entry fills:
    the cancel is void, the exits protect the position (and are not canceled by a later resend)."""
    store = store_for(venue, ex_id, caps)
    px = last(venue, ex_id)
    spec = long_otoco(px, 1.01, 0.5, 1.5)
    group = store.submit(spec)
    rule = venue.faults.add(pattern=cancel, kind='http_5xx', count=None)
    store.cancel(group.key)
    assert rule.fired >= 1 and group.legs[ENTRY].status != 'canceled'
    venue.step()                                   # the entry fills on the venue
    venue.faults.clear()
    for _ in range(6):
        store.poll(bar_of(venue, ex_id))
    assert group.legs[ENTRY].status == 'filled'
    assert group.legs[TAKE_PROFIT].status == 'open' and not group.cancel_requested
    assert not group.unprotected() and not any('UNPROTECTED' in m for m in store.notifs)
    live = [o for o in venue.engine_for(ex_id).orders(SYM) if o.side == 'sell' and o.status in ('open', 'pending')]
    assert live, 'an exit rests on the venue'
