"""Asynchronous exchange classes, sharing every flow with the sync ones. They extend ccxt.pro's
classes (themselves ccxt.async_support's, plus the websocket `watch_*` methods)."""
from __future__ import annotations

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from ..exchanges.base import AsyncShell
from ..exchanges.cryptocom import CryptocomOcoStream, CryptocomOrderLists
from ..exchanges.kucoin import KucoinOcoStream, KucoinOrderLists


class kucoin(AsyncShell, KucoinOcoStream, KucoinOrderLists, ccxt_pro.kucoin):
    """ccxt.pro.kucoin with the OCO order-list methods (awaitable) and watch_oco_orders."""


class cryptocom(AsyncShell, CryptocomOcoStream, CryptocomOrderLists, ccxt_pro.cryptocom):
    """ccxt.pro.cryptocom with the advanced order-list methods (awaitable) and watch_oco_orders."""


def exchange(id: str, config: dict | None = None):
    from ..venues import find

    venue = find(id)
    cls = venue.exchange_class(asynchronous=True) if venue is not None else getattr(ccxt_async, id, None)
    if cls is None or id not in ccxt_async.exchanges:
        raise ccxt_async.NotSupported(f'unknown exchange id {id!r}')
    return cls(config or {})


def __getattr__(name: str):
    # every registered venue's async class by its id (bracket_plugin.async_support.binance)
    from ..venues import known, profile

    if known(name):
        return profile(name).exchange_class(asynchronous=True)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['kucoin', 'cryptocom', 'exchange']
