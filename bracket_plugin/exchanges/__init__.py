"""Synchronous exchange classes: ccxt's own, plus the order-list methods."""
from __future__ import annotations

import ccxt

from .base import SyncShell
from .cryptocom import CryptocomOrderLists
from .kucoin import KucoinOrderLists


class kucoin(SyncShell, KucoinOrderLists, ccxt.kucoin):
    """ccxt.kucoin with create/cancel/fetch OCO order lists (spot, v3 OCO endpoints)."""


class cryptocom(SyncShell, CryptocomOrderLists, ccxt.cryptocom):
    """ccxt.cryptocom with Crypto.com's advanced OCO / OTO / OTOCO order lists."""


def exchange(id: str, config: dict | None = None):
    """An exchange instance by ccxt id: ours for a registered venue, ccxt's own class otherwise
    (it then has no order-list methods and no order-list `has` flags)."""
    from ..venues import find

    venue = find(id)
    cls = venue.exchange_class() if venue is not None else getattr(ccxt, id, None)
    if cls is None or id not in ccxt.exchanges:
        raise ccxt.NotSupported(f'unknown exchange id {id!r}')
    return cls(config or {})
