"""How the paper replay's cost grows with the bars replayed and with the open brackets.

Part 1: generates random-walk 5-minute bar files (the format of bracket_plugin/data/ETH_BTC-5m.csv)
of about 6k, 25k and 100k bars and runs the paper replay (`run_paper`: BreakoutBracket on
BracketBroker -> BracketStore -> ccxt -> HTTP -> the simulator in step mode) on each; prints
seconds, bars/s and the time ratio of the largest to the middle file (linear: the ratio of their
sizes, 4).

Part 2: the cost of one bar cycle (venue step + the feed's candle fetch + store poll, i.e. the
requests fetch_ohlcv and fetch_my_trades) with 1 and with 100 open OTOCO brackets resting far
from the market; prints ms per cycle and the ratio (flat: 1). The scheduled read of the live
orders is left out (reconcile_every is set out of reach): its requests grow with the orders.
Each count runs `--rounds` times, alternated, and the best run counts (a busy machine skews one).

Timings print; nothing asserts on them.

    .venv/bin/python bench/paper_scaling.py [--quick] [--exchange kucoin] [--cycles 300] [--rounds 3]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import backtrader as bt

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange, run_paper
from bracket_plugin.backtrader.planner import ENTRY, LIMIT, OTOCO, STOP, STOP_LOSS, TAKE_PROFIT, BracketSpec, LegSpec
from bracket_plugin.examples import example_path
from bracket_plugin.runs import load_strategy
from bracket_plugin.sim import Venue

START_MS = 1515560100000   # the bundled file's first bar
STEP_MS = 300_000          # 5-minute bars


def write_bars(path: Path, n: int, seed: int = 1) -> Path:
    """A random walk around 0.1 (as ETH/BTC), prices on the 0.000001 tick, volumes of a few thousand."""
    rng = random.Random(seed)
    price = 0.1
    with path.open('w') as fh:
        fh.write('timestamp,open,high,low,close,volume\n')
        for i in range(n):
            o = price
            c = min(max(o * (1 + rng.gauss(0, 0.003)), 0.02), 0.5)
            h = max(o, c) * (1 + abs(rng.gauss(0, 0.0015)))
            lo = min(o, c) * (1 - abs(rng.gauss(0, 0.0015)))
            fh.write(f'{START_MS + i * STEP_MS},{o:.6f},{h:.6f},{lo:.6f},{c:.6f},{rng.uniform(500, 5000):.6f}\n')
            price = float(f'{c:.6f}')
    return path


def replay(strategy, exchange_id: str, path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = run_paper(strategy, exchange_id, path, cash=10.0)
    return time.perf_counter() - t0, len(result.trades)


def tick(x: float) -> float:
    return round(round(x / 1e-6) * 1e-6, 6)


def cycle_cost(exchange_id: str, path: Path, brackets: int, cycles: int) -> float:
    """Seconds per bar cycle with `brackets` OTOCOs resting (entries at half the price: nothing fills)."""
    with Venue(data=str(path), symbol='ETH/BTC', start=200, exchanges=(exchange_id,),
               fees={exchange_id: {'max_open_stops': None}}, balances={'ETH': 10**6, 'BTC': 10**6}) as venue:
        ex = paper_exchange(venue, exchange_id)
        store = BracketStore(ex, journal=':memory:', reconcile_every=10 ** 9)
        engine = venue.engine_for(exchange_id)
        feed = store.getdata('ETH/BTC', timeframe=bt.TimeFrame.Minutes, compression=5, advance=venue.step,
                             since=engine.closed_bars('ETH/BTC', limit=1)[0].ts + 1)
        for _ in range(brackets):
            px = float(engine.last_price('ETH/BTC')) * 0.5
            store.submit(BracketSpec(OTOCO, 'ETH/BTC', (LegSpec(ENTRY, 'buy', 1.0, LIMIT, price=tick(px)),
                                                        LegSpec(STOP_LOSS, 'sell', 1.0, STOP, trigger=tick(px * 0.99)),
                                                        LegSpec(TAKE_PROFIT, 'sell', 1.0, LIMIT, price=tick(px * 1.02)))))

        def one():   # what BracketFeed._load and BracketBroker.next do per bar
            venue.step()
            new = feed._fetch(feed._last_ts + 1 if feed._last_ts else feed.p.since, feed.p.limit)
            bars = {}
            if new:
                feed._last_ts = new[-1][0]
                bars['ETH/BTC'] = tuple(new[-1][2:5]) + (new[-1][0],)
            store.poll(bars)

        for _ in range(5):   # warm up (first reads, caches)
            one()
        t0 = time.perf_counter()
        for _ in range(cycles):
            one()
        return (time.perf_counter() - t0) / cycles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='smaller files (1.5k, 6k, 24k bars) and fewer cycles')
    ap.add_argument('--exchange', default='kucoin', choices=('kucoin', 'cryptocom'))
    ap.add_argument('--cycles', type=int, default=None, help='bar cycles timed in part 2 (default 300, quick 100)')
    ap.add_argument('--rounds', type=int, default=3, help='part 2 runs per bracket count (the best one counts)')
    ap.add_argument('--skip-replay', action='store_true', help='part 2 only')
    args = ap.parse_args()
    sizes = (1_500, 6_000, 24_000) if args.quick else (6_000, 25_000, 100_000)
    cycles = args.cycles or (100 if args.quick else 300)
    strategy = load_strategy(example_path('breakout_bracket'))
    with tempfile.TemporaryDirectory() as tmp:
        files = {n: write_bars(Path(tmp) / f'walk-{n}.csv', n) for n in sizes}
        if not args.skip_replay:
            print(f'paper replay, {strategy.__name__} on {args.exchange}, random-walk 5m bars')
            times = {}
            for n in sizes:
                secs, trades = replay(strategy, args.exchange, files[n])
                times[n] = secs
                print(f'  {n:>7} bars  {secs:8.1f} s  {n / secs:7.0f} bars/s  ({trades} round trips)', flush=True)
            big, mid = sizes[-1], sizes[-2]
            print(f'  time {big} / {mid}: {times[big] / times[mid]:.2f} (bars {big / mid:.1f}x; target <= 5)')
        print(f'bar cycle (venue step + candle fetch + store poll), {args.exchange}, {cycles} cycles')
        costs = {1: float('inf'), 100: float('inf')}
        for _ in range(args.rounds):   # alternated, best of each: a busy machine skews one run, not all
            for n in costs:
                costs[n] = min(costs[n], cycle_cost(args.exchange, files[sizes[1]], n, cycles))
        for n, cost in costs.items():
            print(f'  {n:>3} open brackets  {cost * 1000:7.2f} ms/bar (best of {args.rounds})')
        print(f'  100 / 1 brackets: {costs[100] / costs[1]:.2f} (target <= 1.5)')


if __name__ == '__main__':
    main()
