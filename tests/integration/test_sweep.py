"""Sweeps on Dask distributed (bracket_plugin.sweeps): a local cluster of two worker processes gives
the serial sweep's rows; a worker killed mid-sweep has its combinations run again; an interrupted
sweep, run again, computes only what is missing; the `sweep` command writes its files."""
from __future__ import annotations

import os
import signal
import threading

import pandas as pd
import pytest

from bracket_plugin.bars import bundled_data_path
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.sweeps import local_cluster, sweep
from test_cli import BREAKOUT, cli

pytestmark = pytest.mark.timeout(300)
GRID = {'lookback': '24:48:24', 'take_profit': [0.01, 0.02], 'stop_loss': '0.006,0.012'}   # 8 combinations


@pytest.fixture(scope='module')
def two_files(tmp_path_factory):
    """Two bar files: the first 700 bundled bars, and the 700 after them."""
    lines = bundled_data_path().read_text().splitlines(keepends=True)
    folder = tmp_path_factory.mktemp('sweep-bars')
    a, b = folder / 'first.csv', folder / 'second.csv'
    a.write_text(''.join(lines[:701]))
    b.write_text(lines[0] + ''.join(lines[701:1401]))
    return [a, b]


@pytest.fixture(scope='module')
def cluster():
    from dask.distributed import Client

    with local_cluster(2) as c, Client(c) as client:
        yield client


@pytest.fixture(scope='module')
def serial(two_files):
    return sweep(BreakoutBracket, GRID, two_files, workers=0, cache=None)


def test_the_grid_gives_one_row_per_combination_and_file_in_grid_order(serial, two_files):
    assert len(serial) == 16 and serial.attrs['computed'] == 16
    assert list(serial['data'][:8]) == ['first.csv'] * 8
    assert list(serial[['lookback', 'take_profit', 'stop_loss']].iloc[1]) == [24, 0.01, 0.012]
    assert serial['trades'].sum() > 0 and serial['net_pnl'].nunique() > 4      # the parameters matter
    assert {'win_rate', 'fees', 'max_drawdown', 'brackets_take_profit', 'brackets_stop_loss'} <= set(serial.columns)


def test_two_workers_give_the_serial_sweep_row_by_row(serial, two_files, cluster):
    distributed = sweep(BreakoutBracket, GRID, two_files, client=cluster, cache=None)
    pd.testing.assert_frame_equal(distributed, serial)


def test_the_venue_backtest_sweeps_too(two_files, cluster):
    grid = {'lookback': [24, 48]}
    venue = sweep(BreakoutBracket, grid, two_files[:1], venue='kucoin', client=cluster, cache=None)
    back = sweep(BreakoutBracket, grid, two_files[:1], venue='none', workers=0, cache=None)
    assert list(venue['trades']) == list(back['trades'])        # same trades, venue rules (fees) apart
    assert venue.attrs['venue'] == 'kucoin' and not venue['key'].equals(back['key'])


def test_a_killed_worker_has_its_combinations_run_again(serial, two_files, tmp_path):
    from dask.distributed import Client

    killed = threading.Event()
    with local_cluster(2) as c, Client(c) as client:
        pids = list(client.run(os.getpid).values())

        def kill_one(done, total):
            if done == 2 and not killed.is_set():
                os.kill(pids[0], signal.SIGKILL)        # mid-sweep, with tasks still on it
                killed.set()
        result = sweep(BreakoutBracket, GRID, two_files, client=client, cache=tmp_path, progress=kill_one)
        survivors = set(client.run(os.getpid).values())
    assert killed.is_set() and pids[0] not in survivors
    pd.testing.assert_frame_equal(result, serial)


def test_an_interrupted_sweep_run_again_computes_only_what_is_missing(serial, two_files, tmp_path, cluster):
    class Stop(Exception):
        pass

    def interrupt(done, total):
        if done == 5:
            raise Stop
    with pytest.raises(Stop):
        sweep(BreakoutBracket, GRID, two_files, workers=0, cache=tmp_path, progress=interrupt)
    assert len(list(tmp_path.glob('*.json'))) == 5
    again = sweep(BreakoutBracket, GRID, two_files, client=cluster, cache=tmp_path)
    assert (again.attrs['computed'], again.attrs['cached']) == (11, 5)
    pd.testing.assert_frame_equal(again, serial)
    assert sweep(BreakoutBracket, GRID, two_files, workers=0, cache=tmp_path).attrs['computed'] == 0


