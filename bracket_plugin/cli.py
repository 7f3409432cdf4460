"""The `bracket-plugin` command: backtest, paper/live runs, backtest-vs-live comparison, demo.

Thin on purpose: it parses arguments, calls the library (runs, backtrader.paper, report, chart)
and turns known errors into one line on stderr and an exit code:
  0 success (compare/demo: trade lists identical)   1 trade lists differ, or a run failed
  2 bad input (arguments, data file, strategy file, keys)   130 interrupted
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import functools
import hashlib
import inspect
import json
import os
import re
import shlex
import sys
from decimal import Decimal
from pathlib import Path

from . import venues

EXCHANGES = venues.ids()
# Environment variables holding real API keys (never taken from arguments), from the venue profiles.
KEY_VARS = {v.id: dict(v.key_env) for v in venues.profiles()}
DEFAULT_SYMBOL = "ETH/BTC"


def _commission(exchange_id: str) -> float:
    """The simulator dialect's taker fee, so a backtest compared with it charges the same."""
    from .sim.venue import EXCHANGE_RULES

    return float(EXCHANGE_RULES[exchange_id]["taker_fee"])


DEFAULT_CASH = None   # the simulator's default quote balance for the market (it fits the quote currency)
EXIT_OK, EXIT_DIFFERENT, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """Bad input from the command line; the message says what is wrong and how to fix it."""


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block), pointing at --help."""

    def error(self, message):
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- input parsing (pure) ---------------------------------------------------------------------
def parse_params(pairs: list[str] | None, strategy_cls) -> dict:
    """`k=v` strings -> strategy params, each converted to the type of the param's default."""
    from .runs import strategy_params

    known = strategy_params(strategy_cls)
    out = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key):
            raise UsageError(f"--param {pair!r} must look like NAME=VALUE, e.g. --param lookback=48")
        if key not in known:
            names = ", ".join(known) or "none"
            raise UsageError(f"--param {key}: {strategy_cls.__name__} has no parameter {key!r} (it has: {names})")
        out[key] = _convert(key, raw.strip(), known[key])
    return out


def _convert(key: str, raw: str, default):
    if isinstance(default, bool) or raw.lower() in ("true", "false"):
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise UsageError(f"--param {key}={raw}: expected true or false")
        return raw.lower() in ("true", "1", "yes")
    if raw.lower() == "none":
        return None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a plain string
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise UsageError(f"--param {key}={raw}: expected an integer like {default}")
    elif isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"--param {key}={raw}: expected a number like {default}")
        value = float(value)
    return value


def real_config(exchange_id: str, environ=os.environ) -> dict:
    """API keys for a real exchange, from environment variables only."""
    wanted = KEY_VARS[exchange_id]
    missing = [var for var in wanted.values() if not environ.get(var)]
    if missing:
        raise UsageError(f"--venue real needs API keys in the environment: set {', '.join(missing)} (keys are never read from arguments)")
    return {field: environ[var] for field, var in wanted.items()}


def default_out(name: str) -> Path:
    return Path("runs") / f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def account_tag(api_key: str) -> str:
    """A short, non-secret name for an account: the first 8 hex digits of the key's SHA-256."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


def live_journal(args, api_key: str, strategy: str) -> Path:
    """The live run's journal: --journal, or one stable file per exchange, account, strategy and
    market (./runs/live/<exchange>[-sandbox]-<account>-<strategy>-<BASE-QUOTE>/journal.sqlite),
    so that a plain restart re-attaches the orders the last run left open."""
    if args.journal:
        return Path(args.journal).resolve()
    venue = args.exchange + ("-sandbox" if args.sandbox else "")
    name = f"{venue}-{account_tag(api_key)}-{strategy}-{args.symbol.replace('/', '-')}"
    return (Path("runs") / "live" / name / "journal.sqlite").resolve()


def journal_status(path: Path) -> str:
    """'new', or what a restart on this journal resumes; reads the file, creates nothing."""
    if not path.exists():
        return "new"
    from .backtrader.journal import Journal

    journal = Journal(str(path))
    try:
        n = len(journal.groups())  # groups not done: their orders are re-attached
    finally:
        journal.close()
    return f"resumed: {n} open group{'s' if n != 1 else ''}" if n else "resumed: no open groups"


def resume_command(argv: list[str], journal: Path) -> str:
    """The command line that resumes a live run: its own arguments with an explicit --journal.
    Keys are never among them: the CLI reads them from the environment only."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--journal":
            skip = True
        elif not arg.startswith("--journal="):
            kept.append(arg)
    return shlex.join(["bracket-plugin", *kept, "--journal", str(journal)])


