"""Fault campaign: every fault kind at every call site, on both dialects and on the managed path.

Each case runs one strategy with `run_paper` on a 350-bar slice of the bundled ETH/BTC bars against
an in-process `Venue`, with one bounded fault rule (count 1..3) on one call site, and sometimes a
second rule on the recovery path (the client-id look-up after an unknown create, the order read
after an unknown cancel). After the run it checks:

- the run returned (cerebro.run() came back normally: `run_paper` returned a result);
- the fault fired (`rule.fired >= 1`; a case whose fault never fired proves nothing);
- no duplicate: every create intent of the journal has at most one venue order / list under its
  client id, a `done` create exactly one (the one whose id the journal holds), a `failed` none;
- every venue order / list under this journal's client-id prefix has an intent;
- the journal's fills are the venue's fills of our orders, by trade id (order, side, size, price);
- every intent ended `done` or `failed` (the venue stays reachable: every rule is bounded);
- no live venue order of ours that the store has given up on (an orphan);
- every group whose entry filled (and every exit pair) that is not finished has an exit live on
  the venue or a watched stop held; no UNPROTECTED POSITION was reported;
- no parser crash inside the request policy (`unexpected ... treated as an unknown outcome`);
- where the fault only delays (transparent), the trades and bracket outcomes equal the fault-free
  paper run of the same strategy, dialect and path. Cases where the fault legitimately changes
  the outcome say why (`transparency()`), and what they must equal instead.

Tiers: the default run (about two minutes) takes a subset chosen so that every fault kind meets
every dialect and path and every call site meets several kinds; `FAULT_CAMPAIGN=full` runs the
whole product (every kind x every site x both dialects x both paths, plus the recovery pairs).
`tests/campaigns/run_fault_campaign.py` runs either tier outside pytest and prints the counts;
`pytest -s` prints them too.

Strategies: the three examples, plus two thin subclasses defined here so that call sites the
examples never reach are reached: `OcoExitRenew` (cancels its OCO exit after `renew` bars and
places a fresh one: list cancels on both dialects) and `BreakoutStopOnly` (buy_bracket with no
take-profit: a native OTO on Crypto.com, a stop-order exit on KuCoin).
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import threading
import time
from pathlib import Path

import backtrader as bt
import pytest

from bracket_plugin.backtrader.paper import run_paper
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.sim import Venue
from bracket_plugin.sim import faults as sim_faults

SYM = 'ETH/BTC'
TIMEOUT_MS = 1000          # the client's timeout (paper_exchange's 10 s, shortened through capabilities)
SLOW = 1.25                # s: `delay` / `late` beyond the client's timeout (and < timeout + WITHIN)
WITHIN = 0.5               # s: a delay the client waits out
LOSE_DELAY = 0.3           # s: lose_response holding the answer back, within the timeout
RETRY_DELAY = 0.01
MANAGED = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}
TIER = os.environ.get('FAULT_CAMPAIGN', 'default').strip().lower() or 'default'
LOG = 'bracket_plugin.backtrader'


# --------------------------------------------------------------------------------------------
# strategies reaching the call sites the examples do not


class OcoExitRenew(OcoExit):
    """OcoExit whose exit pair is canceled after `renew` bars and placed anew from the close."""
    params = (('renew', 6),)

    def __init__(self):
        super().__init__()
        self.stop_order = None
        self.placed_at = 0

    def next(self):
        if self.live:
            if (self.stop_order is not None and self.stop_order.ref in self.live
                    and len(self) - self.placed_at >= self.p.renew):
                self.cancel(self.stop_order)      # cancels the whole OCO, as BackBroker does
                self.stop_order = None
            return
        close = self.data.close[0]
        if self.position.size > 0:
            self.stop_order = self.sell(size=self.position.size, exectype=bt.Order.Stop,
                                        price=self.to_tick(close * (1 - self.p.stop_loss)))
            take = self.sell(size=self.position.size, exectype=bt.Order.Limit,
                             price=self.to_tick(close * (1 + self.p.take_profit)), oco=self.stop_order)
            self.live = {self.stop_order.ref, take.ref}
            self.placed_at = len(self)
        elif self.cross[0] > 0:
            self.live = {self.buy(size=self.p.size).ref}


class BreakoutStopOnly(BreakoutBracket):
    """BreakoutBracket with a stop-loss and no take-profit (OTO)."""

    def next(self):
        if self.live:
            waited = len(self) - self.placed_at
            if not self.entry_filled and waited >= self.p.entry_bars and self.entry.ref in self.live:
                self.cancel(self.entry)
            return
        if self.position or self.data.close[0] <= self.range_high[0]:
            return
        price = self.to_tick(self.data.close[0])
        orders = self.buy_bracket(size=self.p.size, exectype=bt.Order.Limit, price=price,
                                  stopprice=self.to_tick(price * (1 - self.p.stop_loss)), limitexec=None)
        self.entry = orders[0]
        self.entry_filled = False
        self.live = {o.ref for o in orders if o is not None}
        self.placed_at = len(self)


# scenario: (strategy, first bar of the slice, bars); what each reaches is in WHERE below
SCENARIOS = {
    'oco': (OcoExit, 0, 350),                # market entries, OCO exits (3 round trips)
    'short': (ShortBracket, 0, 350),         # six sell brackets (OTOCO / managed entry + OCO)
    'breakout': (BreakoutBracket, 4550, 350),  # three brackets, one entry canceled unfilled
    'renew': (OcoExitRenew, 0, 350),         # OCO exits canceled and placed again (list cancels)
    'stoponly': (BreakoutStopOnly, 350, 350),  # OTO: entry + stop-loss only
}

# --------------------------------------------------------------------------------------------
# call sites: (HTTP method, regex searched in the path), from the route declarations of
# bracket_plugin/sim/kucoin.py and bracket_plugin/sim/cryptocom.py


@dataclasses.dataclass(frozen=True)
class Site:
    method: str | None
    pattern: str
    write: bool = False                  # a create or a cancel (else a read)
    recovery: tuple | None = None        # (method, pattern) of the read that settles an unknown outcome
    armed: bool = False                  # the recovery path is also used by normal reads: add its rule
                                         # only once the first fault fired
    fallback: tuple | None = None        # (method, pattern) of the order lists a create_order look-up
                                         # reads when the venue says it has no order by that client id
    skip: int = 0                        # matching requests let through first (a transparent rule):
                                         # the fault meets a later request on a shared path


KU = '/kucoin/api'
CDC = '/cryptocom/exchange/v1/'
SITES = {
    'kucoin': {
        'create_single': Site('POST', KU + r'/v1/orders$', True, ('GET', KU + r'/v1/order/client-order/'),
                              fallback=('GET', KU + r'/v1/orders$')),
        'create_stop': Site('POST', KU + r'/v1/stop-order$', True,
                            ('GET', KU + r'/v1/stop-order/queryOrderByClientOid')),
        'create_oco': Site('POST', KU + r'/v3/oco/order$', True, ('GET', KU + r'/v3/oco/client-order/')),
        'cancel_single': Site('DELETE', KU + r'/v1/(orders|stop-order)/[^/]+$', True,
                              ('GET', KU + r'/v1/(orders|stop-order)/[^/]+$')),
        'cancel_list': Site('DELETE', KU + r'/v3/oco/order/[^/]+$', True,
                            ('GET', KU + r'/v3/oco/order/details/'), armed=True),
        'fills': Site('GET', KU + r'/v1/fills$'),
        'list_read': Site('GET', KU + r'/v3/oco/order/details/'),
        'candles': Site('GET', KU + r'/v1/market/candles$'),
    },
    'cryptocom': {
        'create_single': Site('POST', CDC + r'private/create-order$', True, ('POST', CDC + r'private/get-order-detail$'),
                              fallback=('POST', CDC + r'private/get-(open-orders|order-history)$')),
        'create_oco': Site('POST', CDC + r'private/advanced/create-oco$', True,
                           ('POST', CDC + r'private/advanced/get-order-detail$')),
        'create_oto': Site('POST', CDC + r'private/advanced/create-oto$', True,
                           ('POST', CDC + r'private/advanced/get-order-detail$')),
        'create_otoco': Site('POST', CDC + r'private/advanced/create-otoco$', True,
                             ('POST', CDC + r'private/advanced/get-order-detail$')),
        # the managed stop-loss exit of an OTO: the second create-order of the run (the entry is the first)
        'create_stop': Site('POST', CDC + r'private/create-order$', True, ('POST', CDC + r'private/get-order-detail$'),
                            skip=1),
        'cancel_single': Site('POST', CDC + r'private/cancel-order$', True, ('POST', CDC + r'private/get-order-detail$')),
        'cancel_oco': Site('POST', CDC + r'private/advanced/cancel-oco$', True,
                           ('POST', CDC + r'private/advanced/get-order-list-detail$'), armed=True),
        'cancel_otoco': Site('POST', CDC + r'private/advanced/cancel-ot(o|oco)$', True,
                             ('POST', CDC + r'private/advanced/get-order-list-detail$'), armed=True),
        'fills': Site('POST', CDC + r'private/get-trades$'),
        'list_read': Site('POST', CDC + r'private/advanced/get-order-list-detail$'),
        'candles': Site('GET', CDC + r'public/get-candlestick$'),
    },
}

# which scenario reaches each site, per dialect and path (measured: every entry fires)
WHERE = {
    ('kucoin', 'native'): {'create_single': 'oco', 'create_stop': 'stoponly', 'create_oco': 'oco',
                           'cancel_single': 'breakout', 'cancel_list': 'renew', 'fills': 'oco',
                           'list_read': 'oco', 'candles': 'oco'},
    ('kucoin', 'managed'): {'create_single': 'short', 'create_stop': 'stoponly', 'cancel_single': 'short',
                            'fills': 'short', 'candles': 'short'},
    ('cryptocom', 'native'): {'create_single': 'oco', 'create_oco': 'oco', 'create_oto': 'stoponly',
                              'create_otoco': 'short', 'cancel_oco': 'renew', 'cancel_otoco': 'breakout',
                              'fills': 'oco', 'list_read': 'oco', 'candles': 'oco'},
    ('cryptocom', 'managed'): {'create_single': 'short', 'create_stop': 'stoponly', 'cancel_single': 'short',
                               'fills': 'short', 'candles': 'short'},
}
# Not reachable, so not in the matrix:
# - KuCoin has no native OTO / OTOCO (createOtoOrder / createOtocoOrder are False): brackets are
#   managed there on both paths (entry single, then a native OCO or a single stop order).
# - Crypto.com native path: no single order is ever canceled (entries ride in the OTOCO); the
#   single cancel is covered on the managed path.
# - The managed path sends no list order, so has no list create / cancel / read.
# - Crypto.com native path: the OTO's stop rides in the list (create_oto), no single stop order.

# --------------------------------------------------------------------------------------------
# fault kinds


FAULTS = {
    'lose_response': dict(kind='lose_response'),
    'lose_response_delay': dict(kind='lose_response', delay=LOSE_DELAY),
    'lose_response_slow': dict(kind='lose_response', delay=SLOW),   # processed, client times out first
    'http_500': dict(kind='http_5xx', status=500),
    'http_503': dict(kind='http_5xx', status=503),
    'http_429': dict(kind='http_429', retry_after=1),
    'reset': dict(kind='reset'),
    'delay': dict(kind='delay', delay=SLOW),
    'late': dict(kind='late', delay=SLOW),
}
FAULTS = {k: v for k, v in FAULTS.items() if v['kind'] in sim_faults.KINDS}
HAS_LATE = 'late' in FAULTS
# second rules only: a slow answer the client still gets
SECOND_FAULTS = dict(FAULTS, delay_within=dict(kind='delay', delay=WITHIN))

# (first fault on the write, second fault on its recovery read, count of the second)
RECOVERY_PAIRS = [
    ('lose_response', 'http_503', 1),        # the look-up fails once (retried within the read)
    ('http_503', 'reset', 3),                # the look-up fails for the whole read: a later cycle settles it
    ('late', 'lose_response', 1),
    ('lose_response_delay', 'late', 1),
    ('reset', 'http_429', 2),
]
# Where the recovery read shares its path with normal reads (list reads), its rule is added by a
# watcher once the first rule fired; the first fault must then hold the client back long enough
# (>= 0.3 s) for the rule to be in place before the recovery read is sent.
RECOVERY_PAIRS_ARMED = [
    ('lose_response_delay', 'http_503', 1),
    ('late', 'reset', 3),
    ('delay', 'lose_response', 1),
    ('lose_response_slow', 'late', 1),
    ('lose_response_delay', 'http_429', 2),
]
# (first fault, fault on the re-send under the same client id, its count): the write is not
# processed (or processed late) the first time, and the re-send meets a fault of its own
RESEND_PAIRS = [
    ('http_503', 'lose_response', 1),
    ('late', 'late', 1),
    # the late original is processed after the look-up said "not found" (at the timeout, ~1.0 s)
    # and before the re-send, held WITHIN s, is: the re-send is refused as a duplicate client id,
    # and the store must look it up again rather than fail it (checked: DuplicateOrderId logged)
    ('late', 'delay_within', 1),
    ('reset', 'delay', 1),
    ('delay', 'http_429', 2),
]
# (first fault, fault on the order lists a create_order look-up falls back to, its count)
FALLBACK_PAIRS = [   # armed: the first fault holds the client >= 1 s
    ('delay', 'reset', 1),
    ('delay', 'http_500', 3),
    ('late', 'lose_response_delay', 1),
]
RECOVERY_PAIRS = [p for p in RECOVERY_PAIRS if p[0] in FAULTS and p[1] in FAULTS]
RESEND_PAIRS = [p for p in RESEND_PAIRS if p[0] in FAULTS and p[1] in SECOND_FAULTS]
FALLBACK_PAIRS = [p for p in FALLBACK_PAIRS if p[0] in FAULTS and p[1] in FAULTS]
RECOVERY_PAIRS_ARMED = [p for p in RECOVERY_PAIRS_ARMED if p[0] in FAULTS and p[1] in FAULTS]

# Faults that leave a write unprocessed when its answer is due (the venue never did it, or not yet);
# `late` does it later, so a cancel read back right away still sees the order open.
UNPROCESSED = {'http_500', 'http_503', 'http_429', 'reset', 'delay'}

# expectations where the fault legitimately changes the outcome (see transparency())
SAME = None
STOP_ONE_BAR_LATE = 'stop_one_bar_late'
EXITS_LATER = 'exits_later'
PAST_UNCHANGED = 'past_unchanged'
WHY = {
    STOP_ONE_BAR_LATE: (
        'the cancel of the resting take-profit (the watched stop fired) was not processed, or only after '
        'the client gave up: the order read shows it still open, so the store sends the cancel again on '
        'the next cycle (a write is sent once per call; the unknown is looked at again later). The '
        'watched stop goes out one bar later and fills at that bar\'s open. Checked: the same trades, '
        'except stop-loss exits exactly one bar later'),
    EXITS_LATER: (
        'as above, but the cancel stays unprocessed for several cycles (re-sent with backoff): the stop '
        'goes out bars later, or the resting take-profit fills meanwhile. Checked: the same number of '
        'trades with the same entries, each differing one exits later'),
    PAST_UNCHANGED: (
        'the write and its immediate re-send under the same client id were both left unprocessed: the '
        'store settles it on a later cycle (backoff), so the order is placed, or the cancel confirmed, '
        'a bar or more later; the strategy reacts later from there on. Checked: every trade closed '
        'before the bar of the first fault equals the fault-free run'),
}


def unprocessed_sends(case) -> int:
    """How many sends of the write in a row the venue leaves undone at answer time."""
    kinds = UNPROCESSED | ({'late'} if case.site.startswith('cancel') else set())
    n = case.count if case.fault in kinds else 0
    if n and case.second_on == 'resend' and case.second in kinds:
        n += case.second_count
    return n


def transparency(case) -> str | None:
    """SAME (None) when the fault only delays: the trades must equal the fault-free run. Else the
    name of the weaker expectation that holds instead (WHY says why)."""
    if not SITES[case.dialect][case.site].write:
        return SAME       # reads are repeated freely: a read fault only delays
    n = unprocessed_sends(case)
    if case.path == 'managed' and case.site == 'cancel_single' and n:
        return STOP_ONE_BAR_LATE if n == 1 else EXITS_LATER
    if n >= 2:
        return PAST_UNCHANGED
    return SAME


@dataclasses.dataclass(frozen=True)
class Case:
    dialect: str
    path: str                  # 'native' | 'managed'
    site: str
    fault: str
    count: int = 1
    second: str | None = None  # a second rule: on the recovery read, the re-send, or the fallback lists
    second_count: int = 1
    second_on: str = 'recovery'   # 'recovery' | 'resend' (the same call site) | 'fallback'

    @property
    def scenario(self) -> str:
        return WHERE[(self.dialect, self.path)][self.site]

    @property
    def id(self) -> str:
        s = f'{self.dialect}-{self.path}-{self.site}-{self.fault}x{self.count}'
        if self.second:
            s += f'+{self.second_on}-{self.second}x{self.second_count}'
        return s


def _site_class(site: str) -> str:
    return 'create' if site.startswith('create') else 'cancel' if site.startswith('cancel') else 'read'


# The default tier: at each site two kinds (ROTATE), rotated along the sites of a dialect and path so that
# every kind meets every dialect and path; at create sites lose_response and late always (the two
# that leave an order placed behind the client's back); reads with count 2 (retried within the
# read: transparent) except 429 / reset with 3 (every attempt of one read fails). One in eight of
# the second-rule pairs per write site, rotated, plus DEFAULT_EXTRA. The full tier is the whole
# product: every kind at every site (writes also with counts 2-3), every pair at every write site.
ROTATE = 2
ALWAYS = {'create': ('lose_response', 'late'), 'cancel': ('lose_response',), 'read': ()}


# counts above 1 at write sites (full tier): the re-send within the call meets the fault too
WRITE_COUNTS = {'http_503': (2, 3), 'reset': (2, 3), 'late': (2,), 'lose_response': (2,), 'http_429': (3,)}


def all_cases(tier: str = TIER) -> list[Case]:
    out = []
    kinds = list(FAULTS)
    for c, ((dialect, path), where) in enumerate(WHERE.items()):
        for i, site in enumerate(where):
            cls = _site_class(site)
            spec = SITES[dialect][site]
            rotated = {kinds[(ROTATE * (c + i) + k) % len(kinds)] for k in range(ROTATE)}
            for fault in kinds:
                counts = ((1,) + WRITE_COUNTS.get(fault, ())) if spec.write else (2, 3)
                for count in counts:
                    case = Case(dialect, path, site, fault, count)
                    default = (fault in rotated or fault in ALWAYS[cls]) and (
                        count == 1 if spec.write else count == (3 if fault in ('http_429', 'reset') else 2))
                    if tier == 'full' or default:
                        out.append(case)
            if not spec.write:
                continue
            n_site = c + i
            pairs = [(p, 'recovery') for p in (RECOVERY_PAIRS_ARMED if spec.armed else RECOVERY_PAIRS)]
            pairs += [(p, 'resend') for p in RESEND_PAIRS]
            if spec.fallback is not None:
                pairs += [(p, 'fallback') for p in FALLBACK_PAIRS]
            for j, ((first, second, n), on) in enumerate(pairs):
                if tier == 'full' or (n_site + j) % 8 == 0:
                    out.append(Case(dialect, path, site, first, 1, second, n, on))
    if tier != 'full':
        have = {c.id for c in out}
        out += [c for c in all_cases('full') if c.id in DEFAULT_EXTRA and c.id not in have]
    return out


# in the default tier too: one case of each weaker expectation and of each defect found
DEFAULT_EXTRA = {
    'kucoin-native-cancel_single-http_503x3',          # the cancel loses the race to the entry's fill (KuCoin)
    'cryptocom-native-cancel_otoco-resetx3',           # the same on Crypto.com's native OTOCO
    'kucoin-native-create_single-http_503x2',          # PAST_UNCHANGED
    'cryptocom-native-create_otoco-resetx2',           # PAST_UNCHANGED
    'kucoin-managed-cancel_single-resetx3',            # EXITS_LATER
    'cryptocom-managed-cancel_single-http_503x1',      # STOP_ONE_BAR_LATE
    'kucoin-native-create_oco-latex1+resend-delay_withinx1',      # re-send refused as duplicate
    'cryptocom-native-create_otoco-latex1+resend-delay_withinx1',
}


# --------------------------------------------------------------------------------------------
# data, baselines


_SLICES: dict = {}
_BASELINES: dict = {}


def slice_path(first: int, n: int, directory) -> Path:
    """A CSV of bars [first, first + n) of the bundled data (header kept), cached per directory."""
    key = (first, n, str(directory))
    if key not in _SLICES:
        lines = bundled_data_path().read_text().splitlines(keepends=True)
        path = Path(directory) / f'eth_btc_{first}_{n}.csv'
        path.write_text(lines[0] + ''.join(lines[1 + first:1 + first + n]))
        _SLICES[key] = path
    return _SLICES[key]


def capabilities(path: str) -> dict:
    caps = {'timeout': TIMEOUT_MS}   # paper_exchange's config.update: this replaces its 10 s
    if path == 'managed':
        caps.update(MANAGED)
    return caps


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _paper(scenario: str, dialect: str, path: str, directory, venue_setup=None):
    """One paper run; answers (result, venue facts, log records, whatever venue_setup returned)."""
    strategy, first, n = SCENARIOS[scenario]
    data = slice_path(first, n, directory)
    handler = _Collect()
    logger = logging.getLogger(LOG)
    logger.addHandler(handler)
    try:
        with Venue(data=str(data), symbol=SYM, exchanges=(dialect,)) as venue:
            setup = venue_setup(venue) if venue_setup else None
            result = run_paper(strategy, dialect, data, SYM, cash=1.0, venue=venue,
                               capabilities=capabilities(path), store_kwargs={'retry_delay': RETRY_DELAY})
            if setup is not None:
                setup.stop()
            facts = venue_facts(venue, dialect)      # read while the venue still runs
    finally:
        logger.removeHandler(handler)
    return result, facts, handler.records, setup


def baseline(scenario: str, dialect: str, path: str, directory):
    """The fault-free run (result, venue facts) of a scenario, checked against the invariants too."""
    key = (scenario, dialect, path)
    if key not in _BASELINES:
        result, facts, records, _ = _paper(scenario, dialect, path, directory)
        problems = check_invariants(result.store, facts, records)
        assert not problems, f'fault-free run of {key} breaks the invariants: {problems}'
        _BASELINES[key] = (result, facts)
    return _BASELINES[key]


def first_request_ms(case, facts) -> int | None:
    """The venue clock (ms) at the first request of the case's write site in a fault-free run:
    where the fault fires, the runs being identical up to then. None for a read site."""
    site, dialect = case.site, case.dialect
    singles = [o for o in facts.orders if o.list_id is None]
    if site == 'create_single':
        objs = [o for o in singles if dialect != 'kucoin' or o.trigger is None]
    elif site == 'create_stop':
        objs = [o for o in singles if o.trigger is not None]
    elif site.startswith('create_'):
        objs = [lst for lst in facts.lists if lst.kind == site[len('create_'):]]
    elif site == 'cancel_single':
        return min((o.updated_ms for o in singles if o.status == 'canceled' and o.reason == 'user'), default=None)
    elif site.startswith('cancel_'):
        kinds = {'cancel_list': ('oco',), 'cancel_oco': ('oco',), 'cancel_otoco': ('oto', 'otoco')}[site]
        return min((lst.updated_ms for lst in facts.lists if lst.kind in kinds and lst.status == 'canceled'), default=None)
    else:
        return None
    return min((o.created_ms for o in objs), default=None)


# --------------------------------------------------------------------------------------------
# invariants


@dataclasses.dataclass
class VenueFacts:
    dialect: str
    orders: list         # every SimOrder of the market
    lists: list          # every SimList
    fills: list          # every Fill


def venue_facts(venue, dialect: str) -> VenueFacts:
    eng = venue.engine_for(dialect)
    with venue.lock:
        return VenueFacts(dialect, [dataclasses.replace(o) for o in eng.orders(SYM)],
                          [dataclasses.replace(lst) for lst in eng.lists(SYM)], list(eng.fills(SYM)))


_LEG_SUFFIX = re.compile(r'-[ets]$')   # Crypto.com list legs: <list client id>-e / -t / -s


def _owners(facts: VenueFacts) -> dict:
    """order id -> client id of the request that placed it: its own (single orders, Crypto.com legs
    less their -e/-t/-s suffix), or its list's (KuCoin legs carry none)."""
    lists = {lst.id: lst for lst in facts.lists}
    out = {}
    for o in facts.orders:
        cid = o.client_id
        if o.list_id is not None:
            lst = lists.get(o.list_id)
            cid = lst.client_id if lst is not None and lst.client_id else (_LEG_SUFFIX.sub('', cid) if cid else None)
        out[o.id] = cid
    return out


