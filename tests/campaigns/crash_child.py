#!/usr/bin/env python
"""The trading process of the crash campaign: a backtrader strategy on BracketBroker against a
venue simulator served by another process (the campaign's parent), resumable on its journal.

    python crash_child.py --url URL --exchange kucoin --config JSON --journal PATH --plan PLAN.json
                          [--managed] [--pause-file PATH] [--max-bars N] [--backfill N]

- The exchange is a bracket_plugin exchange built from `--config` (the parent's
  `Venue.ccxt_config(exchange_id)`); `--managed` switches native list orders off
  (`{'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}`).
- A BracketStore on `--journal`: its construction reconciles (re-attaches what an earlier,
  killed, process left). Then the process prints `{"event": "reconciled", ...}`; with
  `--pause-file` it waits (bounded) until that file exists, so the parent can compare journal and
  venue right after the restart while nothing moves.
- A BracketFeed starting at the venue's last closed bar (`GET /sim/status`), whose `advance` steps
  the venue with `POST /sim/step`. The run ends when the venue has no bars left (or after
  `--max-bars` steps). A restarted run therefore sees the last bar the killed one may or may not
  have processed once more, as a live feed with a backfill of one bar would; `--backfill N` delivers
  N bars of history first (as `bracket-plugin live` does, with 300).
- The strategy (`Campaign`) follows a plan (JSON list): items `bracket` (buy_bracket with a limit
  entry), `oco` (a sell Limit and a sell Stop linked with `oco=`) and `cancel` (cancel the group of
  an earlier item), each at a bar timestamp. Group-creating items get the journal's group keys
  g1, g2, ... in plan order, so a restarted strategy knows what it already placed: an item is
  placed once its bar has come and its group is not in the journal; a cancel is sent once its bar
  has come and the group is not canceled (or done) yet. A group placed by an earlier process is
  canceled through `store.cancel(key)`, since the new strategy has no Order objects for it.

Output: one JSON object per line on stdout (flushed at once, so a killed process leaves what it
printed): `reconciled`, `placed`, `cancel`, `log` (warnings and errors of the store, e.g.
`UNPROTECTED POSITION`), `store` (notify_store) and `done` (with `journal.commits`).

`--serve`: a fork server for the parent. It imports everything once, then reads one job per line
on stdin (`{"argv": [...], "env": {...}, "stdout": PATH, "stderr": PATH}`), forks a process per
job (which runs `main(argv)` with that environment and output), answers `{"pid": N}` and, when it
ends, `{"exit": STATUS}` (negative: killed by that signal). The forked process is a separate
process like any other: the parent kills it with SIGKILL by its pid, and the kernel releases its
journal lock and sockets. The only difference from a fresh interpreter is that imports are done.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.request

SYMBOL = 'ETH/BTC'
TF_MS = 300_000
NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}
PAUSE_LIMIT_S = 120.0


def emit(event: str, **data):
    sys.stdout.write(json.dumps(dict(data, event=event)) + '\n')
    sys.stdout.flush()


class EmitLog(logging.Handler):
    """Store warnings and errors as `log` events (UNPROTECTED POSITION among them)."""

    def emit(self, record):
        try:
            emit('log', level=record.levelname, msg=record.getMessage())
        except Exception:   # pragma: no cover - never let logging kill the run
            pass


def http_json(url: str, method: str = 'GET'):
    req = urllib.request.Request(url, data=b'' if method == 'POST' else None, method=method)
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def bar_ms(data) -> int:
    import datetime as dt
    d = data.datetime.datetime(0).replace(tzinfo=dt.UTC)
    return int(round(d.timestamp() * 1000))


def group_keys(plan):
    """Plan item index -> journal group key (items that create a group: g1, g2, ... in order)."""
    keys, n = {}, 0
    for i, item in enumerate(plan):
        if item['kind'] in ('bracket', 'oco'):
            n += 1
            keys[i] = f'g{n}'
    return keys


def make_strategy():
    import backtrader as bt

    class Campaign(bt.Strategy):
        params = (('plan', None), ('store', None))

        def __init__(self):
            self.keys = group_keys(self.p.plan)
            self.mine = {}          # group key -> the Order objects this process created
            self.canceled = set()

        def notify_store(self, msg, *args, **kwargs):
            emit('store', msg=str(msg))

        def next(self):
            ts = bar_ms(self.data)
            store = self.p.store
            for i, item in enumerate(self.p.plan):
                if item['ts'] > ts:
                    continue
                if item['kind'] == 'cancel':
                    self._cancel(self.keys[item['target']], ts, item)
                    continue
                key = self.keys[i]
                if key in self.mine or store.journal.group(key) is not None:
                    continue            # placed already (by this process, or by one before it)
                before = [k for j, k in self.keys.items() if j < i]
                if any(k not in self.mine and store.journal.group(k) is None for k in before):
                    emit('error', msg=f'plan item {i} comes before an earlier one was placed')
                    continue
                self.mine[key] = self._place(item)
                emit('placed', key=key, item=i, ts=ts, late=ts != item['ts'])

        def _place(self, item):
            size = item.get('size', 1.0)
            if item['kind'] == 'bracket':
                return list(self.buy_bracket(size=size, exectype=bt.Order.Limit, price=item['entry'],
                                             stopprice=item['stop'], limitprice=item['tp']))
            stop = self.sell(size=size, exectype=bt.Order.Stop, price=item['stop'])
            limit = self.sell(size=size, exectype=bt.Order.Limit, price=item['limit'], oco=stop)
            return [stop, limit]

        def _cancel(self, key, ts, item):
            if key in self.canceled:
                return
            group = self.p.store.groups.get(key)
            if group is None:
                if self.p.store.journal.group(key) is not None:
                    self.canceled.add(key)   # done before this process started (not re-attached)
                elif key not in self.mine:
                    emit('error', msg=f'cancel of {key}: no such group')
                return              # else placed in this next(): it is sent before the next bar
            if group.cancel_requested or group.done:
                self.canceled.add(key)
                return
            self.canceled.add(key)
            if key in self.mine:
                self.cancel(self.mine[key][0])   # through the broker, as a strategy does
                via = 'broker'
            else:
                self.p.store.cancel(key)         # re-attached group: no Order objects in this process
                via = 'store'
            emit('cancel', key=key, ts=ts, via=via, late=ts != item['ts'])

    return Campaign


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--url', required=True, help='venue base URL (control endpoints /sim/step, /sim/status)')
    from bracket_plugin import venues
    p.add_argument('--exchange', required=True, choices=venues.ids())
    p.add_argument('--config', required=True, help='ccxt config as JSON (Venue.ccxt_config)')
    p.add_argument('--journal', required=True)
    p.add_argument('--plan', required=True, help='plan file (JSON list of items)')
    p.add_argument('--managed', action='store_true', help='no native list orders: the store manages the legs')
    p.add_argument('--pause-file', default=None, help='after reconcile, wait until this file exists')
    p.add_argument('--max-bars', type=int, default=10_000, help='bound on the bars stepped in this run')
    p.add_argument('--reconcile-every', type=int, default=4)
    p.add_argument('--backfill', type=int, default=0,
                   help='deliver this many closed bars (ending with the last one) as history first, as `live` does')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger('bracket_plugin.backtrader').addHandler(EmitLog(logging.WARNING))

    import backtrader as bt

    import bracket_plugin
    from bracket_plugin.backtrader import BracketStore

    with open(args.plan) as f:
        plan = json.load(f)
    config = dict(json.loads(args.config), enableRateLimit=False, timeout=10_000)
    if args.managed:
        config.update(NO_LISTS)        # ccxt deep-extends `has`
    exchange = bracket_plugin.exchange(args.exchange, config)
    store = BracketStore(exchange, journal=args.journal, poll_interval=0, retry_delay=0.01,
                         reconcile_every=args.reconcile_every)
    emit('reconciled', commits=store.journal.commits, prefix=store.journal.prefix, pid=os.getpid(),
         groups=sorted(store.groups))
    if args.pause_file:
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while not os.path.exists(args.pause_file):
            if time.monotonic() > deadline:
                emit('error', msg='pause: the parent never said go')
                return 3
            time.sleep(0.005)

    url = args.url.rstrip('/')
    since = http_json(url + '/sim/status')['now'] - TF_MS    # the venue's last closed bar
    since -= max(args.backfill - 1, 0) * TF_MS
    stepped = [0]

    def advance():
        if stepped[0] >= args.max_bars:
            return False
        stepped[0] += 1
        return http_json(url + '/sim/step', 'POST')['stepped'] > 0

    cerebro = bt.Cerebro(stdstats=False)
    data = store.getdata(SYMBOL, timeframe=bt.TimeFrame.Minutes, compression=TF_MS // 60_000,
                         advance=advance, since=since, backfill=args.backfill, name=SYMBOL)
    cerebro.adddata(data)
    cerebro.addstore(store)
    cerebro.setbroker(store.getbroker(cash=1.0))
    cerebro.addstrategy(make_strategy(), plan=plan, store=store)
    cerebro.run()
    emit('done', commits=store.journal.commits, steps=stepped[0], requests=store.requests)
    store.journal.close()
    return 0


# fork server --------------------------------------------------------------------------------------
def _run_forked(job) -> int:
    os.environ.clear()
    os.environ.update(job['env'])
    for fd, path in ((1, job['stdout']), (2, job['stderr'])):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
        os.close(out)
    sys.stdin.close()
    try:
        return main(job['argv'])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
        return 1


def serve() -> int:
    """One job at a time: read a job, fork, answer the pid, wait (bounded by the parent, which
    kills the job when it wants), answer the exit status. EOF on stdin ends the server."""
    import backtrader  # noqa: F401  (imports done once, before any fork)
    import ccxt  # noqa: F401

    import bracket_plugin  # noqa: F401
    from bracket_plugin.backtrader import BracketStore  # noqa: F401
    from bracket_plugin.exchanges import cryptocom, kucoin  # noqa: F401

    def answer(**data):
        sys.stdout.write(json.dumps(data) + '\n')
        sys.stdout.flush()

    answer(ready=os.getpid())
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _run_forked(job)
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code if isinstance(code, int) else 1)
        answer(pid=pid)
        _, status = os.waitpid(pid, 0)
        answer(exit=-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    return 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--serve']:
        sys.exit(serve())
    sys.exit(main(sys.argv[1:]))
