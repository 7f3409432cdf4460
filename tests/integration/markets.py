"""Bar files of markets other than the bundled one, for parity tests: the bundled ETH/BTC moves
rescaled to another price level and written with more digits than the market's tick, each with
its market description (markets.describe)."""
from __future__ import annotations

from decimal import Decimal

from bracket_plugin.bars import Bar, bundled_data_path, read_bars, rescaled, write_bars
from bracket_plugin.markets import write_description

# name -> (symbol, price level, digits written, description, strategy size)
MARKETS = {
    'eth_btc': ('ETH/BTC', None, None, None, 1.0),
    'usdt_near_1': ('XRP/USDT', '1.2', 6, dict(tick_size='0.0001', lot_size='0.1', min_size='1', min_notional='1'), 100.0),
    'btc_near_30k': ('BTC/USDT', '30000', 2, dict(tick_size='0.1', lot_size='0.00001', min_size='0.00001',
                                                  min_notional='5'), 0.01),
}


def market_file(tmp_path, name: str, bars: int | None = None):
    """(path, symbol, size) of the named market's bar file, the first `bars` bars of it."""
    symbol, level, digits, description, size = MARKETS[name]
    source = read_bars(bundled_data_path())[:bars]
    path = tmp_path / f"{name}.csv"
    write_bars(path, source if level is None else rescaled(source, level, digits))
    if description:
        write_description(path, **description)
    return path, symbol, size


def calmer_marks(path, out):
    """A mark series that follows the bodies of the trades' bars but only a third of their wicks
    (an index over several venues spikes less than one venue's trades)."""
    third, q = Decimal(1) / 3, Decimal('1e-8')
    marks = []
    for b in read_bars(path):
        top, bottom = max(b.open, b.close), min(b.open, b.close)
        marks.append(Bar(b.ts, b.open, (top + (b.high - top) * third).quantize(q),
                         (bottom - (bottom - b.low) * third).quantize(q), b.close, b.volume))
    return write_bars(out, marks)

