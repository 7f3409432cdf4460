"""Faults on the wire while a list order is created: never placed twice, never lost.

The simulator's fault injection answers the create with a timeout, a lost answer (the order was
made), a 5xx or a 429 (it was not), or a reset. The store looks the order up by its client id
before sending anything again.
"""
import pytest

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange
from bracket_plugin.backtrader.planner import LIMIT, OCO, STOP, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue
from conformance import VENUES, facts

SYM = 'ETH/BTC'
FAULTS = [
    dict(kind='lose_response'),
    dict(kind='http_5xx', status=503),
    dict(kind='http_5xx', status=500),
    dict(kind='http_429', retry_after=1),
    dict(kind='reset'),
    dict(kind='delay', delay=1.5),           # longer than the client's timeout
    dict(kind='lose_response', lookup='http_5xx'),   # the lookup that follows fails too
    dict(kind='http_429', lookup='reset'),
]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp('bars') / 'bars.csv'
    path.write_text(''.join(bundled_data_path().read_text().splitlines(keepends=True)[:301]))
    return path


def oco(px):
    def t(x):
        return round(round(x / 1e-6) * 1e-6, 6)

    return BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=t(px * 1.02)),
                                  LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=t(px * 0.98))))


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('fault', FAULTS, ids=lambda f: f['kind'] + str(f.get('status', '')) + ('+lookup-' + f['lookup'] if 'lookup' in f else ''))
def test_list_create_under_fault_is_placed_exactly_once(data, exchange_id, fault):
    with Venue(data=str(data), symbol=SYM, start=100, exchanges=(exchange_id,)) as venue:
        ex = paper_exchange(venue, exchange_id)
        ex.timeout = 700  # ms
        store = BracketStore(ex, journal=':memory:', retry_delay=0.01)
        engine = venue.engine_for(exchange_id)
        fault = dict(fault)
        lookup = fault.pop('lookup', None)
        rule = venue.faults.add(pattern=facts(exchange_id).OCO_CREATE, **fault)
        if lookup:
            lookup_rule = venue.faults.add(pattern=facts(exchange_id).LIST_LOOKUP, kind=lookup)
        group = store.submit(oco(float(engine.last_price(SYM))))
        assert rule.fired == 1
        if lookup:
            assert lookup_rule.fired == 1
        lists = engine.lists(SYM)
        assert len(lists) == 1 and lists[0].status == 'open'
        assert group.legs[TAKE_PROFIT].status == group.legs[STOP_LOSS].status == 'open'
        assert group.legs[TAKE_PROFIT].list_id == lists[0].id
        (intent,) = store.journal.intents()
        assert intent['state'] == 'done' and intent['exchange_id'] == lists[0].id
        # a later cycle changes nothing
        venue.step()
        store.poll()
        assert len(engine.lists(SYM)) == 1


def test_fill_polling_survives_429(data):
    with Venue(data=str(data), symbol=SYM, start=100, exchanges=('kucoin',)) as venue:
        store = BracketStore(paper_exchange(venue, 'kucoin'), journal=':memory:', retry_delay=0.01)
        engine = venue.engine_for('kucoin')
        px = float(engine.last_price(SYM))
        spec = BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=round(px * 1.0005, 6)),
                                      LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=round(px * 0.9995, 6))))
        group = store.submit(spec)
        venue.faults.add(pattern=r'/fills', kind='http_429', count=1)
        for _ in range(50):
            venue.step()
            store.poll()
            if group.done:
                break
        assert group.done
        filled = [leg for leg in group.legs.values() if leg.status == 'filled']
        assert len(filled) == 1 and store.journal.net_position(SYM) == -1.0


@pytest.mark.parametrize('exchange_id', VENUES)
@pytest.mark.parametrize('kind', ['lose_response', 'http_5xx', 'reset', 'http_429'])
def test_single_order_create_under_fault_is_placed_exactly_once(data, exchange_id, kind):
    from bracket_plugin.backtrader.planner import ENTRY, SINGLE
    with Venue(data=str(data), symbol=SYM, start=100, exchanges=(exchange_id,)) as venue:
        ex = paper_exchange(venue, exchange_id)
        ex.timeout = 700
        store = BracketStore(ex, journal=':memory:', retry_delay=0.01)
        engine = venue.engine_for(exchange_id)
        rule = venue.faults.add(pattern=facts(exchange_id).SINGLE_CREATE, kind=kind, method='POST')
        px = round(float(engine.last_price(SYM)) * 0.5, 6)
        group = store.submit(BracketSpec(SINGLE, SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=px),)))
        assert rule.fired == 1
        (order,) = engine.orders(SYM)
        assert order.client_id == store.journal.intents()[0]['client_oid']   # the journal's id reached the exchange
        assert group.legs[ENTRY].order_id == order.id and group.legs[ENTRY].status == 'open'
