"""What the simulator's state file costs per change, with a big book of resting orders.

A venue with a state file and 5,700 resting orders (as a long paper-trading run leaves), no HTTP:
times, side by side in one run,
- a full snapshot of the state (what every change cost when the whole state was rewritten each time,
  and what a compaction costs now: at start, at shutdown and every Venue.COMPACT_EVERY changes);
- one place + cancel of a limit order with the journal (two appended lines, the cost now);
- the same place + cancel on a venue without a state file;
- a restart: reading the snapshot and repeating a journal of --journal entries.

    .venv/bin/python bench/state_file.py [--resting 5700] [--ops 2000] [--journal 10000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue
from bracket_plugin.sim.engine import OrderRequest
from engine_ops import place_cancel  # bench/ is on the path when run as a script

SYMBOL = "ETH/BTC"
BALANCES = {"ETH": 10**9, "BTC": 10**9}


def venue(state_file: Path | None) -> Venue:
    return Venue(bundled_data_path(), symbol=SYMBOL, start=50, balances=BALANCES, state_file=state_file,
                 exchanges=("kucoin",))


def fill_book(v: Venue, n: int) -> None:
    eng = v.engine_for("kucoin")
    tick = eng.rules(SYMBOL).tick_size
    low = (eng.last_price(SYMBOL) * Decimal("0.5")).quantize(tick)
    for i in range(n):
        eng.place(OrderRequest(SYMBOL, "buy", "limit", amount="0.01", price=low - i * tick, client_id=f"b{i}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resting", type=int, default=5700)
    ap.add_argument("--ops", type=int, default=2000, help="place+cancel pairs timed per venue")
    ap.add_argument("--journal", type=int, default=10_000, help="journal entries repeated by the restart")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "venue.json"
        kept, plain = venue(path), venue(None)
        fill_book(kept, args.resting)
        fill_book(plain, args.resting)
        kept.compact()
        t = time.perf_counter()
        for _ in range(5):
            kept.compact()
        snapshot = (time.perf_counter() - t) / 5
        size = path.stat().st_size
        journaled = place_cancel(kept.engine_for("kucoin"), args.ops)
        memory = place_cancel(plain.engine_for("kucoin"), args.ops)
        kept.compact()
        # a journal of --journal entries (place / cancel pairs) on top of the snapshot, then a restart
        place_cancel(kept.engine_for("kucoin"), args.journal // 2)
        kept._journal.close()  # as if the process had died: no compaction at exit
        t = time.perf_counter()
        again = venue(path)
        restart = time.perf_counter() - t
        assert len(again.engine_for("kucoin").open_orders()) == args.resting
        again.close()
    print(f"{args.resting:,} resting orders, snapshot {size / 1e6:.1f} MB")
    print(f"full snapshot (every change, before; a compaction now): {snapshot * 1e3:8.1f} ms")
    print(f"place + cancel with the journal (2 lines appended):      {journaled * 1e6:8.1f} us")
    print(f"place + cancel without a state file:                     {memory * 1e6:8.1f} us")
    print(f"per change: a snapshot costs {snapshot / (journaled / 2):,.0f}x a journaled change; "
          f"the journal adds {(journaled - memory) / 2 * 1e6:.1f} us per change over memory only")
    print(f"restart with a journal of {args.journal:,} entries: {restart * 1e3:.0f} ms "
          f"(includes the compaction it ends with)")


if __name__ == "__main__":
    main()
