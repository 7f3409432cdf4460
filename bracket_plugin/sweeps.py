"""Parameter sweeps: one strategy over a grid of parameters and one or more bar files, each
combination a backtest (BackBroker, or the venue backtest of `venue`), run on Dask distributed.

    import bracket_plugin
    df = bracket_plugin.sweep('my_strategy.py', {'take_profit': '0.005:0.03:0.005',
                                                  'stop_loss': [0.004, 0.008]}, data=['a.csv', 'b.csv'])

- Where: a local cluster of worker processes (one per core) by default; `scheduler='tcp://host:8786'`
  uses a running cluster (`dask scheduler` / `dask worker`, SSH, Kubernetes, a batch system);
  `workers=0` runs in this process, without Dask.
- The strategy file's source and each bar file go to the workers once (scattered), not once per
  task; a worker writes each to a local file once. A worker that dies has its tasks run again
  elsewhere (Dask's own rescheduling).
- Resumable: each finished combination is kept in `cache` (one JSON file named by the digests of
  the strategy file and the data, the parameters, the venue, symbol, cash, commission and the
  package's version). A sweep run again takes those and computes the rest; `df.attrs['computed']`
  says how many it computed.
- Deterministic: each combination is its own backtest; rows come in grid order (data file, then
  the parameters, the first varying slowest), whatever the workers and the order they finish in.
- A combination that raises (or whose task killed workers again and again) gets its error in the
  `error` column and no figures; the sweep goes on, and the next run tries it again.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from .grid import combination_key, combinations, digest, parse_values

METRICS = ('trades', 'win_rate', 'net_pnl', 'fees', 'max_drawdown', 'value')
DEFAULT_CACHE = Path('runs') / 'sweep-cache'
_LOCAL: dict[str, str] = {}     # in a worker: digest -> the local file holding those bytes


# --- one combination (runs on a worker) ----------------------------------------------------------
def _local_file(data: bytes, suffix: str) -> str:
    """A file holding `data` in this process's temporary folder, written once per digest."""
    key = digest(data)
    path = _LOCAL.get(key)
    if path is None or not os.path.exists(path):
        fd, path = tempfile.mkstemp(prefix=f'sweep-{key[:12]}-', suffix=suffix)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        _LOCAL[key] = path
    return path


def max_drawdown(equity: list) -> float:
    """The largest fall from a peak of the account's value, as a fraction of that peak."""
    peak, worst = None, 0.0
    for _, value in equity:
        peak = value if peak is None or value > peak else peak
        if peak:
            worst = max(worst, (peak - value) / peak)
    return worst


def metrics(result) -> dict:
    """One row's figures from a RunResult: trades, win rate, net PnL, fees, maximum drawdown,
    final value, and the brackets by how they ended (`brackets_<outcome>`)."""
    from .report import summarize

    s = summarize(result)
    row = {'trades': s['trades'], 'win_rate': s['win_rate'], 'net_pnl': s['net_pnl'], 'fees': s['fees'],
           'max_drawdown': max_drawdown(result.equity), 'value': s['value']}
    row.update({f'brackets_{k}': v for k, v in s['brackets'].items()})
    return row


def run_combination(strategy_src: bytes, strategy_name: str, data: bytes, params: dict, run: dict) -> dict:
    """One backtest: the strategy (its file's source) with `params` on the bars (a CSV's bytes)."""
    from .runs import load_strategy, run_backtest

    cls = load_strategy(_local_file(strategy_src, '.py'), strategy_name)
    path = _local_file(data, '.csv')
    if run['venue'] is None:
        result = run_backtest(cls, path, symbol=run['symbol'], cash=run['cash'], params=params,
                              commission=run['commission'])
    else:
        from .backtrader.paper import run_venue_backtest
        result = run_venue_backtest(cls, run['venue'], path, run['symbol'], cash=run['cash'], params=params,
                                    balances=run['balances'])
    return metrics(result)


