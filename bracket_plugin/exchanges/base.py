"""Shared core of the order-list exchange classes.

Each public method is written once, as a *flow*: a generator that validates and builds requests
(pure), yields `(method_name, args)` for every ccxt call it needs, receives the answer, and
returns the parsed result. `SyncShell` drives flows with plain calls, `AsyncShell` with awaits,
so the sync and async classes share every line of logic and differ only in the driver.
Flows load markets only while none are loaded (`if self.markets is None`, as ccxt's own methods do).
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, TypeAlias

from ccxt.base.errors import NotSupported

from .. import validation
from ..errors import http_error_class
from ..model import ENTRY_LIMIT, ENTRY_MARKET, OCO, OPEN, OTO, OTOCO, Violation, order_list
from ..venues import profile
from .redacting_logger import RedactingLogger, mask, secrets_of

if TYPE_CHECKING:
    # The classes here are mixed into ccxt's exchange classes and use their attributes through
    # self; ccxt ships no types, so for the type checker they derive from its (untyped) Exchange.
    import ccxt
    CcxtExchange: TypeAlias = ccxt.Exchange
else:
    CcxtExchange = object

# the has-flags this layer adds; per-exchange classes set False where there is no native endpoint
ORDER_LIST_HAS = {
    'createOcoOrder': True,
    'createOtoOrder': True,
    'createOtocoOrder': True,
    'cancelOcoOrder': True,
    'cancelOtoOrder': True,
    'cancelOtocoOrder': True,
    'fetchOcoOrder': True,
    'fetchOcoOrders': True,
    'fetchOpenOcoOrders': True,
    'cancelAllOcoOrders': True,
}

# params keys consumed by this layer (never forwarded to the exchange)
OWN_PARAMS = frozenset(('clientOrderId', 'stopLossLimitPrice', 'takeProfitLimitPrice', 'entryType', 'remark',
                        'exitAmount'))

CLIENT_ID_PREFIX = 'bp'

# every key of a ccxt unified order, as known right after a create (plus our 'role')
_PLACED_LEG: dict[str, Any] = {
    'id': None, 'clientOrderId': None, 'timestamp': None, 'datetime': None, 'lastTradeTimestamp': None,
    'lastUpdateTimestamp': None, 'status': OPEN, 'symbol': None, 'type': None, 'timeInForce': None,
    'postOnly': None, 'reduceOnly': None, 'side': None, 'price': None, 'triggerPrice': None, 'stopPrice': None,
    'takeProfitPrice': None, 'stopLossPrice': None, 'amount': None, 'filled': None, 'remaining': None,
    'cost': None, 'average': None, 'trades': None, 'fee': None, 'fees': None, 'info': None, 'role': None,
}


class OrderListBase(CcxtExchange):
    """Helpers every exchange flow uses. No I/O here."""

    logger: Any     # ccxt's logging.Logger, wrapped in __init__

    # whether create_order's params may hold lists and dicts (set by subclasses, see _single_order_params)
    _single_order_nested_params = False

    @property
    def _list_client_id_max(self) -> int:
        """The longest client order id a list takes on this venue (its profile says)."""
        return profile(self.id).list_client_id_max

    def __init__(self, config={}):
        super().__init__(config)
        # ccxt logs requests (API key included) at DEBUG: log through a wrapper that masks credentials
        self.logger = RedactingLogger(self.logger, self)

    def log(self, *args):
        # verbose=True prints every request and answer through here (ccxt's fetch): mask the credentials
        secrets = secrets_of(self)
        super().log(*(mask(str(a), secrets) for a in args))

    def _derived_credentials(self) -> list[str]:
        """Values computed from the credentials and sent as they are (masked like them); see kucoin."""
        return []

    def handle_errors(self, code, reason, url, method, headers, body, response, requestHeaders, requestBody):
        # an answer without the exchange's JSON code is classed by its HTTP status (see http_error_class)
        if not (isinstance(response, dict) and 'code' in response):
            cls = http_error_class(code, self.httpExceptions)
            if cls is not None:
                raise cls(f'{self.id} {method} {url} {code} {reason} {body}')
        return super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)

    def _flow_fetch_order(self, id, symbol, params):
        """A flow for fetch_order where ccxt's own cannot serve the call, else None (ccxt's runs)."""
        return None

    def _flow_cancel_order(self, id, symbol, params):
        """A flow for cancel_order where ccxt's own cannot serve the call, else None (ccxt's runs)."""
        return None

    def _require(self, flag: str) -> None:
        # honour capability overrides given as ccxt config ({'has': {'createOcoOrder': False}})
        if not self.has.get(flag):
            raise NotSupported(f'{self.id} {flag}() is not supported')

    def _new_client_order_id(self) -> str:
        # 34 chars: fits KuCoin (40) and leaves room for Crypto.com's 2-char leg suffix (36).
        # 128 random bits as hex, like uuid4().hex without building a UUID object (a fifth of the CPU)
        return CLIENT_ID_PREFIX + os.urandom(16).hex()

    def _client_order_id(self, params: dict) -> str:
        cid = params.get('clientOrderId')
        return self._new_client_order_id() if cid is None else cid

    def _ensure_markets(self):
        """Flow step: load markets once (ccxt's own `if self.markets is None` idiom); use with `yield from`."""
        if self.markets is None:
            yield ('load_markets', ())

    def _symbol_filter(self, symbol, key: str) -> dict:
        """{key: market id} for an optional, validated symbol; {} means every market."""
        if symbol is None:
            return {}
        self._raise(validation.check_symbol(self.markets, symbol))
        return {key: self.market_id(symbol)}

    def _finish_lists(self, lists: list[dict], open_only: bool, since, limit) -> list[dict]:
        if open_only:
            lists = [x for x in lists if x['status'] == OPEN]
        return self.filter_by_since_limit(self.sort_by(lists, 'timestamp'), since, limit)

    def _checked_market(self, symbol) -> dict:
        """The market of `symbol`; BadSymbol, naming the field and rule, if the venue lists none."""
        self._raise(validation.check_symbol(self.markets, symbol))
        return self.markets[symbol]

    def _entry_type(self, params: dict) -> str:
        return params.get('entryType', ENTRY_LIMIT)

    def _checked_params(self, params, nested: bool = False) -> dict:
        """params as a dict ({} for None), refused before any request unless its keys are strings and
        its values scalars (see validation.check_params)."""
        if params is None:
            return {}
        self._raise(validation.check_params(params, nested))
        return params

    @staticmethod
    def _steps(market: dict) -> tuple:
        """(lot, tick) of a market: ccxt's kucoin and cryptocom markets use TICK_SIZE precision."""
        precision = market.get('precision') or {}
        return precision.get('amount'), precision.get('price')

    def _single_order_params(self, symbol, amount, price, params) -> dict:
        """create_order's arguments checked before ccxt's own create_order runs, which would send a
        request (KuCoin's account-mode lookup) and then fail outside ccxt's exceptions on inf, nan,
        bools, huge numbers or params=None; Crypto.com's signer also fails on list values. KuCoin keeps
        lists and dicts (its contract orders take stopLoss / takeProfit dicts, sent as JSON).
        Markets must be loaded."""
        params = self._checked_params(params, self._single_order_nested_params)
        self._raise([] if isinstance(symbol, str) else validation.check_symbol(None, symbol))
        lot, tick = self._steps(self.market(symbol))   # ccxt's BadSymbol for an unknown symbol
        self._raise(validation.check_positive('amount', amount, required=params.get('cost') is None, step=lot)
                    + validation.check_positive('price', price, required=False, step=tick)
                    + validation.check_price_params(params, tick))
        return params

    def _extra_params(self, params: dict) -> dict:
        """params passed on to the exchange: all but ours, and none whose value is None (not given)."""
        if not params or params.keys() <= OWN_PARAMS:
            return {}
        return {k: v for k, v in params.items() if k not in OWN_PARAMS and v is not None}

    # ---- pure: the checks and precision every list create shares (venues add their own rules) ----
    def _check_client_id(self, cid) -> list[Violation]:
        return validation.check_client_order_id(cid, self._list_client_id_max)

    def _level_violations(self, market, qty, priced: dict) -> list[Violation]:
        """What the market refuses of the legs' priced levels: its minimums (venues add filters)."""
        return validation.check_minimums(market, qty, priced)

    def _list_checks(self, symbol, side, amount, params):
        """Market, side, amount on the lot, client id, price params on the tick.
        -> (market, tick, client id, violations so far)."""
        market = self._checked_market(symbol)
        lot, tick = self._steps(market)
        cid = self._client_order_id(params)
        bad = validation.check_side(side) + validation.check_positive('amount', amount, step=lot) \
            + self._check_client_id(cid) + validation.check_price_params(params, tick)
        return market, tick, cid, bad

    def _oco_levels(self, symbol, side, amount, price, stop_price, stop_limit_price, params):
        """An OCO's arguments checked and made precise: (market, client id, amount, prices)."""
        market, tick, cid, bad = self._list_checks(symbol, side, amount, params)
        bad += validation.check_positive('price', price, step=tick) \
            + validation.check_positive('stop_price', stop_price, step=tick) \
            + validation.check_positive('stop_limit_price', stop_limit_price, required=False, step=tick)
        self._raise(bad)
        qty, p = self._precise(symbol, amount, {'price': price, 'stop_price': stop_price,
                                                'stop_limit_price': stop_limit_price})
        stop_field = 'stop_limit_price' if p['stop_limit_price'] is not None else 'stop_price'
        self._raise(validation.check_ordering(OCO, side, price=p['price'], stop_price=p['stop_price'])
                    + self._level_violations(market, qty, {'price': p['price'], stop_field: p[stop_field]}))
        return market, cid, qty, p

    def _entry_levels(self, kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params,
                      more=lambda market: []):
        """An OTO's / OTOCO's arguments checked and made precise (`more(market)`: the venue's own
        violations): (market, client id, entry type, amount, exit amount, prices: price,
        stop_loss_price, take_profit_price, sl_limit, tp_limit). A market entry has no price."""
        market, tick, cid, bad = self._list_checks(symbol, side, amount, params)
        entry_type = self._entry_type(params)
        bad += validation.check_entry_type(entry_type, price) + more(market)
        if kind == OTO:
            bad += validation.check_one_exit(stop_loss_price, take_profit_price)
        if entry_type == ENTRY_MARKET:
            price = None
        required = kind == OTOCO
        bad += validation.check_positive('price', price, required=False, step=tick) \
            + validation.check_positive('stop_loss_price', stop_loss_price, required=required, step=tick) \
            + validation.check_positive('take_profit_price', take_profit_price, required=required, step=tick)
        self._raise(bad)
        qty, p = self._precise(symbol, amount, {
            'price': price, 'stop_loss_price': stop_loss_price, 'take_profit_price': take_profit_price,
            'sl_limit': params.get('stopLossLimitPrice'), 'tp_limit': params.get('takeProfitLimitPrice')})
        # exits of another size than the entry (params['exitAmount']: e.g. net of a fee paid in the base)
        exit_qty = qty if params.get('exitAmount') is None else self.amount_to_precision(symbol, params['exitAmount'])
        priced = {'price': p['price'], 'stop_loss_price': p['sl_limit'] or p['stop_loss_price'],
                  'take_profit_price': p['tp_limit'] or p['take_profit_price']}
        self._raise(validation.check_ordering(kind, side, price=p['price'], stop_loss_price=p['stop_loss_price'],
                                              take_profit_price=p['take_profit_price'])
                    + self._level_violations(market, qty, priced))
        return market, cid, entry_type, qty, exit_qty, p

    def _exit_amount_violations(self, market, params) -> list[Violation]:
        return validation.check_positive('exitAmount', params.get('exitAmount'), required=False,
                                         step=self._steps(market)[0])

    def _with_extra(self, request: dict, params: dict) -> dict:
        """request plus the extra params (`_extra_params`), each written as the venue takes it."""
        extra = self._extra_params(params)
        if not extra:
            return request
        self._raise(validation.check_not_replacing(extra, request))
        return self.extend(request, {k: self._param_value(x) for k, x in extra.items()})

    def _param_value(self, value):
        return value

    def _raise(self, violations: list[Violation]) -> None:
        validation.raise_for(self.id, violations)

    def _precise(self, symbol: str, amount, prices: dict) -> tuple[str, dict]:
        """Amount and prices through ccxt's precision helpers (strings); None stays None."""
        amt = self.amount_to_precision(symbol, amount)
        return amt, {k: (None if p is None else self.price_to_precision(symbol, p)) for k, p in prices.items()}

    def _order_list(self, *, id, client_order_id, symbol, kind, status, orders, info, timestamp=None) -> dict:
        # named parameters, not **kw: packing and unpacking the keywords cost three times the dict itself
        return order_list(id=id, client_order_id=client_order_id, symbol=symbol, kind=kind, status=status,
                          orders=orders, timestamp=timestamp,
                          datetime=None if timestamp is None else self.iso8601(timestamp), info=info)

    @staticmethod
    def _placed_leg(symbol, side, type, amount, price=None, trigger_price=None, client_order_id=None, role=None) -> dict:
        """A leg just sent, in ccxt's unified order shape, built from the request we made.

        A copied template rather than safe_order(): nothing is known yet beyond the request, and
        this sits on the create path whose CPU cost bench/exchange_overhead.py measures (copying
        costs a third of building the 28-key literal)."""
        leg = _PLACED_LEG.copy()
        leg['clientOrderId'] = client_order_id
        leg['symbol'] = symbol
        leg['type'] = type
        leg['side'] = side
        leg['price'] = None if price is None else float(price)
        leg['triggerPrice'] = leg['stopPrice'] = None if trigger_price is None else float(trigger_price)
        leg['amount'] = float(amount)
        leg['trades'] = []
        leg['fees'] = []
        leg['role'] = role
        return leg

    def _leg(self, info, market, *, id=None, client_order_id=None, side=None, type=None, price=None,
             amount=None, trigger_price=None, status=None, timestamp=None, role=None) -> dict:
        order = self.safe_order({
            'info': info,
            'id': id,
            'clientOrderId': client_order_id,
            'timestamp': timestamp,
            'datetime': self.iso8601(timestamp) if timestamp is not None else None,
            'symbol': market['symbol'] if market else None,
            'type': type,
            'side': side,
            'price': self.parse_number(price) if price is not None else None,
            'triggerPrice': self.parse_number(trigger_price) if trigger_price is not None else None,
            'amount': self.parse_number(amount) if amount is not None else None,
            'status': status,
        }, market)
        order['role'] = role
        return order


def camel_case_aliases(cls):
    """Give each order-list method its ccxt camelCase alias (createOcoOrder = create_oco_order, ...)."""
    for camel in ORDER_LIST_HAS:
        setattr(cls, camel, getattr(cls, re.sub(r'(?<!^)([A-Z])', r'_\1', camel).lower()))
    return cls


@camel_case_aliases
class SyncShell(CcxtExchange):
    """Drives flows with blocking ccxt calls."""

    def _drive(self, flow):
        send = flow.send
        try:
            name, args = send(None)
            while True:
                try:
                    result = getattr(self, name)(*args)
                except Exception as e:  # hand errors to the flow (it may recover, e.g. try another id)
                    name, args = flow.throw(e)
                else:
                    name, args = send(result)
        except StopIteration as stop:
            return stop.value

    def create_order(self, symbol, type, side, amount, price=None, params={}):
        if self.markets is None:
            self.load_markets()
        params = self._single_order_params(symbol, amount, price, params)
        return super().create_order(symbol, type, side, amount, price, params)

    def fetch_order(self, id, symbol=None, params={}):
        flow = self._flow_fetch_order(id, symbol, params)
        return super().fetch_order(id, symbol, params) if flow is None else self._drive(flow)

    def cancel_order(self, id, symbol=None, params={}):
        flow = self._flow_cancel_order(id, symbol, params)
        return super().cancel_order(id, symbol, params) if flow is None else self._drive(flow)

    def create_oco_order(self, symbol, side, amount, price, stop_price, stop_limit_price=None, params={}):
        return self._drive(self._flow_create_oco(symbol, side, amount, price, stop_price, stop_limit_price, params))

    def create_oto_order(self, symbol, side, amount, price, stop_loss_price=None, take_profit_price=None, params={}):
        return self._drive(self._flow_create_oto(symbol, side, amount, price, stop_loss_price, take_profit_price, params))

    def create_otoco_order(self, symbol, side, amount, price, take_profit_price, stop_loss_price, params={}):
        return self._drive(self._flow_create_otoco(symbol, side, amount, price, take_profit_price, stop_loss_price, params))

    def cancel_oco_order(self, id, symbol=None, params={}):
        return self._drive(self._flow_cancel_list('oco', id, symbol, params))

    def cancel_oto_order(self, id, symbol=None, params={}):
        return self._drive(self._flow_cancel_list('oto', id, symbol, params))

    def cancel_otoco_order(self, id, symbol=None, params={}):
        return self._drive(self._flow_cancel_list('otoco', id, symbol, params))

    def fetch_oco_order(self, id, symbol=None, params={}):
        return self._drive(self._flow_fetch_list(id, symbol, params))

    def fetch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return self._drive(self._flow_fetch_lists(False, symbol, since, limit, params))

    def fetch_open_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return self._drive(self._flow_fetch_lists(True, symbol, since, limit, params))

    def cancel_all_oco_orders(self, symbol=None, params={}):
        return self._drive(self._flow_cancel_all(symbol, params))


@camel_case_aliases
class AsyncShell(CcxtExchange):
    """Drives the same flows with awaited ccxt.async_support calls."""

    async def _drive(self, flow):
        send = flow.send
        try:
            name, args = send(None)
            while True:
                try:
                    result = await getattr(self, name)(*args)
                except Exception as e:
                    name, args = flow.throw(e)
                else:
                    name, args = send(result)
        except StopIteration as stop:
            return stop.value

    async def create_order(self, symbol, type, side, amount, price=None, params={}):
        if self.markets is None:
            await self.load_markets()
        params = self._single_order_params(symbol, amount, price, params)
        return await super().create_order(symbol, type, side, amount, price, params)

    async def fetch_order(self, id, symbol=None, params={}):
        flow = self._flow_fetch_order(id, symbol, params)
        return await (super().fetch_order(id, symbol, params) if flow is None else self._drive(flow))

    async def cancel_order(self, id, symbol=None, params={}):
        flow = self._flow_cancel_order(id, symbol, params)
        return await (super().cancel_order(id, symbol, params) if flow is None else self._drive(flow))

    async def create_oco_order(self, symbol, side, amount, price, stop_price, stop_limit_price=None, params={}):
        return await self._drive(self._flow_create_oco(symbol, side, amount, price, stop_price, stop_limit_price, params))

    async def create_oto_order(self, symbol, side, amount, price, stop_loss_price=None, take_profit_price=None, params={}):
        return await self._drive(self._flow_create_oto(symbol, side, amount, price, stop_loss_price, take_profit_price, params))

    async def create_otoco_order(self, symbol, side, amount, price, take_profit_price, stop_loss_price, params={}):
        return await self._drive(self._flow_create_otoco(symbol, side, amount, price, take_profit_price, stop_loss_price, params))

    async def cancel_oco_order(self, id, symbol=None, params={}):
        return await self._drive(self._flow_cancel_list('oco', id, symbol, params))

    async def cancel_oto_order(self, id, symbol=None, params={}):
        return await self._drive(self._flow_cancel_list('oto', id, symbol, params))

    async def cancel_otoco_order(self, id, symbol=None, params={}):
        return await self._drive(self._flow_cancel_list('otoco', id, symbol, params))

    async def fetch_oco_order(self, id, symbol=None, params={}):
        return await self._drive(self._flow_fetch_list(id, symbol, params))

    async def fetch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return await self._drive(self._flow_fetch_lists(False, symbol, since, limit, params))

    async def fetch_open_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return await self._drive(self._flow_fetch_lists(True, symbol, since, limit, params))

    async def cancel_all_oco_orders(self, symbol=None, params={}):
        return await self._drive(self._flow_cancel_all(symbol, params))
