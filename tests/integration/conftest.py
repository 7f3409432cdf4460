"""Fixtures shared by the integration tests."""
import pytest

from bracket_plugin.bars import bundled_data_path


@pytest.fixture(scope='session')
def bundled_slice(tmp_path_factory):
    """make(n) -> path of a CSV holding the first n bundled ETH/BTC 5-minute bars (cached per n)."""
    made = {}

    def make(n: int):
        if n not in made:
            path = tmp_path_factory.mktemp('bars') / f'eth_btc_{n}.csv'
            path.write_text(''.join(bundled_data_path().read_text().splitlines(keepends=True)[:n + 1]))
            made[n] = path
        return made[n]

    return make


@pytest.fixture(scope='module')
def slice_path(bundled_slice):
    """The first 800 bundled bars: long enough for every example strategy to trade."""
    return bundled_slice(800)