# --- the sweep (this process) ----------------------------------------------------------------------
def _strategy_source(strategy) -> tuple[bytes, type]:
    """(the strategy file's bytes, the class) of `FILE.py[:Name]` or of a Strategy class: the
    workers load the class from that source, so a class made elsewhere than in a file is refused."""
    import inspect

    from .runs import load_strategy

    if isinstance(strategy, type):
        source = inspect.getsourcefile(strategy)
        if source is None:
            raise ValueError(f'strategy: {strategy.__name__} has no source file; pass FILE.py[:Name]')
        path, cls = Path(source), strategy
    else:
        text, name = str(strategy), ''
        if not Path(text).exists() and ':' in text:
            text, _, name = text.rpartition(':')
        path = Path(text)
        cls = load_strategy(path, name or None)    # its own error on a bad file
    return path.read_bytes(), cls


def _grid(cls: type, params: dict) -> list[dict]:
    """The combinations, values parsed from text where given as text and checked against the
    strategy's parameters (each converted to the type of its default)."""
    from .runs import strategy_params

    name, known = cls.__name__, strategy_params(cls)
    values = {}
    for key, given in params.items():
        if key not in known:
            raise ValueError(f'param {key}: {name} has no parameter {key!r} (it has: {", ".join(known) or "none"})')
        raw = parse_values(key, given) if isinstance(given, str) else list(given)
        default = known[key]
        if isinstance(default, float):
            raw = [float(v) for v in raw]
        elif isinstance(default, int) and not isinstance(default, bool):
            if any(not float(v).is_integer() for v in raw):
                raise ValueError(f'param {key}: expected integers like {default}, got {raw}')
            raw = [int(v) for v in raw]
        values[key] = raw
    return combinations(values)


def _run_settings(path: Path, venue, symbol: str, cash, commission) -> dict:
    """What decides a result besides the strategy, its parameters and the bars: the venue, the
    symbol, the starting cash (default: the simulator's quote balance for the market, as the CLI's
    backtest) and BackBroker's commission (default: the venue's taker fee, else 0.001)."""
    from .bars import read_bars
    from .sim.venue import EXCHANGE_RULES, default_balances

    balances = {k: float(v) for k, v in default_balances({symbol: read_bars(path)}).items()}
    quote = symbol.split('/')[1]
    if cash is not None:
        balances[quote] = float(cash)
    if commission is None:     # BackBroker charges what the venue would; the venue its own fees
        commission = float(EXCHANGE_RULES[venue]['taker_fee']) if venue else 0.001
    return {'venue': venue, 'symbol': symbol, 'cash': balances[quote], 'commission': float(commission),
            'balances': balances if venue else None}


