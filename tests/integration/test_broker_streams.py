"""The store on the venue's websocket streams (BracketStore(streams=True)): fills, order changes and
the market's trades arrive as events from the simulator over real websockets (ccxt.pro through our
async classes), the store acts on them in the cycle they wake, and REST fills in what a stream
missed, with no fill applied twice. Every venue; real sockets on 127.0.0.1, every wait bounded."""
from __future__ import annotations

import time

import pytest

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.orderstate import FILLED
from bracket_plugin.backtrader.paper import paper_exchange
from bracket_plugin.backtrader.planner import (
    ENTRY,
    LIMIT,
    OCO,
    OTOCO,
    STOP,
    STOP_LOSS,
    TAKE_PROFIT,
    BracketSpec,
    LegSpec,
)
from conformance import NO_LISTS, VENUES, facts
from test_broker_safety import tick, venue  # noqa: F401  (fixture: 600 bars, from bar 100)

pytestmark = pytest.mark.timeout(90)
SYM = 'ETH/BTC'
WAIT = 10.0     # seconds: the longest any step here waits for the streams


def streaming_store(venue, ex_id, caps=None, **kw):
    kw.setdefault('retry_delay', 0.01)
    kw.setdefault('reconcile_every', 10_000)
    store = BracketStore(paper_exchange(venue, ex_id, caps), journal=':memory:', streams=True, **kw)
    return store


def until(cond, store, timeout=WAIT):
    """Cycle the store on its streams' events (no bars, no poll schedule) until cond() holds."""
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        if store.wait(0.2):
            store.poll()
    return cond()


def streams_up(store):
    store.poll()    # the first cycle starts the listener
    assert until(lambda: store.listener is not None and store.listener.up(SYM), store), 'streams never came up'
    store.poll()    # the read owed for the time before they were up
    return store.cycle


def engine_fills(venue, ex_id, order_ids):
    return [f for f in venue.engine_for(ex_id).fills(SYM) if f.order_id in order_ids]


def bracket(px, size=1.0):
    return BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', size, LIMIT, price=tick(px * 1.002)),
                                    LegSpec(STOP_LOSS, 'sell', size, STOP, trigger=tick(px * 0.9)),
                                    LegSpec(TAKE_PROFIT, 'sell', size, LIMIT, price=tick(px * 1.5))))


@pytest.mark.parametrize('ex_id', VENUES)
def test_an_entry_fill_is_acted_on_in_the_cycle_its_event_wakes_and_applied_once(venue, ex_id):
    engine = venue.engine_for(ex_id)
    store = streaming_store(venue, ex_id)
    try:
        group = store.submit(bracket(float(engine.last_price(SYM))))
        cycles = streams_up(store)
        reads = store.policy.calls['fetch_my_trades']
        assert venue.step()                        # the entry fills on the venue
        assert until(lambda: group.legs[ENTRY].status == FILLED and all(
            group.legs[r].order_id for r in (STOP_LOSS, TAKE_PROFIT)), store)
        # applied from the event, in woken cycles: not one poll cycle ran
        assert store.cycle == cycles
        # a streamed fill without its fee is read by REST, once; with it, not at all
        assert store.policy.calls['fetch_my_trades'] - reads == (0 if facts(ex_id).STREAMED_FILLS_COMPLETE else 1)
        fills = engine_fills(venue, ex_id, {group.legs[ENTRY].order_id})
        assert fills and len(store.journal.fills(SYM)) == len(fills)
        # a REST read of everything since the start adds nothing: no fill was missed or doubled
        store.journal.set_cursor(SYM, 0)
        store._read_fills(SYM)
        assert len(store.journal.fills(SYM)) == len(fills)
        assert sum(e[0] == 'fill' for e in store.events) == len(fills)
    finally:
        store.stop()


