"""TradeRecorder, run_backtest and load_strategy on BackBroker (no sockets)."""
import datetime as dt
from pathlib import Path

import backtrader as bt
import pytest

from bracket_plugin.bars import BarsFileError, bundled_data_path, read_bars
from bracket_plugin.examples import NAMES, example_path
from bracket_plugin.runs import StrategyFileError, load_strategy, run_backtest

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_000


def write_bars(path, rows):
    """rows: (open, high, low, close); 5-minute bars."""
    lines = ["timestamp,open,high,low,close,volume"]
    for i, (o, h, lo, c) in enumerate(rows):
        lines.append(f"{T0 + i * 300_000},{o},{h},{lo},{c},10")
    path.write_text("\n".join(lines) + "\n")
    return path


def bar_iso(i):
    return dt.datetime.fromtimestamp((T0 + i * 300_000) / 1000, dt.UTC).replace(tzinfo=None).isoformat()


class OneBracket(bt.Strategy):
    params = (("side", "buy"), ("entry", 100.0), ("stop", 95.0), ("take", 110.0), ("cancel_at", None))

    def next(self):
        if len(self) == 1:
            make = self.buy_bracket if self.p.side == "buy" else self.sell_bracket
            self.orders = make(size=2, exectype=bt.Order.Limit, price=self.p.entry,
                               stopprice=self.p.stop, limitprice=self.p.take)
        if self.p.cancel_at is not None and len(self) == self.p.cancel_at:
            self.cancel(self.orders[0])


class OcoPair(bt.Strategy):
    def next(self):
        if len(self) == 1:
            self.buy(size=1)
        if len(self) == 2:
            stop = self.sell(size=1, exectype=bt.Order.Stop, price=95.0)
            self.sell(size=1, exectype=bt.Order.Limit, price=110.0, oco=stop)


class Flip(bt.Strategy):
    def next(self):
        if len(self) == 1:
            self.buy(size=1)
        if len(self) == 2:
            self.sell(size=2)
        if len(self) == 3:
            self.buy(size=1)


def test_long_bracket_take_profit(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 101, 99, 100), (100, 101, 99.5, 100), (104, 111, 103, 109), (109, 109, 108, 108)])
    r = run_backtest(OneBracket, data, cash=1000, commission=0.001)
    assert r.trades == [{"entry_time": bar_iso(1), "exit_time": bar_iso(2), "side": "long", "size": 2.0,
                         "entry_price": 100.0, "exit_price": 110.0, "exit_reason": "take_profit"}]
    assert [f["role"] for f in r.fills] == ["entry", "take_profit"]
    assert r.fees == pytest.approx(0.001 * (200 + 220))
    assert r.value == pytest.approx(1000 + 20 - 0.42)
    [b] = r.brackets
    assert (b["kind"], b["side"], b["outcome"]) == ("otoco", "long", "take_profit")
    assert (b["entry_price"], b["take_profit"], b["stop_loss"]) == (100.0, 110.0, 95.0)
    assert b["exit_fill"] == {"price": 110.0, "bar": bar_iso(2)}
    assert len(r.equity) == 4 and r.equity[-1][1] == pytest.approx(r.value)


def test_stop_wins_when_one_bar_touches_both_exits(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 101, 99, 100), (100, 101, 99.5, 100), (100, 111, 94, 100), (100, 100, 100, 100)])
    r = run_backtest(OneBracket, data, cash=1000)
    assert [(t["exit_reason"], t["exit_price"]) for t in r.trades] == [("stop_loss", 95.0)]
    assert r.brackets[0]["outcome"] == "stop_loss"


def test_short_bracket_stop_loss_gap_fills_at_open(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 101, 99, 100), (99, 101, 99, 100), (107, 108, 106, 107), (107, 107, 107, 107)])
    r = run_backtest(OneBracket, data, cash=1000, params={"side": "sell", "entry": 100.0, "stop": 105.0, "take": 90.0})
    assert r.trades == [{"entry_time": bar_iso(1), "exit_time": bar_iso(2), "side": "short", "size": 2.0,
                         "entry_price": 100.0, "exit_price": 107.0, "exit_reason": "stop_loss"}]
    assert r.brackets[0]["side"] == "short"


def test_unfilled_bracket_is_canceled_and_still_open_one_is_open(tmp_path):
    rows = [(100, 101, 99, 100)] + [(102, 103, 101, 102)] * 4
    data = write_bars(tmp_path / "b.csv", rows)
    canceled = run_backtest(OneBracket, data, cash=1000, params={"cancel_at": 3})
    assert canceled.trades == [] and canceled.fills == []
    assert [b["outcome"] for b in canceled.brackets] == ["canceled"]
    waiting = run_backtest(OneBracket, data, cash=1000)
    assert [b["outcome"] for b in waiting.brackets] == ["open"]
    too_poor = run_backtest(OneBracket, data, cash=1)
    assert [b["outcome"] for b in too_poor.brackets] == ["rejected"]