def test_a_bad_parameter_is_refused_before_anything_runs(two_files):
    with pytest.raises(ValueError, match='param lookbak: BreakoutBracket has no parameter'):
        sweep(BreakoutBracket, {'lookbak': [1]}, two_files, workers=0, cache=None)
    with pytest.raises(ValueError, match='param lookback: expected integers'):
        sweep(BreakoutBracket, {'lookback': '10:11:0.5'}, two_files, workers=0, cache=None)
    with pytest.raises(ValueError, match="venue: 'kraken' is not a venue"):
        sweep(BreakoutBracket, {'lookback': [24]}, two_files, venue='kraken', workers=0, cache=None)


def test_the_sweep_command_writes_results_the_best_and_a_heatmap(two_files, tmp_path):
    out = tmp_path / 'out'
    done = cli('sweep', BREAKOUT, '--param', 'lookback=24:48:24', '--param', 'take_profit=0.01,0.02',
               '--data', two_files[0], '--workers', '0', '--cache', tmp_path / 'cache', '--out', out, '--best', '3',
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(out / 'results.parquet')
    assert len(table) == 4 and table.equals(pd.read_csv(out / 'results.csv').astype(table.dtypes))
    assert 'best 3 of 4 by net_pnl' in done.stdout
    assert (out / 'heatmap.png').read_bytes()[:4] == b'\x89PNG'
    again = cli('sweep', BREAKOUT, '--param', 'lookback=24:48:24', '--param', 'take_profit=0.01,0.02',
                '--data', two_files[0], '--workers', '0', '--cache', tmp_path / 'cache', '--out', out, cwd=tmp_path)
    assert '(0 computed, 4 from' in again.stdout
    bad = cli('sweep', BREAKOUT, '--param', 'take_profit=0.03:0.01:0.01', '--workers', '0', cwd=tmp_path)
    assert bad.returncode == 2 and 'take_profit' in bad.stderr and 'STOP >= START' in bad.stderr


def test_a_combination_that_raises_is_its_rows_error_and_the_sweep_goes_on(two_files, tmp_path, cluster):
    fragile = tmp_path / 'fragile.py'
    fragile.write_text(BREAKOUT.read_text() + """

class Fragile(BreakoutBracket):
    def __init__(self):
        if self.p.lookback == 48:
            raise ValueError('lookback=48 is refused')
        super().__init__()
""")
    grid = {'lookback': [24, 48, 72]}
    for where in (dict(workers=0), dict(client=cluster)):
        df = sweep(f'{fragile}:Fragile', grid, two_files[:1], cache=tmp_path / 'cache', **where)
        assert list(df['error'].isna()) == [True, False, True]
        assert 'ValueError: lookback=48 is refused' in df['error'][1] and df['trades'].isna()[1]
        assert df['trades'][0] > 0
    assert len(list((tmp_path / 'cache').glob('*.json'))) == 2        # the failure is not kept


def test_a_sweep_on_a_cluster_started_with_dasks_own_commands(serial, two_files):
    """`dask scheduler` and `dask worker` as separate processes (as on a cluster's hosts), the
    sweep given the scheduler's address: the serial sweep's rows."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    address = f'tcp://127.0.0.1:{port}'
    dask = [sys.executable, '-m', 'dask']
    procs = [subprocess.Popen(dask + ['scheduler', '--host', '127.0.0.1', '--port', str(port), '--no-dashboard'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen(dask + ['worker', address, '--nworkers', '2', '--nthreads', '1', '--host',
                                              '127.0.0.1', '--no-dashboard'],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        on_cluster = sweep(BreakoutBracket, GRID, two_files, scheduler=address, cache=None)
        pd.testing.assert_frame_equal(on_cluster, serial)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(30)
