"""Crash campaign: the trading process (crash_child.py) is SIGKILLed at journal commit boundaries
and at random moments, restarted on the same journal, and after every restart the journal is
compared with the venue's own books.

Pieces:
- `make_plan`: the strategy's plan on the bundled ETH/BTC bars (brackets whose take-profit and
  stop-loss are hit, one canceled, an `oco=` pair whose stop fires, one left open at the end).
- `VenueBox`: an in-process Venue with a state file (`state_file=`), control endpoints on. Between
  a killed run and the next one it is kept running, restarted from its state file (`restart`: a
  clean close, which compacts), or dropped without a snapshot (`crash`: the next venue repeats
  the state file's journal).
- `ForkRunner` / `SpawnRunner`: start the child as a process (forked from a server that has done
  the imports once, or a fresh interpreter), kill it with SIGKILL by pid, wait with a timeout.
- `check`: the invariants, journal (read-only sqlite) against the venue's engine:
    a. no duplicate: every venue order or list carrying this journal's client-id prefix belongs to
       exactly one create intent, in state done, of the matching kind and exchange id; every done
       create intent has exactly one such venue object; no create is left unsettled; every group
       step (first / then / watched) has at most one live create; no group was placed twice.
    b. fills: the journal's fills are exactly the venue's fills of our orders (by trade id, with
       order, amount and price), and each leg's filled amount equals the venue order's.
    c. protection: every group whose entry filled and whose position is not closed has an exit
       live on the venue or a stop watched by the store, or was reported `UNPROTECTED POSITION` by
       the process now running.
    d. statuses: every journal leg with an order id agrees with the venue order's status (and
       list); every venue order of ours is the order of the journal leg it belongs to.
    e. (final checks only) the outcome per leg (status, filled amount, quote value of the fills)
       is the uninterrupted run's: a crash may not change what the strategy's brackets did.
- `Campaign`: the uninterrupted run (counts commits and venue changes), then sweeps: kill at every
  commit k, at every venue change n, at every commit of a restart's recovery after commit k, and
  at random moments; each killed run is resumed on the same journal until a run ends normally.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bracket_plugin.bars import bundled_data_path, read_bars
from bracket_plugin.sim import Venue

HERE = Path(__file__).resolve().parent
CHILD = HERE / 'crash_child.py'
SYMBOL = 'ETH/BTC'
KILL_ENV = 'BRACKET_PLUGIN_KILL_AT_COMMIT'
START, END = 106, 127          # venue start (first bar not closed yet) and end of the bar slice
RUN_TIMEOUT = 90.0             # seconds a child run may take before the campaign gives up on it
EPS = 1e-9
PARTIAL = '0.0004'             # volume_fraction of the partial-fill sweeps: 1.0 fills over 1 to 3 bars

CONFIGS = {
    'kucoin': ('kucoin', False),
    'cryptocom': ('cryptocom', False),
    'kucoin-managed': ('kucoin', True),
    'cryptocom-managed': ('cryptocom', True),
}


# plan ---------------------------------------------------------------------------------------------
def bars_csv(directory: Path, end: int = END) -> Path:
    path = Path(directory) / f'eth_btc_{end}.csv'
    if not path.exists():
        path.write_text(''.join(bundled_data_path().read_text().splitlines(keepends=True)[:end + 1]))
    return path


def make_plan(data_path: Path) -> list[dict]:
    """Levels picked on bars 105..126 of the bundled data (the first delivered bar is 105):
    g1 entry fills at 106, take-profit at 112; g2 rests far below and is canceled at 116;
    g3 (oco=) stop fires at 117 (managed: sent after 117, filled at 118's open);
    g4 entry fills at 113, stop at 115 (managed: 116); g5 entry fills at 117, whose close is
    already below its stop (exits planned as crossed: KuCoin's stop goes out as a market order;
    a restart that reads this fill must know the price too, see test_crash_campaign.py);
    g6's entry fills at 120 and it stays open, exits live, to the end."""
    ts = {i: b.ts for i, b in enumerate(read_bars(data_path))}
    plan = [
        {'kind': 'bracket', 'ts': ts[105], 'entry': 0.0958, 'stop': 0.0950, 'tp': 0.0968, 'expect': 'take_profit'},
        {'kind': 'bracket', 'ts': ts[108], 'entry': 0.0930, 'stop': 0.0920, 'tp': 0.0990, 'expect': 'canceled'},
        {'kind': 'oco', 'ts': ts[110], 'limit': 0.0975, 'stop': 0.0955, 'expect': 'stop_loss'},
        {'kind': 'bracket', 'ts': ts[112], 'entry': 0.0970, 'stop': 0.0962, 'tp': 0.0985, 'expect': 'stop_loss'},
        {'kind': 'cancel', 'ts': ts[116], 'target': 1},
        {'kind': 'bracket', 'ts': ts[116], 'entry': 0.0957, 'stop': 0.0955, 'tp': 0.0975, 'expect': 'stop_loss',
         'crossed': True},
        {'kind': 'bracket', 'ts': ts[119], 'entry': 0.0955, 'stop': 0.0900, 'tp': 0.0990, 'expect': 'open'},
    ]
    return plan


def group_items(plan) -> dict[str, dict]:
    out, n = {}, 0
    for item in plan:
        if item['kind'] in ('bracket', 'oco'):
            n += 1
            out[f'g{n}'] = item
    return out


# venue --------------------------------------------------------------------------------------------
class VenueBox:
    """One venue (one dialect) with a state file, restartable between runs."""

    def __init__(self, data_path: Path, exchange_id: str, state_file: Path, start: int = START,
                 volume_fraction: str | None = None):
        self.exchange_id = exchange_id
        self.kwargs = dict(data=str(data_path), symbol=SYMBOL, start=start, state_file=str(state_file),
                           exchanges=(exchange_id,), control=True, volume_fraction=volume_fraction)
        self.venue = Venue(**self.kwargs).start_server()
        self.restarts = 0

    @property
    def engine(self):
        return self.venue.engine_for(self.exchange_id)

    def config(self) -> dict:
        return self.venue.ccxt_config(self.exchange_id)

    def restart(self, how: str):
        """keep: the venue runs on; restart: closed (snapshot written) and started again from its
        state file; crash: its server stops with no snapshot, the next venue repeats the journal."""
        if how == 'keep':
            return
        old = self.venue
        if how == 'restart':
            old.close()
        elif how == 'crash':
            old._server.stop()          # as if the venue process died: nothing more is written
            old._server = None
            old._journal.close()
            old._journal = None
        else:
            raise ValueError(how)
        self.venue = Venue(**self.kwargs).start_server()
        self.restarts += 1

    def close(self):
        self.venue.close()

    def watch_changes(self, kill_at: int | None = None):
        """Count the venue's accepted changes (orders and lists placed, cancels, clock steps: what
        its state file journals) from now on; with `kill_at`, SIGKILL the process in `self.target`
        right after the kill_at-th one is journaled, before the venue answers the request that made
        it. Answers a dict whose 'changes' counts them."""
        eng = self.engine
        inner = getattr(eng.journal, 'inner', eng.journal)    # the venue's own (not an earlier watch)
        seen = {'changes': 0, 'killed': False, 'ops': []}
        self.target = None

        def journal(entry):
            inner(entry)
            seen['changes'] += 1
            seen['ops'].append(entry.get('op'))
            if kill_at is not None and seen['changes'] == kill_at:
                deadline = time.monotonic() + 10
                while self.target is None and time.monotonic() < deadline:
                    time.sleep(0.001)
                if self.target is not None and self.target.kill():
                    seen['killed'] = True
        journal.inner = inner
        eng.journal = journal
        return seen

    def snapshot(self) -> dict:
        """The engine's books, copied under the venue lock (the server thread may be running)."""
        eng = self.engine
        with self.venue.lock:
            orders = {o.id: dict(id=o.id, client_id=o.client_id, status=o.status, type=o.type, side=o.side,
                                 list_id=o.list_id, role=o.role, filled=float(o.filled), amount=float(o.amount),
                                 cost=float(o.cost))
                      for o in eng.orders()}
            lists = {lst.id: dict(id=lst.id, client_id=lst.client_id, kind=lst.kind, status=lst.status,
                                order_ids=list(lst.order_ids)) for lst in eng.lists()}
            base = {sym: eng.rules(sym).base for sym in eng.symbols()}
            fills = {f.id: dict(id=f.id, order_id=f.order_id, side=f.side, amount=float(f.amount),
                                price=float(f.price),
                                fee_base=float(f.fee) if f.fee_currency == base[f.symbol] else 0.0,
                                lot=float(eng.rules(f.symbol).lot_size)) for f in eng.fills()}
            bars_left = eng.bars_left()
        return {'orders': orders, 'lists': lists, 'fills': fills, 'bars_left': bars_left}


# runners ------------------------------------------------------------------------------------------
def read_events(path: Path) -> list[dict]:
    out = []
    with contextlib.suppress(FileNotFoundError):
        for line in Path(path).read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))     # a line cut by the kill is dropped
    return out


