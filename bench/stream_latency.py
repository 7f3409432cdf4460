"""How soon a client learns of a fill: the simulator's websocket stream against one REST read.

    python bench/stream_latency.py [--fills N]

For each venue, on loopback: a market order is placed through REST, the venue steps one bar (the
order fills in the engine), and the time from the engine's change (an engine watcher notes it) to
the moment ccxt.pro's `watch_my_trades` hands the fill to the client is measured, N times. Beside it, in the same run,
the time of one `fetch_my_trades` request: the least a polling client pays per look, on top of
waiting for its next poll (half its poll interval on average: 2.5 s at the store's default 5 s).

Prints p50 and p99 of both, per venue. This is the stream half of the issue's figure (fill to the
sibling action on the wire); the broker does not act on streams yet.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bracket_plugin import async_support
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue
from bracket_plugin.venues import ids

SYMBOL = 'ETH/BTC'


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def measure(venue: Venue, exchange_id: str, fills: int) -> tuple[list[float], list[float]]:
    ex = getattr(async_support, exchange_id)(dict(venue.ccxt_config(exchange_id), enableRateLimit=False))
    loop = asyncio.get_running_loop()
    streamed, polled, changed = [], [], []
    venue.engine_for(exchange_id).watchers.append(
        lambda entry: changed.append(time.perf_counter()) if entry['op'] == 'step' else None)
    try:
        await ex.load_markets()
        watch = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
        await asyncio.sleep(0.5)                      # the subscription is in place
        for _ in range(fills):
            await ex.create_order(SYMBOL, 'market', 'buy', 0.01)
            await loop.run_in_executor(None, venue.step)
            await asyncio.wait_for(watch, 10)
            streamed.append(time.perf_counter() - changed[-1])
            watch = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
            t = time.perf_counter()
            await ex.fetch_my_trades(SYMBOL, limit=10)
            polled.append(time.perf_counter() - t)
        watch.cancel()
    finally:
        await ex.close()
    return streamed, polled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--fills', type=int, default=200, help='fills measured per venue (default: 200)')
    args = ap.parse_args()
    print(f'{"venue":<10} {"stream p50":>11} {"stream p99":>11} {"REST read p50":>14} {"REST read p99":>14}')
    for exchange_id in ids():
        with Venue(data=str(bundled_data_path()), symbol=SYMBOL, start=100, exchanges=(exchange_id,)) as venue:
            streamed, polled = asyncio.run(measure(venue, exchange_id, args.fills))
        ms = [1000 * x for x in (pct(streamed, 50), pct(streamed, 99), pct(polled, 50), pct(polled, 99))]
        print(f'{exchange_id:<10} {ms[0]:>9.1f}ms {ms[1]:>9.1f}ms {ms[2]:>12.1f}ms {ms[3]:>12.1f}ms')


if __name__ == '__main__':
    main()