def check_invariants(store, facts: VenueFacts, records=()) -> list[str]:
    """Every invariant of the campaign on one finished run; answers the violations (empty: fine)."""
    problems = []
    journal = store.journal
    prefix = f'bp{journal.prefix}x'
    intents = journal.intents()
    creates = {it['client_oid']: it for it in intents if it['method'].startswith('create_')}
    orders_by_id = {o.id: o for o in facts.orders}
    owner = _owners(facts)

    # venue objects per client id: lists (KuCoin: the list's own client id; Crypto.com: from its legs)
    placed = collections.defaultdict(list)     # cid -> [('order'|'list', id)]
    for lst in facts.lists:
        cid = next((owner[i] for i in lst.order_ids if owner.get(i)), None)
        placed[cid].append(('list', lst.id))
    for o in facts.orders:
        if o.list_id is None:
            placed[o.client_id].append(('order', o.id))

    for cid, it in creates.items():
        objs = placed.get(cid, [])
        want = 'order' if it['method'] == 'create_order' else 'list'
        if len(objs) > 1:
            problems.append(f'duplicate: intent {cid} ({it["method"]}) has {len(objs)} venue objects {objs}')
        if any(kind != want for kind, _ in objs):
            problems.append(f'intent {cid} ({it["method"]}) placed {objs}, expected a {want}')
        if it['state'] == 'done' and len(objs) == 1 and objs[0][1] != it['exchange_id']:
            problems.append(f'intent {cid} done with exchange id {it["exchange_id"]} but the venue holds {objs}')
        if it['state'] == 'done' and not objs:
            problems.append(f'intent {cid} ({it["method"]}) done but nothing on the venue')
        if it['state'] == 'failed' and objs:
            problems.append(f'intent {cid} ({it["method"]}) failed ({it["error"]}) but the venue holds {objs}')
    for cid, objs in placed.items():
        if cid and cid.startswith(prefix) and cid not in creates:
            problems.append(f'venue objects {objs} under client id {cid} have no intent')

    # fills: the journal's == the venue's fills of our orders
    ours = {o.id for o in facts.orders if (owner[o.id] or '').startswith(prefix)}
    venue_fills = {f.id: f for f in facts.fills if f.order_id in ours}
    journal_fills = {f['trade_id']: f for f in journal.fills(SYM)}
    if set(venue_fills) != set(journal_fills):
        problems.append(f'fills: venue only {sorted(set(venue_fills) - set(journal_fills))}, '
                        f'journal only {sorted(set(journal_fills) - set(venue_fills))}')
    for tid in set(venue_fills) & set(journal_fills):
        v, j = venue_fills[tid], journal_fills[tid]
        if (v.order_id, v.side) != (j['order_id'], j['side']) or abs(float(v.amount) - j['amount']) > 1e-12 \
                or abs(float(v.price) - j['price']) > 1e-12:
            problems.append(f'fill {tid}: venue {v} != journal {j}')

    # intents: settled
    for it in intents:
        if it['state'] not in ('done', 'failed'):
            problems.append(f'intent {it["client_oid"]} {it["method"]} left {it["state"]} ({it["error"]})')

    # orphans: a live venue order of ours that no live leg of the store stands for
    known_live = set()
    for g in store.groups.values():
        for leg in g.legs.values():
            if not leg.done and leg.order_id:
                known_live.add(leg.order_id)
            if not leg.done and leg.list_id:
                known_live.add(('list', leg.list_id))
    for o in facts.orders:
        if (owner[o.id] or '').startswith(prefix) and o.status in ('pending', 'open', 'triggered'):
            if o.id not in known_live and ('list', o.list_id) not in known_live:
                problems.append(f'orphan: venue order {o.id} ({o.client_id}, {o.type} {o.side}, {o.status}) '
                                'is live but no live leg of the store holds it')

    # protection: an open position of a group has a live exit on the venue or a watched stop
    for g in store.groups.values():
        if g.done:
            continue
        entry = g.legs.get('entry')
        holds = (entry is not None and entry.filled > 0) or g.spec.kind == 'oco'
        if not holds:
            continue
        live_exit = any(leg.order_id in orders_by_id and orders_by_id[leg.order_id].status in ('open', 'triggered')
                        for r, leg in g.legs.items() if r != 'entry')
        watched = g.watch is not None and g.legs[g.watch].status == 'waiting'
        if not (live_exit or watched):
            problems.append(f'unprotected: group {g.key} ({g.spec.kind}, {g.mode}) legs '
                            f'{ {r: (leg.status, leg.order_id) for r, leg in g.legs.items()} } has no live exit '
                            'and no watched stop')
    for r in records:
        msg = r.getMessage()
        if 'UNPROTECTED POSITION' in msg:
            problems.append(f'reported: {msg}')
        if 'treated as an unknown outcome' in msg:
            problems.append(f'policy caught a non-ccxt exception: {msg} {r.exc_text or ""}'[:600])
    return problems


