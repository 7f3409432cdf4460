"""KuCoin spot OCO on ccxt's implicit v3 endpoints (privatePostOcoOrder & co.).

KuCoin has no OTO / OTOCO endpoint: those flags are False and the methods raise NotSupported.
Endpoint facts: POST/DELETE/GET /api/v3/oco/* (KuCoin spot OCO, marked deprecated by KuCoin's
own SDK spec but still the only spot OCO route)."""
from __future__ import annotations

import asyncio
import hashlib
import json

from ccxt.async_support.base.ws.cache import ArrayCacheBySymbolById
from ccxt.base.errors import (
    ArgumentsRequired,
    BadRequest,
    BadSymbol,
    DuplicateOrderId,
    InsufficientFunds,
    InvalidOrder,
    NotSupported,
    OperationRejected,
    OrderNotFound,
)

from .. import validation as v
from ..model import CANCELED, CLOSED, OCO, OPEN, STOP_LOSS, TAKE_PROFIT, Violation, list_status
from .base import ORDER_LIST_HAS, CcxtExchange, OrderListBase

# KuCoin `code` -> class, checked before ccxt's own tables.
KUCOIN_CODES = {
    '126044': DuplicateOrderId,  # clientOid duplicate (ccxt: InvalidOrder)
    '126033': DuplicateOrderId,  # Duplicate order (ccxt: InvalidOrder)
    '900001': BadSymbol,         # symbol does not exist
    '200001': OperationRejected,  # order creation suspended for the pair
    '200002': OperationRejected,  # order cancellation suspended for the pair
    '200003': InvalidOrder,      # open order count limit reached
}


def kucoin_error_class(code: str | None, msg: str | None):
    """The class for a KuCoin error answer, or None to leave it to ccxt.

    KuCoin answers most OCO mistakes with code 400100 and the reason in `msg`, which ccxt turns
    into a generic BadRequest; the message decides here."""
    if code in ('200000', '200', None):
        return None
    cls = KUCOIN_CODES.get(code)
    if cls is not None:
        return cls
    m = (msg or '').lower()
    if 'clientoid' in m and ('duplicat' in m or ('exist' in m and 'not exist' not in m)):
        return DuplicateOrderId
    if 'order' in m and ('not exist' in m or 'not_exist' in m or 'not found' in m):
        return OrderNotFound
    if 'below the minimum' in m or 'price not in the given range' in m:
        return InvalidOrder
    if m == 'account.available.amount':
        return InsufficientFunds
    if 'symbol' in m and ('not exist' in m or 'not_exist' in m):
        return BadSymbol
    if code == '400100' and 'parameter' in m:
        return BadRequest
    return None



LIST_STATUS = {'NEW': 'open', 'TRIGGERED': 'open', 'DONE': 'closed', 'CANCELLED': 'canceled', 'CANCELED': 'canceled'}
LEG_STATUS = LIST_STATUS
MAX_PAGES = 50          # bound on list pagination (50 x 100 lists)
PAGE_SIZE = 100


