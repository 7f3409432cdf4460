"""Crypto.com Exchange v1 advanced order lists (OCO, OTO, OTOCO).

ccxt 4.5.90 has none of the `private/advanced/*` methods, so they are added below as ccxt
`Entry` descriptors: ccxt's own request/sign/throttle path serves them. Every value sent is a
string (Crypto.com requires numeric params as JSON strings; `limit` is the one int).

Client ids: a list's clientOrderId (at most 34 chars) is not stored by Crypto.com; each leg gets
`<clientOrderId>-e` (entry), `-t` (take-profit / plain limit leg) or `-s` (stop leg), at most 36
chars, and the list is found again through a leg (get-order-detail by client_oid -> list_id)."""
from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

from ccxt.async_support.base.ws.cache import ArrayCacheBySymbolById
from ccxt.base.errors import (
    ArgumentsRequired,
    BadSymbol,
    DuplicateOrderId,
    ExchangeError,
    InvalidOrder,
    NotSupported,
    OrderNotFound,
)
from ccxt.base.types import Entry

from .. import validation as v
from ..model import (
    CANCELED,
    CLOSED,
    ENTRY,
    ENTRY_MARKET,
    OCO,
    OPEN,
    OTO,
    OTOCO,
    REJECTED,
    STOP_LOSS,
    TAKE_PROFIT,
    list_status,
)
from .base import ORDER_LIST_HAS, CcxtExchange, OrderListBase

# Crypto.com Exchange v1 `code` -> class; merged into describe()['exceptions']['exact'].
CRYPTOCOM_EXACT = {
    '140001': NotSupported,      # API_DISABLED: e.g. create-order-list with contingency OCO
    '50002': InvalidOrder,       # invalid price (advanced orders)
    '50007': InvalidOrder,       # INVALID_TRIGGER_PRICE: trigger on the wrong side of the reference price
    '50010': InvalidOrder,       # INVALID_ORDER_PARAMETERS: e.g. OTO exit on the same side as the entry
    '204': DuplicateOrderId,     # DUPLICATE_CLORDID
    '205': DuplicateOrderId,     # DUPLICATE_ORDERID
    '208': BadSymbol,            # instrument not tradable
    '209': BadSymbol,            # INVALID_INSTRUMENT_NAME
    '212': OrderNotFound,        # INVALID_ORDERID
    '229': InvalidOrder,         # INVALID_REF_PRICE
    '230': InvalidOrder,         # INVALID_REF_PRICE_TYPE
    '308': InvalidOrder,         # INVALID_PRICE
    '316': OrderNotFound,        # NO_ACTIVE_ORDER
}

ADV = ['v1', 'private']
SINGLE_CLIENT_ID_MAX = 36
COST = 10 / 3           # "3 requests per 100 ms" bucket, same cost ccxt gives create-order-list

LEG_STATUS = {'NEW': OPEN, 'PENDING': OPEN, 'ACTIVE': OPEN, 'FILLED': CLOSED, 'CANCELED': CANCELED,
              'REJECTED': REJECTED, 'EXPIRED': 'expired'}
SUFFIX = {ENTRY: 'e', TAKE_PROFIT: 't', STOP_LOSS: 's'}
ROLE_OF_SUFFIX = {s: r for r, s in SUFFIX.items()}
KIND_OF_CONTINGENCY = {'OCO': OCO, 'OTO': OTO, 'OTOCO': OTOCO}
CANCEL_METHOD = {OCO: 'v1PrivatePostPrivateAdvancedCancelOco', OTO: 'v1PrivatePostPrivateAdvancedCancelOto',
                 OTOCO: 'v1PrivatePostPrivateAdvancedCancelOtoco'}


def _entry(path):
    return Entry(path, ADV, 'POST', {'cost': COST})