# --------------------------------------------------------------------------------------------
# one case


@dataclasses.dataclass
class Outcome:
    case: Case
    seconds: float
    fired: int
    second_fired: int | None
    problems: list
    trades_equal: bool
    transparent: str | None     # SAME (None): the trades must equal the fault-free run; else the expectation
    fault_ms: int | None        # venue clock of the first request at the site (fault-free run)
    trades: list
    baseline_trades: list
    intents: list
    records: list


class _Arm(threading.Thread):
    """Adds the recovery rule once the first rule has fired (its path is shared with normal reads)."""

    def __init__(self, venue, first, method, pattern, fault, count):
        super().__init__(daemon=True)
        self.venue, self.first, self.args = venue, first, (method, pattern, fault, count)
        self.rule = None
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            if self.first.fired:
                method, pattern, fault, count = self.args
                self.rule = self.venue.faults.add(pattern=pattern, method=method, count=count, **SECOND_FAULTS[fault])
                return
            time.sleep(0.002)

    def stop(self):
        self._halt.set()
        self.join(1)


@dataclasses.dataclass
class _Rules:
    first: object
    second: object = None
    arm: _Arm | None = None

    def stop(self):
        if self.arm is not None:
            self.arm.stop()
            self.second = self.arm.rule

    @property
    def second_fired(self):
        return None if self.arm is None and self.second is None else (self.second.fired if self.second else 0)


