#!/usr/bin/env python
"""Run the crash campaign outside pytest and print the counts.

    .venv/bin/python tests/campaigns/run_crash_campaign.py                 # everything (~10 min)
    .venv/bin/python tests/campaigns/run_crash_campaign.py --quick         # what the default pytest run does
    .venv/bin/python tests/campaigns/run_crash_campaign.py --configs kucoin --sweeps commit,random --random 50

Sweeps: commit (kill at every journal commit of the uninterrupted run, then resume), venue (killed
by the venue at each of its accepted changes, before the answer), recovery (kill at commit k, then
kill the restart at each commit of its reconcile, then resume), random (SIGKILLs at seeded random
moments, one to three per scenario), partial (commit and venue sweeps with partial fills).
Exit code 1 if any invariant failed (every failure is printed).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crash_harness as H  # noqa: E402

SWEEPS = ('commit', 'venue', 'recovery', 'random', 'partial')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--configs', default=','.join(H.CONFIGS), help=f'comma-separated, among {", ".join(H.CONFIGS)}')
    p.add_argument('--sweeps', default=','.join(SWEEPS), help=f'comma-separated, among {", ".join(SWEEPS)}')
    p.add_argument('--random', type=int, default=25, help='random-kill scenarios per config')
    p.add_argument('--seed', type=int, default=2)
    p.add_argument('--runner', choices=('fork', 'spawn'), default='fork',
                   help='fork: processes forked from a server that did the imports; spawn: fresh interpreters')
    p.add_argument('--quick', action='store_true',
                   help='the default pytest run: commit sweep on kucoin, venue sweep on kucoin-managed, 10 random each')
    p.add_argument('--keep', metavar='DIR', help='keep the runs (journals, state files, child output) under DIR')
    args = p.parse_args(argv)

    configs = [c.strip() for c in args.configs.split(',') if c.strip()]
    sweeps = {s.strip() for s in args.sweeps.split(',') if s.strip()}
    unknown = (set(configs) - set(H.CONFIGS)) | (sweeps - set(SWEEPS))
    if unknown:
        p.error(f'unknown: {", ".join(sorted(unknown))}')
    plan = {c: set(sweeps) for c in configs}
    random_n = args.random
    if args.quick:
        plan = {c: {'random'} for c in H.CONFIGS}
        plan['kucoin'].add('commit')
        plan['kucoin-managed'].add('venue')
        random_n = 10

    runner = H.make_runner(args.runner)
    campaigns = []
    t0 = time.monotonic()
    try:
        for config, todo in plan.items():
            root = Path(args.keep) / config if args.keep else None
            c = H.Campaign(config, runner, root=root)
            campaigns.append(c)
            c.run_baseline()
            print(f'{config}: uninterrupted run: {c.baseline["commits"]} commits, {c.baseline["changes"]} venue '
                  f'changes, {c.baseline["seconds"]:.2f} s', flush=True)
            if 'commit' in todo:
                c.every_commit()
            if 'venue' in todo:
                c.every_venue_change()
            if 'recovery' in todo:
                c.every_recovery_commit()
            if 'random' in todo:
                c.random_kills(random_n, args.seed)
            if 'partial' in todo:
                pc = H.Campaign(config, runner, root=(Path(args.keep) / f'{config}-partial') if args.keep else None,
                                volume_fraction=H.PARTIAL)
                pc.config = f'{config}+partial'
                campaigns.append(pc)
                pc.run_baseline()
                pc.every_commit()
                pc.every_venue_change()
            print(f'{c.config}: {c.counts.line()}', flush=True)
    finally:
        runner.close()
        for c in campaigns:
            c.close()
    print()
    print(H.report(campaigns))
    print(f'wall time: {time.monotonic() - t0:.1f} s (runner: {runner.name})')
    failures = [f for c in campaigns for f in c.failures]
    for f in failures:
        print('FAIL', f)
    print(f'{len(failures)} invariant failures' if failures else 'all invariants held')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