class CryptocomOrderLists(OrderListBase):
    my_trades_page_size = 100      # private/get-trades: at most 100 trades an answer (`limit`)

    v1_private_post_private_advanced_create_oco = v1PrivatePostPrivateAdvancedCreateOco = _entry('private/advanced/create-oco')
    v1_private_post_private_advanced_create_oto = v1PrivatePostPrivateAdvancedCreateOto = _entry('private/advanced/create-oto')
    v1_private_post_private_advanced_create_otoco = v1PrivatePostPrivateAdvancedCreateOtoco = _entry('private/advanced/create-otoco')
    v1_private_post_private_advanced_cancel_oco = v1PrivatePostPrivateAdvancedCancelOco = _entry('private/advanced/cancel-oco')
    v1_private_post_private_advanced_cancel_oto = v1PrivatePostPrivateAdvancedCancelOto = _entry('private/advanced/cancel-oto')
    v1_private_post_private_advanced_cancel_otoco = v1PrivatePostPrivateAdvancedCancelOtoco = _entry('private/advanced/cancel-otoco')
    v1_private_post_private_advanced_cancel_order = v1PrivatePostPrivateAdvancedCancelOrder = _entry('private/advanced/cancel-order')
    v1_private_post_private_advanced_cancel_all_orders = v1PrivatePostPrivateAdvancedCancelAllOrders = _entry('private/advanced/cancel-all-orders')
    v1_private_post_private_advanced_get_open_orders = v1PrivatePostPrivateAdvancedGetOpenOrders = _entry('private/advanced/get-open-orders')
    v1_private_post_private_advanced_get_order_detail = v1PrivatePostPrivateAdvancedGetOrderDetail = _entry('private/advanced/get-order-detail')
    v1_private_post_private_advanced_get_order_history = v1PrivatePostPrivateAdvancedGetOrderHistory = _entry('private/advanced/get-order-history')
    v1_private_post_private_advanced_get_order_list_detail = v1PrivatePostPrivateAdvancedGetOrderListDetail = _entry('private/advanced/get-order-list-detail')

    def nonce(self):
        # ccxt's Crypto.com nonce is the local clock alone; honour the measured difference
        # (load_time_difference) as ccxt's KuCoin class does, so a skewed clock can be corrected
        return self.milliseconds() - self.safe_integer(self.options, 'timeDifference', 0)

    def fetch_time(self, params={}):
        return self._drive(self._flow_fetch_time(params))

    def _flow_fetch_time(self, params):
        """Crypto.com has no time endpoint: the venue's clock is read from the HTTP Date header of a
        public answer (whole seconds, so the middle of that second; its nonce window is 60 s)."""
        yield ('v1PublicGetPublicGetInstruments', (params,))
        date = (self.last_response_headers or {}).get('Date')
        if not date:
            raise ExchangeError(self.id + ' fetch_time(): the answer carried no Date header')
        return int(parsedate_to_datetime(date).timestamp() * 1000) + 500

    def describe(self):
        return self.deep_extend(super().describe(), {
            'has': dict(ORDER_LIST_HAS, fetchTime=True),
            'exceptions': {'exact': dict(CRYPTOCOM_EXACT)},
        })

    # ---- markets: ccxt 4.5.90 leaves limits.amount.min / limits.cost.min of every market unset ----
    def set_markets(self, markets, currencies=None):
        # load_markets (sync and async) ends here with the parsed instruments
        return super().set_markets([self._with_instrument_minimums(m) for m in self.to_array(markets)], currencies)

    def _with_instrument_minimums(self, market: dict) -> dict:
        """The market with its minimum amount and cost taken from its instrument (`info`) where unset.

        Crypto.com's public/get-instruments documents `qty_tick_size` as "Minimum trading quantity /
        tick size" and carries no notional minimum. [?] An instrument that carries `min_quantity` /
        `min_notional` (the simulator's; older API versions had `min_quantity`) gives those instead."""
        info = market.get('info') or {}
        found = {'amount': self.safe_number_2(info, 'min_quantity', 'qty_tick_size'),
                 'cost': self.safe_number(info, 'min_notional')}
        limits = dict(market.get('limits') or {})
        for key, value in found.items():
            if value is not None and (limits.get(key) or {}).get('min') is None:
                limits[key] = dict(limits.get(key) or {}, min=value)
        return dict(market, limits=limits)

    # ---- single orders: ccxt 4.5.90 drops the unified clientOrderId from create-order requests ----
    def _single_client_id(self, params: dict) -> dict:
        """params with `clientOrderId` sent as Crypto.com's `client_oid` (at most 36 characters)."""
        cid = params.get('clientOrderId')
        field = 'params.clientOrderId'
        if cid is None:
            cid, field = params.get('client_oid'), 'params.client_oid'
            if cid is None:
                return params
        self._raise(v.check_client_order_id(cid, SINGLE_CLIENT_ID_MAX, field, charset=False))
        return self.extend(self.omit(params, 'clientOrderId'), {'client_oid': cid})

    def create_order_request(self, symbol, type, side, amount, price=None, params={}):
        params = self._single_client_id(params)
        if type == 'market' and params.get('triggerPrice') is not None and params.get('stopLossPrice') is None \
                and params.get('takeProfitPrice') is None:
            # ccxt types a market trigger order by comparing its price (None) with the trigger, which
            # makes every sell a TAKE_PROFIT (refused below the market). A stop-market fires against
            # the position (a sell below the market, a buy above), as on KuCoin: Crypto.com's STOP_LOSS
            params = self.extend(self.omit(params, 'triggerPrice'), {'stopLossPrice': params['triggerPrice']})
        return super().create_order_request(symbol, type, side, amount, price, params)

    def create_advanced_order_request(self, symbol, type, side, amount, price=None, params={}):
        return super().create_advanced_order_request(symbol, type, side, amount, price, self._single_client_id(params))

    def _flow_fetch_order(self, id, symbol, params):
        """get-order-detail by client_oid when no id is given (ccxt's fetch_order sends order_id only)."""
        if id is not None or params.get('clientOrderId') is None:
            return None
        return self._flow_fetch_order_by_client_id(symbol, params)

    def _flow_fetch_order_by_client_id(self, symbol, params):
        return self._flow_single_by_client_id('v1PrivatePostPrivateGetOrderDetail', symbol, params)

    def _flow_cancel_order(self, id, symbol, params):
        """cancel-order by client_oid when no id is given (ccxt's cancel_order sends order_id only,
        and signs a missing id as the text None, which the exchange refuses)."""
        if id is not None or params.get('clientOrderId') is None:
            return None
        return self._flow_single_by_client_id('v1PrivatePostPrivateCancelOrder', symbol, params)

    def _flow_single_by_client_id(self, method, symbol, params):
        yield from self._ensure_markets()
        market = None if symbol is None else self.market(symbol)
        request = self.extend({'client_oid': params['clientOrderId']}, self.omit(params, 'clientOrderId'))
        response = yield (method, (request,))
        return self.parse_order(self.safe_dict(response, 'result', {}), market)

    # ---- pure: validation and request building ----
    def _leg_request(self, market, cid, role, side, type, quantity, price=None, ref_price=None, mark_only=False):
        leg = {'instrument_name': market['id'], 'side': side.upper(), 'type': type, 'quantity': quantity}
        if price is not None:
            leg['price'] = price
        if ref_price is not None:
            leg['ref_price'] = ref_price
            if mark_only:
                leg['ref_price_type'] = 'MARK_PRICE'   # the only reference create-oco accepts
        leg['client_oid'] = cid + '-' + SUFFIX[role]
        return leg

    def _exit_leg(self, market, cid, role, side, qty, trigger, limit, mark_only=False):
        """Stop legs: STOP_LIMIT with a limit price, STOP_LOSS (market) without; same for TAKE_PROFIT."""
        base = 'STOP' if role == STOP_LOSS else 'TAKE_PROFIT'
        type = base + '_LIMIT' if limit is not None else ('STOP_LOSS' if role == STOP_LOSS else 'TAKE_PROFIT')
        return self._leg_request(market, cid, role, side, type, qty, price=limit, ref_price=trigger, mark_only=mark_only)

    def _oco_request(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        market, cid, qty, p = self._oco_levels(symbol, side, amount, price, stop_price, stop_limit_price, params)
        legs = [self._leg_request(market, cid, TAKE_PROFIT, side, 'LIMIT', qty, price=p['price']),
                self._exit_leg(market, cid, STOP_LOSS, side, qty, p['stop_price'], p['stop_limit_price'], mark_only=True)]
        return cid, self._with_extra({'order_list': legs}, params)

    def _entry_request(self, kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params):
        """Shared by OTO and OTOCO: entry leg first, then the stop leg, then the take-profit leg."""
        market, cid, entry_type, qty, exit_qty, p = self._entry_levels(
            kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params,
            more=lambda market: self._exit_amount_violations(market, params))
        exit_side = 'sell' if side == 'buy' else 'buy'
        if entry_type == ENTRY_MARKET:
            legs = [self._leg_request(market, cid, ENTRY, side, 'MARKET', qty)]
        else:
            legs = [self._leg_request(market, cid, ENTRY, side, 'LIMIT', qty, price=p['price'])]
        if p['stop_loss_price'] is not None:
            legs.append(self._exit_leg(market, cid, STOP_LOSS, exit_side, exit_qty, p['stop_loss_price'], p['sl_limit']))
        if p['take_profit_price'] is not None:
            legs.append(self._exit_leg(market, cid, TAKE_PROFIT, exit_side, exit_qty, p['take_profit_price'], p['tp_limit']))
        return cid, self._with_extra({'order_list': legs}, params)

    def _param_value(self, value) -> str:
        """Every param value as a string: Crypto.com takes each as one, and ccxt's signer writes
        other values unlike the exchange (True as 'True', not 'true')."""
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return value if isinstance(value, str) else self.number_to_string(value)

    # ---- pure: parsing ----
    def _leg_role(self, raw, kind) -> str:
        cid = self.safe_string(raw, 'client_oid') or ''
        if len(cid) > 2 and cid[-2] == '-' and cid[-1] in ROLE_OF_SUFFIX:
            return ROLE_OF_SUFFIX[cid[-1]]
        t = (self.safe_string(raw, 'order_type') or self.safe_string(raw, 'type') or '').upper()
        if t.startswith('TAKE_PROFIT'):
            return TAKE_PROFIT
        if t.startswith('STOP'):
            return STOP_LOSS
        return TAKE_PROFIT if kind == OCO else ENTRY

    def _list_kind(self, legs) -> str:
        ct = (self.safe_string(legs[0], 'contingency_type') or '').upper() if legs else ''
        if ct in KIND_OF_CONTINGENCY:
            return KIND_OF_CONTINGENCY[ct]
        if len(legs) >= 3:
            return OTOCO
        # SPOT_ATTACH / unknown: an entry (LIMIT/MARKET) plus opposite-side exit is an OTO
        sides = {self.safe_string_upper(leg, 'side') for leg in legs}
        return OTO if len(sides) > 1 else OCO

    def _list_client_id(self, legs) -> str | None:
        for leg in legs:
            cid = self.safe_string(leg, 'client_oid') or ''
            if len(cid) > 2 and cid[-2] == '-' and cid[-1] in ROLE_OF_SUFFIX:
                return cid[:-2]
        return None

    def _parse_leg(self, raw, kind) -> dict:
        market = self.safe_market(self.safe_string(raw, 'instrument_name'), None, '_')
        order = self.parse_order(raw, market)
        order['status'] = self.safe_string(LEG_STATUS, self.safe_string(raw, 'status'), order['status'])
        trigger = self.safe_number(raw, 'ref_price')
        if trigger:
            order['triggerPrice'] = order['stopPrice'] = trigger
        if order['type'] in ('stop_loss', 'take_profit', 'market') and not self.safe_number(raw, 'limit_price'):
            order['price'] = None
        order['role'] = self._leg_role(raw, kind)
        return order

    def _parse_list(self, list_id, legs, info) -> dict:
        legs = sorted(legs, key=lambda x: self.safe_integer(x, 'leg_id', 0))
        kind = self._list_kind(legs)
        orders = [self._parse_leg(raw, kind) for raw in legs]
        exit_filled = any(o['status'] == CLOSED and (kind == OCO or o['role'] != ENTRY) for o in orders)
        times = [o['timestamp'] for o in orders if o['timestamp'] is not None]
        ts = min(times) if times else None
        symbol = orders[0]['symbol'] if orders else None
        return self._order_list(id=list_id, client_order_id=self._list_client_id(legs), symbol=symbol, kind=kind,
                                status=list_status([o['status'] for o in orders], exit_filled),
                                orders=orders, timestamp=ts, info=info)

    def _group_lists(self, legs) -> list[dict]:
        groups: dict[str, list] = {}
        for leg in legs:
            list_id = self.safe_string(leg, 'list_id')
            if list_id:   # single advanced orders have no list
                groups.setdefault(list_id, []).append(leg)
        return [self._parse_list(lid, group, group) for lid, group in groups.items()]

    def _created(self, kind, symbol, cid, request, response) -> dict:
        list_id = self.safe_string(self.safe_dict(response, 'result', {}), 'list_id')
        legs = [self._placed_leg(symbol, leg['side'].lower(), leg['type'].lower(), leg['quantity'], leg.get('price'),
                                 leg.get('ref_price'), leg['client_oid'], ROLE_OF_SUFFIX[leg['client_oid'][-1]])
                for leg in request['order_list']]
        return self._order_list(id=list_id, client_order_id=cid, symbol=symbol, kind=kind, status=OPEN,
                                orders=legs, info=response)

    # ---- flows (see base.py) ----
    def _flow_create_oco(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        self._require('createOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid, request = self._oco_request(symbol, side, amount, price, stop_price, stop_limit_price, params)
        response = yield ('v1PrivatePostPrivateAdvancedCreateOco', (request,))
        return self._created(OCO, symbol, cid, request, response)

    def _flow_create_oto(self, symbol, side, amount, price, stop_loss_price, take_profit_price, params):
        self._require('createOtoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid, request = self._entry_request(OTO, symbol, side, amount, price, stop_loss_price, take_profit_price, params)
        response = yield ('v1PrivatePostPrivateAdvancedCreateOto', (request,))
        return self._created(OTO, symbol, cid, request, response)

    def _flow_create_otoco(self, symbol, side, amount, price, take_profit_price, stop_loss_price, params):
        self._require('createOtocoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid, request = self._entry_request(OTOCO, symbol, side, amount, price, stop_loss_price, take_profit_price, params)
        response = yield ('v1PrivatePostPrivateAdvancedCreateOtoco', (request,))
        return self._created(OTOCO, symbol, cid, request, response)

    def _flow_list_id(self, id, params, suffixes):
        """The list id, given directly or found through a leg's client_oid (tries each suffix)."""
        if id is not None:
            return id
        cid = params.get('clientOrderId')
        if cid is None:
            raise ArgumentsRequired(f'{self.id} requires an id or params.clientOrderId')
        for suffix in suffixes:
            try:
                response = yield ('v1PrivatePostPrivateAdvancedGetOrderDetail', ({'client_oid': f'{cid}-{suffix}'},))
            except OrderNotFound:
                continue
            list_id = self.safe_string(self.safe_dict(response, 'result', {}), 'list_id')
            if list_id:
                return list_id
        raise OrderNotFound(f'{self.id} no order list with clientOrderId {cid}')

    def _flow_cancel_list(self, kind, id, symbol, params):
        self._require({OCO: 'cancelOcoOrder', OTO: 'cancelOtoOrder', OTOCO: 'cancelOtocoOrder'}[kind])
        params = self._checked_params(params)
        list_id = yield from self._flow_list_id(id, params, ('t',) if kind == OCO else ('e',))
        response = yield (CANCEL_METHOD[kind], (self.extend({'list_id': list_id}, self._extra_params(params)),))
        # the cancel is acknowledged (code 0) and processed asynchronously; fetch_oco_order confirms
        return self._order_list(id=list_id, client_order_id=params.get('clientOrderId'), symbol=symbol, kind=kind,
                                status=CANCELED, orders=[], info=response)

    def _flow_fetch_list(self, id, symbol, params):
        self._require('fetchOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        list_id = yield from self._flow_list_id(id, params, ('e', 't'))
        response = yield ('v1PrivatePostPrivateAdvancedGetOrderListDetail',
                          (self.extend({'list_id_list': [list_id]}, self._extra_params(params)),))
        legs = [leg for leg in self.safe_list(self.safe_dict(response, 'result', {}), 'data', [])
                if self.safe_string(leg, 'list_id', list_id) == list_id]
        if not legs:
            raise OrderNotFound(f'{self.id} no order list with id {list_id}: {json.dumps(response)}')
        return self._parse_list(list_id, legs, response)

    def _flow_fetch_lists(self, open_only, symbol, since, limit, params):
        self._require('fetchOpenOcoOrders' if open_only else 'fetchOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        query = self._symbol_filter(symbol, 'instrument_name')
        rest = self._extra_params(params)
        response = yield ('v1PrivatePostPrivateAdvancedGetOpenOrders', (self.extend(query, rest),))
        legs = self.safe_list(self.safe_dict(response, 'result', {}), 'data', [])
        if not open_only:
            history = dict(query)
            if since is not None:
                history['start_time'] = str(since)
            if limit is not None:
                history['limit'] = min(int(limit) * 3, 100)   # legs, not lists; an int by Crypto.com's rule
            older = yield ('v1PrivatePostPrivateAdvancedGetOrderHistory', (self.extend(history, rest),))
            seen = {self.safe_string(leg, 'order_id') for leg in legs}
            legs = legs + [leg for leg in self.safe_list(self.safe_dict(older, 'result', {}), 'data', [])
                           if self.safe_string(leg, 'order_id') not in seen]
        lists = self._group_lists(legs)
        return self._finish_lists(lists, open_only, since, limit)

    def _flow_cancel_all(self, symbol, params):
        self._require('cancelAllOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        request = self._symbol_filter(symbol, 'instrument_name')
        request['type'] = 'ALL'
        yield ('v1PrivatePostPrivateAdvancedCancelAllOrders', (self.extend(request, self._extra_params(params)),))
        return []


ADVANCED_CHANNEL = 'user.advance.order'   # Crypto.com's websocket channel of advanced (list) orders
LEGS_OF = {'OCO': 2, 'OTO': 2, 'OTOCO': 3}   # legs of a list by its contingency_type


class CryptocomOcoStream(CcxtExchange):
    """watch_oco_orders on ccxt.pro's Crypto.com client, and the account's trades kept apart from
    the market's (handle_trades).

    ccxt.pro 4.5.90 never subscribes Crypto.com's advanced-order channel: `watch_oco_orders`
    subscribes `user.advance.order[.{instrument}]` (the documented spelling) through ccxt.pro's own
    private subscription (public/auth, then subscribe), keeps every leg seen by list id (an update
    carries only the legs that changed) and parses each changed list with the REST layer's parser.
    A list first met with legs missing (subscribed after its entry filled) is completed once through
    REST (private/advanced/get-order-list-detail)."""

    myTrades: Any   # ccxt.pro's cache of the account's trades (None until the first)

    def describe(self):
        base = super().describe()
        # ccxt.pro 4.5.90 lists the UAT sandbox's websocket URLs at the top of urls['test'], where
        # set_sandbox_mode leaves them unread (every watch reads urls['api']['ws']): nest them too
        test = base['urls'].get('test') or {}
        ws = {k: test[k] for k in ('public', 'private') if k in test}
        return self.deep_extend(base, {'has': {'watchOcoOrders': True}, 'urls': {'test': {'ws': ws}}})

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

    def handle_trades(self, client, message):
        """The account's trades (`user.trade[.{instrument}]`) kept apart from the market's:
        ccxt.pro 4.5.90 stores both in one cache per symbol, so watch_my_trades also returned the
        market's trades (and watch_trades the account's). Kept by trade id: a trade sent twice is
        one trade."""
        channel = self.safe_string(message, 'channel') or ''
        if not channel.startswith('user.trade'):
            return super().handle_trades(client, message)
        trades = self.parse_trades(self.safe_list(message, 'data', []))
        if not trades:
            return
        if self.myTrades is None:
            self.myTrades = ArrayCacheBySymbolById(self.safe_integer(self.options, 'tradesLimit', 1000))
        for trade in trades:
            self.myTrades.append(trade)
        for message_hash in {self.safe_string(message, 'subscription') or channel, 'user.trade'}:
            client.resolve(self.myTrades, message_hash)

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
            self._oco_legs: dict[str, dict[str, dict]] = {}   # list id -> {leg order id -> its latest message}
            self._oco_filling: set[str] = set()
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
