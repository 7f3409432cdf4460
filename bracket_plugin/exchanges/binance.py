"""Binance spot order lists (OCO, OTO, OTOCO, and OPO / OPOCO) on ccxt's implicit endpoints.

POST /api/v3/orderList/{oco,oto,otoco,opo,opoco}, DELETE /api/v3/orderList, GET /api/v3/orderList,
/openOrderList, /allOrderList; leg details from GET /api/v3/allOrders (a list answer names its
legs only). Facts from Binance's public spot API documentation, https://github.com/binance/binance-spot-api-docs: its pages rest-api.md,
filters.md, errors.md, enums.md, user-data-stream.md, and the OPO FAQ (https://github.com/binance/binance-spot-api-docs/blob/master/faqs/opo.md).

Client ids: a list's clientOrderId (at most 34 characters of `[.A-Z:/a-z0-9_-]`) is sent as
`listClientOrderId`; each leg gets `<clientOrderId>-e` (entry), `-t` (take-profit / limit leg) or
`-s` (stop leg), at most 36, Binance's limit. Every id is sent: ccxt's sign() would otherwise fill
the missing ones with its broker-prefixed ids.

OCO legs are "above" and "below" the market: a sell puts the limit leg (LIMIT_MAKER, or
TAKE_PROFIT_LIMIT with params.takeProfitLimitPrice in an OTOCO) above and the stop leg (STOP_LOSS,
STOP_LOSS_LIMIT with a stop limit price) below; a buy the reverse."""
from __future__ import annotations

import re
from collections import deque

import ccxt
import ccxt.pro as ccxt_pro
from ccxt.async_support.base.ws.cache import ArrayCacheBySymbolById
from ccxt.base.errors import ArgumentsRequired, BadRequest, DuplicateOrderId, InvalidOrder, NotSupported, OrderNotFound

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
    Violation,
    list_status,
)
from .base import ORDER_LIST_HAS, AsyncShell, OrderListBase, SyncShell

# Binance `code` -> class where ccxt 4.5.90 has none or a looser one (it maps -1013 / -1111 to
# BadRequest); checked before ccxt's tables. The answer's code and message stay in the text.
BINANCE_CODES = {
    '-1013': InvalidOrder,       # INVALID_MESSAGE: a filter failure (PRICE_FILTER, LOT_SIZE, NOTIONAL, ...)
    '-1111': InvalidOrder,       # BAD_PRECISION: more decimals than the tick / step
    '-1158': InvalidOrder,       # OCO_ORDER_TYPE_REJECTED
    '-1160': InvalidOrder,       # OCO_ICEBERGQTY_TIMEINFORCE
    '-1165': InvalidOrder,       # BUY_OCO_LIMIT_MUST_BE_BELOW
    '-1166': InvalidOrder,       # SELL_OCO_LIMIT_MUST_BE_ABOVE
    '-1168': InvalidOrder,       # BOTH_OCO_ORDERS_CANNOT_BE_LIMIT
    '-1196': InvalidOrder,       # BUY_OCO_STOP_LOSS_MUST_BE_ABOVE
    '-1197': InvalidOrder,       # SELL_OCO_STOP_LOSS_MUST_BE_BELOW
    '-1198': InvalidOrder,       # BUY_OCO_TAKE_PROFIT_MUST_BE_BELOW
    '-1199': InvalidOrder,       # SELL_OCO_TAKE_PROFIT_MUST_BE_ABOVE
    '-1222': InvalidOrder,       # OPO_WORKING_MUST_BE_BUY
    '-1223': InvalidOrder,       # OPO_PENDING_MUST_BE_SELL
    '-1224': BadRequest,         # WORKING_PARAM_REQUIRED
    '-1225': BadRequest,         # PENDING_PARAM_NOT_REQUIRED
    '-2039': BadRequest,         # CLIENT_ORDER_ID_INVALID: client id not that of this order id
}
# matching-engine messages (codes -2010 / -2011) that deserve a class of their own
BINANCE_MESSAGES = {
    'Duplicate order sent.': DuplicateOrderId,
    'OCO orders are not supported for this symbol': NotSupported,
    'OPO orders are not supported for this symbol.': NotSupported,
    'The relationship of the prices for the orders is not correct.': InvalidOrder,
}


