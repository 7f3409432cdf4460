"""Summary figures and tables from a RunResult (pure; no runs)."""
import io

from rich.console import Console

from bracket_plugin.report import (
    comparison_table,
    first_difference,
    progress_bar,
    summarize,
    summary_table,
    trade_pnl,
    trades_table,
)
from bracket_plugin.runs import RunResult


def trade(entry, exit_, side="long", reason="take_profit", size=1.0, t="2018-01-10T00:00:00"):
    return {"entry_time": t, "exit_time": None if exit_ is None else t, "side": side, "size": size,
            "entry_price": entry, "exit_price": exit_, "exit_reason": reason if exit_ is not None else "open"}


def result(trades, brackets=(), fees=0.0):
    return RunResult(trades=list(trades), fills=[], equity=[], brackets=list(brackets), cash=1.0, value=1.5, fees=fees,
                     meta={"symbol": "ETH/BTC"})


def test_pnl_of_long_short_and_open_trades():
    assert trade_pnl(trade(0.1, 0.11, size=2)) == 2 * (0.11 - 0.1)
    assert trade_pnl(trade(0.1, 0.09, side="short", reason="take_profit")) == 0.1 - 0.09
    assert trade_pnl(trade(0.1, None)) is None


def test_summary_counts_wins_fees_and_bracket_endings():
    r = result(
        [trade(0.1, 0.11), trade(0.1, 0.095, reason="stop_loss"), trade(0.1, 0.09, side="short"), trade(0.1, None)],
        brackets=[{"outcome": o} for o in ("take_profit", "stop_loss", "take_profit", "open", "canceled", "canceled")],
        fees=0.002,
    )
    s = summarize(r)
    assert (s["trades"], s["open_trades"], s["wins"], s["losses"]) == (3, 1, 2, 1)
    assert abs(s["win_rate"] - 2 / 3) < 1e-12
    assert abs(s["gross_pnl"] - (0.01 - 0.005 + 0.01)) < 1e-12
    assert abs(s["net_pnl"] - (0.015 - 0.002)) < 1e-12
    assert s["brackets"] == {"take_profit": 2, "stop_loss": 1, "open": 1, "canceled": 2, "rejected": 0}
    assert s["exits"] == {"take_profit": 2, "stop_loss": 1}


def test_summary_of_a_run_without_trades():
    s = summarize(result([]))
    assert s["trades"] == 0 and s["win_rate"] is None and s["net_pnl"] == 0


def render(renderable) -> str:
    buf = io.StringIO()
    Console(file=buf, width=240, color_system=None).print(renderable)
    return buf.getvalue()


def test_tables_show_the_figures():
    r = result([trade(0.1, 0.11), trade(0.1, 0.095, reason="stop_loss")],
               brackets=[{"outcome": "take_profit"}, {"outcome": "stop_loss"}, {"outcome": "canceled"}], fees=0.0004)
    text = render(summary_table(r, "run"))
    assert "50%  (1 won, 1 lost)" in text
    assert "take-profit 1, stop-loss 1, canceled 1" in text
    assert "fees (BTC)" in text and "0.0004" in text
    assert "+0.0046" in text  # net: 0.01 - 0.005 - 0.0004
    rows = render(trades_table(r.trades))
    assert "stop-loss" in rows and "0.095" in rows


def test_first_difference_and_comparison_marks():
    a = [trade(0.1, 0.11), trade(0.1, 0.09, reason="stop_loss")]
    b = [trade(0.1, 0.11), trade(0.1, 0.0901, reason="stop_loss")]
    assert first_difference(a, a) is None
    assert first_difference(a, b) == 1
    assert first_difference(a, a[:1]) == 1
    text = render(comparison_table(a, b, "paper kucoin"))
    assert text.count("=") >= 1 and "≠" in text
    assert "paper kucoin entry bar" in text


def test_progress_bar_is_silent_when_not_a_terminal():
    buf = io.StringIO()
    with progress_bar("x", console=Console(file=buf)) as update:
        update(1, 10)
    assert buf.getvalue() == ""


def test_progress_bar_draws_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with progress_bar("replay", console=console) as update:
        for i in range(1, 11):
            update(i, 10)
    assert "replay" in buf.getvalue()
    buf2 = io.StringIO()
    with progress_bar("replay", quiet=True, console=Console(file=buf2, force_terminal=True)) as update:
        update(5, 10)
    assert buf2.getvalue() == ""
