"""Crypto.com Exchange v1 REST dialect under the `/cryptocom` prefix (base `/cryptocom/exchange/v1`).

Public methods are GET with a query string, private ones POST with the JSON envelope
`{id, method, params, api_key, sig, nonce}` (the Crypto.com Exchange API v1 documentation,
https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html: Request Format, Digital Signature).  Answers:
`{id, method, code: 0, result}` with the request's id as a number when it is one written as digits
(ccxt sends its nonce as a string); errors `{id, method, code, message}`.  Field names and types follow
the real answers ccxt records
(https://github.com/ccxt/ccxt/blob/master/ts/src/test/static/response/cryptocom.json; copies in
tests/fixtures/recorded).

Advanced orders (private/advanced/*: OCO, OTO, OTOCO and single trigger orders) are a separate
family: the plain private/* order methods neither list nor cancel them, as on the exchange.
Choices where Crypto.com is unclear (listed in docs/simulator.md): triggers watch the mark price,
the bars of a mark series given with `mark_data=` (the trades' own prices without one);
advanced/cancel-order on one leg cancels its whole list;
open legs report ACTIVE, exits waiting for their entry PENDING.

Errors where the documentation is silent (its Response and Reason Codes section lists the codes):
- a request it cannot read (body not JSON, NaN/Infinity, nested over 32 levels, not UTF-8; a header
  not UTF-8; an envelope whose `id` is no number or string, or `method` no string): HTTP 400,
  40001 BAD_REQUEST; a body over 1 MiB: HTTP 413, 40001 BAD_REQUEST;
- a parameter of the wrong type (an `instrument_name` that is no string, a number out of
  1e-30 .. 1e15): HTTP 400, 40004 MISSING_OR_INVALID_ARGUMENT (a string naming no instrument: 209);
- an unexpected failure of the simulator: HTTP 500, 50001 INTERNAL_ERROR.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Context, Decimal
from typing import Any, Literal, overload

from aiohttp import web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.auth import cryptocom_verify
from bracket_plugin.sim.candles import candles_from, market_window, num
from bracket_plugin.sim.cryptocom_stream import CryptocomStream
from bracket_plugin.sim.rules import DOWN, SELL, UP
from bracket_plugin.sim.server import ApiError, Call, DialectBase, Malformed, parse_json, route

V1 = "/exchange/v1/"
TIMEFRAMES = {
    "1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000,
    "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000, "1D": 86_400_000, "7D": 604_800_000,
    "14D": 1_209_600_000,
    "M1": 60_000, "M5": 300_000, "M15": 900_000, "M30": 1_800_000, "H1": 3_600_000, "H2": 7_200_000,
    "H4": 14_400_000, "H12": 43_200_000, "D1": 86_400_000, "D7": 604_800_000, "D14": 1_209_600_000,
}
ORDER_TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
NUMERIC = ("quantity", "price", "ref_price", "notional")

REJECTS = {
    E.INSUFFICIENT_BALANCE: (306, "INSUFFICIENT_AVAILABLE_BALANCE"),
    E.BELOW_MIN_SIZE: (415, "BELOW_MIN_ORDER_SIZE"),
    E.BELOW_MIN_NOTIONAL: (415, "BELOW_MIN_ORDER_SIZE"),
    E.BAD_TICK: (308, "INVALID_PRICE"),
    E.BAD_LOT: (213, "INVALID_QUANTITY"),
    E.UNKNOWN_SYMBOL: (209, "INVALID_INSTRUMENT_NAME"),
    E.DUPLICATE_CLIENT_ID: (204, "DUPLICATE_CLORDID"),
    E.TOO_MANY_STOPS: (318, "EXCEEDS_MAX_ORDER_COUNT"),
    E.TRIGGER_WRONG_SIDE: (50007, "INVALID_TRIGGER_PRICE"),
    E.BAD_LEG_COMBINATION: (50010, "INVALID_ORDER_PARAMETERS"),
    E.NOT_FOUND: (212, "INVALID_ORDERID"),
    E.NOT_CANCELABLE: (316, "NO_ACTIVE_ORDER"),
    E.BAD_REQUEST: (40004, "MISSING_OR_INVALID_ARGUMENT"),
}
STATUS = {"pending": "PENDING", "open": "ACTIVE", "triggered": "ACTIVE", "filled": "FILLED",
          "canceled": "CANCELED", "rejected": "REJECTED"}


# Envelope details as ccxt's recorded real answers show them (ccxt's recorded responses, the URL in the module docstring):
# the id comes back as a number (ccxt sends the nonce as a string), except from the wallet methods,
# which answer id and code as strings; cancel-order carries "message": "NO_ERROR" beside code 0.
WALLET_METHODS = ("private/get-currency-networks",)
NO_ERROR_METHODS = ("private/cancel-order",)
NUMERIC_ID = re.compile(r"-?[0-9]{1,18}\Z")  # fits a 64-bit integer, as Crypto.com's ids do


def _numeric_id(value):
    """A request id of digits (as ccxt sends its nonce) echoed as the number; any other id as sent."""
    if isinstance(value, str) and NUMERIC_ID.match(value):
        return int(value)
    return value


def _bad(message: str = "MISSING_OR_INVALID_ARGUMENT", code: int = 40004) -> ApiError:
    return ApiError(code, message, 400)


def _ms(value, name: str) -> int | None:
    """start_time / end_time: ms or ns (Crypto.com recommends ns), number or string."""
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a timestamp") from None
    return n // 1_000_000 if n > 10**15 else n


def _value(amount: Decimal) -> Decimal:
    """A value in the valuation currency, to 8 decimals as Crypto.com's balances show them."""
    if not amount:
        return Decimal(0)
    return amount.quantize(Decimal("1e-8"), context=Context(prec=max(28, amount.adjusted() + 10))).normalize()