@pytest.mark.parametrize('ex_id', VENUES)
def test_a_fill_before_the_streams_were_up_is_read_by_rest_once_they_are(venue, ex_id):
    engine = venue.engine_for(ex_id)
    store = streaming_store(venue, ex_id)
    try:
        group = store.submit(bracket(float(engine.last_price(SYM))))
        assert venue.step()                        # filled before any stream listens
        streams_up(store)
        assert group.legs[ENTRY].status == FILLED
        assert len(store.journal.fills(SYM)) == len(engine_fills(venue, ex_id, {group.legs[ENTRY].order_id})) >= 1
    finally:
        store.stop()


def test_a_watched_stop_fires_on_the_streamed_trade_that_crosses_it(venue):
    """Managed path (no native lists): the stop is the store's. The venue's trade stream shows the
    bar's price path as it happens; the store cancels the resting take-profit and sends the stop
    on the event, without waiting for a bar to close (no poll cycle runs)."""
    ex_id = 'kucoin'
    engine = venue.engine_for(ex_id)
    store = streaming_store(venue, ex_id, NO_LISTS)
    try:
        bars = engine._bars[SYM]
        nxt = bars[engine._cursor[SYM]]
        stop = tick(float(nxt.low) * 1.0000001 + 1e-6)    # the next bar trades through it
        assert float(nxt.low) < stop < float(nxt.open)
        group = store.submit(BracketSpec(OCO, SYM, (
            LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(float(nxt.high) * 1.5)),
            LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=stop))))
        cycles = streams_up(store)
        assert group.watch == STOP_LOSS and len(engine.open_orders(SYM)) == 1
        assert venue.step()
        assert until(lambda: any(o.type == 'market' for o in engine.orders(SYM)), store)
        assert store.cycle == cycles               # on the event, not on a closed bar
        limit, market = engine.orders(SYM)[-2:]
        assert (limit.type, limit.status) == ('limit', 'canceled') and market.side == 'sell'
        assert venue.step()                        # the market order trades at the next open
        assert until(lambda: group.done, store)
        assert group.legs[STOP_LOSS].status == FILLED
    finally:
        store.stop()


def test_without_streams_nothing_is_acted_on_until_a_poll(venue):
    engine = venue.engine_for('kucoin')
    store = BracketStore(paper_exchange(venue, 'kucoin'), journal=':memory:', retry_delay=0.01)
    group = store.submit(bracket(float(engine.last_price(SYM))))
    assert venue.step()
    assert store.wait(0.2) is False and group.legs[ENTRY].status != FILLED
    store.poll()
    assert group.legs[ENTRY].status == FILLED


# --- faults on the streams: nothing lost, nothing applied twice, the run goes on ------------------

def live(cond, store, venue, poll=0.3, timeout=30.0, bars=None):
    """Cycle the store as a live run does (a cycle on each event, and one every `poll` seconds
    without), stepping the venue one bar every `bars` cycles, until cond() holds."""
    end, n = time.monotonic() + timeout, 0
    while not cond() and time.monotonic() < end:
        store.wait(poll)
        store.poll()
        n += 1
        if bars is not None and n % bars == 0:
            venue.step()
    return cond()


def tight_bracket(px, size=1.0):
    """Entry at the market (fills on the next bar); exits 0.3% away (hit within a few bars)."""
    return BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', size, LIMIT, price=tick(px * 1.002)),
                                    LegSpec(STOP_LOSS, 'sell', size, STOP, trigger=tick(px * 0.997)),
                                    LegSpec(TAKE_PROFIT, 'sell', size, LIMIT, price=tick(px * 1.003))))


STREAM_FAULTS = {
    'drop': dict(kind='drop'),
    'stall': dict(kind='stall', seconds=1.5),
    'duplicate': dict(kind='duplicate', count=20),
    'reorder': dict(kind='reorder', count=10),
    'refuse_connect': dict(kind='refuse_connect', count=6),
    'expire': dict(kind='expire'),
}