# -- shared run helpers -----------------------------------------------------------------------
def _console():
    from rich.console import Console

    # A pipe gets wide lines so that the side-by-side tables stay on one line each.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _strategy_class(args):
    from .runs import load_strategy

    path, name = str(args.strategy), ""
    if not Path(path).exists() and ":" in path:  # FILE.py:ClassName
        path, _, name = path.rpartition(":")
    return load_strategy(path, name or None)


def _strategy(args):
    cls = _strategy_class(args)
    return cls, parse_params(args.param, cls)


def _data(args) -> Path:
    from .bars import bundled_data_path, read_bars

    path = Path(args.data) if args.data else bundled_data_path()
    read_bars(path)  # fail early, with the reader's one-line message
    return path


MARKS_USAGE = "--mark-data is for the simulated venues (backtest --venue, compare, live --venue sim): {} has no mark series"


def _marks(args) -> str | None:
    """--mark-data, checked by the bar reader (its one-line message on a bad file), once per command."""
    return _checked_bars(args.mark_data) if args.mark_data else None


@functools.lru_cache(maxsize=4)
def _checked_bars(path: str) -> str:
    _bars(path)
    return path


def _out(args, name: str) -> Path:
    out = (Path(args.out) if args.out else default_out(name)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _balances(args, data) -> dict:
    """The venue account of a run: the simulator's default balances, with the quote at --cash, so
    that BackBroker and the venue start with the same money (the base stays, for spot shorts)."""
    return dict(_account(args.symbol, str(data), args.cash))


@functools.lru_cache(maxsize=4)
def _account(symbol: str, data: str, cash: float | None) -> tuple:
    # one read of the bar file per command, however many runs it makes
    from .sim.venue import default_balances

    balances: dict[str, Decimal | float] = dict(default_balances({symbol: _bars(data)}))
    if cash is not None:
        balances[symbol.split("/")[1]] = cash
    return tuple(balances.items())


def _cash(args, data) -> float:
    return float(_balances(args, data)[args.symbol.split("/")[1]])


def _backtest(cls, data, args, params, commission):
    from .report import progress_bar
    from .runs import run_backtest

    with progress_bar(f"backtest {cls.__name__}", quiet=args.quiet) as progress:
        return run_backtest(cls, data, symbol=args.symbol, cash=_cash(args, data), params=params, commission=commission,
                            progress=progress)


def _venue_backtest(cls, exchange_id, data, args, params):
    """BracketBroker against the simulator's engine in process (backtrader.paper.run_venue_backtest)."""
    from .backtrader.paper import run_venue_backtest
    from .report import progress_bar

    with progress_bar(f"venue backtest {exchange_id} {cls.__name__}", quiet=args.quiet) as progress:
        result = run_venue_backtest(cls, exchange_id, data, args.symbol, cash=_cash(args, data), params=params,
                                    balances=_balances(args, data), progress=progress, marks=_marks(args))
    result.meta.setdefault("symbol", args.symbol)
    return result


def _paper(cls, exchange_id, data, args, params):
    """A paper run through BracketBroker, ccxt and the embedded simulator (bracket_plugin.backtrader.paper)."""
    from .backtrader.paper import run_paper
    from .report import progress_bar
    from .runs import BarProgress

    accepted = inspect.signature(run_paper).parameters
    kwargs = {"cash": _cash(args, data), "params": params, "balances": _balances(args, data), "marks": _marks(args)}
    with progress_bar(f"paper {exchange_id} {cls.__name__}", quiet=args.quiet) as progress:
        if "progress" in accepted:
            kwargs["progress"] = progress
        elif "analyzers" in accepted:
            kwargs["analyzers"] = [(BarProgress, {"callback": progress})]
        result = run_paper(cls, exchange_id, data, args.symbol, **kwargs)
    result.meta.setdefault("symbol", args.symbol)
    result.meta.setdefault("mode", f"paper-{exchange_id}")
    return result


def _chart(result, data, out: Path, stem: str, title: str) -> Path:
    from .bars import read_bars
    from .chart import draw
    from .report import summarize

    s = summarize(result)
    quote = args_quote(result)
    rate = "-" if s["win_rate"] is None else f"{s['win_rate']:.0%}"
    subtitle = f"{s['trades']} round trips · win rate {rate} · net PnL {s['net_pnl']:+.6f} {quote} · fees {s['fees']:.6f} {quote}"
    return draw(result, read_bars(data), out / f"{stem}.png", title=title, subtitle=subtitle)


def args_quote(result) -> str:
    return (result.meta.get("symbol") or "/").split("/")[-1]


def _save(result, path: Path) -> None:
    payload = {"meta": result.meta, "trades": result.trades, "brackets": result.brackets, "fills": result.fills,
               "cash": result.cash, "value": result.value, "fees": result.fees}
    path.write_text(json.dumps(payload, indent=1, default=str))


# -- subcommands ------------------------------------------------------------------------------
def cmd_backtest(args) -> int:
    from .report import summary_table, trades_table

    cls, params = _strategy(args)
    data = _data(args)
    venue = args.venue
    if args.mark_data and not venue:
        raise UsageError(MARKS_USAGE.format("BackBroker"))
    out = _out(args, f"backtest-{cls.__name__}" + (f"-{venue}" if venue else ""))
    if venue:
        result = _venue_backtest(cls, venue, data, args, params)
        kind, stem = f"venue backtest on {venue} (BracketBroker → simulator engine)", f"venue-backtest-{venue}"
    else:
        result = _backtest(cls, data, args, params, args.commission)
        kind, stem = "backtest (BackBroker)", "backtest"
    console = _console()
    if args.trades:
        console.print(trades_table(result.trades, f"{cls.__name__} trades"))
    console.print(summary_table(result, f"{cls.__name__} · {kind.split(' (')[0]} · {args.symbol} · {Path(data).name}"))
    _save(result, out / f"{stem}.json")
    chart = _chart(result, data, out, stem, f"{cls.__name__} · {kind} · {args.symbol}")
    console.print(f"trades: {out / f'{stem}.json'}")
    console.print(f"chart: {chart}")
    return EXIT_OK


def cmd_sweep(args) -> int:
    from .chart import heatmap
    from .report import best_table, progress_bar
    from .sweeps import sweep

    cls = _strategy_class(args)
    params = {}
    for pair in args.param:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param {pair!r} must look like NAME=VALUES, e.g. --param take_profit=0.005:0.03:0.005")
        params[key.strip()] = raw
    data = [Path(d) for d in args.data] if args.data else [_data(args)]
    for d in data:
        _checked_bars(d)
    out = _out(args, f"sweep-{cls.__name__}")
    try:
        with progress_bar(f"sweep {cls.__name__}", quiet=args.quiet, unit="combinations") as progress:
            df = sweep(cls, params, data, venue=args.venue, symbol=args.symbol, cash=args.cash,
                       commission=args.commission, scheduler=args.scheduler, workers=args.workers,
                       cache=args.cache, progress=progress)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    swept = df.attrs["params"]
    if args.sort not in df.columns:
        raise UsageError(f"--sort {args.sort}: not a column (columns: {', '.join(df.columns)})")
    df.to_parquet(out / "results.parquet", index=False)
    df.to_csv(out / "results.csv", index=False)
    console = _console()
    console.print(best_table(df, swept, args.best, args.sort))
    console.print(f"{len(df)} rows ({df.attrs['computed']} computed, {df.attrs['cached']} from {args.cache}): "
                  f"{out / 'results.parquet'}, {out / 'results.csv'}")
    axes = args.heatmap.split(",") if args.heatmap else swept[:2]
    if len(axes) == 2:
        if not set(axes) <= set(swept):
            raise UsageError(f"--heatmap {args.heatmap}: name two swept parameters (swept: {', '.join(swept)})")
        console.print(f"heatmap: {heatmap(df, axes[0], axes[1], out / 'heatmap.png', args.sort, f'{cls.__name__} · {args.venue}')}")
    return EXIT_OK


def _compare_one(cls, params, data, exchange_id, args, out: Path, console, show: bool):
    """BackBroker, the venue backtest and the paper run on the same bars. Identical when the venue
    backtest and the paper run are; each BackBroker difference is labelled with its venue rule."""
    from . import differences, venues
    from .markets import MarketInfo
    from .report import comparison_table, differences_table, first_difference, summary_table

    backtest = _backtest(cls, data, args, params, _commission(exchange_id))
    venue_bt = _venue_backtest(cls, exchange_id, data, args, params)
    live = _paper(cls, exchange_id, data, args, params)
    identical = venue_bt.trades == live.trades
    info = MarketInfo.from_ccxt(venue_bt.store.exchange.market(args.symbol))
    labelled = differences.label(backtest.trades, venue_bt.trades, info, venues.profile(exchange_id),
                                 marks=bool(args.mark_data))
    for name, result in (("backtest", backtest), ("venue-backtest", venue_bt), ("paper", live)):
        _save(result, out / f"{name}-{exchange_id}.json")
    charts = [
        _chart(backtest, data, out, f"backtest-{exchange_id}", f"{cls.__name__} · backtest (BackBroker) · {args.symbol}"),
        _chart(live, data, out, f"paper-{exchange_id}", f"{cls.__name__} · paper on {exchange_id} (BracketBroker → ccxt → simulator) · {args.symbol}"),
    ]
    if show:
        console.print(comparison_table(venue_bt.trades, live.trades, f"paper {exchange_id}", "venue backtest"))
        console.print(summary_table({f"backtest (fees as {exchange_id})": backtest, f"venue backtest {exchange_id}": venue_bt,
                                     f"paper {exchange_id}": live}, "summary"))
        if labelled:
            console.print(differences_table(labelled, f"BackBroker vs {exchange_id}: each difference and the venue rule behind it"))
        n, i = len(venue_bt.trades), first_difference(venue_bt.trades, live.trades)
        if i is None:
            console.print(f"[bold green]{exchange_id}: identical[/] — venue backtest and paper: {n} trades, same entry and exit "
                          f"bars, sides, sizes and prices; BackBroker differs in {len(labelled)} "
                          f"({', '.join(f'{r}: {c}' for r, c in differences.counts(labelled).items()) or 'none'})")
        else:
            console.print(f"[bold red]{exchange_id}: DIFFERENT[/] — venue backtest {n} trades, paper {len(live.trades)}; "
                          f"first difference at trade {i + 1}")
    return identical, (backtest, venue_bt, live, labelled), charts


def cmd_compare(args) -> int:
    cls, params = _strategy(args)
    data = _data(args)
    out = _out(args, f"compare-{cls.__name__}-{args.exchange}")
    console = _console()
    identical, (backtest, venue_bt, live, labelled), charts = _compare_one(cls, params, data, args.exchange, args, out,
                                                                           console, show=not args.json)
    if args.json:
        print(json.dumps({"identical": identical, "backtest": backtest.trades, "venue_backtest": venue_bt.trades,
                          "live": live.trades,
                          "differences": [{"trade": d["trade"], "rule": d["rule"]} for d in labelled]}))
    else:
        for chart in charts:
            console.print(f"chart: {chart}")
    return EXIT_OK if identical else EXIT_DIFFERENT


def cmd_demo(args) -> int:
    from .bars import bundled_data_path
    from .examples import example_path
    from .runs import load_strategy

    cls = load_strategy(example_path("breakout_bracket"))
    data = bundled_data_path()
    out = _out(args, "demo")
    console = _console()
    console.print(f"[bold]{cls.__name__}[/] on {len(_bars(data))} bars of {args.symbol} 5-minute data: "
                  "backtest (BackBroker) vs paper trading through BracketBroker, ccxt and the local exchange simulator")
    verdicts, charts = {}, []
    for exchange_id in EXCHANGES:
        identical, _, made = _compare_one(cls, {}, data, exchange_id, args, out, console, show=True)
        verdicts[exchange_id] = identical
        charts += made
    for chart in charts:
        console.print(f"chart: {chart}")
    if all(verdicts.values()):
        console.print(f"[bold green]demo: identical[/] — backtest and paper trades match on {' and '.join(verdicts)}")
    else:
        console.print(f"[bold red]demo: DIFFERENT[/] on {', '.join(k for k, v in verdicts.items() if not v)}")
    return EXIT_OK if all(verdicts.values()) else EXIT_DIFFERENT


def _bars(path):
    from .bars import read_bars

    return read_bars(path)


def cmd_live(args) -> int:
    if args.venue == "sim" and args.sandbox:
        raise UsageError("--sandbox selects the exchange's test URLs and needs --venue real (the simulator is already a sandbox)")
    if args.venue == "sim":
        return _live_sim(args)
    return _live_real(args)


def _live_sim(args) -> int:
    from .report import summary_table

    if args.journal:
        raise UsageError("--journal needs --venue real: the simulator replays --data from its first bar on every run, so there is nothing to resume")
    cls, params = _strategy(args)
    data = _data(args)
    out = _out(args, f"paper-{cls.__name__}-{args.exchange}")
    print("journal: in memory (the simulator starts afresh on every run: nothing to resume)", file=sys.stderr)
    result = _paper(cls, args.exchange, data, args, params)
    console = _console()
    console.print(summary_table(result, f"{cls.__name__} · paper on {args.exchange} (simulator) · {args.symbol}"))
    _save(result, out / f"paper-{args.exchange}.json")
    chart = _chart(result, data, out, f"paper-{args.exchange}", f"{cls.__name__} · paper on {args.exchange} (simulator) · {args.symbol}")
    console.print(f"chart: {chart}")
    return EXIT_OK


def _live_real(args) -> int:
    if args.mark_data:
        raise UsageError(MARKS_USAGE.format("the real exchange"))
    import bracket_plugin

    cls, params = _strategy(args)
    config = real_config(args.exchange)
    profile = venues.profile(args.exchange)
    exchange = bracket_plugin.exchange(args.exchange, config)   # no request until load_markets below
    if args.sandbox:
        if not exchange.urls.get("test"):
            raise UsageError(f"--sandbox: {profile.name} has no sandbox (ccxt knows no test URLs for it); "
                             "paper trade on the simulator instead (--venue sim, the default)")
        exchange.set_sandbox_mode(True)
    where = f"{args.exchange} {'SANDBOX' if args.sandbox else 'LIVE (real funds)'}"
    journal = live_journal(args, config["apiKey"], cls.__name__)
    print(f"journal: {journal} ({journal_status(journal)})", file=sys.stderr)
    if profile.notes:   # the venue's rules a trader should know before the first order
        print(f"on {profile.name}:" + "".join(f"\n  - {note}" for note in profile.notes), file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to trade on {where} without confirmation: run in a terminal, or pass --yes")
        answer = input(f"Trade {cls.__name__} on {args.symbol} at {where} with keys from "
                       f"{', '.join(KEY_VARS[args.exchange].values())}? Type yes to continue: ")
        if answer.strip().lower() != "yes":
            print("not confirmed; nothing was sent", file=sys.stderr)
            return EXIT_INPUT
    import backtrader as bt

    from .backtrader import BracketStore
    from .report import summary_table
    from .runs import RECORDER, TradeRecorder, result_from

    exchange.load_markets()  # fails early (network, unknown symbol) before the journal is created
    if args.symbol not in exchange.markets:
        raise UsageError(f"--symbol {args.symbol}: {args.exchange} has no such market (e.g. ETH/BTC, BTC/USDT)")
    out = _out(args, f"live-{cls.__name__}-{args.exchange}")
    store = BracketStore(exchange, journal=str(journal), streams=args.streams)
    minutes = _timeframe_minutes(args.timeframe)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.setbroker(store.getbroker())
    cerebro.adddata(store.getdata(args.symbol, timeframe=bt.TimeFrame.Minutes, compression=minutes, backfill=args.backfill, name=args.symbol))
    cerebro.addstrategy(cls, **params)
    running = {}

    class Recorder(TradeRecorder):  # keeps a handle on the strategy, so that Ctrl-C still gets a summary
        def start(self):
            super().start()
            running["strategy"] = self.strategy

    cerebro.addanalyzer(Recorder, _name=RECORDER)
    print(f"trading {cls.__name__} on {where}; Ctrl-C stops", file=sys.stderr)
    code = EXIT_OK
    try:
        cerebro.run()
    except KeyboardInterrupt:
        print(stopped_message(args, journal), file=sys.stderr)
        code = EXIT_INTERRUPTED
    finally:
        store.stop()   # the streams' connections close
    if "strategy" in running:
        result = result_from(running["strategy"], {"mode": f"live-{args.exchange}", "symbol": args.symbol})
        _save(result, out / f"live-{args.exchange}.json")
        console = _console()
        console.print(summary_table(result, f"{cls.__name__} · {where}"))
        console.print(f"trades: {out / f'live-{args.exchange}.json'}")
    return code


def stopped_message(args, journal: Path) -> str:
    keys = ", ".join(KEY_VARS[args.exchange].values())
    return (f"stopped; open orders stay on the exchange. To re-attach them, run in {Path.cwd()} (keys from {keys} in the environment):\n"
            f"  {resume_command(args.argv, journal)}")


def _timeframe_minutes(text: str) -> int:
    m = re.fullmatch(r"(\d+)([mh])", text)
    if not m or int(m.group(1)) == 0:
        raise UsageError(f"--timeframe {text!r} must look like 5m or 1h")
    return int(m.group(1)) * (60 if m.group(2) == "h" else 1)


# -- argument parser --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bracket-plugin",
        description="Run backtrader strategies with bracket (OTOCO) and OCO orders: backtest on BackBroker, "
                    "paper-trade them through ccxt against a local exchange simulator, or trade them live on " + venues.names() + ".",
        epilog="Start with: bracket-plugin demo",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    def common(p, exchange: bool):
        p.add_argument("strategy", metavar="STRATEGY.py", help="Python file defining one backtrader Strategy subclass (FILE.py:ClassName picks one of several)")
        p.add_argument("--data", metavar="CSV", help="bars: CSV with columns timestamp(ms),open,high,low,close,volume (default: bundled ETH/BTC 5-minute bars)")
        p.add_argument("--symbol", default=DEFAULT_SYMBOL, help=f"market symbol of the bars (default: {DEFAULT_SYMBOL})")
        p.add_argument("--cash", type=_positive, default=DEFAULT_CASH,
                       help="starting cash in quote currency, for BackBroker and the venue account alike "
                            "(default: the simulator's balance for the market, about 1000 price units of quote)")
        p.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="strategy parameter, repeatable: --param lookback=48 --param size=0.5")
        p.add_argument("--mark-data", metavar="CSV", help="mark price bars (same columns as --data), watched by the triggers of venues "
                                                          "that trigger on the mark (Crypto.com) in the simulator; default: the last price")
        if exchange:
            p.add_argument("--exchange", "-x", required=True, choices=EXCHANGES, help="exchange dialect: " + " or ".join(EXCHANGES))
        _outputs(p)

    p = sub.add_parser("backtest", help="run a strategy on backtrader's BackBroker over a bar file",
                       description="Backtest a strategy on backtrader's BackBroker; prints a summary and writes a chart.")
    common(p, exchange=False)
    p.add_argument("--commission", type=float, default=0.001, help="fee as a fraction of notional (default: 0.001, KuCoin's taker fee)")
    p.add_argument("--venue", choices=EXCHANGES, help="run through BracketBroker against this venue's simulated engine in process, "
                                                     "under its rules (ticks, lots, minimums, fees, leg types); default: BackBroker")
    p.add_argument("--trades", action="store_true", help="also print every round trip")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("live", help="trade a strategy through BracketBroker: on the simulator (default) or a real exchange",
                       description="Trade a strategy through BracketBroker and ccxt. --venue sim (default) replays the bars on an "
                                   "embedded exchange simulator; --venue real trades on the exchange with keys from environment variables: "
                                   + "; ".join(f"{k}: {', '.join(v.values())}" for k, v in KEY_VARS.items()) + ".")
    common(p, exchange=True)
    p.add_argument("--venue", choices=("sim", "real"), default="sim", help="sim: embedded simulator replaying --data (default); real: the exchange itself")
    p.add_argument("--sandbox", action="store_true", help="with --venue real: use the exchange's sandbox/testnet URLs")
    p.add_argument("--timeframe", default="5m", help="with --venue real: bar size of the live feed, e.g. 5m, 1h (default: 5m)")
    p.add_argument("--backfill", type=int, default=300, metavar="N", help="with --venue real: closed bars of history fed first, to warm up indicators (default: 300)")
    p.add_argument("--no-streams", dest="streams", action="store_false",
                   help="with --venue real: poll fills by REST only (default: take fills, order changes and the market's "
                        "trades from the exchange's websocket streams, REST polling as the fallback)")
    p.add_argument("--yes", "-y", action="store_true", help="with --venue real: do not ask for confirmation")
    p.add_argument("--journal", metavar="PATH", help="with --venue real: the SQLite journal (default: one per exchange, account, strategy and "
                                                     "market, ./runs/live/<exchange>-<account>-<strategy>-<market>/journal.sqlite, so a restart resumes)")
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("sweep", help="run a strategy over a grid of parameters and bar files on Dask (a local cluster by default)",
                       description="Backtest every combination of the --param values on every --data file, on Dask distributed: "
                                   "a local cluster (one worker process per core) by default, or the cluster at --scheduler. "
                                   "Finished combinations are kept in --cache: a sweep run again computes only what is missing. "
                                   "Writes results.parquet and results.csv (one row per combination and data file), prints the best "
                                   "rows, and draws a heatmap over two parameters.")
    p.add_argument("strategy", metavar="STRATEGY.py", help="Python file defining one backtrader Strategy subclass (FILE.py:ClassName picks one of several)")
    p.add_argument("--param", "-p", action="append", required=True, metavar="NAME=VALUES",
                   help="swept parameter, repeatable: NAME=START:STOP:STEP (STOP included), NAME=A,B,C or NAME=VALUE")
    p.add_argument("--data", action="append", metavar="CSV", help="bar file, repeatable (default: the bundled ETH/BTC 5-minute bars)")
    p.add_argument("--venue", choices=(*EXCHANGES, "none"), default="none",
                   help="the venue backtest of this venue (its rules, fees, leg types); none: BackBroker (default)")
    p.add_argument("--symbol", default=DEFAULT_SYMBOL, help=f"market symbol of the bars (default: {DEFAULT_SYMBOL})")
    p.add_argument("--cash", type=_positive, default=DEFAULT_CASH, help="starting cash in quote currency (default: the simulator's balance for the market)")
    p.add_argument("--commission", type=float, help="BackBroker's fee as a fraction of notional (default: 0.001)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster (default: one per core; 0: no Dask, in this process)")
    p.add_argument("--cache", default=str(Path("runs") / "sweep-cache"), metavar="DIR",
                   help="folder of finished combinations, shared by every sweep (default: ./runs/sweep-cache)")
    p.add_argument("--no-cache", dest="cache", action="store_const", const=None, help="keep nothing, take nothing from the cache")
    p.add_argument("--best", type=int, default=10, metavar="N", help="rows in the printed table of the best (default: 10)")
    p.add_argument("--sort", default="net_pnl", help="column the best are chosen by (default: net_pnl)")
    p.add_argument("--heatmap", metavar="X,Y", help="the two parameters of the heatmap (default: the first two swept)")
    _outputs(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("compare", help="BackBroker, the venue backtest and a paper run on the same bars; exit 0 only if the venue "
                                       "backtest and the paper run are identical",
                       description="Run the strategy on BackBroker, as a venue backtest (BracketBroker against the simulator's engine "
                                   "in process) and as a paper run (BracketBroker + ccxt + HTTP + the simulator) on the same bars. "
                                   "Exit 0 only if the venue backtest and the paper run are identical; every BackBroker difference "
                                   "is labelled with the venue rule that causes it.")
    common(p, exchange=True)
    p.add_argument("--json", action="store_true",
                   help='print only {"identical": bool, "backtest": [...], "venue_backtest": [...], "live": [...], '
                        '"differences": [{"trade": i, "rule": "..."}]}')
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("demo", help="compare the bundled breakout bracket strategy on the bundled data, for every exchange dialect",
                       description="Backtest vs paper trading of the bundled breakout strategy (strategies/breakout_bracket.py) "
                                   "on the bundled ETH/BTC 5-minute bars, for the " + venues.names("and") + " dialects.")
    p.set_defaults(func=cmd_demo, symbol=DEFAULT_SYMBOL, cash=DEFAULT_CASH, param=None, mark_data=None)
    _outputs(p)

    _add_sim(sub)
    return parser


def _add_sim(sub) -> None:
    """`sim serve ...`, defined by the simulator package when it provides it."""
    try:
        from .sim import serve
    except ImportError:
        return
    if not hasattr(serve, "add_subcommand"):
        return
    p = sub.add_parser("sim", help="the local exchange simulator", description="The local exchange simulator.")
    serve.add_subcommand(p.add_subparsers(dest="sim_command", metavar="SIMCOMMAND", required=True, parser_class=Parser))
    p.set_defaults(func=lambda args: serve.run(args) or EXIT_OK)


def _outputs(p) -> None:
    p.add_argument("--out", metavar="DIR", help="directory for charts and trade files (default: ./runs/<name>-<timestamp>)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def main(argv: list[str] | None = None) -> int:
    from ccxt.base.errors import AuthenticationError, BaseError

    from .backtrader.journal import JournalInUse
    from .bars import BarsFileError
    from .runs import StrategyFileError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else map(str, argv))
    args = parser.parse_args(argv)
    args.argv = argv  # for the command that resumes a live run
    try:
        return args.func(args)
    except (UsageError, BarsFileError, StrategyFileError, JournalInUse) as exc:
        return _fail(str(exc), EXIT_INPUT)
    except AuthenticationError as exc:
        return _fail(f"the exchange refused the API keys ({type(exc).__name__}): check the BRACKET_* environment variables", EXIT_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BaseError as exc:
        if args.debug:
            raise
        return _fail(f"exchange error {type(exc).__name__}: {_first_line(exc)} (rerun with --debug for the traceback)", EXIT_DIFFERENT)
    except Exception as exc:  # a failure inside the user's strategy or a run: one line unless --debug
        if args.debug:
            raise
        return _fail(f"run failed: {type(exc).__name__}: {_first_line(exc)} (rerun with --debug for the traceback)", EXIT_DIFFERENT)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"


def _fail(message: str, code: int) -> int:
    print(f"bracket-plugin: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