def _places(step: Decimal) -> int:
    """Decimal places of a tick or lot size."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a finite size (rules): only NaN and infinities have a letter here
    return max(0, -exponent)


def _limit(value, default: int = 100, most: int = 100) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad("limit must be an integer", 40003)
    if not 1 <= value <= most:
        raise _bad(f"limit must be between 1 and {most}")
    return value


class CryptocomDialect(CryptocomStream, DialectBase):
    """REST below; the websocket streams (user and market data) come from CryptocomStream."""

    prefix = "/cryptocom"
    exchange_id = "cryptocom"

    def __init__(self, venue) -> None:
        super().__init__(venue)
        saved = venue.dialect_state.get(self.exchange_id, {})
        self.advanced: set[str] = set(saved.get("advanced", []))  # ids of single advanced trigger orders

    def remember_advanced(self, order_id: str) -> None:
        self.advanced.add(order_id)
        self.venue.note_dialect(self.exchange_id, "advanced", order_id)

    # ------------------------------------------------------------------ plumbing
    def parse_body(self, request: web.Request, text: str) -> dict | None:
        if request.method != "POST":
            return None
        body = parse_json(text) if text else {}
        if not isinstance(body, dict) or not isinstance(body.get("params", {}), dict):
            raise Malformed("the body must be a JSON object with an object as params")
        if isinstance(body.get("id"), (bool, float, list, dict)) or not isinstance(body.get("method") or "", str):
            raise Malformed("id must be a number or a string, method a string")
        return body

    def bad_request(self, exc: Malformed) -> ApiError:
        return ApiError(40001, "BAD_REQUEST", exc.status)

    def system_error(self) -> ApiError:
        return ApiError(50001, "INTERNAL_ERROR", 500)

    def authenticate(self, request: web.Request, call: Call, text: str) -> None:
        method = call.endpoint[len(V1):]
        failure = cryptocom_verify(call.body or {}, method, self.venue.credentials(self.exchange_id), call.now_ms)
        if failure is not None:
            raise ApiError(int(failure.code), failure.message, failure.status)

    def _envelope(self, call: Call) -> dict:
        body = call.body or {}
        method = body.get("method") or call.endpoint[len(V1):]
        request_id = body.get("id", -1)
        if method in WALLET_METHODS:
            return {"id": str(request_id), "method": method}
        return {"id": _numeric_id(request_id), "method": method}

    def ok(self, data, call: Call) -> web.Response:
        answer = self._envelope(call)
        # the wallet methods answer code "0" as a string (ccxt's recorded get-currency-networks), the others 0
        answer["code"] = "0" if answer["method"] in WALLET_METHODS else 0
        if answer["method"] in NO_ERROR_METHODS:
            answer["message"] = "NO_ERROR"
        if data is not None:
            answer["result"] = data
        return web.json_response(answer)

    def fail(self, err: ApiError, call: Call) -> web.Response:
        answer = self._envelope(call)
        answer.update(code=int(err.code), message=err.message)
        return web.json_response(answer, status=err.status)

    def not_found_error(self, call: Call):
        return (40002, "METHOD_NOT_FOUND", 400)

    def rate_limited(self, request: web.Request) -> web.Response:
        return web.json_response({"id": -1, "method": request.path.split(V1, 1)[-1], "code": 42901,
                                  "message": "TOO_MANY_REQUESTS"}, status=429)

    def map_reject(self, rej: E.Reject, call: Call) -> ApiError:
        code, name = REJECTS[rej.reason]
        if rej.reason == E.TRIGGER_WRONG_SIDE and "/advanced/" not in call.endpoint:
            code, name = 229, "INVALID_REF_PRICE"
        return ApiError(code, name, 400)

    # ------------------------------------------------------------------ views
    @staticmethod
    def instrument(symbol: str) -> str:
        return symbol.replace("/", "_")

    @overload
    def symbol_of(self, name, required: Literal[True] = True) -> str: ...
    @overload
    def symbol_of(self, name, required: bool = True) -> str | None: ...

    def symbol_of(self, name, required: bool = True) -> str | None:
        if name in (None, ""):
            if required:
                raise _bad("instrument_name is required")
            return None
        if not isinstance(name, str):
            raise _bad("instrument_name must be a string")
        symbol = name.replace("_", "/")
        if symbol not in self.engine.markets():
            raise ApiError(209, "INVALID_INSTRUMENT_NAME", 400)
        return symbol

    def params(self, call: Call) -> dict:
        return (call.body or {}).get("params") or {}

    @staticmethod
    def order_type(o: E.SimOrder) -> str:
        if o.type == "limit":
            return "LIMIT"
        if o.type == "market":
            return "MARKET"
        is_stop = o.direction == (DOWN if o.side == SELL else UP)
        if o.type == "stop_market":
            return "STOP_LOSS" if is_stop else "TAKE_PROFIT"
        return "STOP_LIMIT" if is_stop else "TAKE_PROFIT_LIMIT"

    def is_advanced(self, o: E.SimOrder) -> bool:
        return o.list_id is not None or o.id in self.advanced

    def order_view(self, o: E.SimOrder) -> dict:
        rules = self.engine.rules(o.symbol)
        view: dict[str, Any] = {   # the JSON answer
            "account_id": "sim-account", "order_id": o.id, "client_oid": o.client_id or "",
            "order_type": self.order_type(o), "time_in_force": "GOOD_TILL_CANCEL", "side": o.side.upper(),
            "exec_inst": [], "quantity": num(o.amount),
            "order_value": num(o.amount * o.price) if o.price else num(o.funds or 0),
            "maker_fee_rate": num(rules.maker_fee), "taker_fee_rate": num(rules.taker_fee),
            "avg_price": num(o.average or 0), "ref_price": num(o.trigger) or "0",
            "ref_price_type": "MARK_PRICE" if o.is_trigger else "NULL_VAL",
            "cumulative_quantity": num(o.filled), "cumulative_value": num(o.cost), "cumulative_fee": num(o.fee),
            "status": STATUS[o.status], "update_user_id": "sim-account",
            "order_date": dt.datetime.fromtimestamp(o.created_ms / 1000, dt.UTC).strftime("%Y-%m-%d"),
            "instrument_name": self.instrument(o.symbol), "fee_instrument_name": o.fee_currency,
            "create_time": o.created_ms, "create_time_ns": str(o.created_ms * 1_000_000), "update_time": o.updated_ms,
        }
        if o.price is not None:  # orders with a limit price only: the recorded MARKET order has none
            view["limit_price"] = num(o.price)  # ccxt's parse_order reads it as the price
        if o.funds is not None:
            view["notional"] = num(o.funds)
        if o.list_id is not None:
            lst = self.engine.get_list(o.list_id)
            view.update(list_id=lst.id, contingency_type=lst.kind.upper(), leg_id=(o.leg or 0) + 1)
        if o.status == "rejected":
            view["reject_reason"] = "INSUFFICIENT_AVAILABLE_BALANCE"
        return view

    def trade_view(self, f: E.Fill) -> dict:
        o = self.engine.order(f.order_id)
        return {
            "account_id": "sim-account",
            "event_date": dt.datetime.fromtimestamp(f.ts / 1000, dt.UTC).strftime("%Y-%m-%d"),
            "journal_type": "TRADING", "side": f.side.upper(), "instrument_name": self.instrument(f.symbol),
            "fees": num(-f.fee), "trade_id": f.id, "trade_match_id": f.id, "create_time": f.ts,
            "traded_price": num(f.price), "traded_quantity": num(f.amount), "fee_instrument_name": f.fee_currency,
            "client_oid": o.client_id or "", "taker_side": f.liquidity.upper(), "order_id": f.order_id,
            "create_time_ns": str(f.ts * 1_000_000),
        }

    # ------------------------------------------------------------------ requests -> engine
    def order_request(self, p: dict, role_default: str | None = None) -> E.OrderRequest:
        if not isinstance(p, dict):
            raise _bad()
        for key in NUMERIC:
            if key in p and not isinstance(p[key], str):
                raise _bad(f"{key} must be a string")  # every number travels as a JSON string
        otype = str(p.get("type", "")).upper()
        if otype not in ORDER_TYPES:
            raise ApiError(218, "INVALID_ORDERTYPE", 400)
        side = str(p.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise ApiError(220, "INVALID_SIDE", 400)
        cid = p.get("client_oid")
        if cid is not None and (not isinstance(cid, str) or not 0 < len(cid) <= 36):
            raise _bad("client_oid must be a string of at most 36 characters")
        symbol = self.symbol_of(p.get("instrument_name"))
        needs_price = otype in ("LIMIT", "STOP_LIMIT", "TAKE_PROFIT_LIMIT")
        trigger = otype not in ("LIMIT", "MARKET")
        if needs_price and p.get("price") in (None, ""):
            raise _bad("price is required")
        if trigger and p.get("ref_price") in (None, ""):
            raise _bad("ref_price is required")
        notional = p.get("notional") if otype in ("MARKET", "STOP_LOSS", "TAKE_PROFIT") and side == "BUY" else None
        if p.get("quantity") in (None, "") and notional in (None, ""):
            raise _bad("quantity is required")
        role = None
        if trigger:
            role = "stop_loss" if otype.startswith("STOP") else "take_profit"
        etype = {"LIMIT": "limit", "MARKET": "market", "STOP_LOSS": "stop_market", "TAKE_PROFIT": "stop_market",
                 "STOP_LIMIT": "stop_limit", "TAKE_PROFIT_LIMIT": "stop_limit"}[otype]
        if notional and etype == "stop_market":
            raise _bad("notional is only accepted on a MARKET buy")
        return E.OrderRequest(
            symbol=symbol, side=side.lower(), type=etype,
            amount=None if notional and not p.get("quantity") else p.get("quantity"),
            price=p.get("price") if needs_price else None, trigger=p.get("ref_price") if trigger else None,
            funds=notional if notional and not p.get("quantity") else None, client_id=cid, role=role or role_default,
        )

    def _find(self, p: dict, advanced: bool) -> E.SimOrder:
        if p.get("order_id") not in (None, ""):
            o = self.engine.order(str(p["order_id"]))
        elif p.get("client_oid") not in (None, ""):
            o = self.engine.order_by_client_id(str(p["client_oid"]))
        else:
            raise _bad("order_id or client_oid is required")
        if self.is_advanced(o) != advanced:
            raise E.Reject(E.NOT_FOUND, f"order {o.id} is not in this order family")
        return o

    def _history(self, p: dict, advanced: bool) -> list[dict]:
        symbol = self.symbol_of(p.get("instrument_name"), required=False)
        since, until = _ms(p.get("start_time"), "start_time"), _ms(p.get("end_time"), "end_time")
        limit = _limit(p.get("limit"))
        orders = [o for o in self.engine.orders(symbol=symbol, status=E.FINAL)
                  if self.is_advanced(o) == advanced and (since is None or o.updated_ms >= since)
                  and (until is None or o.updated_ms <= until)]
        return [self.order_view(o) for o in reversed(orders)][:limit]

    def _open(self, p: dict, advanced: bool) -> list[dict]:
        symbol = self.symbol_of(p.get("instrument_name"), required=False)
        return [self.order_view(o) for o in self.engine.open_orders(symbol) if self.is_advanced(o) == advanced]

    # ------------------------------------------------------------------ public
    @route("GET", V1 + "public/get-instruments")
    def instruments(self, call: Call):
        out = []
        for symbol, r in self.engine.markets().items():
            out.append({
                "symbol": self.instrument(symbol), "inst_type": "CCY_PAIR", "display_name": symbol,
                "base_ccy": r.base, "quote_ccy": r.quote,
                "quote_decimals": _places(r.tick_size), "quantity_decimals": _places(r.lot_size),
                "price_tick_size": num(r.tick_size), "qty_tick_size": num(r.lot_size),
                # the minimums (Crypto.com's instrument definitions carry them; ccxt 4.5.90 reads neither)
                "min_quantity": num(r.min_size), "min_notional": num(r.min_notional), "max_leverage": "1",
                "tradable": True, "expiry_timestamp_ms": 0, "beta_product": False,
                "margin_buy_enabled": False, "margin_sell_enabled": False,
            })
        return {"data": out}

    def ticker_view(self, symbol: str) -> dict:
        t = self.engine.ticker(symbol)
        change = (t.last - t.open) / t.open if t.open else Decimal(0)
        return {"i": self.instrument(symbol), "h": num(t.high), "l": num(t.low), "a": num(t.last),
                "v": num(t.volume), "vv": num(t.quote_volume), "c": num(change.quantize(Decimal("0.0001"))),
                "b": num(t.bid), "k": num(t.ask), "t": t.ts}

    @route("GET", V1 + "public/get-tickers")
    def tickers(self, call: Call):
        symbol = self.symbol_of(call.query.get("instrument_name"), required=False)
        return {"data": [self.ticker_view(s) for s in ([symbol] if symbol else self.engine.symbols())]}

    def book_view(self, symbol: str) -> dict:
        """No resting liquidity is simulated: one level each side at the last price, sized by the
        last closed bar's volume (bid = ask = last, as the ticker says)."""
        t = self.engine.ticker(symbol)
        closed = self.engine.closed_bars(symbol, limit=1)
        size = num(closed[-1].volume) if closed else "0"
        return {"bids": [[num(t.bid), size, "1"]], "asks": [[num(t.ask), size, "1"]], "t": t.ts}

    @route("GET", V1 + "public/get-book")
    def book(self, call: Call):
        symbol = self.symbol_of(call.query.get("instrument_name"))
        return {"depth": 1, "instrument_name": self.instrument(symbol), "data": [self.book_view(symbol)]}

    @route("GET", V1 + "public/get-candlestick")
    def candlestick(self, call: Call):
        q = call.query
        symbol = self.symbol_of(q.get("instrument_name"))
        name = q.get("timeframe", "1m")
        frame = TIMEFRAMES.get(name)
        if frame is None:
            raise _bad(f"timeframe must be one of {', '.join(TIMEFRAMES)}")
        try:
            count = int(q.get("count", 25))
        except ValueError:
            raise _bad("count must be an integer") from None
        count = max(1, min(count, 300))
        start, end = _ms(q.get("start_ts"), "start_ts"), q.get("end_ts")
        end_ms = None
        if end not in (None, ""):
            try:
                end_ms = int(end)
            except ValueError:
                raise _bad("end_ts must be a timestamp") from None
            end_ms = end_ms // 1000 if end_ms > 10**14 else end_ms  # ccxt may send microseconds
        start, end_ms = market_window(start, end_ms, call.now_ms, self.engine.now_ms())
        try:
            bars = candles_from(self.engine, symbol, frame, start)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        bars = [b for b in bars if (start is None or b.ts >= start) and b.ts < end_ms]
        bars = bars[-count:]  # the most recent `count` candles of the window
        return {"interval": name, "instrument_name": self.instrument(symbol),
                "data": [{"o": num(b.open), "h": num(b.high), "l": num(b.low), "c": num(b.close),
                          "v": num(b.volume), "t": b.ts} for b in bars]}

    # ------------------------------------------------------------------ account
    def valuation_currency(self) -> str:
        """The currency the account is valued in: the quote of the venue's (first) market."""
        return self.engine.rules(self.venue.symbol if self.venue.symbol in self.engine.markets()
                                 else self.engine.symbols()[0]).quote

    def price_in(self, currency: str, target: str) -> Decimal | None:
        """Last price of `currency` in `target` through one market, either way round, or through one
        other currency; None when the venue's markets do not connect them."""
        if currency == target:
            return Decimal(1)
        direct: dict[str, dict[str, Decimal]] = {}   # currency -> {currency: its price in it}
        for symbol, r in self.engine.markets().items():
            last = self.engine.last_price(symbol)
            direct.setdefault(r.base, {})[r.quote] = last
            if last:
                direct.setdefault(r.quote, {})[r.base] = 1 / last
        if target in direct.get(currency, {}):
            return direct[currency][target]
        for middle, price in direct.get(currency, {}).items():
            if target in direct.get(middle, {}):
                return price * direct[middle][target]
        return None

    @route("POST", V1 + "private/user-balance", private=True)
    def user_balance(self, call: Call):
        return {"data": self.balance_view()}

    def balance_view(self) -> list[dict]:
        """A spot account, valued in `valuation_currency()` at the last prices: no margin positions,
        no borrowing, no haircut (every currency is collateral at its full value).  Cash and collateral
        are the balances' value; what open orders hold is the initial margin, the rest is available."""
        unit = self.valuation_currency()
        positions, cash, reserved = [], Decimal(0), Decimal(0)
        for cur, (total, free, used) in self.engine.balances().items():
            price = self.price_in(cur, unit)
            value = _value(total * price) if price is not None else Decimal(0)
            cash += value
            reserved += _value(used * price) if price is not None else Decimal(0)
            positions.append({
                "quantity": num(total), "reserved_qty": num(used), "collateral_amount": num(value), "haircut": "0",
                "collateral_eligible": price is not None, "market_value": num(value),
                "max_withdrawal_balance": num(free), "instrument_name": cur, "hourly_interest_rate": "0",
            })
        return [{
            "total_available_balance": num(cash - reserved), "total_margin_balance": num(cash),
            "total_initial_margin": num(reserved), "total_haircut": "0", "total_position_im": "0",
            "total_maintenance_margin": "0", "total_position_cost": "0", "total_cash_balance": num(cash),
            "total_collateral_value": num(cash), "total_session_unrealized_pnl": "0", "instrument_name": unit,
            "total_session_realized_pnl": "0", "position_balances": positions, "credit_limits": [],
            "total_effective_leverage": "0", "position_limit": "3000000", "used_position_limit": "0",
            "total_borrow": "0", "margin_score": "0", "is_liquidating": False, "has_risk": False, "terminatable": True,
        }]

    @route("POST", V1 + "private/get-currency-networks", private=True)
    def currency_networks(self, call: Call):
        """One network per currency, named after it; deposits and withdrawals are off (a simulated account
        has no wallet).  Times and the envelope's code are strings, as in the recorded real answer."""
        return {"update_time": str(self.engine.now_ms()), "currency_map": {
            c: {"full_name": c, "default_network": c, "network_list": [{
                "network_id": c, "withdrawal_fee": "0", "withdraw_enabled": False, "min_withdrawal_amount": "0",
                "deposit_enabled": False, "confirmation_required": "0"}]} for c in self.engine.currencies()}}

    # ------------------------------------------------------------------ plain orders
    @route("POST", V1 + "private/create-order", private=True, mutates=True)
    def create_order(self, call: Call):
        o = self.engine.place(self.order_request(self.params(call)))
        return {"order_id": o.id, "client_oid": o.client_id or ""}

    @route("POST", V1 + "private/cancel-order", private=True, mutates=True)
    def cancel_order(self, call: Call):
        o = self.engine.cancel(self._find(self.params(call), advanced=False).id)
        return {"order_id": o.id, "client_oid": o.client_id or ""}

    @route("POST", V1 + "private/cancel-all-orders", private=True, mutates=True)
    def cancel_all(self, call: Call):
        symbol = self.symbol_of(self.params(call).get("instrument_name"), required=False)
        for o in self.engine.open_orders(symbol):
            if not self.is_advanced(o):
                self.engine.cancel(o.id)
        return None

    @route("POST", V1 + "private/get-open-orders", private=True)
    def open_orders(self, call: Call):
        return {"data": self._open(self.params(call), advanced=False)}

    @route("POST", V1 + "private/get-order-detail", private=True)
    def order_detail(self, call: Call):
        return self.order_view(self._find(self.params(call), advanced=False))

    @route("POST", V1 + "private/get-order-history", private=True)
    def order_history(self, call: Call):
        return {"data": self._history(self.params(call), advanced=False)}

    @route("POST", V1 + "private/get-trades", private=True)
    def trades(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p.get("instrument_name"), required=False)
        since, until = _ms(p.get("start_time"), "start_time"), _ms(p.get("end_time"), "end_time")
        limit = _limit(p.get("limit"))
        fills = [f for f in self.engine.fills(symbol=symbol, since=since) if until is None or f.ts <= until]
        return {"data": [self.trade_view(f) for f in reversed(fills)][:limit]}

    # ------------------------------------------------------------------ advanced orders
    def _legs(self, call: Call, n: int) -> list[dict]:
        legs = self.params(call).get("order_list")
        if not isinstance(legs, list) or len(legs) != n:
            raise _bad(f"order_list must hold {n} orders", 40004)
        if any(not isinstance(leg, dict) for leg in legs):
            raise _bad()
        names = {self.symbol_of(leg.get("instrument_name")) for leg in legs}
        if len(names) != 1:
            raise _bad("all legs must share one instrument_name", 50010)
        return legs

    @route("POST", V1 + "private/advanced/create-order", private=True, mutates=True)
    def adv_create_order(self, call: Call):
        o = self.engine.place(self.order_request(self.params(call)))
        self.remember_advanced(o.id)
        return {"order_id": o.id, "client_oid": o.client_id or ""}

    @route("POST", V1 + "private/advanced/create-oco", private=True, mutates=True)
    def create_oco(self, call: Call):
        legs = self._legs(call, 2)
        for leg in legs:
            if str(leg.get("type", "")).upper() not in ("LIMIT", "MARKET") and leg.get("ref_price_type", "MARK_PRICE") != "MARK_PRICE":
                raise ApiError(230, "INVALID_REF_PRICE_TYPE", 400)
        reqs = [self.order_request(leg) for leg in legs]
        return {"list_id": self.engine.place_list("oco", reqs).id}

    @route("POST", V1 + "private/advanced/create-oto", private=True, mutates=True)
    def create_oto(self, call: Call):
        legs = self._legs(call, 2)
        if str(legs[1].get("type", "")).upper() in ("LIMIT", "MARKET"):
            raise _bad("the second order of an OTO must be a trigger order")
        reqs = [self.order_request(legs[0], role_default="entry"), self.order_request(legs[1])]
        return {"list_id": self.engine.place_list("oto", reqs).id}

    @route("POST", V1 + "private/advanced/create-otoco", private=True, mutates=True)
    def create_otoco(self, call: Call):
        legs = self._legs(call, 3)
        kinds = sorted(str(leg.get("type", "")).upper() for leg in legs[1:])
        stops = [k for k in kinds if k in ("STOP_LOSS", "STOP_LIMIT")]
        profits = [k for k in kinds if k in ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT")]
        if len(stops) != 1 or len(profits) != 1:
            raise _bad("INVALID_ORDER_PARAMETERS", 50010)
        reqs = [self.order_request(legs[0], role_default="entry")] + [self.order_request(leg) for leg in legs[1:]]
        return {"list_id": self.engine.place_list("otoco", reqs).id}

    def _cancel_list(self, call: Call, kinds: tuple[str, ...]):
        list_id = self.params(call).get("list_id")
        if list_id in (None, ""):
            raise _bad("list_id is required")
        lst = self.engine.get_list(str(list_id))
        if lst.kind not in kinds:
            raise E.Reject(E.NOT_FOUND, f"list {list_id} is an {lst.kind} list")
        self.engine.cancel_list(lst.id)
        return None

    @route("POST", V1 + "private/advanced/cancel-oco", private=True, mutates=True)
    def cancel_oco(self, call: Call):
        return self._cancel_list(call, ("oco",))

    @route("POST", V1 + "private/advanced/cancel-oto", private=True, mutates=True)
    def cancel_oto(self, call: Call):
        return self._cancel_list(call, ("oto", "otoco"))

    @route("POST", V1 + "private/advanced/cancel-otoco", private=True, mutates=True)
    def cancel_otoco(self, call: Call):
        return self._cancel_list(call, ("oto", "otoco"))

    @route("POST", V1 + "private/advanced/cancel-order", private=True, mutates=True)
    def adv_cancel_order(self, call: Call):
        o = self.engine.cancel(self._find(self.params(call), advanced=True).id)
        return {"order_id": o.id, "client_oid": o.client_id or ""}

    @route("POST", V1 + "private/advanced/cancel-all-orders", private=True, mutates=True)
    def adv_cancel_all(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p.get("instrument_name"), required=False)
        kind = str(p.get("type", "ALL")).upper()
        if kind not in ("LIMIT", "TRIGGER", "ALL"):
            raise _bad("type must be LIMIT, TRIGGER or ALL")
        for o in self.engine.open_orders(symbol):
            if o.status in E.CANCELABLE and self.is_advanced(o) and (
                    kind == "ALL" or (kind == "TRIGGER") == o.is_trigger):
                self.engine.cancel(o.id)
        return None

    @route("POST", V1 + "private/advanced/get-open-orders", private=True)
    def adv_open_orders(self, call: Call):
        return {"data": self._open(self.params(call), advanced=True)}

    @route("POST", V1 + "private/advanced/get-order-detail", private=True)
    def adv_order_detail(self, call: Call):
        return self.order_view(self._find(self.params(call), advanced=True))

    @route("POST", V1 + "private/advanced/get-order-history", private=True)
    def adv_order_history(self, call: Call):
        return {"data": self._history(self.params(call), advanced=True)}

    @route("POST", V1 + "private/advanced/get-order-list-detail", private=True)
    def adv_list_detail(self, call: Call):
        p = self.params(call)
        ids = p.get("list_id_list")
        if ids is None and p.get("list_id") not in (None, ""):
            ids = [p["list_id"]]
        if not isinstance(ids, list) or not ids:
            raise _bad("list_id_list is required")
        out = []
        for list_id in ids:
            out += [self.order_view(o) for o in self.engine.list_orders(str(list_id))]
        return {"data": out}
