"""The engine's time lookups (closed bars, fills, candles) answer what a scan of everything answers.

Each lookup finds its first item by a bisect on the times; here every answer is compared with the
plain filter it replaced, on random bars (with gaps), cursors, `since` and `limit` values.
"""
import random
from decimal import Decimal as D

from bracket_plugin.bars import Bar
from bracket_plugin.sim.candles import aggregate, candles_from
from bracket_plugin.sim.engine import Engine, OrderRequest
from bracket_plugin.sim.rules import MarketRules

MIN = 60_000
SYMS = ("ETH/BTC", "LTC/BTC")


def rules(sym):
    base, quote = sym.split("/")
    return MarketRules(sym, base, quote, tick_size=D("0.01"), lot_size=D("0.01"), min_size=D("0.01"),
                       min_notional=D("0.01"), maker_fee=D("0.001"), taker_fee=D("0.001"))


def random_bars(rng, n, start_ms=0):
    """n one-minute bars with random gaps (missing minutes), prices around 100."""
    out, ts = [], start_ms + rng.randrange(0, 5) * MIN
    for _ in range(n):
        o = D(rng.randrange(9000, 11000)) / 100
        c = D(rng.randrange(9000, 11000)) / 100
        out.append(Bar(ts, o, max(o, c) + 1, min(o, c) - 1, c, D(rng.randrange(1, 100))))
        ts += MIN * rng.choice((1, 1, 1, 2, 7))
    return out


def old_closed_bars(bars, cursor, since=None, limit=None):
    """Engine.closed_bars as it was: a slice of every closed bar, then a filter."""
    closed = bars[:cursor]
    if since is not None:
        closed = [b for b in closed if b.ts >= since]
        return closed[:limit] if limit is not None else closed
    return closed[-limit:] if limit else closed


def test_closed_bars_match_the_full_scan():
    rng = random.Random(7)
    for _ in range(60):
        bars = random_bars(rng, rng.randrange(1, 80))
        start = rng.randrange(0, len(bars) + 1)
        eng = Engine({"ETH/BTC": rules("ETH/BTC")}, {"ETH/BTC": bars}, start=start)
        cursor = start + eng.run(rng.randrange(0, len(bars) - start + 1))
        lo, hi = bars[0].ts - 3 * MIN, bars[-1].ts + 3 * MIN
        for _ in range(30):
            since = rng.choice((None, rng.randrange(lo, hi), rng.choice(bars).ts))
            limit = rng.choice((None, 0, 1, 2, rng.randrange(-5, 100)))
            assert eng.closed_bars("ETH/BTC", since=since, limit=limit) == old_closed_bars(bars, cursor, since, limit)


def test_fills_since_match_the_full_scan():
    rng = random.Random(11)
    data = {s: random_bars(rng, 120) for s in SYMS}
    eng = Engine({s: rules(s) for s in SYMS}, data, {"ETH": D(10**6), "LTC": D(10**6), "BTC": D(10**9)}, start=1)
    while True:
        for s in SYMS:
            for _ in range(rng.randrange(0, 3)):
                eng.place(OrderRequest(s, rng.choice(("buy", "sell")), "market", amount=D(rng.randrange(1, 50)) / 10))
        if not eng.step():
            break
    everything = eng.fills()
    assert len(everything) > 100
    times = [f.ts for f in everything]
    for since in [None, times[0], times[-1], times[-1] + 1] + [rng.randrange(times[0] - MIN, times[-1] + MIN) for _ in range(50)]:
        for symbol in (None,) + SYMS:
            want = [f for f in everything if (symbol is None or f.symbol == symbol) and (since is None or f.ts >= since)]
            assert eng.fills(symbol=symbol, since=since) == want
    one = everything[rng.randrange(len(everything))]
    assert eng.fills(since=one.ts, order_id=one.order_id) == [f for f in everything if f.ts >= one.ts and f.order_id == one.order_id]


def test_candles_from_a_start_match_aggregating_everything():
    rng = random.Random(5)
    for _ in range(40):
        bars = random_bars(rng, rng.randrange(1, 150), start_ms=rng.randrange(0, 50) * MIN)
        eng = Engine({"ETH/BTC": rules("ETH/BTC")}, {"ETH/BTC": bars}, start=rng.randrange(0, len(bars) + 1))
        for frame in (MIN, 5 * MIN, 15 * MIN, 60 * MIN):
            for start in (None, 0, bars[0].ts, bars[-1].ts, rng.randrange(0, bars[-1].ts + 60 * MIN)):
                full = aggregate(eng.closed_bars("ETH/BTC"), MIN, frame)
                want = [b for b in full if start is None or b.ts >= start]
                assert candles_from(eng, "ETH/BTC", frame, start) == want


def test_orders_by_live_status_match_the_full_scan():
    rng = random.Random(13)
    bars = random_bars(rng, 200)
    eng = Engine({"ETH/BTC": rules("ETH/BTC")}, {"ETH/BTC": bars}, {"ETH": D(10**6), "BTC": D(10**9)}, start=1)
    placed = []
    while True:
        for _ in range(rng.randrange(0, 4)):   # limits near the market: some fill, some rest
            px = (eng.last_price("ETH/BTC") * D(rng.uniform(0.97, 1.03))).quantize(D("0.01"))
            placed.append(eng.place(OrderRequest("ETH/BTC", rng.choice(("buy", "sell")), "limit", amount=D(1), price=px)))
        if placed and rng.random() < 0.2 and placed[-1].status == "open":
            eng.cancel(placed[-1].id)
        if not eng.step():
            break
    everything = eng.orders()
    assert {o.status for o in everything} >= {"open", "filled", "canceled"}
    for status in ("open", "pending", "triggered", ("pending", "open", "triggered"), ("open", "filled"), "filled", None):
        wanted = (status,) if isinstance(status, str) else status
        want = [o for o in everything if wanted is None or o.status in wanted]
        assert eng.orders(symbol="ETH/BTC", status=status) == want