def run_case(case: Case, directory) -> Outcome:
    spec = SITES[case.dialect][case.site]
    base, base_facts = baseline(case.scenario, case.dialect, case.path, directory)

    def setup(venue):
        if spec.skip:
            venue.faults.add(pattern=spec.pattern, method=spec.method, count=spec.skip, kind='delay', delay=0.0)
        rules = _Rules(venue.faults.add(pattern=spec.pattern, method=spec.method, count=case.count,
                                        **FAULTS[case.fault]))
        if case.second:
            armed = spec.armed
            if case.second_on == 'resend':
                # Faults.take picks the first live rule: this one once the first is exhausted
                method, pattern, armed = spec.method, spec.pattern, False
            elif case.second_on == 'fallback':
                # the same lists are read on schedule (reconcile): armed by the first fault
                (method, pattern), armed = spec.fallback, True
            else:
                method, pattern = spec.recovery
            if armed:
                rules.arm = _Arm(venue, rules.first, method, pattern, case.second, case.second_count)
                rules.arm.start()
            else:
                rules.second = venue.faults.add(pattern=pattern, method=method, count=case.second_count,
                                                **SECOND_FAULTS[case.second])
        return rules

    t = time.monotonic()
    result, facts, records, rules = _paper(case.scenario, case.dialect, case.path, directory, setup)
    seconds = time.monotonic() - t
    problems = check_invariants(result.store, facts, records)
    return Outcome(case, seconds, rules.first.fired, rules.second_fired, problems,
                   result.trades == base.trades and
                   [b['outcome'] for b in result.brackets] == [b['outcome'] for b in base.brackets],
                   transparency(case), first_request_ms(case, base_facts), result.trades, base.trades,
                   result.store.journal.intents(), records)


