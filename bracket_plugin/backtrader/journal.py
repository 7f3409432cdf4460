"""SQLite journal: every intent is written before it is sent, every outcome after.

Tables
- meta:    key/value; `prefix` is a random tag fixed when the journal is created, so client order
           ids derived from intent ids never collide between two journals on one account.
- intents: one row per request the store owes the venue (a create, or a cancel): client order
           id, group, method, arguments, state (`intent` -> `unknown` -> `done` | `failed`), and
           the exchange id once known. `intent` means "may have been sent": a restart settles it
           by reading the venue before anything is sent again.
- groups:  one row per order group: its spec, plan step and state, as JSON (for restart).
- fills:   every fill applied (trade id is the key, so a fill is never applied twice).
- cursors: per symbol, the timestamp up to which fills have been read.

Every state change is one transaction (`with journal.transaction():`): the store applies an
event to a group, saves the group, records the fill and the intents of the actions it triggers,
and commits, before it sends any of those actions. A journal is held by one process (and one
store) at a time: a lock file next to it, released by the kernel when the holder dies.

Test hook: with BRACKET_PLUGIN_KILL_AT_COMMIT=N in the environment the process kills itself
(SIGKILL) right after its N-th commit, so a crash can be placed at every commit boundary.

Secrets never reach this file: only order data is stored.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_oid TEXT UNIQUE,
    group_key TEXT NOT NULL,
    step TEXT NOT NULL,
    symbol TEXT NOT NULL,
    method TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    exchange_id TEXT,
    error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    key TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY,
    order_id TEXT,
    symbol TEXT,
    side TEXT,
    amount REAL,
    price REAL,
    fee REAL,
    ts INTEGER,
    fee_base REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cursors (symbol TEXT PRIMARY KEY, since INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS intents_by_state ON intents (state);
CREATE INDEX IF NOT EXISTS intents_by_group ON intents (group_key);
"""

INTENT, SENT, UNKNOWN, DONE, FAILED = 'intent', 'sent', 'unknown', 'done', 'failed'
OPEN_STATES = (INTENT, SENT, UNKNOWN)   # `sent`: journals written before intents meant "may be sent"
KILL_AT_COMMIT = 'BRACKET_PLUGIN_KILL_AT_COMMIT'


class JournalInUse(RuntimeError):
    """Another store (in this process or another) holds this journal."""


def _now() -> int:
    return int(time.time() * 1000)


