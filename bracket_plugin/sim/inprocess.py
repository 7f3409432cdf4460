"""The simulator's engine behind the exchange layer's unified methods, in process: the venue backtest.

`EngineExchange` answers the calls BracketStore makes (create / cancel / fetch of orders and
order lists, fills, candles, ticker, balance) straight from an `Engine`: no HTTP, no sockets, no
ccxt round trip. What it sends the engine is what the venue's dialect would send it for the
request the exchange layer would build, so a venue backtest and a paper run through ccxt and HTTP
give the same trades:

- amounts truncated and prices rounded to the market's lot and tick with ccxt's own
  `decimal_to_precision` (as `amount_to_precision` / `price_to_precision` do);
- the same legs: an OCO is a limit leg and a stop leg (a stop-limit where the order gives a limit
  price), an OTO / OTOCO an entry then its exits, the stop leg checked against the market as the
  venue checks it (a crossed OCO is refused);
- the venue's capabilities (its profile's native list kinds, or the `has` overrides given);
- the engine's refusals as the ccxt classes the exchange layer raises for the venue's answers.

The answers carry the keys the store reads, in ccxt's unified shapes (orders, order lists with
leg roles, trades, OHLCV rows, tickers, balances).
"""
from __future__ import annotations

import os
from decimal import Decimal

import ccxt
from ccxt.base.decimal_to_precision import NO_PADDING, ROUND, TICK_SIZE, TRUNCATE, decimal_to_precision

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.candles import aggregate
from bracket_plugin.venues import VenueProfile
from bracket_plugin.vocab import ListStatus, OrderType, Role

_TIMEFRAMES = {'m': 60_000, 'h': 3_600_000, 'd': 86_400_000, 'w': 604_800_000}

# an engine refusal -> the ccxt class the exchange layer raises for the venue's answer to it
_ERRORS = {
    E.INSUFFICIENT_BALANCE: ccxt.InsufficientFunds,
    E.DUPLICATE_CLIENT_ID: ccxt.DuplicateOrderId,
    E.NOT_FOUND: ccxt.OrderNotFound,
    E.NOT_CANCELABLE: ccxt.OrderNotFound,
    E.UNKNOWN_SYMBOL: ccxt.BadSymbol,
    E.BAD_REQUEST: ccxt.BadRequest,
}
_ORDER_STATUS = {'pending': ListStatus.OPEN, 'open': ListStatus.OPEN, 'triggered': ListStatus.OPEN,
                 'filled': ListStatus.CLOSED, 'canceled': ListStatus.CANCELED, 'rejected': ListStatus.REJECTED}
_LIST_STATUS = {'open': ListStatus.OPEN, 'done': ListStatus.CLOSED, 'canceled': ListStatus.CANCELED}
_LIST_FLAGS = {'oco': ('createOcoOrder', 'cancelOcoOrder'), 'oto': ('createOtoOrder', 'cancelOtoOrder'),
               'otoco': ('createOtocoOrder', 'cancelOtocoOrder')}