def verdict(out: Outcome) -> list[str]:
    """What is wrong with one case (empty: it passed)."""
    bad = []
    if out.fired < 1:
        bad.append(f'vacuous: the fault never fired at {out.case.site}')
    if out.case.second and not out.second_fired:
        bad.append('vacuous: the recovery fault never fired')
    bad += out.problems
    if (out.case.fault, out.case.second, out.case.second_on) == ('late', 'delay_within', 'resend') \
            and out.case.site.startswith('create') \
            and not any('DuplicateOrderId' in r.getMessage() for r in out.records):
        bad.append('vacuous: the re-send was not refused as a duplicate (the late original came after it)')
    diff = (f'{[t for t in out.trades if t not in out.baseline_trades]} vs the fault-free '
            f'{[t for t in out.baseline_trades if t not in out.trades]}')
    expect = out.transparent
    if expect is SAME and not out.trades_equal:
        bad.append(f'trades differ from the fault-free run: {diff}')
    if expect == STOP_ONE_BAR_LATE and not one_bar_late_stops(out.trades, out.baseline_trades):
        bad.append(f'trades differ by more than stop-loss exits one bar late: {diff}')
    if expect == EXITS_LATER and not exits_later(out.trades, out.baseline_trades):
        bad.append(f'trades differ by more than later exits: {diff}')
    if expect == PAST_UNCHANGED:
        def before(ts):
            return [t for t in ts if t['exit_time'] is not None and _ms(t['exit_time']) < out.fault_ms]

        if out.fault_ms is None:
            bad.append('the fault-free run has no request at this site to date the fault by')
        elif before(out.trades) != before(out.baseline_trades):
            bad.append(f'trades closed before the fault ({out.fault_ms}) differ: {diff}')
    return bad