def binance_error_class(code: str | None, msg: str | None):
    """The class for a Binance error answer, or None to leave it to ccxt."""
    return (BINANCE_CODES.get(code) if code is not None else None) or BINANCE_MESSAGES.get((msg or '').strip())


# listClientOrderId and every leg's client id (rest-api.md)
CLIENT_ID_CHARS = re.compile(r'[.A-Z:/a-z0-9_-]+')
# a list leg's status (enums.md): EXPIRED is a leg the list's rule canceled (its sibling filled),
# canceled as the other venues report it
LEG_STATUS = {'NEW': OPEN, 'PENDING_NEW': OPEN, 'PARTIALLY_FILLED': OPEN, 'FILLED': CLOSED,
              'CANCELED': CANCELED, 'PENDING_CANCEL': OPEN, 'REJECTED': REJECTED, 'EXPIRED': CANCELED,
              'EXPIRED_IN_MATCH': CANCELED}
SUFFIX = {ENTRY: 'e', TAKE_PROFIT: 't', STOP_LOSS: 's'}
ROLE_OF_SUFFIX = {s: r for r, s in SUFFIX.items()}
CREATE_METHOD = {(OCO, False): 'privatePostOrderListOco', (OTO, False): 'privatePostOrderListOto',
                 (OTOCO, False): 'privatePostOrderListOtoco', (OTO, True): 'privatePostOrderListOpo',
                 (OTOCO, True): 'privatePostOrderListOpoco'}
# exchangeInfo flags a symbol needs for each net-of-fee list (the OPO FAQ)
OPO_FLAGS = {OTO: ('otoAllowed', 'opoAllowed'), OTOCO: ('otoAllowed', 'opoAllowed', 'ocoAllowed')}
PAGE_SIZE = 1000        # allOrderList / allOrders: at most 1000 an answer
MAX_PAGES = 50
GTC = 'GTC'


def _filters(market: dict) -> dict:
    return {f.get('filterType'): f for f in (market.get('info') or {}).get('filters') or [] if isinstance(f, dict)}


def _positive(value) -> float | None:
    """A filter bound as a float; None where absent or 0 (Binance's "no bound")."""
    x = float(value) if value not in (None, '') else 0.0
    return x if x > 0 else None


def filter_violations(market: dict, qty: str, prices: dict) -> list[Violation]:
    """The bounds of the symbol's exchangeInfo filters that ccxt's limits leave out (check_minimums
    covers LOT_SIZE minQty and the MIN_NOTIONAL / NOTIONAL minimum): PRICE_FILTER min / max price,
    LOT_SIZE maxQty, NOTIONAL maxNotional. `prices` ({field: price}) are the legs' limit prices."""
    f = _filters(market)
    out = []
    lot = f.get('LOT_SIZE') or {}
    most = _positive(lot.get('maxQty'))
    if most is not None and float(qty) > most:
        out.append(Violation('amount', f'{qty} is above the LOT_SIZE maximum {lot["maxQty"]}'))
    pf, notional = f.get('PRICE_FILTER') or {}, f.get('NOTIONAL') or {}
    low, high, cap = _positive(pf.get('minPrice')), _positive(pf.get('maxPrice')), _positive(notional.get('maxNotional'))
    for field, p in prices.items():
        if p is None:
            continue
        if low is not None and float(p) < low:
            out.append(Violation(field, f'{p} is below the PRICE_FILTER minimum {pf["minPrice"]}'))
        if high is not None and float(p) > high:
            out.append(Violation(field, f'{p} is above the PRICE_FILTER maximum {pf["maxPrice"]}'))
        if cap is not None and float(qty) * float(p) > cap:
            out.append(Violation(f'amount * {field}', f'cost {float(qty) * float(p):.12g} is above the NOTIONAL '
                                 f'maximum {notional["maxNotional"]}'))
    return out


def check_binance_client_id(cid, max_len: int) -> list[Violation]:
    """Length (the list id leaves room for the leg suffix) and Binance's character set."""
    bad = v.check_client_order_id(cid, max_len, charset=False)
    if not bad and not CLIENT_ID_CHARS.fullmatch(cid):
        bad.append(Violation('params.clientOrderId', 'may contain only letters, digits and ".:/_-"'))
    return bad


