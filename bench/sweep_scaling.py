"""Sweeps: combinations per second in one process against a local Dask cluster of N worker
processes, side by side in one run, and the fixed cost Dask adds to each task.

    python bench/sweep_scaling.py [--combinations C] [--bars B] [--workers N] [--repeat R]

- serial: `sweep(..., workers=0)` (no Dask), C combinations of BreakoutBracket on B bundled bars;
- cluster: the same sweep on a local cluster of N processes (started, and its workers' imports
  done, before the clock runs: what a sweep of thousands of combinations pays once);
- fixed cost: a sweep of C tasks that do nothing on the same cluster, per task.
From the per-task time t and the fixed cost f, N workers give at best N * t / (t + f) times the
serial rate, which the printout compares with the measured speed-up. The issue's target: two
workers on a 2-core machine at least 1.7 times one process. No cache: every combination runs.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bracket_plugin.bars import bundled_data_path, read_bars, write_bars
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.sweeps import local_cluster, sweep


def nothing(i: int) -> int:
    return i


def best(run, repeat: int):
    """(the shortest time of `repeat` runs, the last run's result): the least noisy figure on a shared machine."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return min(times), out


def warm() -> None:
    import bracket_plugin.backtrader.paper  # noqa: F401
    import bracket_plugin.sweeps  # noqa: F401


def main() -> None:
    from dask.distributed import Client, wait

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--combinations', type=int, default=48, help='combinations per sweep (default: 48)')
    ap.add_argument('--bars', type=int, default=2000, help='bundled bars per backtest (default: 2000)')
    ap.add_argument('--workers', type=int, default=2, help='worker processes of the cluster (default: 2)')
    ap.add_argument('--repeat', type=int, default=3, help='sweeps of each kind, the fastest counts (default: 3)')
    args = ap.parse_args()
    grid = {'lookback': list(range(24, 24 + 4 * args.combinations, 4))}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / 'bars.csv'
        write_bars(path, read_bars(bundled_data_path())[:args.bars])
        serial_s, serial = best(lambda: sweep(BreakoutBracket, grid, path, workers=0, cache=None), args.repeat)
        with local_cluster(args.workers) as cluster, Client(cluster) as client:
            client.run(warm)     # every worker has imported backtrader and the package, as after its first task
            cluster_s, spread = best(lambda: sweep(BreakoutBracket, grid, path, client=client, cache=None), args.repeat)
            t = time.perf_counter()
            wait(client.map(nothing, range(args.combinations), pure=False))
            fixed = (time.perf_counter() - t) / args.combinations
    assert spread.equals(serial), 'the cluster gave other rows than the serial sweep'
    per_task = serial_s / args.combinations
    print(f'{args.combinations} combinations of BreakoutBracket on {args.bars} bars, BackBroker')
    print(f'serial (one process):   {args.combinations / serial_s:7.2f} combinations/s ({per_task * 1000:.0f} ms each)')
    print(f'cluster ({args.workers} workers):    {args.combinations / cluster_s:7.2f} combinations/s')
    print(f'speed-up: {serial_s / cluster_s:.2f}x (target with 2 workers on 2 cores: >= 1.7x)')
    print(f'fixed cost per task on the cluster: {fixed * 1000:.2f} ms')
    for n in (2, 4, 8, 16):
        print(f'  {n:>2} workers: at best {n * per_task / (per_task + fixed):5.2f}x  (given {n} free cores)')


if __name__ == '__main__':
    main()
