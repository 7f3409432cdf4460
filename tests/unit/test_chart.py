"""The run chart is drawn headless and shows the brackets."""
import os
import subprocess
import sys
import textwrap

import backtrader as bt
import matplotlib.image as mpimg
import numpy as np

from bracket_plugin.bars import read_bars
from bracket_plugin.chart import STOP, TAKE, draw
from bracket_plugin.runs import run_backtest


def write_bars(path, rows):
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{1_700_000_000_000 + i * 300_000},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


class OneBracket(bt.Strategy):
    params = (("bracket", True),)

    def next(self):
        if len(self) == 1 and self.p.bracket:
            self.buy_bracket(size=2, exectype=bt.Order.Limit, price=100.0, stopprice=95.0, limitprice=110.0)
        elif len(self) == 1:
            self.buy(size=1)


def colour_pixels(img, hex_colour, tol=0.06):
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(img[:, :, :3] - rgb).max(axis=2) < tol).sum())


ROWS = [(100, 101, 99, 100), (100, 101, 99.5, 100)] + [(103, 104, 102, 103)] * 20 + [(104, 111, 103, 109), (109, 109, 108, 108)]


def test_chart_is_a_png_that_shows_bracket_levels(tmp_path):
    data = write_bars(tmp_path / "b.csv", ROWS)
    bars = read_bars(data)
    with_bracket = run_backtest(OneBracket, data, cash=1000)
    without = run_backtest(OneBracket, data, cash=1000, params={"bracket": False})
    path = draw(with_bracket, bars, tmp_path / "out" / "run.png", title="t", subtitle="s")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[0] > 800 and img.shape[1] > 1200
    plain = mpimg.imread(draw(without, bars, tmp_path / "plain.png"))
    # the legend carries both colours; the bracket's levels, boxes and exit fill add many more pixels
    assert colour_pixels(img, TAKE) > colour_pixels(plain, TAKE) + 500
    assert colour_pixels(img, STOP) > colour_pixels(plain, STOP) + 500


def test_chart_needs_no_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"} | {"MPLBACKEND": "TkAgg"}
    script = textwrap.dedent(f"""
        from bracket_plugin.bars import bundled_data_path, read_bars
        from bracket_plugin.chart import draw
        from bracket_plugin.runs import RunResult
        bars = read_bars(bundled_data_path())[:300]
        r = RunResult(trades=[], fills=[], equity=[], brackets=[], cash=1, value=1, fees=0)
        print(draw(r, bars, {str(tmp_path / 'x.png')!r}))
    """)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.png").stat().st_size > 10_000
