"""The bracket-plugin command, run as a process: error messages, exit codes, backtest, compare, demo."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bracket_plugin.cli import UsageError, parse_params, real_config

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
    one_line_error(cli("compare", BREAKOUT, "--exchange", "binance", cwd=tmp_path), 2, "invalid choice: 'binance'", "kucoin", "cryptocom")
    one_line_error(cli("live", BREAKOUT, "--exchange", "ftx", cwd=tmp_path), 2, "invalid choice")


def test_missing_keys_for_real_venue(tmp_path):
    line = one_line_error(cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", "--yes", cwd=tmp_path), 2,
                          "BRACKET_KUCOIN_API_KEY", "BRACKET_KUCOIN_SECRET", "BRACKET_KUCOIN_PASSWORD")
    partly = cli("live", BREAKOUT, "-x", "cryptocom", "--venue", "real", "--yes", cwd=tmp_path, env={"BRACKET_CRYPTOCOM_API_KEY": "k-123"})
    line = one_line_error(partly, 2, "BRACKET_CRYPTOCOM_SECRET")
    assert "BRACKET_CRYPTOCOM_API_KEY" not in line and "k-123" not in line


def test_sandbox_needs_the_real_venue(tmp_path):
    one_line_error(cli("live", BREAKOUT, "-x", "kucoin", "--sandbox", cwd=tmp_path), 2, "--sandbox", "--venue real")


def test_real_venue_needs_confirmation(tmp_path):
    keys = {"BRACKET_KUCOIN_API_KEY": "key-abc", "BRACKET_KUCOIN_SECRET": "sec-def", "BRACKET_KUCOIN_PASSWORD": "pw-ghi"}
    done = cli("live", BREAKOUT, "-x", "kucoin", "--venue", "real", cwd=tmp_path, env=keys)
    line = one_line_error(done, 2, "without confirmation", "--yes")
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


@pytest.mark.slow
def test_compare_json_is_identical_for_the_breakout(tmp_path):
    done = cli("compare", BREAKOUT, "-x", "kucoin", "--json", "--out", tmp_path / "o", cwd=tmp_path, timeout=300)
    payload = json.loads(done.stdout)
    assert payload["identical"] is True and done.returncode == 0, done.stderr
    assert payload["backtest"] == payload["live"] and len(payload["backtest"]) > 10


@pytest.mark.slow
def test_demo(tmp_path):
    done = cli("demo", "--out", tmp_path / "demo", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kucoin: identical" in done.stdout and "cryptocom: identical" in done.stdout
    assert "demo: identical" in done.stdout
    charts = re.findall(r"^chart: (.+)$", done.stdout, re.M)
    assert len(charts) == 4 and all(Path(c).is_file() for c in charts)


def head_of_bundled_data(path, bars):
    from bracket_plugin.bars import bundled_data_path

    lines = bundled_data_path().read_text().splitlines()[: bars + 1]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compare_reports_a_difference_with_exit_code_1(tmp_path):
    # a strategy that trades 1 ETH on BackBroker and 2 ETH anywhere else: the lists must differ
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
    done = cli("compare", tmp_path / "twofaced.py", "-x", "cryptocom", "--data", data, "--json", "--out", tmp_path / "o", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    assert payload["identical"] is False
    assert [t["size"] for t in payload["backtest"]] == [1.0] and [t["size"] for t in payload["live"]] == [2.0]
    table = cli("compare", tmp_path / "twofaced.py", "-x", "cryptocom", "--data", data, "--out", tmp_path / "o2", cwd=tmp_path)
    assert table.returncode == 1 and "cryptocom: DIFFERENT" in table.stdout and "first difference at trade 1" in table.stdout


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