class _Job:
    def __init__(self, pid: int, out: Path, err: Path):
        self.pid, self.out, self.err = pid, Path(out), Path(err)
        self.rc = None

    def kill(self) -> bool:
        """SIGKILL this job by its pid, unless it is known to have ended; True if the signal was
        sent (safe from another thread: it reads nothing)."""
        if self.rc is not None:
            return False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def events(self) -> list[dict]:
        return read_events(self.out)

    def stderr(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.err.read_text()
        return ''

    def wait_event(self, name: str, timeout: float) -> dict | None:
        """The first event `name` the job prints, or None if it ends (or the time runs out) first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events():
                if ev.get('event') == name:
                    return ev
            if self.poll() is not None:
                for ev in self.events():
                    if ev.get('event') == name:
                        return ev
                return None
            time.sleep(0.005)
        return None


class SpawnRunner:
    """A fresh interpreter per run: `python crash_child.py ...`."""
    name = 'spawn'

    class Job(_Job):
        def __init__(self, proc, out, err):
            super().__init__(proc.pid, out, err)
            self.proc = proc

        def poll(self):
            if self.rc is None:
                self.rc = self.proc.poll()
            return self.rc

        def wait(self, timeout: float) -> int:
            try:
                self.rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(10)
                raise TimeoutError(f'child {self.pid} still running after {timeout} s (killed)') from None
            return self.rc

    def start(self, argv, env, out, err):
        with open(out, 'w') as fo, open(err, 'w') as fe:
            proc = subprocess.Popen([sys.executable, str(CHILD), *argv], env=env, stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL)
        return self.Job(proc, out, err)

    def close(self):
        pass


class ForkRunner:
    """Runs from a fork server (crash_child.py --serve): imports done once, a process per run."""
    name = 'fork'

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(CHILD), '--serve'], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=None, bufsize=0)
        self._buf = b''
        ready = self._line(60)
        if 'ready' not in ready:
            raise RuntimeError(f'fork server did not start: {ready}')
        self.job = None

    def _line(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b'\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('fork server: no answer')
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError('fork server ended')
                self._buf += chunk
        line, self._buf = self._buf.split(b'\n', 1)
        return json.loads(line)

    def _ready(self, timeout: float) -> bool:
        if b'\n' in self._buf:
            return True
        r, _, _ = select.select([self.proc.stdout.fileno()], [], [], timeout)
        return bool(r)

    class Job(_Job):
        def __init__(self, runner, pid, out, err):
            super().__init__(pid, out, err)
            self.runner = runner

        def poll(self):
            if self.rc is None and self.runner._ready(0):
                self.rc = self.runner._line(5)['exit']
            return self.rc

        def wait(self, timeout: float) -> int:
            if self.rc is None:
                try:
                    self.rc = self.runner._line(timeout)['exit']
                except TimeoutError:
                    self.kill()
                    self.rc = self.runner._line(10)['exit']
                    raise TimeoutError(f'child {self.pid} still running after {timeout} s (killed)') from None
            return self.rc

    def start(self, argv, env, out, err):
        if self.job is not None and self.job.rc is None:
            raise RuntimeError('fork server: one job at a time')
        self.proc.stdin.write((json.dumps({'argv': list(argv), 'env': env, 'stdout': str(out),
                                           'stderr': str(err)}) + '\n').encode())
        self.job = self.Job(self, self._line(30)['pid'], out, err)
        return self.job

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def make_runner(kind: str | None = None):
    kind = kind or os.environ.get('CAMPAIGN_RUNNER', 'fork')
    return SpawnRunner() if kind == 'spawn' else ForkRunner()


# journal (read-only) ------------------------------------------------------------------------------
def read_journal(path: Path) -> dict:
    db = sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        prefix = db.execute("SELECT value FROM meta WHERE key='prefix'").fetchone()[0]
        intents = [dict(r) for r in db.execute('SELECT * FROM intents ORDER BY id')]
        for it in intents:
            it['args'] = json.loads(it['args'])
        groups = {r['key']: dict(state=r['state'], **json.loads(r['data']))
                  for r in db.execute('SELECT key, state, data FROM groups ORDER BY rowid')}
        fills = {r['trade_id']: dict(r) for r in db.execute('SELECT * FROM fills')}
    finally:
        db.close()
    return {'prefix': prefix, 'intents': intents, 'groups': groups, 'fills': fills}


# invariants ---------------------------------------------------------------------------------------
LIST_KIND = {'create_oco_order': 'oco', 'create_oto_order': 'oto', 'create_otoco_order': 'otoco'}
LEG_TO_VENUE = {'open': {'open', 'triggered'}, 'inactive': {'pending'}, 'filled': {'filled'},
                'canceled': {'canceled', 'expired'}, 'rejected': {'rejected'}}
UNPROTECTED = re.compile(r'UNPROTECTED POSITION: group (\S+) ')
INVARIANTS = ('a', 'b', 'c', 'd')


def _close(x, y, rel=1e-9):
    return abs(x - y) <= rel * max(1.0, abs(x), abs(y))


def reported_unprotected(events) -> set[str]:
    keys = set()
    for ev in events:
        m = UNPROTECTED.search(ev.get('msg', '')) if ev.get('event') in ('log', 'store') else None
        if m:
            keys.add(m.group(1))
    return keys


def check(journal: dict, venue: dict, plan: list[dict], events: list[dict]) -> list[tuple[str, str]]:
    """The invariants a-d (module docstring) now. Answers [(invariant, what is wrong)]."""
    bad = []
    prefix = f"bp{journal['prefix']}x"
    orders, lists, vfills = venue['orders'], venue['lists'], venue['fills']
    intents = {it['client_oid']: it for it in journal['intents']}
    groups = journal['groups']

    # a. one venue object per create intent, and no other ----------------------------------------------
    units = defaultdict(lambda: {'orders': set(), 'lists': set()})
    for o in orders.values():
        cid = o['client_id']
        if cid and cid.startswith(prefix):
            base = cid.split('-', 1)[0]
            units[base]['lists' if o['list_id'] else 'orders'].add(o['list_id'] or o['id'])
        elif cid:
            bad.append(('a', f"venue order {o['id']} has a client id {cid!r} of no journal"))
    for lst in lists.values():
        if lst['client_id'] and lst['client_id'].startswith(prefix):
            units[lst['client_id']]['lists'].add(lst['id'])
    ours = set()
    for cid, u in units.items():
        ours |= u['orders']
        for lid in u['lists']:
            ours |= set(lists[lid]['order_ids'])
        objs = sorted(u['orders']) + sorted(u['lists'])
        if len(objs) != 1:
            bad.append(('a', f'client id {cid}: {len(objs)} venue objects {objs} (duplicate)'))
        it = intents.get(cid)
        if it is None:
            bad.append(('a', f'venue holds {objs} under client id {cid}, which no journal intent has'))
            continue
        if not it['method'].startswith('create_'):
            bad.append(('a', f'client id {cid} is a {it["method"]} intent but names venue objects {objs}'))
            continue
        if it['state'] != 'done':
            bad.append(('a', f'intent {cid} ({it["method"]}, group {it["group_key"]}) is {it["state"]!r} '
                             f'but the venue has it: {objs}'))
        if it['method'] == 'create_order':
            if not u['orders'] or u['lists']:
                bad.append(('a', f'intent {cid} create_order: venue has lists {sorted(u["lists"])}'))
        else:
            kinds = {lists[lid]['kind'] for lid in u['lists']}
            if u['orders'] or kinds != {LIST_KIND[it['method']]}:
                bad.append(('a', f'intent {cid} {it["method"]}: venue has orders {sorted(u["orders"])}, '
                                 f'lists of kinds {sorted(kinds)}'))
        if it['state'] == 'done' and len(objs) == 1 and it['exchange_id'] != objs[0]:
            bad.append(('a', f'intent {cid}: exchange id {it["exchange_id"]} but the venue object is {objs[0]}'))
    for oid, o in orders.items():
        if oid not in ours:
            bad.append(('a', f"venue order {oid} ({o['type']} {o['side']}, {o['status']}) traces to no intent"))
    for lid in lists:
        if not any(lid in u['lists'] for u in units.values()):
            bad.append(('a', f'venue list {lid} traces to no intent'))
    steps = Counter()
    for it in journal['intents']:
        if not it['method'].startswith('create_'):
            continue
        if it['state'] in ('intent', 'sent', 'unknown'):
            bad.append(('a', f"create {it['client_oid']} ({it['method']}, group {it['group_key']}, step "
                             f"{it['step']}) left {it['state']!r}: owed to the venue after the restart"))
        if it['state'] == 'done' and it['client_oid'] not in units:
            bad.append(('a', f"intent {it['client_oid']} is done but the venue has nothing under that id"))
        if it['state'] != 'failed':
            steps[(it['group_key'], it['step'])] += 1
    for (key, step), n in steps.items():
        if n > 1:
            bad.append(('a', f'group {key}: {n} creates for step {step!r} (duplicate)'))
    expected = group_items(plan)
    for key, g in groups.items():
        item = expected.get(key)
        if item is None:
            bad.append(('a', f'group {key} is not in the plan (placed twice?)'))
            continue
        prices = sorted(round(p, 9) for leg in g['spec']['legs'] for p in (leg.get('price'), leg.get('trigger')) if p)
        want = sorted(round(item[k], 9) for k in ('entry', 'stop', 'tp', 'limit') if k in item)
        if prices != want:
            bad.append(('a', f'group {key}: prices {prices}, plan item {want}'))

    # b. fills ----------------------------------------------------------------------------------------
    jfills = journal['fills']
    mine = {fid: f for fid, f in vfills.items() if f['order_id'] in ours}
    for fid, f in vfills.items():
        if fid not in mine:
            bad.append(('b', f"venue fill {fid} of order {f['order_id']} is not of our orders"))
    for fid in sorted(set(mine) - set(jfills)):
        bad.append(('b', f"venue fill {fid} ({mine[fid]['side']} {mine[fid]['amount']} of order "
                         f"{mine[fid]['order_id']}) is not in the journal (lost)"))
    for fid in sorted(set(jfills) - set(mine)):
        bad.append(('b', f'journal fill {fid} is not a venue fill of our orders'))
    for fid in sorted(set(jfills) & set(mine)):
        j, v = jfills[fid], mine[fid]
        if j['order_id'] != v['order_id'] or not _close(j['amount'], v['amount']) or not _close(j['price'], v['price']):
            bad.append(('b', f'fill {fid}: journal {j} vs venue {v}'))
    for key, g in groups.items():
        for role, leg in g['legs'].items():
            o = orders.get(leg['order_id']) if leg['order_id'] else None
            venue_filled = o['filled'] if o else 0.0
            if not _close(leg['filled'], venue_filled, 1e-7):
                bad.append(('b', f"group {key} {role}: journal filled {leg['filled']}, venue order "
                                 f"{leg['order_id']} filled {venue_filled}"))

    # c. no position without live exits ------------------------------------------------------------------
    reported = reported_unprotected(events)
    for key, g in groups.items():
        legs = g['legs']
        if 'entry' not in legs or legs['entry']['filled'] <= 0 or legs['entry']['status'] in ('open', 'inactive'):
            continue    # no position yet, or the entry still fills: its exits wait for it (by design)
        exits = [r for r in ('take_profit', 'stop_loss') if r in legs]
        # what the account got from the entry (less a fee charged in the base) and the exits did not
        # sell; below one lot it is the dust such a fee leaves, which no order can trade
        entry_fills = [f for f in vfills.values() if f['order_id'] == legs['entry']['order_id']]
        lot = entry_fills[0]['lot'] if entry_fills else EPS
        held = legs['entry']['filled'] - sum(f['fee_base'] for f in entry_fills) - sum(legs[r]['filled'] for r in exits)
        if held < max(lot, EPS) * (1 - 1e-9):
            continue
        live = [r for r in exits if legs[r]['order_id'] and legs[r]['order_id'] in orders
                and orders[legs[r]['order_id']]['status'] in ('open', 'triggered')]
        watched = g.get('watch') and legs[g['watch']]['status'] == 'waiting' and g['state'] != 'done'
        if not live and not watched and key not in reported:
            bad.append(('c', f"group {key} holds {held} from its entry with no exit live on the venue "
                             f"({ {r: (legs[r]['status'], legs[r]['order_id']) for r in exits} }), "
                             f"none watched, and not reported unprotected"))

    # d. statuses ----------------------------------------------------------------------------------------
    tracked = {}
    for key, g in groups.items():
        legs = g['legs']
        for role, leg in legs.items():
            oid = leg['order_id']
            if oid:
                tracked[oid] = (key, role)
                o = orders.get(oid)
                if o is None:
                    bad.append(('d', f'group {key} {role}: order {oid} is not on the venue'))
                    continue
                if o['status'] not in LEG_TO_VENUE.get(leg['status'], ()):
                    bad.append(('d', f"group {key} {role}: journal {leg['status']!r}, venue order {oid} "
                                     f"{o['status']!r}"))
                if leg['list_id'] != o['list_id']:
                    bad.append(('d', f"group {key} {role}: journal list {leg['list_id']}, venue {o['list_id']}"))
            elif leg['status'] not in ('waiting', 'canceled', 'rejected'):
                bad.append(('d', f"group {key} {role}: {leg['status']!r} with no order id"))
        done = all(leg['status'] in ('filled', 'canceled', 'rejected') for leg in legs.values())
        if (g['state'] == 'done') != done:
            bad.append(('d', f"group {key}: row state {g['state']!r}, legs {[leg['status'] for leg in legs.values()]}"))
    for cid, u in units.items():
        it = intents.get(cid)
        if it is None or not it['method'].startswith('create_'):
            continue
        legs_of = set(u['orders'])
        for lid in u['lists']:
            legs_of |= set(lists[lid]['order_ids'])
        for oid in legs_of:
            o = orders[oid]
            role = o['role'] if o['list_id'] else it['args']['roles'][0]
            if tracked.get(oid) != (it['group_key'], role):
                bad.append(('d', f"venue order {oid} ({o['status']}) of intent {cid} (group {it['group_key']} "
                                 f"{role}) is not that leg's order in the journal (journal: {tracked.get(oid)})"))
    return bad


def outcome(journal: dict) -> dict:
    """Per group and leg: status, filled amount and the quote value of its fills (so a fill at
    another bar's price is a different outcome)."""
    return {key: {r: (leg['status'], round(leg['filled'], 9), round(leg['cost'], 12)) for r, leg in g['legs'].items()}
            for key, g in journal['groups'].items()}


def compare_outcomes(got: dict, want: dict) -> list[tuple[str, str]]:
    if got == want:
        return []
    diffs = [f'{k}: {got.get(k)} (uninterrupted run: {want.get(k)})' for k in sorted(set(got) | set(want))
             if got.get(k) != want.get(k)]
    return [('e', 'outcome differs from the uninterrupted run: ' + '; '.join(diffs))]


# campaign -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Counts:
    runs: int = 0                # child processes started
    kill_points: int = 0         # commit boundaries tried (BRACKET_PLUGIN_KILL_AT_COMMIT=k)
    random_kills: int = 0        # SIGKILLs sent by the parent at a random moment
    killed: int = 0              # runs that died by SIGKILL (either way)
    restarts: int = 0            # runs started on a journal a killed run left
    venue_restarts: int = 0      # venue restarted from its state file between runs
    checkpoints: int = 0         # moments the invariants were checked
    checks_passed: int = 0       # invariant evaluations (a-d, and e at the end) that held
    checks_failed: int = 0
    seconds: float = 0.0

    def add(self, other: Counts):
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self) -> str:
        return ' '.join(f'{f.name}={getattr(self, f.name):.1f}' if f.name == 'seconds'
                        else f'{f.name}={getattr(self, f.name)}' for f in dataclasses.fields(self))


@dataclasses.dataclass
class Failure:
    config: str
    scenario: str
    checkpoint: str
    invariant: str
    detail: str

    def __str__(self):
        return f'[{self.config} {self.scenario} @ {self.checkpoint}] ({self.invariant}) {self.detail}'


class Campaign:
    """Scenarios for one config (dialect, managed or not) on one plan."""

    def __init__(self, config: str, runner, root: Path | None = None, data_path: Path | None = None,
                 end: int = END, plan: list[dict] | None = None, child_args: tuple = (), start: int = START,
                 volume_fraction: str | None = None):
        self.config = config
        self.exchange_id, self.managed = CONFIGS[config]
        self.runner = runner
        self._tmp = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f'crash-{config}-')
            root = Path(self._tmp.name)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_path = data_path or bars_csv(self.root, end)
        self.plan = plan if plan is not None else make_plan(self.data_path)
        self.plan_path = self.root / 'plan.json'
        self.plan_path.write_text(json.dumps(self.plan))
        self.child_args = tuple(child_args)
        self.venue_kwargs = dict(start=start, volume_fraction=volume_fraction)
        self.counts = Counts()
        self.failures: list[Failure] = []
        self.baseline = None
        self._n = 0
        self._recovery_commits = {}     # commit k -> commits the restart after it made in its reconcile
        self.last_jobs = []

    def close(self):
        if self._tmp is not None:
            self._tmp.cleanup()

    # one run of the child ---------------------------------------------------------------------------
    def _start(self, box, journal, pause=None, kill_at: int | None = None, extra=()):
        self._n += 1
        env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
        if kill_at is not None:
            env[KILL_ENV] = str(kill_at)
        argv = ['--url', box.venue.url, '--exchange', self.exchange_id, '--config', json.dumps(box.config()),
                '--journal', str(journal), '--plan', str(self.plan_path), *self.child_args, *extra]
        if self.managed:
            argv.append('--managed')
        if pause is not None:
            argv += ['--pause-file', str(pause)]
        out, err = self.root / f'run{self._n}.out', self.root / f'run{self._n}.err'
        self.counts.runs += 1
        job = self.runner.start(argv, env, out, err)
        box.target = job
        return job

    def _checkpoint(self, scenario, label, box, journal, events, final=False) -> list[Failure]:
        j = read_journal(journal)
        got = check(j, box.snapshot(), self.plan, events)
        names = list(INVARIANTS)
        if final and self.baseline is not None:
            got += compare_outcomes(outcome(j), self.baseline['outcome'])
            names.append('e')
        self.counts.checkpoints += 1
        failed = {inv for inv, _ in got}
        self.counts.checks_failed += len(failed)
        self.counts.checks_passed += len(names) - len(failed)
        out = [Failure(self.config, scenario, label, inv, detail) for inv, detail in got]
        self.failures += out
        return out

    # the uninterrupted run --------------------------------------------------------------------------
    def run_once(self, name: str = 'once', extra=()):
        """One run to the end on a fresh venue and journal; answers (venue box, still open: close
        it, journal path, the run's events, the venue's change count)."""
        d = self.root / name
        d.mkdir(exist_ok=True)
        box = VenueBox(self.data_path, self.exchange_id, d / 'venue.json', **self.venue_kwargs)
        try:
            seen = box.watch_changes()
            t0 = time.monotonic()
            job = self._start(box, d / 'journal.sqlite', extra=extra)
            rc = job.wait(RUN_TIMEOUT)
            seen['seconds'] = time.monotonic() - t0      # the run itself (process start included)
            events = job.events()
            if rc != 0 or not any(e['event'] == 'done' for e in events):
                raise RuntimeError(f'run failed (rc {rc}):\n{job.stderr()[-3000:]}')
        except BaseException:
            box.close()
            raise
        return box, d / 'journal.sqlite', events, seen

    def run_baseline(self) -> dict:
        t0 = time.monotonic()
        box, journal, events, seen = self.run_once('baseline')
        try:
            seconds = seen['seconds']
            self._checkpoint('baseline', 'end', box, journal, events)
            j = read_journal(journal)
            done = [e for e in events if e['event'] == 'done'][-1]
            self.baseline = {'commits': done['commits'], 'changes': seen['changes'], 'ops': seen['ops'],
                             'outcome': outcome(j),
                             'seconds': seconds, 'events': events, 'journal': j, 'venue': box.snapshot()}
        finally:
            box.close()
            self.counts.seconds += time.monotonic() - t0
        return self.baseline

    # a scenario: kills, then a run to the end ---------------------------------------------------------
    def scenario(self, name: str, kills: list[dict], venue_modes: list[str]) -> list[Failure]:
        """kills, one per killed run, in order: {'commit': k} (the run kills itself right after its
        k-th journal commit), {'venue': n} (killed by the venue right after its n-th accepted change
        of that run, before the answer), {'after': s, 'from': 'start'|'go'} (SIGKILL from here, s
        seconds after the run started, or after it was let go past its reconcile).
        venue_modes[i]: what happens to the venue after killed run i (VenueBox.restart).
        Then a last run goes to the end. Every run after the first is a restart: the invariants are
        checked once it has reconciled (it waits), and at the very end."""
        t_all = time.monotonic()
        d = self.root / name
        n = 1
        while d.exists():             # a fresh journal and venue for every scenario
            n += 1
            d = self.root / f'{name}.{n}'
        d.mkdir(parents=True)
        journal = d / 'journal.sqlite'
        box = VenueBox(self.data_path, self.exchange_id, d / 'venue.json', **self.venue_kwargs)
        found, jobs = [], []
        self.last_jobs = jobs

        def fail(label, inv, detail):
            found.append(Failure(self.config, name, label, inv, detail))
            self.failures.append(found[-1])

        try:
            for i, kill in enumerate(kills + [None]):
                kill = kill or {}
                restart = i > 0
                pause = d / f'go{i}' if restart and kill.get('from') != 'start' else None
                box.watch_changes(kill.get('venue'))
                job = self._start(box, journal, pause, kill.get('commit'))
                jobs.append(job)
                self.counts.restarts += restart
                self.counts.kill_points += 'commit' in kill or 'venue' in kill
                t0 = time.monotonic()
                if pause is not None:
                    if job.wait_event('reconciled', RUN_TIMEOUT) is not None:
                        found += self._checkpoint(name, f'run {i} (restart) reconciled', box, journal, job.events())
                        pause.touch()
                        t0 = time.monotonic()
                sent = False
                if 'after' in kill:
                    deadline = t0 + kill['after']
                    while time.monotonic() < deadline and job.poll() is None:
                        time.sleep(0.002)
                    sent = job.poll() is None and job.kill()
                rc = job.wait(RUN_TIMEOUT)
                if rc == -signal.SIGKILL:
                    self.counts.killed += 1
                    self.counts.random_kills += sent
                elif rc != 0:
                    fail(f'run {i}', 'run', f'child exited {rc}:\n{job.stderr()[-3000:]}')
                    return found
                elif kill and 'after' not in kill:
                    fail(f'run {i}', 'run', f'kill {kill} never happened (the run ended first)')
                if not kill:
                    found += self._checkpoint(name, f'run {i} end', box, journal, job.events(), final=True)
                else:
                    mode = venue_modes[i] if i < len(venue_modes) else 'keep'
                    self.counts.venue_restarts += mode != 'keep'
                    box.restart(mode)
            for job in jobs:
                for e in job.events():
                    if e['event'] == 'error' or e.get('late'):
                        fail('child', 'run', f'child said {e}')
        finally:
            for job in jobs:          # never leave a run behind (e.g. one waiting past a failed check)
                if job.poll() is None and job.kill():
                    with contextlib.suppress(Exception):
                        job.wait(10)
            box.close()
            self.counts.seconds += time.monotonic() - t_all
        return found

    # campaigns ---------------------------------------------------------------------------------------
    MODES = ('keep', 'restart', 'crash')

    def every_commit(self, ks=None) -> list[Failure]:
        """Kill at journal commit k, for every k of the uninterrupted run (or those in `ks`), then
        resume. The venue between the two runs: kept, restarted from its state file, or crashed,
        in turn."""
        if self.baseline is None:
            self.run_baseline()
        found = []
        for k in ks or range(1, self.baseline['commits'] + 1):
            found += self.scenario(f'commit{k}', [{'commit': k}], [self.MODES[k % 3]])
            self._recovery_commits[k] = self._reconciled_commits()
        return found

    def _reconciled_commits(self) -> int:
        """Commits the last scenario's first restart made before it had reconciled."""
        return next((e['commits'] for job in self.last_jobs[1:2] for e in job.events()
                     if e['event'] == 'reconciled'), 0)

    def every_venue_change(self, ns=None) -> list[Failure]:
        """Kill at the venue's n-th accepted change (the request done, its answer not sent), for
        every change of the uninterrupted run, then resume."""
        if self.baseline is None:
            self.run_baseline()
        found = []
        for n in ns or range(1, self.baseline['changes'] + 1):
            found += self.scenario(f'venue{n}', [{'venue': n}], [self.MODES[n % 3]])
        return found

    def every_recovery_commit(self, ks=None, limit: int = 50) -> list[Failure]:
        """Double crash: kill at commit k, then kill the restart at each commit j it makes before it
        has reconciled (its recovery), then resume. At most `limit` commits j per k."""
        if self.baseline is None:
            self.run_baseline()
        found = []
        for k in ks or range(1, self.baseline['commits'] + 1):
            if k not in self._recovery_commits:
                found += self.scenario(f'commit{k}', [{'commit': k}], ['keep'])
                self._recovery_commits[k] = self._reconciled_commits()
            for j in range(1, min(self._recovery_commits[k], limit) + 1):
                found += self.scenario(f'commit{k}-recovery{j}', [{'commit': k}, {'commit': j, 'from': 'start'}],
                                       [self.MODES[(k + j) % 3], 'keep'])
        return found

    def random_kills(self, n: int, seed: int) -> list[Failure]:
        """n scenarios of one to three SIGKILLs at random moments (seeded): the first in the first
        run, the others in the restarts, from their start (so in start-up or reconcile) or after
        their reconcile."""
        if self.baseline is None:
            self.run_baseline()
        rng = random.Random(f'{self.config}:{seed}')
        span = self.baseline['seconds']
        for i in range(2):   # the fastest of three runs: a baseline slowed by a busy machine puts kills past the end
            box, _, _, seen = self.run_once(f'timing{seed}-{i}')
            box.close()
            span = min(span, seen['seconds'])
        found = []
        for s in range(n):
            kills = [{'after': rng.uniform(0.05, 0.95) * span, 'from': 'start'}]
            while len(kills) < 3 and rng.random() < 0.35:
                kills.append({'after': rng.uniform(0.0, 0.6) * span, 'from': rng.choice(('start', 'go'))})
            modes = [rng.choice(('keep', 'keep', 'restart', 'crash')) for _ in kills]
            found += self.scenario(f'random{seed}-{s}', kills, modes)
        return found


def report(campaigns) -> str:
    total = Counts()
    lines = []
    for c in campaigns:
        total.add(c.counts)
        commits = c.baseline['commits'] if c.baseline else '?'
        lines.append(f'{c.config:18s} commits/run={commits} {c.counts.line()}')
    lines.append(f'{"total":18s} {total.line()}')
    return '\n'.join(lines)
