"""Restart: a new store on the same journal finishes what the old one left, placing nothing twice."""
import logging

import pytest

from bracket_plugin.backtrader import BracketStore
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
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue

SYM = 'ETH/BTC'
NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}


class Killed(BaseException):
    """The process dies (not an exception our code may catch)."""


@pytest.fixture()
def venue(tmp_path):
    path = tmp_path / 'bars.csv'
    path.write_text(''.join(bundled_data_path().read_text().splitlines(keepends=True)[:601]))
    with Venue(data=str(path), symbol=SYM, start=100) as v:
        yield v


def store_for(venue, ex_id, journal, caps=None):
    return BracketStore(paper_exchange(venue, ex_id, caps), journal=journal, retry_delay=0.01)


def last(venue, ex_id):
    return float(venue.engine_for(ex_id).last_price(SYM))


def tick(x):
    return round(round(x / 1e-6) * 1e-6, 6)


def otoco(price):
    return BracketSpec(OTOCO, SYM, (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=tick(price)),
                                    LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(price * 0.99)),
                                    LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(price * 1.02))))


def bar_of(engine):
    b = engine.closed_bars(SYM, limit=1)[0]
    return {SYM: (float(b.high), float(b.low), float(b.close))}


def step_until(venue, engine, cond, store=None, limit=400):
    for _ in range(limit):
        if cond():
            return True
        assert venue.step()
        if store is not None:
            store.poll(bar_of(engine))
    return cond()


def crash_on(exchange, needle, after_send):
    """Kill the process around the request whose URL contains `needle` (transport level)."""
    real = exchange.fetch

    def fetch(url, method='GET', headers=None, body=None):
        if needle in url and method == 'POST':
            if after_send:
                real(url, method, headers, body)
            raise Killed(url)
        return real(url, method, headers, body)
    exchange.fetch = fetch


def test_kucoin_entry_filled_while_down_exits_placed_once_on_restart(venue, tmp_path):
    journal = str(tmp_path / 'j.sqlite')
    eng = venue.engine_for('kucoin')
    a = store_for(venue, 'kucoin', journal)
    group = a.submit(otoco(last(venue, 'kucoin') * 0.999))
    entry_id = group.legs[ENTRY].order_id
    assert step_until(venue, eng, lambda: eng.order(entry_id).status == 'filled')
    a.journal.close()   # stopped: it never saw the fill, the exits were never placed
    assert eng.lists(SYM) == []

    b = store_for(venue, 'kucoin', journal)
    g = b.groups[group.key]
    assert g.legs[ENTRY].status == 'filled'
    (lst,) = eng.lists(SYM)
    assert (lst.kind, lst.status) == ('oco', 'open')
    assert g.legs[TAKE_PROFIT].status == g.legs[STOP_LOSS].status == 'open'
    b.journal.close()

    c = store_for(venue, 'kucoin', journal)   # a second restart places nothing
    assert len(eng.lists(SYM)) == 1 and len(eng.orders(SYM)) == 3
    assert step_until(venue, eng, lambda: c.groups[group.key].done, store=c)
    assert c.journal.net_position(SYM) == 0.0


@pytest.mark.parametrize('after_send', [True, False], ids=['killed-after-send', 'killed-before-send'])
def test_kucoin_killed_while_placing_the_exits(venue, tmp_path, after_send):
    journal = str(tmp_path / 'j.sqlite')
    eng = venue.engine_for('kucoin')
    a = store_for(venue, 'kucoin', journal)
    group = a.submit(otoco(last(venue, 'kucoin') * 0.999))
    crash_on(a.exchange, '/oco/order', after_send)
    with pytest.raises(Killed):
        step_until(venue, eng, lambda: False, store=a)
    assert a.groups[group.key].legs[ENTRY].status == 'filled'
    assert len(eng.lists(SYM)) == (1 if after_send else 0)
    a.journal.close()

    b = store_for(venue, 'kucoin', journal)
    (lst,) = eng.lists(SYM)            # looked up by client id, or sent now: exactly one
    g = b.groups[group.key]
    assert g.legs[TAKE_PROFIT].list_id == lst.id and g.legs[STOP_LOSS].status == 'open'
    assert [i['state'] for i in b.journal.intents(group_key=group.key)][-1] == 'done'
    assert step_until(venue, eng, lambda: b.groups[group.key].done, store=b)
    assert len(eng.lists(SYM)) == 1
    assert b.journal.net_position(SYM) == 0.0


def test_managed_stop_watch_resumes_after_restart(venue, tmp_path):
    journal = str(tmp_path / 'j.sqlite')
    eng = venue.engine_for('kucoin')
    px = last(venue, 'kucoin')
    spec = BracketSpec(OCO, SYM, (LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.2)),
                                  LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.995))))
    a = store_for(venue, 'kucoin', journal, NO_LISTS)
    group = a.submit(spec)
    a.journal.close()   # stopped while the stop is watched
    b = store_for(venue, 'kucoin', journal, NO_LISTS)
    assert b.groups[group.key].watch == STOP_LOSS
    assert [o.type for o in eng.open_orders(SYM)] == ['limit']
    assert step_until(venue, eng, lambda: b.groups[group.key].done, store=b)
    kinds = [(o.type, o.status) for o in eng.orders(SYM)]
    assert kinds == [('limit', 'canceled'), ('market', 'filled')]
    assert b.groups[group.key].legs[STOP_LOSS].status == 'filled'


def test_position_left_without_exits_is_reported_loudly(venue, tmp_path, caplog):
    journal = str(tmp_path / 'j.sqlite')
    eng = venue.engine_for('cryptocom')
    a = store_for(venue, 'cryptocom', journal)
    group = a.submit(otoco(last(venue, 'cryptocom') * 0.999))
    list_id = group.legs[ENTRY].list_id
    assert step_until(venue, eng, lambda: eng.order(group.legs[ENTRY].order_id).status == 'filled')
    venue.step()
    a.exchange.cancel_otoco_order(list_id, SYM)   # someone removes the exits while we are down
    a.journal.close()
    with caplog.at_level(logging.ERROR, logger='bracket_plugin.backtrader'):
        b = store_for(venue, 'cryptocom', journal)
    assert b.groups[group.key].unprotected()
    assert any('UNPROTECTED POSITION' in r.message and r.levelno == logging.ERROR for r in caplog.records)
    assert any('UNPROTECTED POSITION' in msg for msg, args, kwargs in b.get_notifications())