def _version() -> str:
    """The installed package's version: an upgrade computes the cached combinations afresh."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version('bracket-plugin')
    except PackageNotFoundError:
        return 'unknown'


def _cached(cache: Path | None, key: str) -> dict | None:
    if cache is None:
        return None
    try:
        return json.loads((cache / f'{key}.json').read_text())
    except (OSError, ValueError):
        return None     # not there, or torn: computed again


def _keep(cache: Path | None, key: str, row: dict):
    """Write one finished row (atomically: a sweep killed meanwhile leaves no torn file)."""
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f'.{key}.{os.getpid()}.tmp'
    tmp.write_text(json.dumps(row))
    os.replace(tmp, cache / f'{key}.json')


def sweep(strategy, params: dict, data, venue: str | None = None, symbol: str = 'ETH/BTC', cash: float | None = None,
          commission: float | None = None, scheduler: str | None = None, workers: int | None = None, client=None,
          cache: str | Path | None = DEFAULT_CACHE, progress=None) -> pd.DataFrame:
    """Run `strategy` over every combination of `params` ({name: values, or 'START:STOP:STEP' /
    'A,B' text}) on each bar file in `data`; one row per combination and data file. `venue`: a
    venue id for the venue backtest, None (or 'none') for BackBroker. `scheduler`: a Dask
    scheduler address; else `client` (a dask.distributed Client), else a local cluster of
    `workers` processes (default: one per core; 0: in this process). `cache`: the folder of finished
    combinations (None: none). `progress(done, total)` is called as combinations finish."""
    from . import venues

    venue = None if venue in (None, 'none') else venue
    if venue is not None and not venues.known(venue):
        raise ValueError(f'venue: {venue!r} is not a venue (one of: {", ".join(venues.ids())}, or none)')
    src, cls = _strategy_source(strategy)
    name, grid = cls.__name__, _grid(cls, params)
    paths = [Path(p) for p in ([data] if isinstance(data, (str, Path)) else data)]
    cache = Path(cache) if cache is not None else None
    tasks: list[tuple] = []      # (row index, key, data index, params, run)
    blobs = [p.read_bytes() for p in paths]
    for i, (path, blob) in enumerate(zip(paths, blobs)):
        run = _run_settings(path, venue, symbol, cash, commission)
        for combo in grid:
            key = combination_key(digest(src), digest(blob), combo,
                                  {**{k: v for k, v in run.items() if k != 'balances'}, 'package': _version()})
            tasks.append((len(tasks), key, i, combo, run))
    rows: dict[int, dict] = {}
    todo = []
    for index, key, i, combo, run in tasks:
        row = _cached(cache, key)
        if row is not None:
            rows[index] = row
        else:
            todo.append((index, key, i, combo, run))
    done = len(rows)
    if progress is not None:
        progress(done, len(tasks))

    def finished(index, key, row):
        nonlocal done
        if row.get('error') is None:
            _keep(cache, key, row)     # a failed combination is tried again by the next run
        rows[index] = row
        done += 1
        if progress is not None:
            progress(done, len(tasks))

    if todo and workers == 0 and client is None and scheduler is None:
        for index, key, i, combo, run in todo:
            try:
                row = run_combination(src, name, blobs[i], combo, run)
            except Exception as exc:     # noqa: BLE001 - one combination's failure is its row's, not the sweep's
                row = failed(exc)
            finished(index, key, row)
    elif todo:
        _on_dask(src, name, blobs, todo, finished, client, scheduler, workers)
    out = [{'data': paths[i].name, **combo, **rows[index], 'key': key} for index, key, i, combo, run in tasks]
    outcomes = sorted({c for row in out for c in row if c.startswith('brackets_')})
    for row in out:
        row.setdefault('error', None)
        if row['error'] is None:
            row.update({c: row.get(c, 0) for c in outcomes})
    df = pd.DataFrame(out)
    df.attrs.update(computed=len(todo), cached=len(tasks) - len(todo), strategy=name,
                    venue=venue or 'none', params=list(grid[0]) if grid else [])
    return df


def local_cluster(workers: int | None = None):
    """A Dask cluster on this machine: `workers` processes (default: one per core) of one thread
    each (a backtest holds the GIL), listening on 127.0.0.1 only, without the workers' sampling
    profiler (its thread costs a backtest some 4%)."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({'distributed.worker.profile.enabled': False}):
        return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            host='127.0.0.1', dashboard_address=None)


def failed(exc: BaseException) -> dict:
    """The row of a combination that raised: its error, no figures (not cached: tried again)."""
    return {'error': f'{type(exc).__name__}: {exc}'[:500]}


def _on_dask(src: bytes, name: str, blobs: list[bytes], todo: list, finished, client, scheduler, workers):
    from dask.distributed import Client, as_completed

    own = None
    if client is None:
        client = own = Client(scheduler) if scheduler is not None else Client(local_cluster(workers))
    try:
        # what every task needs goes to every worker once (and to a worker that joins later)
        src_f = client.scatter(src, broadcast=True)
        data_f = [client.scatter(b, broadcast=True) for b in blobs]
        futures = {}
        for index, key, i, combo, run in todo:
            f = client.submit(run_combination, src_f, name, data_f[i], combo, run, key=f'sweep-{key}', pure=False)
            futures[f] = (index, key)
        for f in as_completed(futures):
            index, key = futures[f]
            try:
                row = f.result()
            except Exception as exc:     # noqa: BLE001 - the task's error, or KilledWorker after repeated deaths
                row = failed(exc)
            finished(index, key, row)
    finally:
        if own is not None:
            cluster = own.cluster
            own.close()
            if cluster is not None and scheduler is None:
                cluster.close()