class BinanceOrderLists(OrderListBase):
    my_trades_page_size = 1000     # GET /api/v3/myTrades: `limit` at most 1000 (rest-api.md) ...
    my_trades_oldest_first = True  # ... and with startTime the oldest trades of the window come first
    _signatures_kept = 64          # recent request signatures, masked in logs like the credentials

    def describe(self):
        return self.deep_extend(super().describe(), {
            'has': dict(ORDER_LIST_HAS, createOtoOrderNetOfFee=True, createOtocoOrderNetOfFee=True),
            # spot only: load_markets reads /api/v3/exchangeInfo alone, not the futures hosts, the margin
            # pairs nor the wallet's coin list (sapi capital/config/getall); options may turn them back on
            'options': {'fetchMarkets': {'types': ['spot']}, 'fetchMargins': False, 'fetchCurrencies': False},
        })

    # ---- credentials and errors ----
    def sign(self, path, api=['public'], method='GET', params={}, headers=None, body=None):
        signed = super().sign(path, api, method, params)
        found = re.search(r'signature=([0-9a-fA-F%]+)', (signed.get('url') or '') + '&' + (signed.get('body') or ''))
        if found:
            if not hasattr(self, '_recent_signatures'):
                self._recent_signatures: deque[str] = deque(maxlen=self._signatures_kept)
            self._recent_signatures.append(found.group(1))
        return signed

    def _derived_credentials(self) -> list[str]:
        # a request's signature lets that request be replayed within its recvWindow: masked in logs
        return list(getattr(self, '_recent_signatures', ()))

    def handle_errors(self, code, reason, url, method, headers, body, response, requestHeaders, requestBody):
        if isinstance(response, dict) and 'code' in response:
            cls = binance_error_class(self.safe_string(response, 'code'), self.safe_string(response, 'msg'))
            if cls is not None:
                raise cls(self.id + ' ' + body)
        return super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)

    def get_exceptions_by_url(self, url, exactOrBroad):
        # ccxt keys its spot table by host (api.binance.com): another host (the simulator, a proxy)
        # serves the same spot API here, so its answers raise the same classes
        found = super().get_exceptions_by_url(url, exactOrBroad)
        return found if found or url is None else self.safe_dict(self.exceptions['spot'], exactOrBroad, {})

    # ---- pure: validation and request building ----
    def _check_client_id(self, cid) -> list[Violation]:
        return check_binance_client_id(cid, self._list_client_id_max)

    def _level_violations(self, market, qty, priced: dict) -> list[Violation]:
        """The minimums, then the symbol's filters on every leg's priced level."""
        return super()._level_violations(market, qty, priced) + filter_violations(market, qty, priced)

    @staticmethod
    def _leg_fields(prefix, cid, role, type, price=None, stop=None, tif=None) -> dict:
        leg = {prefix + 'Type': type, prefix + 'ClientOrderId': cid + '-' + SUFFIX[role]}
        if price is not None:
            leg[prefix + 'Price'] = price
        if stop is not None:
            leg[prefix + 'StopPrice'] = stop
        if tif is not None:
            leg[prefix + 'TimeInForce'] = tif
        return leg

    def _exit_fields(self, prefix, cid, role, level, limit, paired: bool) -> dict:
        """A stop leg is STOP_LOSS, or STOP_LOSS_LIMIT with a limit price. A take-profit leg rests at its
        price: LIMIT_MAKER in an OCO pair (LIMIT is not an OCO leg type), LIMIT alone (an OTO); with a
        limit price it is a TAKE_PROFIT_LIMIT triggered at `level`."""
        if role == STOP_LOSS:
            return self._leg_fields(prefix, cid, role, 'STOP_LOSS_LIMIT', limit, level, GTC) if limit is not None \
                else self._leg_fields(prefix, cid, role, 'STOP_LOSS', stop=level)
        if limit is not None:
            return self._leg_fields(prefix, cid, role, 'TAKE_PROFIT_LIMIT', limit, level, GTC)
        return self._leg_fields(prefix, cid, role, 'LIMIT_MAKER', level) if paired \
            else self._leg_fields(prefix, cid, role, 'LIMIT', level, tif=GTC)

    @staticmethod
    def _above_below(exit_side, prefix='') -> tuple[str, str]:
        """(take-profit prefix, stop prefix): a sell's take-profit is above the market, a buy's below."""
        above, below = (prefix + 'above', prefix + 'below') if prefix == '' else (prefix + 'Above', prefix + 'Below')
        return (above, below) if exit_side == 'sell' else (below, above)

    def _oco_request(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        market, cid, qty, p = self._oco_levels(symbol, side, amount, price, stop_price, stop_limit_price, params)
        tp, sl = self._above_below(side)
        request = {'symbol': market['id'], 'side': side.upper(), 'quantity': qty, 'listClientOrderId': cid}
        request.update(self._leg_fields(tp, cid, TAKE_PROFIT, 'LIMIT_MAKER', p['price']))
        request.update(self._exit_fields(sl, cid, STOP_LOSS, p['stop_price'], p['stop_limit_price'], True))
        return cid, self._with_extra(request, params)

    def _entry_request(self, kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params,
                       net_of_fee=False):
        """OTO / OTOCO (and their OPO twins): a LIMIT working leg, then the pending exit(s)."""
        def more(market) -> list[Violation]:
            bad = []
            if self._entry_type(params) == ENTRY_MARKET:
                bad.append(Violation('params.entryType', "Binance's OTO / OTOCO working leg is a LIMIT order: "
                                     "'market' is not supported", 'NotSupported'))
            return bad + (self._opo_violations(kind, market, side, params) if net_of_fee
                          else self._exit_amount_violations(market, params))
        market, cid, _, qty, exit_qty, p = self._entry_levels(
            kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params, more)
        exit_side = 'sell' if side == 'buy' else 'buy'
        request = {'symbol': market['id'], 'listClientOrderId': cid, 'workingSide': side.upper()}
        request.update(self._leg_fields('working', cid, ENTRY, 'LIMIT', p['price'], tif=GTC))
        request['workingQuantity'] = qty
        request['pendingSide'] = exit_side.upper()
        if not net_of_fee:
            request['pendingQuantity'] = exit_qty
        if kind == OTO:
            role, level, limit = (STOP_LOSS, p['stop_loss_price'], p['sl_limit']) if p['stop_loss_price'] is not None \
                else (TAKE_PROFIT, p['take_profit_price'], p['tp_limit'])
            request.update(self._exit_fields('pending', cid, role, level, limit, False))
        else:
            tp, sl = self._above_below(exit_side, 'pending')
            request.update(self._exit_fields(tp, cid, TAKE_PROFIT, p['take_profit_price'], p['tp_limit'], True))
            request.update(self._exit_fields(sl, cid, STOP_LOSS, p['stop_loss_price'], p['sl_limit'], True))
        return cid, self._with_extra(request, params)

    def _opo_violations(self, kind, market, side, params) -> list[Violation]:
        info = market.get('info') or {}
        missing = [flag for flag in OPO_FLAGS[kind] if info.get(flag) is not True]
        if missing:
            return [Violation('symbol', f'{market["symbol"]} does not allow {kind.upper()} lists net of the fee '
                              f'({" / ".join(missing)} not set in exchangeInfo)', 'NotSupported')]
        bad = []
        if side != 'buy':
            bad.append(Violation('side', 'a net-of-fee list starts with a buy (its pending legs sell what it receives)'))
        if params.get('exitAmount') is not None:
            bad.append(Violation('params.exitAmount', 'not taken: the pending legs sell what the working leg '
                                 'receives, net of the fee', 'BadRequest'))
        return bad

    def _param_value(self, value):
        return str(value).lower() if isinstance(value, bool) else value   # 'true', not ccxt's 'True'

    # ---- pure: parsing ----
    def _leg_role(self, cid, kind, index, type) -> str | None:
        cid = cid or ''
        if len(cid) > 2 and cid[-2] == '-' and cid[-1] in ROLE_OF_SUFFIX:
            return ROLE_OF_SUFFIX[cid[-1]]
        if kind != OCO and index == 0:
            return ENTRY
        if type is None:
            return None
        return STOP_LOSS if type.upper().startswith('STOP_LOSS') else TAKE_PROFIT

    def _parse_leg(self, ref: dict, detail: dict | None, kind: str, index: int) -> dict:
        market = self.safe_market(self.safe_string(ref, 'symbol'))
        if detail is None:
            # the list names the leg only: its state is unknown here (status None)
            leg = self._leg(ref, market, id=self.safe_string(ref, 'orderId'),
                            client_order_id=self.safe_string(ref, 'clientOrderId'))
            leg['status'] = None
        else:
            leg = self.parse_order(detail, market)
            leg['status'] = self.safe_string(LEG_STATUS, self.safe_string(detail, 'status'), leg['status'])
            if leg['timestamp'] is not None and leg['timestamp'] < 0:   # workingTime -1: not working yet
                leg['timestamp'] = self.safe_integer_2(detail, 'transactTime', 'time')
                leg['datetime'] = self.iso8601(leg['timestamp'])
            if leg['clientOrderId'] is None or 'origClientOrderId' in detail:   # a cancel answer's own id
                leg['clientOrderId'] = self.safe_string(ref, 'clientOrderId')
        leg['role'] = self._leg_role(leg['clientOrderId'], kind, index, self.safe_string(detail or {}, 'type'))
        return leg

    def _list_kind(self, raw) -> str:
        contingency = self.safe_string_upper(raw, 'contingencyType')
        if contingency == 'OCO':
            return OCO
        return OTOCO if len(self.safe_list(raw, 'orders', [])) >= 3 else OTO

    def _parse_list(self, raw: dict, details: dict) -> dict:
        """A list answer, with each leg's order (by orderId) from `details` where known."""
        kind = self._list_kind(raw)
        refs = self.safe_list(raw, 'orders', [])
        orders = [self._parse_leg(ref, details.get(self.safe_string(ref, 'orderId')), kind, i)
                  for i, ref in enumerate(refs)]
        list_cid = self.safe_string(raw, 'listClientOrderId')
        state = self.safe_string_upper(raw, 'listOrderStatus')
        status: str | None
        if state == 'EXECUTING':
            status = OPEN
        elif state == 'REJECT':
            status = REJECTED
        elif all(o['status'] is not None for o in orders):
            exit_filled = any(o['status'] == CLOSED and (kind == OCO or o['role'] != ENTRY) for o in orders)
            status = list_status([o['status'] for o in orders], exit_filled)
        else:
            status = None   # ALL_DONE with legs unread: filled or canceled is not known
        market = self.safe_market(self.safe_string(raw, 'symbol'))
        return self._order_list(id=self.safe_string(raw, 'orderListId'), client_order_id=list_cid,
                                symbol=market['symbol'], kind=kind, status=status, orders=orders,
                                timestamp=self.safe_integer(raw, 'transactionTime'), info=raw)

    def _reports(self, raw) -> dict:
        return {self.safe_string(r, 'orderId'): r for r in self.safe_list(raw, 'orderReports', [])}

    # ---- flows (see base.py) ----
    def _placed(self, symbol, request, prefixes) -> list[dict]:
        """The legs just sent, from the request (in ccxt's order shape): OCO limit leg then stop leg;
        OTO entry then exit; OTOCO entry, stop, take-profit. A net-of-fee leg's amount is not known yet."""
        legs = []
        for prefix in prefixes:
            head = 'pending' if prefix.startswith('pending') else ('working' if prefix == 'working' else '')
            side = request[head + 'Side' if head else 'side'].lower()
            amount = request.get(head + 'Quantity' if head else 'quantity')
            cid = request[prefix + 'ClientOrderId']
            leg = self._placed_leg(symbol, side, request[prefix + 'Type'].lower(), amount or 0,
                                   request.get(prefix + 'Price'), request.get(prefix + 'StopPrice'), cid,
                                   ROLE_OF_SUFFIX[cid[-1]])
            leg['amount'] = None if amount is None else leg['amount']
            legs.append(leg)
        return legs

    def _flow_create(self, kind, net_of_fee, symbol, cid, request):
        response = yield (CREATE_METHOD[kind, net_of_fee], (request,))
        if kind == OCO:
            prefixes = list(self._above_below(request['side'].lower()))
        else:
            prefixes = ['working'] + (['pending'] if kind == OTO else
                                      list(reversed(self._above_below(request['pendingSide'].lower(), 'pending'))))
        legs = self._placed(symbol, request, prefixes)
        ids = {self.safe_string(o, 'clientOrderId'): self.safe_string(o, 'orderId')
               for o in self.safe_list(response, 'orders', [])}
        reports = {self.safe_string(r, 'clientOrderId'): r for r in self.safe_list(response, 'orderReports', [])}
        for leg in legs:
            leg['id'] = ids.get(leg['clientOrderId'])
            report = reports.get(leg['clientOrderId'])
            if report is not None:   # e.g. a working leg filled at once
                leg['status'] = self.safe_string(LEG_STATUS, self.safe_string(report, 'status'), OPEN)
                leg['filled'] = self.safe_number(report, 'executedQty')
        ts = self.safe_integer(response, 'transactionTime')
        return self._order_list(id=self.safe_string(response, 'orderListId'), client_order_id=cid, symbol=symbol,
                                kind=kind, status=OPEN, orders=legs, info=response, timestamp=ts)

    def _flow_create_oco(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        self._require('createOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid, request = self._oco_request(symbol, side, amount, price, stop_price, stop_limit_price, params)
        return (yield from self._flow_create(OCO, False, symbol, cid, request))

    def _flow_create_entry(self, kind, flag, net_of_fee, symbol, side, amount, price, stop_loss_price,
                           take_profit_price, params):
        self._require(flag)
        params = self._checked_params(params)
        yield from self._ensure_markets()
        cid, request = self._entry_request(kind, symbol, side, amount, price, stop_loss_price, take_profit_price,
                                           params, net_of_fee)
        return (yield from self._flow_create(kind, net_of_fee, symbol, cid, request))

    def _flow_create_oto(self, symbol, side, amount, price, stop_loss_price, take_profit_price, params):
        return self._flow_create_entry(OTO, 'createOtoOrder', False, symbol, side, amount, price, stop_loss_price,
                                       take_profit_price, params)

    def _flow_create_otoco(self, symbol, side, amount, price, take_profit_price, stop_loss_price, params):
        return self._flow_create_entry(OTOCO, 'createOtocoOrder', False, symbol, side, amount, price,
                                       stop_loss_price, take_profit_price, params)

    def create_oto_order_net_of_fee(self, symbol, side, amount, price, stop_loss_price=None, take_profit_price=None,
                                    params={}):
        """An OTO whose pending leg sells what the buy working leg received, net of the fee (POST
        /api/v3/orderList/opo); NotSupported where exchangeInfo does not set opoAllowed. Awaitable
        on the async class (its _drive is a coroutine)."""
        return self._drive(self._flow_create_entry(OTO, 'createOtoOrderNetOfFee', True, symbol, side, amount, price,
                                                   stop_loss_price, take_profit_price, params))

    def create_otoco_order_net_of_fee(self, symbol, side, amount, price, take_profit_price, stop_loss_price,
                                      params={}):
        """An OTOCO whose pending OCO sells what the buy working leg received, net of the fee (POST
        /api/v3/orderList/opoco)."""
        return self._drive(self._flow_create_entry(OTOCO, 'createOtocoOrderNetOfFee', True, symbol, side, amount,
                                                   price, stop_loss_price, take_profit_price, params))

    createOtoOrderNetOfFee = create_oto_order_net_of_fee
    createOtocoOrderNetOfFee = create_otoco_order_net_of_fee

    def _list_query(self, id, params, cid_key) -> dict:
        if id is not None:
            return {'orderListId': id}
        cid = params.get('clientOrderId')
        if cid is None:
            raise ArgumentsRequired(f'{self.id} requires an id (orderListId) or params.clientOrderId')
        return {cid_key: cid}

    def _flow_cancel_list(self, kind, id, symbol, params):
        self._require({OCO: 'cancelOcoOrder', OTO: 'cancelOtoOrder', OTOCO: 'cancelOtocoOrder'}[kind])
        params = self._checked_params(params)
        if symbol is None:
            raise ArgumentsRequired(f'{self.id} cancelling an order list requires a symbol')
        yield from self._ensure_markets()
        query = self.extend(self._symbol_filter(symbol, 'symbol'), self._list_query(id, params, 'listClientOrderId'))
        response = yield ('privateDeleteOrderList', (self.extend(query, self._extra_params(params)),))
        return self._parse_list(response, self._reports(response))

    def _flow_leg_details(self, raws: list[dict]):
        """{orderId: order} of the lists' legs: one GET /api/v3/allOrders per symbol, from the lowest
        leg id on (a list's legs are placed together, so their ids follow each other)."""
        ids: dict[str, list[int]] = {}
        for raw in raws:
            for ref in self.safe_list(raw, 'orders', []):
                order_id = self.safe_integer(ref, 'orderId')
                if order_id is not None:
                    ids.setdefault(self.safe_string(ref, 'symbol'), []).append(order_id)
        details = {}
        for market_id, found in ids.items():
            first = min(found)
            orders = yield ('privateGetAllOrders', ({'symbol': market_id, 'orderId': first,
                                                     'limit': min(PAGE_SIZE, max(found) - first + 1)},))
            details.update({self.safe_string(o, 'orderId'): o for o in orders or []})
        return details

    def _flow_fetch_list(self, id, symbol, params):
        self._require('fetchOcoOrder')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        query = self._list_query(id, params, 'origClientOrderId')
        raw = yield ('privateGetOrderList', (self.extend(query, self._extra_params(params)),))
        if not self.safe_list(raw, 'orders'):
            raise OrderNotFound(f'{self.id} no order list {query}: {self.json(raw)}')
        details = yield from self._flow_leg_details([raw])
        return self._parse_list(raw, details)

    def _flow_list_pages(self, since, limit, rest):
        """GET /api/v3/allOrderList page after page: from `since` (startTime), then by fromId."""
        query = {'limit': PAGE_SIZE}
        if since is not None:
            query['startTime'] = since
        raws: list[dict] = []
        for _ in range(MAX_PAGES):
            page = yield ('privateGetAllOrderList', (self.extend(query, rest),))
            raws += page or []
            if len(page or []) < PAGE_SIZE or (limit is not None and len(raws) >= limit):
                break
            query = {'limit': PAGE_SIZE, 'fromId': max(self.safe_integer(x, 'orderListId', 0) for x in page) + 1}
        return raws

    def _flow_fetch_lists(self, open_only, symbol, since, limit, params):
        self._require('fetchOpenOcoOrders' if open_only else 'fetchOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        wanted = self._symbol_filter(symbol, 'symbol').get('symbol')
        rest = self._extra_params(params)
        if open_only:
            raws = (yield ('privateGetOpenOrderList', (rest,))) or []
        else:
            raws = yield from self._flow_list_pages(since, limit, rest)
        raws = [r for r in raws if wanted is None or self.safe_string(r, 'symbol') == wanted]
        details = yield from self._flow_leg_details(raws)
        return self._finish_lists([self._parse_list(r, details) for r in raws], open_only, since, limit)

    def _flow_cancel_all(self, symbol, params):
        """Binance cancels lists one by one (DELETE /api/v3/openOrders would take single orders too):
        every open list (of `symbol`), each cancel's answer parsed; a list gone meanwhile is skipped."""
        self._require('cancelAllOcoOrders')
        params = self._checked_params(params)
        yield from self._ensure_markets()
        wanted = self._symbol_filter(symbol, 'symbol').get('symbol')
        rest = self._extra_params(params)
        raws = (yield ('privateGetOpenOrderList', (rest,))) or []
        out = []
        for raw in raws:
            if wanted is not None and self.safe_string(raw, 'symbol') != wanted:
                continue
            request = {'symbol': self.safe_string(raw, 'symbol'), 'orderListId': self.safe_string(raw, 'orderListId')}
            try:
                response = yield ('privateDeleteOrderList', (self.extend(request, rest),))
            except OrderNotFound:
                continue
            out.append(self._parse_list(response, self._reports(response)))
        return out


class binance(SyncShell, BinanceOrderLists, ccxt.binance):
    """ccxt.binance (spot) with Binance's OCO / OTO / OTOCO order lists and their net-of-fee twins."""


# executionReport key -> the REST order key (user-data-stream.md: Order Update; rest-api.md: Query order)
REPORT_KEYS = {'s': 'symbol', 'i': 'orderId', 'g': 'orderListId', 'c': 'clientOrderId', 'p': 'price', 'q': 'origQty',
               'z': 'executedQty', 'Z': 'cummulativeQuoteQty', 'X': 'status', 'f': 'timeInForce', 'o': 'type',
               'S': 'side', 'P': 'stopPrice', 'O': 'time', 'T': 'updateTime', 'W': 'workingTime', 'w': 'isWorking',
               'Q': 'origQuoteOrderQty'}
# listStatus key -> the REST order list key (user-data-stream.md: listStatus; rest-api.md: Query Order list)
LIST_KEYS = {'g': 'orderListId', 'c': 'contingencyType', 'l': 'listStatusType', 'L': 'listOrderStatus',
             'C': 'listClientOrderId', 'T': 'transactionTime', 's': 'symbol'}


class binance_async(AsyncShell, BinanceOrderLists, ccxt_pro.binance):
    """ccxt.pro.binance (spot) with the same order lists, awaitable; reached as
    bracket_plugin.async_support.binance (kept in this module: a submodule of that name would
    shadow the package's lookup of registered venues).

    watch_oco_orders: the spot user data stream ccxt.pro subscribes (the websocket API's
    userDataStream.subscribe.signature) carries `listStatus` events, which ccxt.pro 4.5.90 drops;
    here each one, with the executionReports of its legs seen so far, is parsed by the REST
    parser (_parse_list) into the unified order-list dict. A leg's later executionReport updates
    its list too (an OTO's exits going live, a leg filling)."""

    def describe(self):
        return self.deep_extend(super().describe(), {'has': {'watchOcoOrders': True}})

    USER_DATA_HASHES = ('orders', 'myTrades', 'ocoOrders', 'balance')

    def handle_event_stream_terminated(self, client, message):
        """The account's stream ended (eventStreamTerminated: its subscription or listenKey is gone).
        ccxt.pro 4.5.90 fails only its own subscription future, so watch_orders, watch_my_trades and
        watch_oco_orders went on waiting on a stream that sends nothing more: they fail too, and
        the caller's next watch subscribes again."""
        super().handle_event_stream_terminated(client, message)
        error = ccxt.NetworkError(self.id + ' user data stream terminated')
        for message_hash in list(client.futures):
            if message_hash.split(':')[0] in self.USER_DATA_HASHES:
                client.reject(error, message_hash)

    async def watch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        """Order lists (OCO, OTO, OTOCO) as they change: an ArrayCacheBySymbolById of order-list dicts."""
        await self.load_markets()
        message_hash = 'ocoOrders'
        if symbol is not None:
            symbol = self.symbol(symbol)
            message_hash += ':' + symbol
        await self.authenticate(self.extend(params, {'type': 'spot'}))
        url = self.urls['api']['ws']['ws-api']['spot']
        # as watch_orders does: ccxt.pro's outboundAccountPosition handler needs the balance cache
        self.set_balance_cache(self.client(url), 'spot')
        lists = await self.watch(url, message_hash, None, 'spot')   # the subscription authenticate() made
        if self.newUpdates:
            limit = lists.getLimit(symbol, limit)
        return self.filter_by_symbol_since_limit(lists, symbol, since, limit, True)

    def handle_message(self, client, message):
        event = self.safe_dict(message, 'event', message) if isinstance(message, dict) else message
        kind = self.safe_string(event, 'e') if isinstance(event, dict) else None
        if kind == 'listStatus':
            self._handle_list_status(client, event)
            return
        if kind == 'executionReport':
            self._handle_leg_report(client, event)
        super().handle_message(client, message)

    def _list_caches(self):
        if getattr(self, '_oco_lists', None) is None:
            self._oco_lists = ArrayCacheBySymbolById(self.safe_integer(self.options, 'ordersLimit', 1000))
            self._oco_raw: dict[str, dict] = {}     # list id -> its listStatus in REST shape
            self._oco_legs: dict[str, dict] = {}    # order id -> its latest executionReport in REST shape
        return self._oco_raw, self._oco_legs

    def _handle_leg_report(self, client, report):
        raws, legs = self._list_caches()
        detail = {rest: report[key] for key, rest in REPORT_KEYS.items() if key in report}
        legs[self.safe_string(report, 'i')] = detail
        list_id = self.safe_string(report, 'g')
        if list_id in raws:
            self._resolve_list(client, raws[list_id])

    def _handle_list_status(self, client, event):
        raws, _ = self._list_caches()
        raw = {rest: event[key] for key, rest in LIST_KEYS.items() if key in event}
        raw['orders'] = [{'symbol': o.get('s'), 'orderId': o.get('i'), 'clientOrderId': o.get('c')}
                         for o in self.safe_list(event, 'O', [])]
        raws[self.safe_string(raw, 'orderListId')] = raw
        self._resolve_list(client, raw)

    def _resolve_list(self, client, raw):
        raws, legs = self._list_caches()
        parsed = self._parse_list(raw, legs)
        self._oco_lists.append(parsed)
        client.resolve(self._oco_lists, 'ocoOrders')
        client.resolve(self._oco_lists, 'ocoOrders:' + parsed['symbol'])
