"""BracketStore's indexes (open groups, group order, order id -> group) always say what a scan of
every group says, through fills, cancels, managed exits and a restart."""
import random

import pytest

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange
from bracket_plugin.backtrader.planner import ENTRY, LIMIT, OTOCO, STOP, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue
from conformance import VENUES

SYM = 'ETH/BTC'
MANAGED = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}


def tick(x):
    return round(round(x / 1e-6) * 1e-6, 6)


def otoco(price):
    return BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=tick(price)),
                                    LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(price * 0.995)),
                                    LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(price * 1.005))))


def assert_indexes(store):
    assert list(store._live) == [k for k, g in store.groups.items() if not g.done]
    assert list(store._watching) == [k for k, g in store.groups.items() if not g.done and g.watch is not None]
    assert list(store._unlearned) == [k for k, g in store.groups.items() if not g.done and any(
        leg.list_id and not leg.order_id and not leg.done for leg in g.legs.values())]
    assert sorted(store._rank, key=store._rank.get) == list(store.groups)
    for group in store.groups.values():
        for leg in group.legs.values():
            if leg.order_id:
                assert store.groups[store._by_order[leg.order_id]].leg_by_order(leg.order_id) is not None


@pytest.mark.parametrize('exchange_id,caps', [(v, None) for v in VENUES] + [(VENUES[0], MANAGED)])
def test_indexes_follow_every_change_and_a_restart(tmp_path, exchange_id, caps):
    path = tmp_path / 'bars.csv'
    path.write_text(''.join(bundled_data_path().read_text().splitlines(keepends=True)[:501]))
    rng = random.Random(3)
    journal = str(tmp_path / 'journal.sqlite')
    with Venue(data=str(path), symbol=SYM, start=100, exchanges=(exchange_id,),
               fees={exchange_id: {'max_open_stops': None}}) as venue:
        engine = venue.engine_for(exchange_id)
        store = BracketStore(paper_exchange(venue, exchange_id, caps), journal=journal, retry_delay=0.01,
                             reconcile_every=5)
        for _ in range(250):
            if rng.random() < 0.3:   # entries near the market: some fill, some are canceled below
                store.submit(otoco(float(engine.last_price(SYM)) * rng.uniform(0.995, 1.0)))
            live = [k for k in store._live if not store.groups[k].cancel_requested]
            if live and rng.random() < 0.1:
                store.cancel(rng.choice(live))
            assert venue.step()
            b = engine.closed_bars(SYM, limit=1)[0]
            store.poll({SYM: (float(b.high), float(b.low), float(b.close), b.ts)})
            assert_indexes(store)
        assert any(g.done for g in store.groups.values()) and store._live
        assert any(g.legs[ENTRY].status == 'filled' for g in store.groups.values())
        store.journal.close()
        again = BracketStore(paper_exchange(venue, exchange_id, caps), journal=journal, retry_delay=0.01)
        assert_indexes(again)
        assert list(again._live) == list(store._live)
