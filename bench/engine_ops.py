"""Cost of placing and canceling one order in the matching engine, by how many orders rest.

Builds two engines on the bundled ETH/BTC bars, one with 10 resting limit orders and one with
3,000 (half buys far below the market, half sells far above, so none fills), then times
place + cancel of one more limit order on each, interleaved in rounds so both see the same
machine load.  Prints microseconds per place+cancel for each book size and their ratio; a ratio
near 1 means the cost no longer grows with the number of resting orders.

    .venv/bin/python bench/engine_ops.py [--ops 3000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import time
from decimal import Decimal

from bracket_plugin.bars import bundled_data_path, read_bars
from bracket_plugin.sim.engine import Engine, OrderRequest
from bracket_plugin.sim.rules import default_rules

SYMBOL = "ETH/BTC"


def build(resting: int, bars) -> Engine:
    rules = default_rules(SYMBOL, bars)
    eng = Engine({SYMBOL: rules}, {SYMBOL: bars}, {"ETH": Decimal(10**9), "BTC": Decimal(10**9)}, start=50)
    last = eng.last_price(SYMBOL)
    for i in range(resting):
        if i % 2:
            price = (last * Decimal("0.5")).quantize(rules.tick_size) - i * rules.tick_size
            eng.place(OrderRequest(SYMBOL, "buy", "limit", amount="0.01", price=price))
        else:
            price = (last * 2).quantize(rules.tick_size) + i * rules.tick_size
            eng.place(OrderRequest(SYMBOL, "sell", "limit", amount="0.01", price=price))
    return eng


def place_cancel(eng: Engine, n: int) -> float:
    """Seconds per place + cancel of a resting buy limit, over n repetitions."""
    price = (eng.last_price(SYMBOL) * Decimal("0.6")).quantize(eng.rules(SYMBOL).tick_size)
    req = OrderRequest(SYMBOL, "buy", "limit", amount="0.01", price=price)
    t = time.perf_counter()
    for _ in range(n):
        eng.cancel(eng.place(req).id)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=3000, help="place+cancel pairs per round and book size")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    bars = read_bars(bundled_data_path())
    sizes = (10, 3000)
    engines = {n: build(n, bars) for n in sizes}
    best = {n: float("inf") for n in sizes}
    for _ in range(args.rounds):
        for n in sizes:
            best[n] = min(best[n], place_cancel(engines[n], args.ops))
    for n in sizes:
        assert len(engines[n].open_orders()) == n  # every measured order was canceled again
        print(f"place+cancel with {n:>5,} resting orders: {best[n] * 1e6:8.1f} us")
    print(f"ratio 3,000 / 10: {best[3000] / best[10]:.2f}x  (best of {args.rounds} rounds of {args.ops:,})")


if __name__ == "__main__":
    main()