class KucoinOrderLists(OrderListBase):
    my_trades_page_size = 50     # /api/v1/fills answers 50 fills a page unless asked otherwise
    open_orders_page_size = 500  # /api/v1/orders?status=active: pageSize at most 500
    _single_order_nested_params = True   # ccxt's create_order takes stopLoss / takeProfit dicts (contracts)

    def describe(self):
        return self.deep_extend(super().describe(), {
            'has': dict(ORDER_LIST_HAS, createOtoOrder=False, createOtocoOrder=False,
                        cancelOtoOrder=False, cancelOtocoOrder=False),
        })

    def _derived_credentials(self) -> list[str]:
        # KC-API-PASSPHRASE as ccxt signs it (key version 2, also valid for 3): base64 HMAC-SHA256(secret, passphrase)
        if not (isinstance(self.password, str) and isinstance(self.secret, str) and self.password and self.secret):
            return []
        return [self.hmac(self.encode(self.password), self.encode(self.secret), hashlib.sha256, 'base64')]

    def handle_errors(self, code, reason, url, method, headers, body, response, requestHeaders, requestBody):
        if isinstance(response, dict) and response.get('code') != '200000':
            cls = kucoin_error_class(self.safe_string(response, 'code'), self.safe_string(response, 'msg'))
            if cls is not None:
                raise cls(self.id + ' ' + body)
        return super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)

    # ---- pure: validation and request building ----
    def _oco_request(self, symbol, side, amount, price, stop_price, stop_limit_price, params) -> dict:
        market = self._checked_market(symbol)
        lot, tick = self._steps(market)
        bad = v.check_side(side) + v.check_positive('amount', amount, step=lot) \
            + v.check_positive('price', price, step=tick) + v.check_positive('stop_price', stop_price, step=tick)
        if stop_limit_price is None:
            # KuCoin's stop leg is always a stop-limit; no silent default for its limit price
            bad.append(Violation('stop_limit_price', 'is required on KuCoin (the stop leg is a stop-limit order)',
                                   'ArgumentsRequired'))
        else:
            bad += v.check_positive('stop_limit_price', stop_limit_price, step=tick)
        bad += v.check_price_params(params, tick)
        cid = self._client_order_id(params)
        bad += v.check_client_order_id(cid, self._list_client_id_max) + v.check_remark(params.get('remark'))
        self._raise(bad)
        size, p = self._precise(symbol, amount, {'price': price, 'stop_price': stop_price,
                                                 'stop_limit_price': stop_limit_price})
        bad = v.check_ordering(OCO, side, price=p['price'], stop_price=p['stop_price'])
        bad += v.check_minimums(market, size, {'price': p['price'], 'stop_limit_price': p['stop_limit_price']})
        self._raise(bad)
        request = {
            'symbol': market['id'],
            'side': side,
            'price': p['price'],
            'size': size,
            'stopPrice': p['stop_price'],
            'limitPrice': p['stop_limit_price'],
            'clientOid': cid,
        }
        if params.get('remark') is not None:
            request['remark'] = params['remark']
        extra = self._extra_params(params)
        if not extra:
            return request
        self._raise(v.check_not_replacing(extra, request))
        return self.extend(request, extra)

    # ---- pure: parsing ----
    def _legs_from_request(self, request, symbol) -> list[dict]:
        side, size = request['side'], request['size']
        return [self._placed_leg(symbol, side, 'limit', size, request['price'], role=TAKE_PROFIT),
                self._placed_leg(symbol, side, 'limit', size, request['limitPrice'], request['stopPrice'], role=STOP_LOSS)]

    def _leg_roles(self, legs: list[dict]) -> list[str]:
        """Limit leg: no stop price, or stop price equal to its price (KuCoin echoes price there)."""
        def is_plain(leg):
            sp = self.safe_number(leg, 'stopPrice')
            return not sp or sp == self.safe_number(leg, 'price')
        plain = [is_plain(leg) for leg in legs]
        if len(legs) == 2 and plain[0] != plain[1]:
            return [TAKE_PROFIT if p else STOP_LOSS for p in plain]
        return [TAKE_PROFIT, STOP_LOSS][:len(legs)] + [STOP_LOSS] * max(0, len(legs) - 2)

    def _parse_list(self, data: dict, legs_known: bool = True) -> dict:
        market = self.safe_market(self.safe_string(data, 'symbol'), None, '-')
        ts = self.safe_integer(data, 'orderTime')
        legs = self.safe_list(data, 'orders', []) if legs_known else []
        orders = []
        for raw, role in zip(legs, self._leg_roles(legs)):
            stop = self.safe_string(raw, 'stopPrice') if role == STOP_LOSS else None
            orders.append(self._leg(raw, self.safe_market(self.safe_string(raw, 'symbol'), market, '-'),
                                    id=self.safe_string(raw, 'id'), side=self.safe_string(raw, 'side'),
                                    type='limit', price=self.safe_string(raw, 'price'),
                                    amount=self.safe_string(raw, 'size'), trigger_price=stop,
                                    status=self.safe_string(LEG_STATUS, self.safe_string(raw, 'status')),
                                    timestamp=ts, role=role))
        return self._order_list(id=self.safe_string(data, 'orderId'), client_order_id=self.safe_string(data, 'clientOid'),
                                symbol=market['symbol'], kind=OCO,
                                status=self.safe_string(LIST_STATUS, self.safe_string(data, 'status')),
                                orders=orders, timestamp=ts, info=data)

    def _parse_cancel(self, response, id, cid, symbol) -> dict:
        data = self.safe_dict(response, 'data', {})
        market = self.market(symbol) if symbol is not None and self.markets and symbol in self.markets else None
        legs = [self._leg(None, market, id=leg_id, status=CANCELED, role=role)
                for leg_id, role in zip(self.safe_list(data, 'cancelledOrderIds', []), [TAKE_PROFIT, STOP_LOSS])]
        return self._order_list(id=id, client_order_id=cid, symbol=symbol, kind=OCO, status=CANCELED,
                                orders=legs, info=response)

    # ---- flows (see base.py): yield (ccxt method, args), receive the answer ----
    def _flow_create_oco(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        self._require('createOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        request = self._oco_request(symbol, side, amount, price, stop_price, stop_limit_price, params)
        response = yield ('privatePostOcoOrder', (request,))
        data = self.safe_dict(response, 'data', {})
        return self._order_list(id=self.safe_string(data, 'orderId'), client_order_id=request['clientOid'],
                                symbol=symbol, kind=OCO, status=OPEN,
                                orders=self._legs_from_request(request, symbol), info=response)

    # not flows: these raise before any request
    def _flow_create_oto(self, *args):
        self._require('createOtoOrder')
        raise NotSupported(f'{self.id} has no native OTO endpoint')

    def _flow_create_otoco(self, *args):
        self._require('createOtocoOrder')
        raise NotSupported(f'{self.id} has no native OTOCO endpoint')

    def _flow_cancel_list(self, kind, id, symbol, params):
        self._require({'oco': 'cancelOcoOrder', 'oto': 'cancelOtoOrder', 'otoco': 'cancelOtocoOrder'}[kind])
        params = self._checked_params(params)
        cid = params.get('clientOrderId')
        rest = self._extra_params(params)
        if id is not None:
            response = yield ('privateDeleteOcoOrderOrderId', (self.extend({'orderId': id}, rest),))
        elif cid is not None:
            response = yield ('privateDeleteOcoClientOrderClientOid', (self.extend({'clientOid': cid}, rest),))
        else:
            raise ArgumentsRequired(f'{self.id} cancel_oco_order() requires id or params.clientOrderId')
        return self._parse_cancel(response, id, cid, symbol)

    def _flow_fetch_list(self, id, symbol, params):
        self._require('fetchOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid = params.get('clientOrderId')
        rest = self._extra_params(params)
        if id is None:
            if cid is None:
                raise ArgumentsRequired(f'{self.id} fetch_oco_order() requires id or params.clientOrderId')
            head = yield ('privateGetOcoClientOrderClientOid', (self.extend({'clientOid': cid}, rest),))
            id = self.safe_string(self.safe_dict(head, 'data'), 'orderId')
            if id is None:
                raise OrderNotFound(f'{self.id} no OCO order with clientOrderId {cid}: {json.dumps(head)}')
        response = yield ('privateGetOcoOrderDetailsOrderId', (self.extend({'orderId': id}, rest),))
        data = self.safe_dict(response, 'data')
        if not data:
            raise OrderNotFound(f'{self.id} no OCO order with id {id}: {json.dumps(response)}')
        return self._parse_list(data)

    def _flow_fetch_lists(self, open_only, symbol, since, limit, params):
        self._require('fetchOpenOcoOrders' if open_only else 'fetchOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        query = self._symbol_filter(symbol, 'symbol')
        if since is not None:
            query['startAt'] = since
        page_size = PAGE_SIZE if limit is None or open_only else max(10, min(PAGE_SIZE, limit))
        query['pageSize'] = page_size
        query = self.extend(query, self._extra_params(params))
        items, page = [], 1
        while page <= MAX_PAGES:
            response = yield ('privateGetOcoOrders', (self.extend(query, {'currentPage': page}),))
            data = self.safe_dict(response, 'data', {})
            items += self.safe_list(data, 'items', [])
            total = self.safe_integer(data, 'totalPage', 1)
            if page >= total or (not open_only and limit is not None and len(items) >= limit):
                break
            page += 1
        lists = [self._parse_list(item, legs_known=False) for item in items]
        return self._finish_lists(lists, open_only, since, limit)

    def _flow_cancel_all(self, symbol, params):
        self._require('cancelAllOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        query = self._symbol_filter(symbol, 'symbol')
        response = yield ('privateDeleteOcoOrders', (self.extend(query, self._extra_params(params)),))
        data = self.safe_dict(response, 'data', {})
        market = self.markets[symbol] if symbol is not None else None
        return [self._leg(None, market, id=leg_id, status=CANCELED)
                for leg_id in self.safe_list(data, 'cancelledOrderIds', [])]


# ---- streams (async class only: needs ccxt.pro's client machinery) ----
STOP_TOPIC, ORDER_TOPIC = '/spotMarket/advancedOrders', '/spotMarket/tradeOrders'
# a leg event's `type` -> the leg's unified status ('received' says nothing new); KuCoin's
# stop-order topic: open / triggered / cancel; order-change topic: open / match / update / filled / canceled
LEG_EVENT_STATUS = {'open': OPEN, 'triggered': OPEN, 'match': OPEN, 'update': OPEN,
                    'filled': CLOSED, 'canceled': CANCELED, 'cancel': CANCELED}


class KucoinOcoStream(CcxtExchange):
    """watch_oco_orders on ccxt.pro's KuCoin client (bullet token, subscribe, ack, ping).

    KuCoin's order topics carry no list: an OCO's legs are reported one by one, on the stop-order
    topic until they trigger and on the order-change topic afterwards, with no list id. The list
    is rebuilt from leg events: each leg id is mapped to its list when this instance reads the list
    through REST (fetch_oco_order, which answers the legs' ids; create_oco_order does not learn
    them), and every event of a known leg updates that leg's status and the list's (model.list_status),
    then resolves `ocoOrders` and `ocoOrders:<symbol>`. Events of legs of lists never read are not
    reported (no REST call maps a leg id to its list)."""

    def describe(self):
        return self.deep_extend(super().describe(), {'has': {'watchOcoOrders': True}})

    def handle_error_message(self, client, message):
        """An expired connect token: ccxt.pro 4.5.90 forgets the token (so the next connection
        negotiates a new one) and then raises from its receive loop, which stops reading: the
        watches wait until a ping goes unanswered (up to pingInterval + pingTimeout, 28 s). Here
        the raise fails every watch of the connection at once and closes it (client.reset)."""
        if self.safe_string_2(message, 'data', 'reason', '') != 'token is expired':
            return super().handle_error_message(client, message)
        try:
            return super().handle_error_message(client, message)
        except Exception as exc:    # noqa: BLE001 - the error the venue sent, handed to every watch
            client.reset(exc)
            return False

    def _parse_list(self, data: dict, legs_known: bool = True) -> dict:
        lst = super()._parse_list(data, legs_known)
        if lst['orders']:
            self._remember_list(lst)
        return lst

    def _remember_list(self, lst: dict) -> None:
        index = self.__dict__.setdefault('_oco_by_leg', {})
        for leg in lst['orders']:
            if leg['id'] is not None:
                index[leg['id']] = lst

    async def watch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        """Updated OCO lists (the fetch_oco_order dict), ccxt's watch conventions: an
        ArrayCacheBySymbolById of the latest version of each list, filtered by symbol, since, limit."""
        await self.load_markets()
        symbol = self.market(symbol)['symbol'] if symbol is not None else None
        url = await self.negotiate(True)
        message_hash = 'ocoOrders' if symbol is None else 'ocoOrders:' + symbol
        request = self.extend({'privateChannel': True}, params)
        # one subscribe message per topic (KuCoin takes one topic a message); both wait on one future
        lists = (await asyncio.gather(*[self.subscribe(url, message_hash, topic, request)
                                        for topic in (STOP_TOPIC, ORDER_TOPIC)]))[0]
        if self.newUpdates:
            limit = lists.getLimit(symbol, limit)
        return self.filter_by_symbol_since_limit(lists, symbol, since, limit, True)

    def handle_order(self, client, message):
        super().handle_order(client, message)
        data = self.safe_dict(message, 'data', {})
        lst = self.__dict__.get('_oco_by_leg', {}).get(self.safe_string(data, 'orderId'))
        status = LEG_EVENT_STATUS.get(self.safe_string(data, 'type'))
        if lst is None or status is None:
            return
        leg_id = self.safe_string(data, 'orderId')
        legs = []
        for leg in lst['orders']:
            if leg['id'] == leg_id:
                leg = self.extend(leg, {'status': status})
                filled = self.safe_number(data, 'filledSize')
                if filled is not None:
                    leg['filled'] = filled
            legs.append(leg)
        statuses = [leg['status'] for leg in legs]
        updated = self._order_list(id=lst['id'], client_order_id=lst['clientOrderId'], symbol=lst['symbol'], kind=OCO,
                                   status=list_status(statuses, exit_filled=CLOSED in statuses), orders=legs,
                                   timestamp=lst['timestamp'], info=data)
        self._remember_list(updated)
        cache = self.__dict__.get('oco_orders')
        if cache is None:
            cache = self.oco_orders = ArrayCacheBySymbolById(self.safe_integer(self.options, 'ordersLimit', 1000))
        cache.append(updated)
        client.resolve(cache, 'ocoOrders')
        client.resolve(cache, 'ocoOrders:' + updated['symbol'])
