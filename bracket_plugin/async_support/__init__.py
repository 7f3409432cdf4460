"""Asynchronous exchange classes, sharing every flow with the sync ones. They extend ccxt.pro's
classes (themselves ccxt.async_support's, plus the websocket `watch_*` methods)."""
from __future__ import annotations

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from ccxt.async_support.base.ws.cache import ArrayCacheBySymbolById

from ..exchanges.base import AsyncShell
from ..exchanges.cryptocom import CryptocomOrderLists
from ..exchanges.kucoin import KucoinOcoStream, KucoinOrderLists

ADVANCED_CHANNEL = 'user.advance.order'   # Crypto.com's websocket channel of advanced (list) orders
LEGS_OF = {'OCO': 2, 'OTO': 2, 'OTOCO': 3}   # legs of a list by its contingency_type


class kucoin(AsyncShell, KucoinOcoStream, KucoinOrderLists, ccxt_pro.kucoin):
    """ccxt.pro.kucoin with the OCO order-list methods (awaitable) and watch_oco_orders."""


class cryptocom(AsyncShell, CryptocomOrderLists, ccxt_pro.cryptocom):
    """ccxt.pro.cryptocom with the advanced order-list methods (awaitable) and `watch_oco_orders`.

    ccxt.pro 4.5.90 never subscribes Crypto.com's advanced-order channel: `watch_oco_orders`
    subscribes `user.advance.order[.{instrument}]` (the documented spelling) through ccxt.pro's own
    private subscription (public/auth, then subscribe), keeps every leg seen by list id (an update
    carries only the legs that changed) and parses each changed list with the REST layer's parser.
    A list first met with legs missing (subscribed after its entry filled) is completed once through
    REST (private/advanced/get-order-list-detail)."""

    def describe(self):
        return self.deep_extend(super().describe(), {'has': {'watchOcoOrders': True}})

    async def watch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        """Order lists (the unified dict fetch_oco_order returns) as their legs change: an
        ArrayCache-like list of the lists updated, newest last (ccxt's watch conventions)."""
        await self.load_markets()
        market = self.market(symbol) if symbol is not None else None
        message_hash = ADVANCED_CHANNEL + ('.' + market['id'] if market is not None else '')
        lists = await self.watch_private_subscribe(message_hash, params)
        symbol = market['symbol'] if market is not None else None
        if self.newUpdates:
            limit = lists.getLimit(symbol, limit)
        return self.filter_by_symbol_since_limit(lists, symbol, since, limit, True)

    watchOcoOrders = watch_oco_orders

    def handle_subscribe(self, client, message):
        result = self.safe_dict(message, 'result')
        channel = self.safe_string(result, 'channel') or ''
        if channel.startswith(ADVANCED_CHANNEL) or channel.startswith('user.advanced.order'):
            self.handle_oco_orders(client, result)
        else:
            super().handle_subscribe(client, message)

    def handle_oco_orders(self, client, result):
        if getattr(self, 'oco_orders', None) is None:
            self.oco_orders = ArrayCacheBySymbolById(self.safe_integer(self.options, 'ordersLimit', 1000))
            self._oco_legs, self._oco_filling = {}, set()
        changed = []
        for leg in self.safe_list(result, 'data', []):
            list_id = self.safe_string(leg, 'list_id')
            if list_id is None:   # a single advanced (trigger) order: no list
                continue
            self._oco_legs.setdefault(list_id, {})[self.safe_string(leg, 'order_id')] = leg
            if list_id not in changed:
                changed.append(list_id)
        self._publish_lists(client, changed, [self.safe_string(result, 'subscription'), self.safe_string(result, 'channel')])

    def _publish_lists(self, client, list_ids, message_hashes):
        for list_id in list_ids:
            known = list(self._oco_legs[list_id].values())
            missing = LEGS_OF.get(self.safe_string_upper(known[0], 'contingency_type'), 0) - len(known)
            if missing > 0 and list_id not in self._oco_filling:
                # a list met mid-life: the subscription's snapshot holds its open legs only (a filled
                # OTOCO entry is not among them); the rest come from REST, once
                self._oco_filling.add(list_id)
                self.spawn(self._fill_in_list, client, list_id, message_hashes)
            parsed = self._parse_list(list_id, known, known)
            self.oco_orders.append(parsed)
            if parsed['status'] != 'open' and missing <= 0:   # done and whole: its legs change no more
                del self._oco_legs[list_id]
        if list_ids:
            for message_hash in message_hashes:
                client.resolve(self.oco_orders, message_hash)

    async def _fill_in_list(self, client, list_id, message_hashes):
        try:
            response = await self.v1PrivatePostPrivateAdvancedGetOrderListDetail({'list_id_list': [list_id]})
        finally:
            self._oco_filling.discard(list_id)
        known = self._oco_legs.get(list_id)
        if known is None:
            return
        for leg in self.safe_list(self.safe_dict(response, 'result', {}), 'data', []):
            if self.safe_string(leg, 'list_id') == list_id:
                known.setdefault(self.safe_string(leg, 'order_id'), leg)   # the stream's copy is the fresher
        self._publish_lists(client, [list_id], message_hashes)

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
