"""Binance spot order lists, awaitable: the same flows as bracket_plugin.exchanges.binance."""
from __future__ import annotations

import ccxt.async_support as ccxt_async

from ..exchanges.base import AsyncShell
from ..exchanges.binance import BinanceOrderLists


class binance(AsyncShell, BinanceOrderLists, ccxt_async.binance):
    """ccxt.async_support.binance (spot) with the order-list methods (awaitable)."""