def test_open_position_is_an_open_trade(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 101, 99, 100), (100, 101, 99.5, 100), (101, 102, 100, 101)])
    r = run_backtest(OneBracket, data, cash=1000)
    assert r.trades == [{"entry_time": bar_iso(1), "exit_time": None, "side": "long", "size": 2.0,
                         "entry_price": 100.0, "exit_price": None, "exit_reason": "open"}]
    assert r.brackets[0]["outcome"] == "open"


def test_oco_legs_are_grouped_and_named(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (99, 100, 94, 95), (95, 95, 95, 95)])
    r = run_backtest(OcoPair, data, cash=1000)
    assert [t["exit_reason"] for t in r.trades] == ["stop_loss"]
    assert [f["role"] for f in r.fills] == ["entry", "stop_loss"]
    [b] = r.brackets
    assert (b["kind"], b["side"], b["outcome"], b["stop_loss"], b["take_profit"]) == ("oco", "long", "stop_loss", 95.0, 110.0)


def test_position_flip_splits_into_two_trades(tmp_path):
    data = write_bars(tmp_path / "b.csv", [(100, 100, 100, 100), (101, 101, 101, 101), (102, 102, 102, 102), (103, 103, 103, 103)])
    r = run_backtest(Flip, data, cash=1000)
    assert [(t["side"], t["entry_price"], t["exit_price"], t["exit_reason"]) for t in r.trades] == [
        ("long", 101.0, 102.0, "other"), ("short", 102.0, 103.0, "other")]


@pytest.mark.parametrize("name", NAMES)
def test_example_strategies_trade_one_bracket_at_a_time_on_tick(name):
    bars = read_bars(bundled_data_path())
    close = {dt.datetime.fromtimestamp(b.ts / 1000, dt.UTC).replace(tzinfo=None).isoformat(): float(b.close) for b in bars}
    r = run_backtest(load_strategy(ROOT / "strategies" / f"{name}.py"), bundled_data_path())
    closed = [t for t in r.trades if t["exit_time"]]
    assert 10 <= len(closed) <= 60
    assert all(t["exit_reason"] in ("take_profit", "stop_loss") for t in closed)
    ended = [b for b in r.brackets if b["outcome"] != "open"]
    for b in r.brackets:
        for level in (b["entry_price"], b["take_profit"], b["stop_loss"]):
            if level is not None:
                assert abs(level / 0.000001 - round(level / 0.000001)) < 1e-6, (name, b)
        below, above = (b["stop_loss"], b["take_profit"]) if b["side"] == "long" else (b["take_profit"], b["stop_loss"])
        assert below < close[b["created"]] < above, b
        assert 0.004 <= abs(b["stop_loss"] / close[b["created"]] - 1) <= 0.015
    for earlier, later in zip(ended, ended[1:]):
        assert earlier["ended"] <= later["created"], (earlier, later)  # never two brackets at once


def test_examples_in_package_are_the_strategies_files():
    for name in NAMES:
        assert example_path(name).read_text() == (ROOT / "strategies" / f"{name}.py").read_text()


def test_load_strategy_errors(tmp_path):
    with pytest.raises(StrategyFileError, match="does not exist"):
        load_strategy(tmp_path / "nope.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(StrategyFileError, match="defines no bt.Strategy subclass"):
        load_strategy(tmp_path / "empty.py")
    (tmp_path / "broken.py").write_text("import backtrader\n\nraise RuntimeError('boom')\n")
    with pytest.raises(StrategyFileError, match=r"fails to import \(line 3\): RuntimeError: boom"):
        load_strategy(tmp_path / "broken.py")
    (tmp_path / "two.py").write_text("import backtrader as bt\nclass A(bt.Strategy): pass\nclass B(bt.Strategy): pass\n")
    with pytest.raises(StrategyFileError, match=r"several strategies \(A, B\)"):
        load_strategy(tmp_path / "two.py")
    assert load_strategy(tmp_path / "two.py", name="B").__name__ == "B"
    # a strategy imported from elsewhere is not the file's own
    (tmp_path / "imports.py").write_text("from backtrader import Strategy\n")
    with pytest.raises(StrategyFileError, match="defines no"):
        load_strategy(tmp_path / "imports.py")


def test_bad_bars_file_raises_before_running(tmp_path):
    with pytest.raises(BarsFileError, match="does not exist"):
        run_backtest(OneBracket, tmp_path / "missing.csv")
