"""The managed path (native lists switched off) against BackBroker, trade by trade, on the bundled
bars: a table per example strategy and venue.

    python bench/managed_parity.py [--bars N]

Columns: trades (BackBroker / venue backtest), trades equal, stop-loss exits, of those the ones
that traded inside their bar (at the trigger) and at the bar's open (a gap through it), and the
brackets whose exit bar touched both levels (where the order of the two legs decides: the watched
stop acts first, as BackBroker's stop does). Not a timing: a count.
"""
from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from bracket_plugin.backtrader.paper import run_venue_backtest
from bracket_plugin.bars import bundled_data_path, read_bars, write_bars
from bracket_plugin.differences import both_levels_touched
from bracket_plugin.examples.breakout_bracket import BreakoutBracket
from bracket_plugin.examples.oco_exit import OcoExit
from bracket_plugin.examples.short_bracket import ShortBracket
from bracket_plugin.runs import run_backtest
from bracket_plugin.venues import ids

NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}


def iso(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).replace(tzinfo=None).isoformat()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bars', type=int, default=None, help='first N bundled bars (default: all 5,760)')
    args = ap.parse_args()
    bars = read_bars(bundled_data_path())[:args.bars]
    by_time = {iso(b.ts): b for b in bars}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / 'bars.csv'
        write_bars(path, bars)
        print(f'{len(bars)} bars; managed path (no native lists) vs BackBroker')
        print(f'{"strategy":<16}{"venue":<11}{"trades":>9}{"equal":>7}{"stops":>7}{"inside":>8}{"at open":>9}'
              f'{"both touched":>14}')
        for strategy in (BreakoutBracket, OcoExit, ShortBracket):
            back = run_backtest(strategy, path, cash=1.0)
            both = sum(both_levels_touched(b, by_time[b['ended']]) for b in back.brackets if b['ended'])
            for venue in ids():
                run = run_venue_backtest(strategy, venue, path, cash=1.0, capabilities=NO_LISTS)
                stops = [t for t in run.trades if t['exit_reason'] == 'stop_loss']
                at_open = sum(t['exit_price'] == float(by_time[t['exit_time']].open) for t in stops)
                equal = sum(b == v for b, v in zip(back.trades, run.trades))
                print(f'{strategy.__name__:<16}{venue:<11}{len(back.trades):>4} / {len(run.trades):<3}{equal:>6}'
                      f'{len(stops):>7}{len(stops) - at_open:>8}{at_open:>9}{both:>14}')


if __name__ == '__main__':
    main()