def _ms(timeframe: str) -> int:
    return int(timeframe[:-1]) * _TIMEFRAMES[timeframe[-1]]


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class EngineExchange:
    """A venue's engine with the exchange layer's unified methods (see the module docstring).

    engine: the account's `Engine`; venue: its `VenueProfile`; has: ccxt-style capability
    overrides, e.g. {'createOcoOrder': False} to force managed legs."""

    my_trades_page_size = None      # every fill since the cursor comes in one answer
    open_orders_page_size = None

    def __init__(self, engine: E.Engine, venue: VenueProfile, has: dict | None = None):
        self.engine = engine
        self.venue = venue
        self.id = venue.id
        self.options: dict = {}
        native = {flag for kind in venue.native for flag in _LIST_FLAGS[kind]}
        self.has = {'fetchOpenOrders': True, 'fetchClosedOrders': True, 'fetchOrders': True,
                    'fetchOcoOrder': True, 'fetchOpenOcoOrders': True, 'fetchOcoOrders': True,
                    'cancelAllOcoOrders': True,
                    **{flag: flag in native for flags in _LIST_FLAGS.values() for flag in flags}}
        self.has.update(has or {})
        self.markets = {s: self._market(s, r) for s, r in engine.markets().items()}

    # ---------------------------------------------------------------- markets and clock
    @staticmethod
    def _market(symbol: str, r) -> dict:
        return {'id': symbol, 'symbol': symbol, 'base': r.base, 'quote': r.quote, 'spot': True,
                'precision': {'amount': float(r.lot_size), 'price': float(r.tick_size)},
                'limits': {'amount': {'min': float(r.min_size)}, 'cost': {'min': float(r.min_notional)}},
                'maker': float(r.maker_fee), 'taker': float(r.taker_fee)}

    def market(self, symbol: str) -> dict:
        try:
            return self.markets[symbol]
        except KeyError:
            raise ccxt.BadSymbol(f'{self.id} does not have market symbol {symbol}') from None

    def load_markets(self, reload: bool = False, params={}) -> dict:
        return self.markets

    def milliseconds(self) -> int:
        return self.engine.now_ms()

    def load_time_difference(self, params={}) -> int:
        return 0

    def amount_to_precision(self, symbol: str, amount) -> str:
        lot = self.engine.rules(symbol).lot_size
        out = decimal_to_precision(amount, TRUNCATE, str(lot), TICK_SIZE, NO_PADDING)
        if Decimal(out) <= 0:
            raise ccxt.InvalidOrder(f'{self.id} amount of {symbol} must be greater than minimum amount precision of {lot}')
        return out

    def price_to_precision(self, symbol: str, price) -> str | None:
        if price is None:
            return None
        tick = self.engine.rules(symbol).tick_size
        out = decimal_to_precision(price, ROUND, str(tick), TICK_SIZE, NO_PADDING)
        if Decimal(out) <= 0:
            raise ccxt.InvalidOrder(f'{self.id} price of {symbol} must be greater than minimum price precision of {tick}')
        return out

    # ---------------------------------------------------------------- engine calls
    def _call(self, fn, *args):
        """An engine call; its refusal as the ccxt class the venue's answer would raise."""
        try:
            return fn(*args)
        except E.Reject as rej:
            raise _ERRORS.get(rej.reason, ccxt.InvalidOrder)(f'{self.id} {rej.reason}: {rej.message}') from None

    def _require(self, flag: str) -> None:
        if not self.has.get(flag):
            raise ccxt.NotSupported(f'{self.id} {flag}() is not supported')

    def _client_id(self, params: dict) -> str:
        cid = (params or {}).get('clientOrderId')
        return cid if cid is not None else 'bp' + os.urandom(16).hex()

    def _leg(self, symbol, side, type_, amount, price=None, trigger=None, limit=None, role=None, cid=None):
        """One engine order request; `type_` is 'limit' / 'market', a trigger makes it a stop."""
        if trigger is not None:
            type_ = OrderType.STOP_LIMIT if limit is not None else OrderType.STOP_MARKET
            price = limit
        return E.OrderRequest(symbol=symbol, side=side, type=type_, amount=amount, role=role, client_id=cid,
                              price=self.price_to_precision(symbol, price),
                              trigger=self.price_to_precision(symbol, trigger))

    # ---------------------------------------------------------------- single orders
    def create_order(self, symbol, type, side, amount, price=None, params={}):
        params = params or {}
        self.market(symbol)
        trigger = params.get('triggerPrice')
        role = self.venue.single_trigger_role if trigger is not None else None
        req = self._leg(symbol, side, type, self.amount_to_precision(symbol, amount),
                        price=price if trigger is None else None, trigger=trigger,
                        limit=price if trigger is not None and type == 'limit' else None,
                        role=role, cid=self._client_id(params))
        return self._order(self._call(self.engine.place, req))

    def cancel_order(self, id, symbol=None, params={}):
        return self._order(self._call(self.engine.cancel, str(id)))

    def fetch_order(self, id, symbol=None, params={}):
        cid = (params or {}).get('clientOrderId')
        if id is None and cid is not None:
            return self._order(self._call(self.engine.order_by_client_id, cid))
        return self._order(self._call(self.engine.order, str(id)))

    def _singles(self, symbol, statuses) -> list[dict]:
        return [self._order(o) for o in self.engine.orders(symbol=symbol, status=statuses) if o.list_id is None]

    def fetch_open_orders(self, symbol=None, since=None, limit=None, params={}):
        return self._singles(symbol, E.CANCELABLE)

    def fetch_closed_orders(self, symbol=None, since=None, limit=None, params={}):
        return self._singles(symbol, E.FINAL)

    def fetch_orders(self, symbol=None, since=None, limit=None, params={}):
        return self._singles(symbol, None)

    def _order(self, o: E.SimOrder) -> dict:
        return {'id': o.id, 'clientOrderId': o.client_id, 'symbol': o.symbol, 'side': o.side,
                'type': 'market' if o.type in ('market', 'stop_market') else 'limit',
                'status': _ORDER_STATUS[o.status], 'amount': _f(o.amount), 'filled': _f(o.filled),
                'remaining': _f(o.remaining), 'price': _f(o.price), 'triggerPrice': _f(o.trigger),
                'average': _f(o.average), 'cost': _f(o.cost), 'timestamp': o.created_ms, 'role': o.role}

    # ---------------------------------------------------------------- order lists
    def _place_list(self, kind: str, legs: list, cid: str) -> dict:
        lst = self._call(self.engine.place_list, kind, legs, cid)
        return self._list(lst)

    def create_oco_order(self, symbol, side, amount, price, stop_price, stop_limit_price=None, params={}):
        self._require('createOcoOrder')
        self.market(symbol)
        if stop_limit_price is None and self.venue.stop_leg_needs_limit:
            raise ccxt.ArgumentsRequired(f'{self.id} stop_limit_price: is required (the stop leg is a stop-limit order)')
        size, cid = self.amount_to_precision(symbol, amount), self._client_id(params)
        legs = [self._leg(symbol, side, 'limit', size, price=price),
                self._leg(symbol, side, 'limit', size, trigger=stop_price, limit=stop_limit_price, role=Role.STOP_LOSS)]
        return self._place_list('oco', legs, cid)

    def _entry_list(self, kind, symbol, side, amount, price, stop_loss_price, take_profit_price, params):
        self._require('createOtoOrder' if kind == 'oto' else 'createOtocoOrder')
        self.market(symbol)
        params = params or {}
        size, cid = self.amount_to_precision(symbol, amount), self._client_id(params)
        market_entry = params.get('entryType') == 'market'
        exit_side = 'sell' if side == 'buy' else 'buy'
        exit_size = size if params.get('exitAmount') is None else self.amount_to_precision(symbol, params['exitAmount'])
        legs = [self._leg(symbol, side, 'market' if market_entry else 'limit', size,
                          price=None if market_entry else price, role=Role.ENTRY)]
        if stop_loss_price is not None:
            legs.append(self._leg(symbol, exit_side, 'limit', exit_size, trigger=stop_loss_price,
                                  limit=params.get('stopLossLimitPrice'), role=Role.STOP_LOSS))
        if take_profit_price is not None:
            legs.append(self._leg(symbol, exit_side, 'limit', exit_size, trigger=take_profit_price,
                                  limit=params.get('takeProfitLimitPrice'), role=Role.TAKE_PROFIT))
        return self._place_list(kind, legs, cid)

    def create_oto_order(self, symbol, side, amount, price, stop_loss_price=None, take_profit_price=None, params={}):
        return self._entry_list('oto', symbol, side, amount, price, stop_loss_price, take_profit_price, params)

    def create_otoco_order(self, symbol, side, amount, price, take_profit_price, stop_loss_price, params={}):
        return self._entry_list('otoco', symbol, side, amount, price, stop_loss_price, take_profit_price, params)

    def _cancel_list(self, kind: str, id, symbol=None, params={}):
        self._require(_LIST_FLAGS[kind][1])
        return self._list(self._call(self.engine.cancel_list, str(id)))

    def cancel_oco_order(self, id, symbol=None, params={}):
        return self._cancel_list('oco', id, symbol, params)

    def cancel_oto_order(self, id, symbol=None, params={}):
        return self._cancel_list('oto', id, symbol, params)

    def cancel_otoco_order(self, id, symbol=None, params={}):
        return self._cancel_list('otoco', id, symbol, params)

    def fetch_oco_order(self, id, symbol=None, params={}):
        cid = (params or {}).get('clientOrderId')
        if id is None and cid is not None:
            return self._list(self._call(self.engine.list_by_client_id, cid))
        return self._list(self._call(self.engine.get_list, str(id)))

    def fetch_open_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return [self._list(x) for x in self.engine.lists(symbol=symbol, status='open')]

    def fetch_oco_orders(self, symbol=None, since=None, limit=None, params={}):
        return [self._list(x) for x in self.engine.lists(symbol=symbol)]

    def cancel_all_oco_orders(self, symbol=None, params={}):
        return [self._order(self.engine.order(i)) for i in self.engine.cancel_all(symbol, lists=True, singles=False)]

    def _list(self, lst: E.SimList) -> dict:
        legs = self.engine.list_orders(lst.id)
        status = _LIST_STATUS[lst.status]
        if status == ListStatus.CANCELED and legs and all(o.status == 'rejected' for o in legs):
            status = ListStatus.REJECTED
        orders = []
        for o in legs:
            leg = self._order(o)
            leg['role'] = o.role or Role.TAKE_PROFIT     # an OCO's plain limit leg is its take-profit
            orders.append(leg)
        return {'id': lst.id, 'clientOrderId': lst.client_id, 'symbol': lst.symbol, 'type': lst.kind,
                'status': status, 'orders': orders, 'timestamp': lst.created_ms, 'datetime': None, 'info': None}

    # ---------------------------------------------------------------- market data and account
    def fetch_my_trades(self, symbol=None, since=None, limit=None, params={}):
        until = (params or {}).get('until')
        return [{'id': f.id, 'order': f.order_id, 'symbol': f.symbol, 'side': f.side, 'amount': float(f.amount),
                 'price': float(f.price), 'cost': float(f.cost), 'timestamp': f.ts,
                 'fee': {'cost': float(f.fee), 'currency': f.fee_currency}, 'takerOrMaker': f.liquidity}
                for f in self.engine.fills(symbol=symbol, since=since) if until is None or f.ts <= until]

    def fetch_ohlcv(self, symbol, timeframe='1m', since=None, limit=None, params={}):
        self.market(symbol)
        frame, interval = _ms(timeframe), self.engine.interval_ms(symbol)
        if frame == interval:
            bars = self.engine.closed_bars(symbol, since=since, limit=limit)
        else:
            bars = [b for b in aggregate(self.engine.closed_bars(symbol), interval, frame)
                    if since is None or b.ts >= since]
            bars = bars[:limit] if since is not None and limit else bars[-limit:] if limit else bars
        return [[b.ts, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume)] for b in bars]

    def fetch_ticker(self, symbol, params={}):
        self.market(symbol)
        t = self.engine.ticker(symbol)
        return {'symbol': symbol, 'timestamp': t.ts, 'last': float(t.last), 'close': float(t.last),
                'bid': float(t.bid), 'ask': float(t.ask)}

    def fetch_balance(self, params={}):
        out: dict[str, dict[str, float]] = {'free': {}, 'used': {}, 'total': {}}
        for cur, (total, free, used) in self.engine.balances().items():
            out[cur] = {'free': float(free), 'used': float(used), 'total': float(total)}
            out['free'][cur], out['used'][cur], out['total'][cur] = float(free), float(used), float(total)
        return out
