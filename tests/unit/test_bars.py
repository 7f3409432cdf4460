from decimal import Decimal

import pytest

from bracket_plugin.bars import BarsFileError, bars_frame, bundled_data_path, interval_ms, read_bars


def test_bundled_data_reads_exactly():
    bars = read_bars(bundled_data_path())
    assert len(bars) == 5760
    assert bars[0].ts == 1515560100000
    assert bars[0].open == Decimal("0.0984")
    assert interval_ms(bars) == 300_000
    frame = bars_frame(bars[:3])
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.iloc[1]["close"] == pytest.approx(0.09969)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("ts,o,h,l,c,v\n1,1,1,1,1,1\n", "header must start with"),
        ("timestamp,open,high,low,close,volume\n", "no bars"),
        ("timestamp,open,high,low,close,volume\nabc,1,1,1,1,1\n", "line 2: timestamp must be an integer"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1\n", "expected 6 columns"),
        ("timestamp,open,high,low,close,volume\n1,1,0.5,0.9,1,1\n", "low <= open,close <= high"),
        ("timestamp,open,high,low,close,volume\n2,1,1,1,1,1\n1,1,1,1,1,1\n", "timestamps must increase"),
    ],
)
def test_malformed_files_are_named_with_the_rule(tmp_path, content, fragment):
    path = tmp_path / "bars.csv"
    path.write_text(content)
    with pytest.raises(BarsFileError, match=fragment):
        read_bars(path)


def test_missing_file(tmp_path):
    with pytest.raises(BarsFileError, match="does not exist"):
        read_bars(tmp_path / "nope.csv")
