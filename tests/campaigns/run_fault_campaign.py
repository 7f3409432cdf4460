"""Run the fault campaign outside pytest and print what it measured.

    .venv/bin/python tests/campaigns/run_fault_campaign.py                 # the default tier
    .venv/bin/python tests/campaigns/run_fault_campaign.py --tier full     # the whole matrix
    .venv/bin/python tests/campaigns/run_fault_campaign.py --only cryptocom-native-create_oco
    .venv/bin/python tests/campaigns/run_fault_campaign.py --list          # the cases, not run

It runs the same cases with the same checks as tests/campaigns/test_fault_campaign.py (it imports
them), prints one line per case (PASS / FAIL / XFAIL / XPASS, seconds, faults fired, whether the
trades equal the fault-free run) and, at the end, the counts: cases run, faults fired (on the call
site and on the recovery reads), per fault kind, per site, per dialect and path, failures with their
details. Exit code 1 if a case failed that is not a known (xfail) defect, or a known one passed.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load():
    spec = importlib.util.spec_from_file_location('fault_campaign', HERE / 'test_fault_campaign.py')
    mod = importlib.util.module_from_spec(spec)
    sys.modules['fault_campaign'] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--tier', choices=('default', 'full'), default=None,
                    help='default: the CI subset; full: every kind x every site (default: $FAULT_CAMPAIGN or default)')
    ap.add_argument('--only', action='append', default=[], help='run the cases whose id contains this (repeatable)')
    ap.add_argument('--list', action='store_true', help='list the case ids and stop')
    ap.add_argument('-v', '--verbose', action='store_true', help='print the journal of failing cases')
    args = ap.parse_args(argv)
    m = _load()
    tier = args.tier or m.TIER
    cases = m.all_cases(tier)
    if args.only:
        cases = [c for c in cases if any(o in c.id for o in args.only)]
    if args.list:
        for c in cases:
            print(c.id, '(scenario', c.scenario + ')', '[known: ' + m.KNOWN[c.id] + ']' if c.id in m.KNOWN else '')
        print(f'{len(cases)} cases ({tier})')
        return 0
    print(f'fault campaign, tier {tier}: {len(cases)} cases; late in the simulator: {m.HAS_LATE}; '
          f'client timeout {m.TIMEOUT_MS} ms, slow faults {m.SLOW} s')
    totals = collections.Counter()
    by = collections.defaultdict(collections.Counter)
    failures, surprises = [], []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        for c in cases:
            try:
                out = m.run_case(c, d)
                bad = m.verdict(out)
            except Exception:  # noqa: BLE001 - a crashed run is a finding, reported with its traceback
                out, bad = None, ['the run raised:\n' + traceback.format_exc()]
            known = c.id in m.KNOWN
            status = ('XFAIL' if known else 'FAIL') if bad else ('XPASS' if known else 'PASS')
            totals['cases'] += 1
            totals[status] += 1
            if out is not None:
                totals['fired'] += out.fired
                totals['second_fired'] += out.second_fired or 0
                totals['differs'] += not out.trades_equal
                for key in (('kind', m.FAULTS[c.fault]['kind']), ('site', c.site), ('cell', f'{c.dialect}/{c.path}')):
                    by[key][status] += 1
                    by[key]['fired'] += out.fired + (out.second_fired or 0)
            secs = f'{out.seconds:5.1f}s' if out else '  -  '
            fired = f'fired {out.fired}' + (f'+{out.second_fired}' if c.second else '') if out else ''
            same = ('same trades' if out.trades_equal else 'trades differ' +
                    (' (expected, see transparency())' if out.transparent else '')) if out else ''
            print(f'{status:5} {secs} {c.id:72} {fired:10} {same}', flush=True)
            if bad:
                (surprises if not known else failures).append((c, out, bad))
            elif known:
                surprises.append((c, out, ['XPASS: the known defect did not show: ' + m.KNOWN[c.id]]))
    wall = time.monotonic() - t0
    print()
    print(f"cases run: {totals['cases']}  pass {totals['PASS']}  fail {totals['FAIL']}  "
          f"xfail {totals['XFAIL']}  xpass {totals['XPASS']}")
    print(f"faults fired: {totals['fired'] + totals['second_fired']} "
          f"({totals['fired']} at the call sites, {totals['second_fired']} on recovery reads)")
    print(f"runs whose trades differ from the fault-free run: {totals['differs']}")
    print(f'wall time: {wall:.0f} s')
    for dim in ('kind', 'cell', 'site'):
        print(f'\nby {dim}:')
        for (d, name), cnt in sorted(by.items()):
            if d == dim:
                print(f"  {name:22} cases {sum(cnt[s] for s in ('PASS', 'FAIL', 'XFAIL', 'XPASS')):4}  "
                      f"fired {cnt['fired']:4}  fail {cnt['FAIL']}  xfail {cnt['XFAIL']}")
    for title, rows in (('UNEXPECTED', surprises), ('known defects (xfail)', failures)):
        if rows:
            print(f'\n{title}:')
            for c, out, bad in rows:
                print(f'- {c.id} (scenario {c.scenario})')
                for b in bad:
                    print('    ' + b.replace('\n', '\n    '))
                if args.verbose and out is not None:
                    for it in out.intents:
                        print(f"      intent {it['client_oid']} {it['method']} {it['state']} {it['error']} "
                              f"{it['exchange_id']}")
    return 1 if surprises else 0


if __name__ == '__main__':
    sys.exit(main())