def _ms(iso: str) -> int:
    import datetime as dt
    return int(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp() * 1000)


def exits_later(trades: list, base: list) -> bool:
    """The same trades with the same entries, each differing one exiting later than in `base`."""
    if len(trades) != len(base):
        return False
    for t, b in zip(trades, base):
        if t == b:
            continue
        if not all(t[k] == b[k] for k in ('entry_time', 'side', 'size', 'entry_price')):
            return False
        if t['exit_time'] is None or b['exit_time'] is None or _ms(t['exit_time']) <= _ms(b['exit_time']):
            return False
    return True


def _later(iso: str, ms: int) -> str:
    import datetime as dt
    return (dt.datetime.fromisoformat(iso) + dt.timedelta(milliseconds=ms)).isoformat()


def one_bar_late_stops(trades: list, base: list, bar_ms: int = 300_000) -> bool:
    """The same trades, except stop-loss exits one bar later than in `base` (at another price)."""
    if len(trades) != len(base):
        return False
    for t, b in zip(trades, base):
        if t == b:
            continue
        same_entry = all(t[k] == b[k] for k in ('entry_time', 'side', 'size', 'entry_price', 'exit_reason'))
        if not (same_entry and t['exit_reason'] == 'stop_loss' and t['exit_time'] == _later(b['exit_time'], bar_ms)):
            return False
    return True


