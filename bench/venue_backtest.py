"""Venue backtest (BracketBroker against the simulator's engine in process) vs BackBroker:
bars per second of the same strategy on the same bars, measured side by side in one run.

    python bench/venue_backtest.py [--bars N] [--repeat R]

Prints, per example strategy and venue, both rates and their ratio (the venue backtest's bars/s
over BackBroker's). The issue's target is a ratio of at least 0.5.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bracket_plugin.backtrader.paper import run_venue_backtest
from bracket_plugin.bars import bundled_data_path, read_bars, write_bars
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.runs import run_backtest
from bracket_plugin.venues import ids


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bars', type=int, default=None, help='first N bundled bars (default: all 5,760)')
    ap.add_argument('--repeat', type=int, default=3, help='runs of each, the best one counts (default: 3)')
    args = ap.parse_args()
    bars = read_bars(bundled_data_path())[:args.bars]
    with tempfile.TemporaryDirectory() as d:
        data = write_bars(Path(d) / 'bars.csv', bars)
        print(f'{len(bars)} bars, best of {args.repeat}')
        print(f'{"strategy":<16} {"venue":<10} {"BackBroker bars/s":>18} {"venue bars/s":>13} {"ratio":>6}')
        for strategy in (BreakoutBracket, OcoExit, ShortBracket):
            for venue in ids():
                back = best(lambda s=strategy: run_backtest(s, data, commission=0.001), args.repeat)
                vbt = best(lambda s=strategy, v=venue: run_venue_backtest(s, v, data), args.repeat)
                print(f'{strategy.__name__:<16} {venue:<10} {len(bars) / back:>18,.0f} {len(bars) / vbt:>13,.0f} '
                      f'{back / vbt:>6.2f}')


if __name__ == '__main__':
    main()