class Journal:
    def __init__(self, path: str = ':memory:'):
        self.path = str(path)
        path = self.path
        self._lock = None
        self._intent_cols: list[str] | None = None
        self._depth = 0
        self.commits = 0
        kill = os.environ.get(KILL_AT_COMMIT)
        self._kill_at = int(kill) if kill else None
        if path != ':memory:':
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._lock = _hold(path + '.lock')
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute('PRAGMA journal_mode=WAL' if path != ':memory:' else 'PRAGMA journal_mode=MEMORY')
        self.db.execute('PRAGMA synchronous=NORMAL')
        self.db.executescript(SCHEMA)
        if 'fee_base' not in {r[1] for r in self.db.execute('PRAGMA table_info(fills)')}:
            # a journal written before fees charged in the base were kept apart: all its fees were quote
            self.db.execute('ALTER TABLE fills ADD COLUMN fee_base REAL NOT NULL DEFAULT 0')
        row = self.db.execute("SELECT value FROM meta WHERE key='prefix'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('prefix', ?)", (secrets.token_hex(4),))
            row = self.db.execute("SELECT value FROM meta WHERE key='prefix'").fetchone()
        self.prefix = row[0]

    def close(self):
        self.db.close()
        if self._lock is not None:
            self._lock.close()   # releases the lock
            self._lock = None

    # transactions ------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """One atomic state change; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute('BEGIN IMMEDIATE')
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.db.execute('ROLLBACK')
            raise
        self._depth = 0
        self.db.execute('COMMIT')
        self._committed()

    def _write(self, sql: str, args=()):
        cur = self.db.execute(sql, args)
        if not self._depth:
            self._committed()   # autocommit: one statement, one commit
        return cur

    def _committed(self):
        self.commits += 1
        if self._kill_at is not None and self.commits >= self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    # intents -----------------------------------------------------------------------------
    def record_intent(self, group_key: str, step: str, symbol: str, method: str, args: dict) -> str:
        """Write the intent and answer its client order id (`bp<prefix>x<intent id>`: at most
        ~24 chars of [A-Za-z0-9], valid on KuCoin (40) and Crypto.com (34 for lists))."""
        now = _now()
        with self.transaction():
            cur = self.db.execute(
                'INSERT INTO intents (group_key, step, symbol, method, args, state, created_ms, updated_ms) '
                'VALUES (?,?,?,?,?,?,?,?)', (group_key, step, symbol, method, json.dumps(args), INTENT, now, now))
            cid = f'bp{self.prefix}x{cur.lastrowid}'
            self.db.execute('UPDATE intents SET client_oid=? WHERE id=?', (cid, cur.lastrowid))
        return cid

    def mark(self, client_oid: str, state: str, exchange_id: str | None = None, error: str | None = None):
        self._write('UPDATE intents SET state=?, exchange_id=COALESCE(?, exchange_id), error=?, updated_ms=? '
                        'WHERE client_oid=?', (state, exchange_id, error, _now(), client_oid))

    def intent(self, client_oid: str) -> dict:
        """The intent recorded under `client_oid` (KeyError if none is)."""
        row = self.db.execute('SELECT * FROM intents WHERE client_oid=?', (client_oid,)).fetchone()
        if row is None:
            raise KeyError(f'no intent under client id {client_oid}')
        return self._intent_row(row)

    def intents(self, states=None, group_key: str | None = None) -> list[dict]:
        q, a = 'SELECT * FROM intents WHERE 1=1', []
        if states:
            q += f' AND state IN ({",".join("?" * len(states))})'
            a += list(states)
        if group_key is not None:
            q += ' AND group_key=?'
            a.append(group_key)
        return [self._intent_row(r) for r in self.db.execute(q + ' ORDER BY id', a).fetchall()]

    def _intent_row(self, row) -> dict:
        if self._intent_cols is None:
            self._intent_cols = [d[0] for d in self.db.execute('SELECT * FROM intents LIMIT 0').description]
        d = dict(zip(self._intent_cols, row))
        d['args'] = json.loads(d['args'])
        return d

    # groups --------------------------------------------------------------------------------
    def save_group(self, key: str, symbol: str, state: str, data: dict):
        self._write('INSERT INTO groups VALUES (?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET '
                        'state=excluded.state, data=excluded.data, updated_ms=excluded.updated_ms',
                        (key, symbol, state, json.dumps(data), _now()))

    def group(self, key: str) -> dict | None:
        row = self.db.execute('SELECT key, symbol, state, data FROM groups WHERE key=?', (key,)).fetchone()
        return {'key': row[0], 'symbol': row[1], 'state': row[2], 'data': json.loads(row[3])} if row else None

    def groups(self, exclude_states=('done',)) -> list[dict]:
        rows = self.db.execute('SELECT key, symbol, state, data FROM groups ORDER BY rowid').fetchall()
        return [{'key': k, 'symbol': s, 'state': st, 'data': json.loads(d)}
                for k, s, st, d in rows if st not in exclude_states]

    def new_group_key(self) -> str:
        n = self.db.execute('SELECT COUNT(*) FROM groups').fetchone()[0]
        return f'g{n + 1}'

    # fills -----------------------------------------------------------------------------------
    def add_fill(self, trade_id: str, order_id: str, symbol: str, side: str, amount: float, price: float,
                 fee: float, ts: int, fee_base: float = 0.0) -> bool:
        """True if the fill is new (and now recorded); False if it was applied before. `fee` is the
        part of the fee charged in the quote, `fee_base` the part charged in the base."""
        cur = self._write('INSERT OR IGNORE INTO fills (trade_id, order_id, symbol, side, amount, price, fee, ts, '
                          'fee_base) VALUES (?,?,?,?,?,?,?,?,?)',
                          (trade_id, order_id, symbol, side, amount, price, fee, ts, fee_base))
        return cur.rowcount == 1

    def fills(self, symbol: str | None = None) -> list[dict]:
        q = 'SELECT trade_id, order_id, symbol, side, amount, price, fee, ts, fee_base FROM fills'
        rows = self.db.execute(q + (' WHERE symbol=?' if symbol else '') + ' ORDER BY ts, rowid',
                               (symbol,) if symbol else ()).fetchall()
        keys = ('trade_id', 'order_id', 'symbol', 'side', 'amount', 'price', 'fee', 'ts', 'fee_base')
        return [dict(zip(keys, r)) for r in rows]

    def net_position(self, symbol: str, order_id: str | None = None) -> float:
        """Net base amount bought minus sold through this journal's orders (or one order), less fees
        paid in the base."""
        where, args = ('symbol=? AND order_id=?', (symbol, order_id)) if order_id else ('symbol=?', (symbol,))
        row = self.db.execute("SELECT COALESCE(SUM(CASE side WHEN 'buy' THEN amount ELSE -amount END - fee_base), 0) "
                              f'FROM fills WHERE {where}', args).fetchone()
        return float(row[0])

    def cursor(self, symbol: str) -> int | None:
        row = self.db.execute('SELECT since FROM cursors WHERE symbol=?', (symbol,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, symbol: str, since: int):
        self._write('INSERT INTO cursors VALUES (?,?) ON CONFLICT(symbol) DO UPDATE SET since=excluded.since',
                    (symbol, since))

    # meta --------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute('SELECT value FROM meta WHERE key=?', (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str):
        self._write('INSERT INTO meta VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value',
                    (key, value))

    def cash_flow(self, symbol: str) -> float:
        """Quote cash this journal's fills moved: sells in, buys out, fees charged in the quote out."""
        row = self.db.execute("SELECT COALESCE(SUM(CASE side WHEN 'buy' THEN -amount * price ELSE amount * price END"
                              ' - fee), 0) FROM fills WHERE symbol=?', (symbol,)).fetchone()
        return float(row[0])


def _hold(lock_path: str):
    """An exclusive lock on `lock_path` for as long as the returned file stays open."""
    f = open(lock_path, 'a+')
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or 'another process'
        f.close()
        raise JournalInUse(f'journal: {lock_path[:-5]} is held by {holder}; one store at a time may use a '
                           'journal (stop the other run, or give this one its own journal)') from None
    f.truncate(0)
    f.write(f'pid {os.getpid()}\n')
    f.flush()
    return f
