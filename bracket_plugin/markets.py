"""A market's trading rules (price tick, lot step, minimums) as a strategy reads them.

The same `MarketInfo` reaches a strategy in every kind of run:

- BackBroker backtest: from the bar file's market description (`<data>.market.json` beside the
  CSV, see `describe`), else the rules the simulator derives from the bars' price level;
- venue backtest, paper and live: from the venue's own market (ccxt's precision and limits).

A strategy reads them with `market_info(self.data)` and rounds with `info.round_price(p)` and
`info.floor_amount(a)`:

    info = market_info(self.data)
    price = info.round_price(self.data.close[0] * 1.01)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

_FIELDS = ('tick_size', 'lot_size', 'min_size', 'min_notional')


@dataclass(frozen=True)
class MarketInfo:
    symbol: str
    tick_size: float         # price step
    lot_size: float          # amount step (base currency)
    min_size: float          # smallest amount (base)
    min_notional: float      # smallest amount * price (quote)

    def round_price(self, price: float) -> float:
        """`price` to the nearest tick (half up, as ccxt's price_to_precision)."""
        tick = Decimal(repr(self.tick_size))
        return float((Decimal(repr(float(price))) / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick)

    def floor_amount(self, amount: float) -> float:
        """`amount` down to the lot (as ccxt's amount_to_precision truncates)."""
        lot = Decimal(repr(self.lot_size))
        # float sums of fills land a hair under the lot they add up to (99.99999999999999): 12 places first
        return float((Decimal(repr(round(float(amount), 12))) / lot).quantize(Decimal(1), ROUND_DOWN) * lot)

    def is_dust(self, amount: float) -> bool:
        """Less than one lot: what a fee charged in the base leaves after an exit, which no order can trade."""
        return abs(amount) < self.lot_size * (1 - 1e-9)

    @classmethod
    def from_rules(cls, rules) -> MarketInfo:
        """From the simulator's MarketRules."""
        return cls(rules.symbol, float(rules.tick_size), float(rules.lot_size), float(rules.min_size),
                   float(rules.min_notional))

    @classmethod
    def from_ccxt(cls, market: dict) -> MarketInfo:
        """From a ccxt market (TICK_SIZE precision: steps, not decimal places)."""
        precision, limits = market.get('precision') or {}, market.get('limits') or {}
        return cls(market['symbol'], float(precision.get('price') or 0), float(precision.get('amount') or 0),
                   float((limits.get('amount') or {}).get('min') or 0), float((limits.get('cost') or {}).get('min') or 0))


class MarketInfoMissing(LookupError):
    """The data feed carries no market rules; the message says how to give them."""


def market_info(data) -> MarketInfo:
    """The market rules of a backtrader data feed (see the module docstring)."""
    info = getattr(data, 'market_info', None)
    if info is None:
        raise MarketInfoMissing(
            f'data feed {getattr(data, "_name", "") or data!r} carries no market rules: run it through '
            'bracket_plugin (runs.run_backtest, run_venue_backtest, run_paper, BracketFeed), or set '
            'feed.market_info = MarketInfo(symbol, tick_size, lot_size, min_size, min_notional)')
    return info


def description_path(data_path) -> Path:
    """Where a bar file's market description lives: `ETH_BTC-5m.csv` -> `ETH_BTC-5m.market.json`."""
    p = Path(data_path)
    return p.with_name(p.stem + '.market.json')


def describe(data_path) -> dict:
    """The bar file's market description, {field: Decimal} for the fields it gives ({} without one).

    The file is JSON: {"tick_size": "0.0001", "lot_size": "0.1", "min_size": "1", "min_notional": "1"};
    every field is optional (a missing one is derived from the bars' price level)."""
    path = description_path(data_path)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f'market description {path} is not valid JSON: {exc}') from None
    if not isinstance(raw, dict):
        raise ValueError(f'market description {path} must be a JSON object with {", ".join(_FIELDS)}')
    unknown = set(raw) - set(_FIELDS) - {'symbol'}
    if unknown:
        raise ValueError(f'market description {path}: unknown field(s) {", ".join(sorted(unknown))} '
                         f'(known: {", ".join(_FIELDS)})')
    out = {}
    for key in _FIELDS:
        if key in raw:
            value = Decimal(str(raw[key]))
            if not value.is_finite() or value <= 0:
                raise ValueError(f'market description {path}: {key} must be a number > 0, got {raw[key]!r}')
            out[key] = value
    return out


def write_description(data_path, **fields) -> Path:
    """Write a bar file's market description (used by tests and the bench to make markets)."""
    path = description_path(data_path)
    path.write_text(json.dumps({k: str(v) for k, v in fields.items()}, indent=1))
    return path
