"""The bracket-plugin command, run as a process: error messages, exit codes, backtest, compare, demo."""
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bracket_plugin import venues
from bracket_plugin.cli import UsageError, build_parser, parse_params, real_config, stopped_message
from markets import calmer_marks

ROOT = Path(__file__).resolve().parents[2]
BREAKOUT = ROOT / "strategies" / "breakout_bracket.py"


def cli(*args, cwd, env=None, timeout=120):
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRACKET_")}
    return subprocess.run([sys.executable, "-m", "bracket_plugin.cli", *map(str, args)], cwd=cwd, env=base | (env or {}),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(done, code, *fragments):
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_missing_data_file(tmp_path):
    line = one_line_error(cli("backtest", BREAKOUT, "--data", tmp_path / "nope.csv", cwd=tmp_path), 2, "nope.csv", "does not exist")
    assert "--data" in line


def test_malformed_data_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n1515560100000,0.1,0.2,oops,0.1,5\n")
    one_line_error(cli("backtest", BREAKOUT, "--data", bad, cwd=tmp_path), 2, "line 2", "prices numbers")
    wrong_header = tmp_path / "h.csv"
    wrong_header.write_text("date,o,h,l,c\n")
    one_line_error(cli("compare", BREAKOUT, "-x", "kucoin", "--data", wrong_header, cwd=tmp_path), 2, "header must start with")


def test_strategy_file_without_strategy(tmp_path):
    (tmp_path / "plain.py").write_text("print('hello')\n")
    one_line_error(cli("backtest", tmp_path / "plain.py", cwd=tmp_path), 2, "defines no bt.Strategy subclass", "class MyStrategy(bt.Strategy)")
    one_line_error(cli("backtest", tmp_path / "missing.py", cwd=tmp_path), 2, "does not exist")
    (tmp_path / "syntax.py").write_text("import backtrader as bt\nclass S(bt.Strategy)\n    pass\n")
    one_line_error(cli("backtest", tmp_path / "syntax.py", cwd=tmp_path), 2, "fails to import", "SyntaxError")


def test_unknown_exchange(tmp_path):
    one_line_error(cli("compare", BREAKOUT, "--exchange", "bybit", cwd=tmp_path), 2, "invalid choice: 'bybit'", "kucoin", "binance")
    one_line_error(cli("live", BREAKOUT, "--exchange", "ftx", cwd=tmp_path), 2, "invalid choice")


def test_missing_keys_for_real_venue(tmp_path):
    line = one_line_error(cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", "--yes", cwd=tmp_path), 2,
                          "BRACKET_KUCOIN_API_KEY", "BRACKET_KUCOIN_SECRET", "BRACKET_KUCOIN_PASSWORD")
    partly = cli("live", BREAKOUT, "-x", "cryptocom", "--venue", "real", "--yes", cwd=tmp_path, env={"BRACKET_CRYPTOCOM_API_KEY": "k-123"})
    line = one_line_error(partly, 2, "BRACKET_CRYPTOCOM_SECRET")
    assert "BRACKET_CRYPTOCOM_API_KEY" not in line and "k-123" not in line


def test_sandbox_needs_the_real_venue(tmp_path):
    one_line_error(cli("live", BREAKOUT, "-x", "kucoin", "--sandbox", cwd=tmp_path), 2, "--sandbox", "--venue real")


def test_sandbox_on_a_venue_without_one_is_refused_before_anything(tmp_path):
    keys = {"BRACKET_KUCOIN_API_KEY": "key-abc", "BRACKET_KUCOIN_SECRET": "sec-def", "BRACKET_KUCOIN_PASSWORD": "pw-ghi"}
    done = cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", "--sandbox", "--yes", cwd=tmp_path, env=keys)
    one_line_error(done, 2, "--sandbox", "KuCoin has no sandbox", "--venue sim")
    assert "journal:" not in done.stderr and not (tmp_path / "runs").exists()   # refused before anything


def test_real_venue_needs_confirmation(tmp_path):
    keys = {"BRACKET_KUCOIN_API_KEY": "key-abc", "BRACKET_KUCOIN_SECRET": "sec-def", "BRACKET_KUCOIN_PASSWORD": "pw-ghi"}
    done = cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", cwd=tmp_path, env=keys)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    journal, *notes, line = done.stderr.strip().splitlines()  # which journal, the venue's rules, the one-line error
    assert journal.startswith("journal: ") and "without confirmation" in line and "--yes" in line
    assert notes == ["on KuCoin:"] + [f"  - {note}" for note in venues.profile("kucoin").notes]
    assert not any(secret in done.stderr + done.stdout for secret in keys.values())
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.mark.parametrize("param, fragment", [
    ("lookback", "must look like NAME=VALUE"),
    ("=5", "must look like NAME=VALUE"),
    ("nosuch=1", "has no parameter 'nosuch'"),
    ("lookback=abc", "expected an integer"),
    ("take_profit=high", "expected a number"),
])
def test_bad_param(tmp_path, param, fragment):
    one_line_error(cli("backtest", BREAKOUT, "--param", param, cwd=tmp_path), 2, fragment)


def test_bad_arguments_are_one_line(tmp_path):
    one_line_error(cli("backtest", BREAKOUT, "--cash", "-3", cwd=tmp_path), 2, "must be greater than 0")
    one_line_error(cli("frobnicate", cwd=tmp_path), 2, "invalid choice: 'frobnicate'")


def test_sim_serve_is_wired_in(tmp_path):
    done = cli("--help", cwd=tmp_path)
    if " sim " not in done.stdout:
        pytest.skip("bracket_plugin.sim.serve is not in this tree")
    one_line_error(cli("sim", "serve", "--data", tmp_path / "none.csv", cwd=tmp_path), 2, "none.csv", "does not exist")
    one_line_error(cli("sim", cwd=tmp_path), 2, "required")


def test_strategy_failing_at_runtime_is_one_line(tmp_path):
    (tmp_path / "crash.py").write_text("import backtrader as bt\nclass Crash(bt.Strategy):\n    def next(self):\n        raise ValueError('bad bar')\n")
    one_line_error(cli("backtest", tmp_path / "crash.py", cwd=tmp_path), 1, "run failed: ValueError: bad bar", "--debug")
    debug = cli("--debug", "backtest", tmp_path / "crash.py", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_params_are_converted_to_the_defaults_types():
    from bracket_plugin.runs import load_strategy

    cls = load_strategy(BREAKOUT)
    assert parse_params(["lookback=48", "take_profit=0.02", "size=2"], cls) == {"lookback": 48, "take_profit": 0.02, "size": 2.0}
    with pytest.raises(UsageError, match="expected an integer"):
        parse_params(["lookback=4.5"], cls)


def test_real_config_reads_only_the_environment():
    env = {"BRACKET_CRYPTOCOM_API_KEY": "a", "BRACKET_CRYPTOCOM_SECRET": "b"}
    assert real_config("cryptocom", env) == {"apiKey": "a", "secret": "b"}


def test_backtest_happy_path(tmp_path):
    done = cli("backtest", BREAKOUT, "--out", tmp_path / "o", "--param", "lookback=48", "--trades", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "round trips" in done.stdout and "win rate" in done.stdout and "take-profit" in done.stdout
    chart = Path(re.search(r"^chart: (.+)$", done.stdout, re.M).group(1))
    assert chart.is_absolute() and chart.read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "o" / "backtest.json").read_text())
    assert len(saved["trades"]) > 10
    assert saved["meta"]["strategy"] == "BreakoutBracket"
    default_out = cli("backtest", BREAKOUT, "-q", cwd=tmp_path)
    assert default_out.returncode == 0 and list((tmp_path / "runs").glob("backtest-BreakoutBracket-*/backtest.png"))


def test_backtest_on_a_venue_runs_the_venue_backtest_with_the_same_trades_as_backbroker_here(tmp_path):
    data = head_of_bundled_data(tmp_path / "part.csv", 1000)
    venue = cli("backtest", BREAKOUT, "--venue", "cryptocom", "--data", data, "--out", tmp_path / "v", cwd=tmp_path)
    assert venue.returncode == 0, venue.stderr
    assert "venue backtest" in venue.stdout
    saved = json.loads((tmp_path / "v" / "venue-backtest-cryptocom.json").read_text())
    assert saved["meta"]["mode"] == "venue_backtest" and saved["meta"]["exchange"] == "cryptocom"
    cli("backtest", BREAKOUT, "--data", data, "--commission", "0.00075", "--out", tmp_path / "b", cwd=tmp_path)
    assert json.loads((tmp_path / "b" / "backtest.json").read_text())["trades"] == saved["trades"] != []


@pytest.mark.slow
def test_compare_json_is_identical_for_the_breakout(tmp_path):
    data = head_of_bundled_data(tmp_path / "part.csv", 2500)
    done = cli("compare", BREAKOUT, "-x", "kucoin", "--json", "--data", data, "--out", tmp_path / "o", cwd=tmp_path,
               timeout=300)
    payload = json.loads(done.stdout)
    assert payload["identical"] is True and done.returncode == 0, done.stderr
    assert payload["venue_backtest"] == payload["live"] and len(payload["live"]) > 10
    # here BackBroker trades the same: no difference to label
    assert payload["backtest"] == payload["live"] and payload["differences"] == []


def head_of_bundled_data(path, bars):
    from bracket_plugin.bars import bundled_data_path

    lines = bundled_data_path().read_text().splitlines()[: bars + 1]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compare_reports_a_difference_with_exit_code_1(tmp_path):
    # a strategy that trades 1 ETH in the venue backtest (the in-process engine) and 2 ETH through
    # ccxt: the venue backtest and the paper run must differ
    (tmp_path / "twofaced.py").write_text(
        "import backtrader as bt\n"
        "class TwoFaced(bt.Strategy):\n"
        "    def next(self):\n"
        "        inproc = type(getattr(self.broker, 'store', None) and self.broker.store.exchange).__name__ == 'EngineExchange'\n"
        "        if len(self) == 5:\n"
        "            self.buy(size=1 if inproc else 2)\n"
        "        if len(self) == 10:\n"
        "            self.close()\n"
    )
    data = head_of_bundled_data(tmp_path / "short.csv", 40)
    done = cli("compare", tmp_path / "twofaced.py", "-x", "cryptocom", "--data", data, "--json", "--out", tmp_path / "o", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    assert payload["identical"] is False
    assert [t["size"] for t in payload["venue_backtest"]] == [1.0] and [t["size"] for t in payload["live"]] == [2.0]
    table = cli("compare", tmp_path / "twofaced.py", "-x", "cryptocom", "--data", data, "--out", tmp_path / "o2", cwd=tmp_path)
    assert table.returncode == 1 and "cryptocom: DIFFERENT" in table.stdout and "first difference at trade 1" in table.stdout


def test_compare_labels_a_backbroker_difference_no_venue_rule_explains(tmp_path):
    # BackBroker trades 1 ETH, the venue runs 2 ETH: venue backtest == paper (exit 0), and the one
    # BackBroker difference is 'unexplained' (no venue rule makes sizes differ by a whole unit)
    (tmp_path / "twofaced.py").write_text(
        "import backtrader as bt\n"
        "class TwoFaced(bt.Strategy):\n"
        "    def next(self):\n"
        "        if len(self) == 5:\n"
        "            self.buy(size=1 if isinstance(self.broker, bt.brokers.BackBroker) else 2)\n"
        "        if len(self) == 10:\n"
        "            self.close()\n"
    )
    data = head_of_bundled_data(tmp_path / "short.csv", 40)
    done = cli("compare", tmp_path / "twofaced.py", "-x", "kucoin", "--data", data, "--json", "--out", tmp_path / "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["identical"] is True
    assert [t["size"] for t in payload["backtest"]] == [1.0] and [t["size"] for t in payload["venue_backtest"]] == [2.0]
    assert payload["differences"] == [{"trade": 0, "rule": "unexplained"}]


def test_live_on_the_simulator_by_default(tmp_path):
    data = head_of_bundled_data(tmp_path / "part.csv", 600)
    done = cli("live", ROOT / "strategies" / "oco_exit.py", "-x", "kucoin", "--data", data, "--out", tmp_path / "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "paper on kucoin (simulator)" in done.stdout
    saved = json.loads((tmp_path / "o" / "paper-kucoin.json").read_text())
    assert saved["meta"]["exchange"] == "kucoin" and saved["fills"]
    assert (tmp_path / "o" / "paper-kucoin.png").is_file()


def test_compare_side_by_side_on_a_slice(tmp_path):
    data = head_of_bundled_data(tmp_path / "part.csv", 900)
    done = cli("compare", BREAKOUT, "-x", "cryptocom", "--data", data, "--param", "lookback=24", "--out", tmp_path / "o", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backtest vs paper cryptocom" in done.stdout and "cryptocom: identical" in done.stdout
    rows = [line for line in done.stdout.splitlines() if re.match(r"\s+\d+\s+2018-", line)]
    assert len(rows) >= 2 and all(line.rstrip().endswith("=") for line in rows)
    assert len(re.findall(r"^chart: ", done.stdout, re.M)) == 2


def test_compare_with_a_mark_series_labels_the_exits_it_moves(tmp_path):
    data = head_of_bundled_data(tmp_path / "part.csv", 900)
    marks = calmer_marks(data, tmp_path / "marks.csv")
    done = cli("compare", BREAKOUT, "-x", "cryptocom", "--json", "--data", data, "--mark-data", marks,
               "--out", tmp_path / "o", cwd=tmp_path)
    payload = json.loads(done.stdout)
    assert payload["identical"] is True and done.returncode == 0, done.stderr
    rules = {d["rule"] for d in payload["differences"]}
    assert "mark trigger" in rules and "unexplained" not in rules
    one_line_error(cli("backtest", BREAKOUT, "--data", data, "--mark-data", marks, cwd=tmp_path), 2,
                   "--mark-data", "BackBroker")


KUCOIN_KEYS = {"BRACKET_KUCOIN_API_KEY": "key-abc", "BRACKET_KUCOIN_SECRET": "sec-def", "BRACKET_KUCOIN_PASSWORD": "pw-ghi"}


def journal_line(done):
    """(path, status) from the `journal: PATH (STATUS)` line a live run prints first."""
    m = re.search(r"^journal: (.+) \((.+)\)$", done.stderr, re.M)
    assert m, done.stderr
    return Path(m.group(1)), m.group(2)


def leave_an_open_bracket(journal: Path, data):
    """What a live run stopped with Ctrl-C leaves: a journal with an OTOCO open on the venue."""
    from bracket_plugin.backtrader import BracketStore
    from bracket_plugin.backtrader.paper import paper_exchange
    from bracket_plugin.backtrader.planner import (
        ENTRY,
        LIMIT,
        OTOCO,
        STOP,
        STOP_LOSS,
        TAKE_PROFIT,
        BracketSpec,
        LegSpec,
    )
    from bracket_plugin.sim import Venue

    with Venue(data=str(data), symbol="ETH/BTC", start=100) as venue:
        store = BracketStore(paper_exchange(venue, "kucoin"), journal=str(journal))
        price = round(float(venue.engine_for("kucoin").last_price("ETH/BTC")) * 0.99, 6)
        store.submit(BracketSpec(OTOCO, "ETH/BTC", (LegSpec(ENTRY, "buy", 1.0, LIMIT, price=price),
                                                     LegSpec(STOP_LOSS, "sell", 1.0, STOP, trigger=round(price * 0.99, 6)),
                                                     LegSpec(TAKE_PROFIT, "sell", 1.0, LIMIT, price=round(price * 1.02, 6)))))
        store.journal.close()


def test_live_journal_is_the_same_on_every_run_and_a_restart_resumes_it(tmp_path, bundled_slice):
    # without --yes and without a terminal the run stops after naming its journal: no network
    live = ("live", BREAKOUT, "-x", "kucoin", "--venue", "real")
    first = cli(*live, cwd=tmp_path, env=KUCOIN_KEYS)
    path, status = journal_line(first)
    tag = hashlib.sha256(b"key-abc").hexdigest()[:8]
    assert path == tmp_path / "runs" / "live" / f"kucoin-{tag}-BreakoutBracket-ETH-BTC" / "journal.sqlite"
    assert status == "new" and not path.exists()
    assert not any(secret in first.stderr for secret in KUCOIN_KEYS.values())

    leave_an_open_bracket(path, bundled_slice(300))
    second = cli(*live, cwd=tmp_path, env=KUCOIN_KEYS)
    assert journal_line(second) == (path, "resumed: 1 open group")

    other_account = cli(*live, cwd=tmp_path, env=KUCOIN_KEYS | {"BRACKET_KUCOIN_API_KEY": "key-xyz"})
    assert journal_line(other_account)[0] != path and journal_line(other_account)[1] == "new"
    other_market = cli(*live, "--symbol", "BTC/USDT", cwd=tmp_path, env=KUCOIN_KEYS)
    assert journal_line(other_market)[0] == path.parent.with_name(f"kucoin-{tag}-BreakoutBracket-BTC-USDT") / "journal.sqlite"
    chosen = cli(*live, "--journal", "mine.sqlite", cwd=tmp_path, env=KUCOIN_KEYS)
    assert journal_line(chosen) == (tmp_path / "mine.sqlite", "new")


def test_live_run_on_a_journal_another_run_holds_is_refused(tmp_path):
    from bracket_plugin.backtrader.journal import Journal

    held = Journal(str(tmp_path / "held.sqlite"))   # another run trades on it
    try:
        done = cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", "--journal", "held.sqlite", cwd=tmp_path,
                   env=KUCOIN_KEYS)
    finally:
        held.close()
    one_line_error(done, 2, "held.sqlite", "one store at a time")


def test_live_journal_option_needs_the_real_venue(tmp_path):
    one_line_error(cli("live", BREAKOUT, "-x", "kucoin", "--journal", tmp_path / "j.sqlite", cwd=tmp_path), 2, "--journal", "--venue real")


@pytest.mark.parametrize("journal_arg", [[], ["--journal", "old.sqlite"]], ids=["default-journal", "journal-given"])
def test_ctrl_c_message_is_the_command_that_resumes(tmp_path, monkeypatch, journal_arg):
    for var, value in KUCOIN_KEYS.items():
        monkeypatch.setenv(var, value)
    same = ["--debug", "live", str(BREAKOUT), "-x", "kucoin", "--venue", "real", "--yes", "--param", "lookback=48", "--out", "my runs"]
    argv = same + journal_arg
    args = build_parser().parse_args(argv)
    args.argv = argv
    journal = tmp_path / "a dir" / "journal.sqlite"
    message = stopped_message(args, journal)
    assert "BRACKET_KUCOIN_API_KEY" in message and not any(secret in message for secret in KUCOIN_KEYS.values())
    command = shlex.split(message.splitlines()[-1])
    assert command == ["bracket-plugin", *same, "--journal", str(journal)]
    resumed = build_parser().parse_args(command[1:])
    assert vars(resumed) == {k: v for k, v in vars(args).items() if k != "argv"} | {"journal": str(journal)}


@pytest.mark.parametrize("argv", [["demo"], ["backtest", "s.py"], ["compare", "s.py", "-x", "kucoin"],
                                  ["live", "s.py", "-x", "kucoin"]], ids=lambda a: a[0])
def test_every_run_command_gives_the_options_the_shared_run_helpers_read(argv):
    # the demo runs the compare helpers with a parser of its own: each option they read must be there
    args = build_parser().parse_args(argv)
    assert (args.mark_data, args.param, args.cash) == (None, None, None)
    assert args.symbol == "ETH/BTC"