# --------------------------------------------------------------------------------------------
# pytest

# Cases failing because of a defect in bracket_plugin (not editable here): case id -> reason.
# strict: they must keep failing until the defect is fixed, then the entry must go.
# Found by this campaign and since fixed (kept as plain cases; the default tier runs two of them):
# - 90ab45a: BreakoutBracket cancels its unfilled entry; the cancel stays unprocessed for three sends
#   in a row while the entry fills on the venue. Before: KuCoin (managed bracket) had dropped the
#   exits when the cancel was asked and never placed them; Crypto.com (native OTOCO) re-sent
#   cancel-otoco after the fill and canceled the live exits: 1 ETH held with no exit, UNPROTECTED
#   POSITION (cases {kucoin-native-cancel_single, cryptocom-native-cancel_otoco} x
#   {http_503x3, http_429x3, resetx3, delayx1+resend-http_429x2}).
# - e63c1f2: a Crypto.com sell stop-market single order went out as TAKE_PROFIT and was refused
#   (test_cryptocom_managed_single_stop_exit_is_placed).
KNOWN: dict[str, str] = {}

_TOTALS = collections.Counter()


@pytest.fixture(scope='module')
def bars_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('campaign_bars')


@pytest.fixture(scope='module', autouse=True)
def _print_totals():
    yield
    if _TOTALS:
        print(f"\nfault campaign ({TIER}): {_TOTALS['cases']} cases, {_TOTALS['fired']} faults fired "
              f"({_TOTALS['second_fired']} by second rules), {_TOTALS['failed']} failing "
              f"({_TOTALS['known']} of them known defects, xfail), "
              f"{_TOTALS['not_transparent']} with a legitimately different outcome, "
              f"{_TOTALS['seconds']:.0f} s in runs")


