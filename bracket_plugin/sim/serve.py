"""`bracket-plugin sim serve`: run the simulator as a standalone process.

    bracket-plugin sim serve --data eth_btc.csv --symbol ETH/BTC [--port N] [--speed X | --step]

Prints the base URL, the test credentials and a ccxt config for each dialect, then serves until
interrupted. With a single --exchange that dialect is served at the root path as well as under its
prefix (for clients that join `/api/v1/...` to the host and drop a base URL's path). In --step mode
(the default) the clock moves only on `POST /sim/step[?n=N]`.
"""
from __future__ import annotations

import argparse
import json
import threading
from decimal import Decimal, InvalidOperation

from bracket_plugin import venues
from bracket_plugin.bars import bundled_data_path
from bracket_plugin.sim.venue import EXCHANGES, Venue


def _balance(text: str) -> tuple[str, Decimal]:
    cur, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = None
    if not sep or not cur or value is None or value < 0:
        raise argparse.ArgumentTypeError(f"--balance takes CURRENCY=AMOUNT with AMOUNT >= 0, e.g. BTC=10; got {text!r}")
    return cur.upper(), value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--speed is bars per second and must be > 0, got {text!r}")
    return value


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help=f"serve the {venues.names('and')} dialects on 127.0.0.1",
        description=f"Replay OHLCV bars behind a loopback exchange that speaks the REST dialects of {venues.names('and')}; "
                    "dialects. Point ccxt (or the exchanges' own SDKs) at the printed URL with the printed credentials.")
    p.add_argument("--data", metavar="FILE", default=None,
                   help="CSV of bars (timestamp ms,open,high,low,close,volume); default: the bundled ETH/BTC 5m bars")
    p.add_argument("--symbol", metavar="BASE/QUOTE", default="ETH/BTC", help="market the data file holds (default ETH/BTC)")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: any free port)")
    clock = p.add_mutually_exclusive_group()
    clock.add_argument("--speed", type=_speed, metavar="X", help="realtime: X bars per second")
    clock.add_argument("--step", action="store_true", help="step mode (default): POST /sim/step advances one bar")
    p.add_argument("--start", type=int, default=0, metavar="N", help="bars before N are history when the venue starts (default 0)")
    p.add_argument("--balance", type=_balance, action="append", metavar="CUR=AMOUNT",
                   help="starting balance, repeatable (default: enough of both currencies for the examples)")
    p.add_argument("--mark-data", metavar="FILE", help="CSV of mark price bars, watched by the triggers of the dialects that "
                                                        "trigger on the mark (Crypto.com); default: the last price")
    p.add_argument("--state", metavar="FILE", help="keep orders and balances in this JSON file across restarts")
    p.add_argument("--exchange", choices=EXCHANGES, action="append",
                   help="serve only these dialects (default: both); a single one is also served at the root path")


def banner(venue: Venue) -> str:
    url = venue.url
    assert url is not None  # printed once the venue serves
    lines = [f"simulator listening on {url}  ({venue.symbol}, {venue.engine.bars_left()} bars to replay, "
             f"{f'realtime at {venue.speed:g} bars/s' if venue.mode == 'realtime' else 'step mode: POST ' + url + '/sim/step'})"]
    for ex in venue.exchanges:
        cfg = venue.ccxt_config(ex)
        creds = {k: cfg[k] for k in ("apiKey", "secret", "password") if k in cfg}
        lines.append(f"{ex}: base {cfg['urls']['api'].get('v1') or cfg['urls']['api']['private']}  credentials {json.dumps(creds)}")
        lines.append(f"  ccxt.{ex}({json.dumps(cfg)})")
    if venue.root:
        lines.append(f"{venue.root}: also at the root path, base {url}"
                     + venues.profile(venue.root).sim.url_paths.get("v1", ""))
    lines.append("status: GET " + url + "/sim/status   stop: Ctrl-C")
    return "\n".join(lines)


def run(args, stop: threading.Event | None = None) -> int:
    exchanges = tuple(dict.fromkeys(args.exchange)) if args.exchange else EXCHANGES
    venue = Venue(
        data=args.data or bundled_data_path(), symbol=args.symbol, port=args.port, start=args.start,
        mode="realtime" if args.speed else "step", speed=args.speed or 1.0,
        balances=dict(args.balance) if args.balance else None, state_file=args.state,
        exchanges=exchanges, control=True, root=exchanges[0] if len(exchanges) == 1 else None,
        mark_data=args.mark_data,
    )
    stop = stop or threading.Event()
    with venue:
        print(banner(venue), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0
