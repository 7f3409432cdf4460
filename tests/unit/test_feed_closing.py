"""Which bars of a candle answer the live feed delivers: the closed ones, on the venue's clock."""
from bracket_plugin.backtrader.feed import CLOSE_GRACE_MS, closed_bars

TF = 300_000


def bars(*starts):
    return [[t, 1.0, 1.0, 1.0, 1.0, 0.0] for t in starts]


def test_the_last_bar_waits_for_its_end_and_the_grace_on_the_venues_clock():
    answer = bars(0, TF)
    end = 2 * TF
    assert closed_bars(answer, TF, end - 1) == answer[:1]                      # still forming
    assert closed_bars(answer, TF, end) == answer[:1]                          # just ended: its last trades may be missing
    assert closed_bars(answer, TF, end + CLOSE_GRACE_MS - 1) == answer[:1]
    assert closed_bars(answer, TF, end + CLOSE_GRACE_MS) == answer


def test_a_bar_followed_by_another_has_closed_whatever_the_clock():
    answer = bars(0, TF, 2 * TF)
    assert closed_bars(answer, TF, 0) == answer[:2]    # a clock far behind the venue's


def test_an_empty_answer():
    assert closed_bars([], TF, 10**13) == []