@pytest.mark.parametrize('fault', STREAM_FAULTS)
@pytest.mark.parametrize('ex_id', VENUES)
def test_stream_faults_lose_nothing_and_apply_nothing_twice(venue, ex_id, fault):
    engine = venue.engine_for(ex_id)
    store = streaming_store(venue, ex_id, reconcile_every=5)
    try:
        groups = [store.submit(tight_bracket(float(engine.last_price(SYM))))]
        streams_up(store)
        spec = dict(STREAM_FAULTS[fault])
        venue.faults.add_stream(spec.pop('kind'), exchange=ex_id, **spec)
        if fault == 'refuse_connect':
            venue.faults.add_stream('drop', exchange=ex_id)   # the reconnects meet the refusals
        for i in range(3):      # one bracket after another, through the fault and after it
            if i:
                groups.append(store.submit(tight_bracket(float(engine.last_price(SYM)))))
            group = groups[-1]
            assert live(lambda g=group: g.done, store, venue, bars=2), (fault, group.to_dict())
        ours = {g.legs[r].order_id for g in groups for r in g.legs if g.legs[r].order_id}
        venue_fills = {f.id for f in engine.fills(SYM) if f.order_id in ours}
        journal = [f['trade_id'] for f in store.journal.fills(SYM)]
        assert sorted(journal) == sorted(venue_fills)              # none lost, none twice
        assert sum(e[0] == 'fill' for e in store.events) == len(venue_fills)
        for g in groups:
            assert g.legs[ENTRY].status == FILLED
            assert sum(g.legs[r].status == FILLED for r in (STOP_LOSS, TAKE_PROFIT)) == 1
        if fault in ('drop', 'refuse_connect', 'expire'):
            assert store.listener.failures >= 1       # noticed at once, not at the next ping
        assert live(lambda: store.listener.up(SYM), store, venue)   # the streams are back
    finally:
        store.stop()


def test_a_live_cerebro_run_on_streams(venue):
    """The whole live path: cerebro, BracketFeed (no step driving), BracketBroker and the store on
    streams, against the venue's replay moving one bar every 0.3 s. Brackets open and end (managed:
    exits placed on the entry's fill event, stops fired on trades), each fill once."""
    import threading

    import backtrader as bt

    ex_id = 'kucoin'

    class Brackets(bt.Strategy):
        def __init__(self):
            self.orders, self.ended = [], 0

        def next(self):
            if any(o.alive() for o in self.orders):
                return
            self.ended += bool(self.orders)
            if self.ended >= 3:
                self.env.runstop()
                return
            c = self.data.close[0]
            self.orders = self.buy_bracket(size=1.0, price=c * 1.002, stopprice=c * 0.997, limitprice=c * 1.005)

    store = BracketStore(paper_exchange(venue, ex_id, NO_LISTS), journal=':memory:', poll_interval=0.2,
                         streams=True)
    engine = venue.engine_for(ex_id)
    stop = threading.Event()

    def stepper():
        while not stop.wait(0.3):
            if not venue.step():
                return
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(store.getdata(SYM, timeframe=bt.TimeFrame.Minutes, compression=5, poll=0.2,
                                  since=engine.now_ms() - 300_000))
    cerebro.setbroker(store.getbroker(cash=1.0))
    cerebro.addstrategy(Brackets)
    thread = threading.Thread(target=stepper, daemon=True)
    thread.start()
    try:
        strategy = cerebro.run()[0]
    finally:
        stop.set()
        thread.join()
        store.stop()
    assert strategy.ended == 3
    ours = {leg.order_id for g in store.groups.values() for leg in g.legs.values() if leg.order_id}
    venue_fills = sorted(f.id for f in engine.fills(SYM) if f.order_id in ours)
    assert sorted(f['trade_id'] for f in store.journal.fills(SYM)) == venue_fills
    watched = [i for i in store.journal.intents() if i['step'] in ('then', 'watched')]
    assert len([i for i in watched if i['step'] == 'then']) >= 3      # exits placed on fills