def _params():
    out = []
    for case in all_cases():
        marks = []
        if case.id in KNOWN:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[case.id]))
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize('case', _params())
def test_fault_campaign(case, bars_dir):
    out = run_case(case, bars_dir)
    _TOTALS['cases'] += 1
    _TOTALS['fired'] += out.fired + (out.second_fired or 0)
    _TOTALS['second_fired'] += out.second_fired or 0
    _TOTALS['seconds'] += out.seconds
    _TOTALS['not_transparent'] += out.transparent is not None and not out.trades_equal
    bad = verdict(out)
    _TOTALS['failed'] += bool(bad)
    _TOTALS['known'] += bool(bad) and case.id in KNOWN
    assert not bad, '\n'.join(bad)


def test_matrix_reaches_every_kind_dialect_and_path():
    """The chosen tier is not thinner than it claims: each fault kind meets each dialect and path,
    each site meets several kinds, and `late` is in when the simulator has it."""
    cases = all_cases()
    kinds_at = collections.defaultdict(set)
    for c in cases:
        kinds_at[(c.dialect, c.path)].add(FAULTS[c.fault]['kind'])
        kinds_at[(c.dialect, c.path, c.site)].add(c.fault)
    for cell in WHERE:
        assert kinds_at[cell] == set(sim_faults.KINDS) & {f['kind'] for f in FAULTS.values()}, cell
        for site in WHERE[cell]:
            assert len(kinds_at[cell + (site,)]) >= 2, (cell, site)
    assert HAS_LATE == ('late' in sim_faults.KINDS)
    assert any(c.second for c in cases)


def test_cryptocom_managed_single_stop_exit_is_placed(bars_dir):
    """Regression (found by this campaign, fixed in e63c1f2): a managed single stop-loss exit on
    Crypto.com, a sell stop-market order, went out as TAKE_PROFIT (ccxt types by comparing the
    price, None for a market order, with the trigger), was refused (229) and left the position
    unprotected."""
    result, facts, records, _ = _paper('stoponly', 'cryptocom', 'managed', bars_dir)
    stops = [it for it in result.store.journal.intents()
             if it['method'] == 'create_order' and it['args']['roles'] == ['stop_loss']]
    assert stops, 'the entry never filled: the scenario no longer reaches the stop exit'
    assert [(it['state'], it['error']) for it in stops] == [('done', None)] * len(stops)
    assert check_invariants(result.store, facts, records) == []


def test_the_invariants_catch_what_they_claim(bars_dir):
    """The checks are not vacuous: on a finished fault-free run, each planted fault is reported."""
    from bracket_plugin.sim.engine import OrderRequest

    strategy, first, n = SCENARIOS['stoponly']
    data = slice_path(first, n, bars_dir)
    with Venue(data=str(data), symbol=SYM, exchanges=('kucoin',)) as venue:
        result = run_paper(strategy, 'kucoin', data, SYM, cash=1.0, venue=venue, capabilities=capabilities('native'),
                           store_kwargs={'retry_delay': RETRY_DELAY})
        store, eng = result.store, venue.engine_for('kucoin')
        assert check_invariants(store, venue_facts(venue, 'kucoin')) == []
        # the last bracket is open at the end: its stop rests on the venue
        (live,) = [g for g in store.groups.values() if not g.done]
        stop = live.legs['stop_loss'].order_id
        assert eng.order(stop).status == 'open'
        with venue.lock:
            eng.cancel(stop)                       # gone from the venue behind the store's back
            px = eng.last_price(SYM)
            eng.place(OrderRequest(SYM, 'buy', 'limit', amount='0.01', price=str(round(px / 2, 6)),
                                   client_id=f'bp{store.journal.prefix}x999'))   # ours, but no intent
        journal = store.journal
        journal.db.execute('DELETE FROM fills WHERE trade_id = (SELECT MIN(trade_id) FROM fills)')
        journal.mark(journal.intents()[0]['client_oid'], 'unknown')
        problems = check_invariants(store, venue_facts(venue, 'kucoin'))
    text = '\n'.join(problems)
    assert 'have no intent' in text                # a venue order under our prefix without an intent
    assert 'orphan: venue order' in text           # ... and live, held by no leg
    assert 'unprotected: group' in text            # an entry filled, its only exit gone
    assert 'fills: venue only' in text             # a venue fill the journal lacks
    assert 'left unknown' in text                  # an intent not settled
    assert len(problems) == 5, problems
