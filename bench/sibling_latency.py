"""From a fill or a crossed stop at the venue to the broker's answer on the wire: streams against
polling, side by side in one run.

    python bench/sibling_latency.py [--brackets N] [--poll SECONDS]

A strategy on BracketBroker trades live (cerebro, BracketFeed, BracketStore; no step driving by the
feed) against the simulator on loopback, with native lists off (the managed path: the broker places
the exits once the entry fills, and fires its watched stop). A thread steps the venue one bar at a
time, leaving `--poll` + 0.3 s after each bar for the broker to answer. The engine notes when each
bar was processed and when each of the broker's requests reached it; each answer is timed from the
bar that caused it:
- entry fill -> the exits' creates (journal step 'then');
- stop crossed -> the cancel of the resting take-profit (step 'cancel'), then the stop's market
  order (step 'watched').
Each venue runs twice: `streams=True`, and polling (`--poll` seconds, the feed's and the store's
interval). Prints p50 / p99 per answer, and the REST requests per bar of each run.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import backtrader as bt

from bracket_plugin.backtrader import BracketStore
from bracket_plugin.backtrader.paper import paper_exchange
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim import Venue
from bracket_plugin.venues import ids

SYMBOL = 'ETH/BTC'
NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}


class Probe(bt.Strategy):
    """One long bracket at a time (entry just above the close: it fills on the next bar; exits
    0.3% away), until `brackets` have ended."""
    params = (('brackets', 10),)

    def __init__(self):
        self.orders, self.ended = [], 0

    def next(self):
        if any(o.alive() for o in self.orders):
            return
        self.ended += bool(self.orders)
        if self.ended >= self.p.brackets:
            self.env.runstop()
            return
        c = self.data.close[0]
        self.orders = self.buy_bracket(size=1.0, price=c * 1.002, stopprice=c * 0.997, limitprice=c * 1.005)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def run(exchange_id: str, streams: bool, brackets: int, poll: float) -> tuple[dict, float]:
    ops: list[tuple[float, dict]] = []
    with Venue(data=str(bundled_data_path()), symbol=SYMBOL, start=100, exchanges=(exchange_id,)) as venue:
        venue.engine_for(exchange_id).watchers.append(lambda entry: ops.append((time.perf_counter(), entry)))
        store = BracketStore(paper_exchange(venue, exchange_id, NO_LISTS), journal=':memory:', poll_interval=poll,
                             streams=streams)
        stop = threading.Event()

        def stepper():
            while not stop.wait(poll + 0.3):
                venue.step()
        cerebro = bt.Cerebro(stdstats=False)
        # a replay's bars are years old: the feed starts from the venue's clock, not the wall clock
        since = venue.engine_for(exchange_id).now_ms() - 300_000
        cerebro.adddata(store.getdata(SYMBOL, timeframe=bt.TimeFrame.Minutes, compression=5, poll=poll, since=since))
        cerebro.setbroker(store.getbroker(cash=1.0))
        cerebro.addstrategy(Probe, brackets=brackets)
        thread = threading.Thread(target=stepper, daemon=True)
        thread.start()
        try:
            cerebro.run()
        finally:
            stop.set()
            thread.join()
            store.stop()
        intents = store.journal.intents()
        bars = sum(1 for _, e in ops if e['op'] == 'step')
        per_bar = store.requests / max(bars, 1)
    step_of = {it['client_oid']: it['step'] for it in intents}
    cancel_of = {it['args']['args'][0]: it['step'] for it in intents if it['method'] == 'cancel_order'}
    out: dict[str, list[float]] = {'then': [], 'cancel': [], 'watched': []}
    last_step = None
    for t, e in ops:
        if e['op'] == 'step':
            last_step = t
            continue
        if e['op'] == 'place':
            step = step_of.get(e['req'].get('client_id'))
        elif e['op'] == 'place_list':
            step = step_of.get(e.get('client_id'))
        elif e['op'] == 'cancel':
            step = cancel_of.get(e['id'])
        else:
            step = None
        if step in out and last_step is not None:
            out[step].append((t - last_step) * 1000)
    return out, per_bar


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--brackets', type=int, default=12, help='brackets per venue and mode (default: 12)')
    ap.add_argument('--poll', type=float, default=0.5, help='polling interval in seconds (default: 0.5)')
    args = ap.parse_args()
    names = {'then': 'entry fill -> exits sent', 'cancel': 'stop crossed -> take-profit canceled',
             'watched': 'stop crossed -> stop sent'}
    print(f'{"venue":<10}{"mode":<16}{"answer":<38}{"n":>4}{"p50 ms":>9}{"p99 ms":>9}{"REST/bar":>10}')
    for exchange_id in ids():
        for streams in (True, False):
            samples, per_bar = run(exchange_id, streams, args.brackets, args.poll)
            mode = 'streams' if streams else f'polling {args.poll:g} s'
            for step, values in samples.items():
                if values:
                    print(f'{exchange_id:<10}{mode:<16}{names[step]:<38}{len(values):>4}{pct(values, 50):>9.1f}'
                          f'{pct(values, 99):>9.1f}{per_bar:>10.2f}')


if __name__ == '__main__':
    main()
