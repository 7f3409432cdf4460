"""Binance's spot REST dialect under the `/binance` prefix (and at the root with `sim serve --exchange binance`).

Sources: Binance's public spot API documentation, https://github.com/binance/binance-spot-api-docs (also published at
https://developers.binance.com/docs/binance-spot-api-docs); a file name below (rest-api.md,
filters.md, errors.md, enums.md, user-data-stream.md) is a page of that repository:
rest-api.md (endpoints, parameters, signing, timing security, order lists), filters.md
(exchangeInfo filters), errors.md (codes and messages), enums.md (statuses), and the OPO FAQ,
https://github.com/binance/binance-spot-api-docs/blob/master/faqs/opo.md.  Answers carry no envelope; errors are
`{"code": -XXXX, "msg": "..."}` (rest-api.md: Error Codes).  Parameters come in the query string
and/or an `application/x-www-form-urlencoded` body; a parameter in both is read from the query
(rest-api.md: General Information on Endpoints).

The user data stream's listenKey endpoints (user-data-stream.md: POST / PUT / DELETE
/api/v3/userDataStream, the API key only) are here; the websocket streams in sim/binance_stream.py.

Besides the spot API it answers what an unmodified ccxt.binance 4.5.90 asks while loading markets:
the currency list (/sapi/v1/capital/config/getall) and empty futures markets (/fapi, /dapi).

Mapping onto the engine (kept so that the in-process venue backtest and a paper run agree):
- STOP_LOSS(_LIMIT) is a stop_market (stop_limit) of role stop_loss: a sell fires when the price
  falls to the stop, a buy when it rises; TAKE_PROFIT(_LIMIT) the reverse (role take_profit);
- a standalone LIMIT_MAKER is a post-only limit; in an order list it is a plain limit leg (the
  list's price checks refuse one that would match at once);
- the engine's OCO is one limit and one trigger: an OCO's TAKE_PROFIT(_LIMIT) leg is played by the
  limit that fills at the same prices (TAKE_PROFIT at stopPrice; TAKE_PROFIT_LIMIT at the stop or
  the limit, whichever is further from the market), and an OTO's LIMIT / LIMIT_MAKER pending leg
  by a take-profit stop-limit at its price; answers show the type and prices as sent.

Choices where the documents are silent:
- HTTP statuses: 401 for -2014 / -2015 (key missing or unknown), 500 for -1000 (a simulator
  failure), 404 with -1020 for a path this dialect does not serve, 429 with -1003 for a rate-limit
  fault, 400 for every other refusal;
- checks run in this order: API key, timestamp / recvWindow, signature; a recvWindow over 60000 is
  -1130 (errors.md lists no code for it), as is one that is not a positive number (NaN too);
- a request it cannot read (body not UTF-8, a header not UTF-8, over 1 MiB) is -1100;
- client ids (newClientOrderId, listClientOrderId, leg ids) are never reused, not merely unique among
  open orders and lists (the engine keeps one table of them); ids not sent are generated;
- a leg canceled because its sibling filled shows EXPIRED, a user's cancel CANCELED (enums.md
  describes EXPIRED as canceled by the order type's rules); a fill refused for want of balance REJECTED;
- openOrders and openOrderList show pending legs (PENDING_NEW) only in their list, not in
  openOrders; allOrders shows them;
- IOC / FOK on trigger orders and order-list legs, MARKET with quoteOrderQty on a SELL, trailing
  deltas, iceberg and pegged orders are refused with -1014 "Unsupported order combination.";
- an OTOCO's pending legs are checked against the working price (rest-api.md says they follow the
  OCO's rules; the last price is where the market is now, not where the exits start);
- OPO / OPOCO pending quantity = working quantity less the larger fee rate, floored to the lot
  (the OPO FAQ: net of the fee, adjusted to LOT_SIZE; exact when maker and taker fees are equal);
- the order book is one level each side at the last price, sized by the last closed bar's volume.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from decimal import Decimal
from typing import Literal, overload
from urllib.parse import parse_qsl

from aiohttp import web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.binance_stream import BinanceStreamMixin
from bracket_plugin.sim.candles import candles_from, market_window, num
from bracket_plugin.sim.rules import BUY, SELL, floor_to
from bracket_plugin.sim.server import ApiError, Call, DialectBase, Malformed, route

DEFAULT_RECV_WINDOW = 5_000   # rest-api.md (Timing security): recvWindow defaults to 5000 ms ...
MAX_RECV_WINDOW = 60_000      # ... and may be at most 60000 ms
AHEAD_MS = 1_000              # ... and timestamp < serverTime + 1 second
INTERVALS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
             "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
             "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000}  # rest-api.md: klines
ORDER_TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
TP_TYPES = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")   # rest-api.md: an OCO has one of these ...
SL_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT")                     # ... and one of these
ID_CHARS = string.ascii_letters + string.digits
USER_STREAM = "/api/v3/userDataStream"
PRICE_RELATION = "The relationship of the prices for the orders is not correct."
UNSUPPORTED = (-1014, "Unsupported order combination.")

# engine refusal -> (code, msg): errors.md, "Messages for -1010, -2010, -2011" and "Filter failures"
REJECTS = {
    E.INSUFFICIENT_BALANCE: (-2010, "Account has insufficient balance for requested action."),
    E.BELOW_MIN_SIZE: (-1013, "Filter failure: LOT_SIZE"),
    E.BAD_LOT: (-1013, "Filter failure: LOT_SIZE"),
    E.BELOW_MIN_NOTIONAL: (-1013, "Filter failure: NOTIONAL"),
    E.BAD_TICK: (-1013, "Filter failure: PRICE_FILTER"),
    E.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
    E.DUPLICATE_CLIENT_ID: (-2010, "Duplicate order sent."),
    E.TOO_MANY_STOPS: (-1013, "Filter failure: MAX_NUM_ALGO_ORDERS"),
    E.TRIGGER_WRONG_SIDE: (-2010, "Order would trigger immediately."),
    E.BAD_LEG_COMBINATION: UNSUPPORTED,
    E.NOT_FOUND: (-2013, "Order does not exist."),
    E.NOT_CANCELABLE: (-2011, "Unknown order sent."),
    E.BAD_REQUEST: (-1102, "A mandatory parameter was not sent, was empty/null, or malformed."),
}


def _bad(name: str) -> ApiError:  # errors.md -1102
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _unsupported() -> ApiError:
    return ApiError(*UNSUPPORTED)


def d8(value) -> str:
    """Binance's number text: 8 decimals where that is exact, every digit otherwise."""
    d = Decimal(value or 0)
    return f"{d:.8f}" if d == d.quantize(Decimal("1e-8")) else num(d)


@overload
def _int(p: dict, name: str, default: int) -> int: ...
@overload
def _int(p: dict, name: str, default: None = None) -> int | None: ...

def _int(p: dict, name: str, default: int | None = None) -> int | None:
    value = p.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^-?[0-9]{{1,20}}$'.") from None


def _ms(p: dict, name: str) -> int | None:
    """rest-api.md: timestamps may be given in milliseconds or microseconds."""
    value = _int(p, name)
    return value // 1000 if value is not None and value > 10**14 else value


def _limit(p: dict, default: int = 500, most: int = 1000) -> int:
    return max(1, min(_int(p, "limit", default), most))  # rest-api.md: "Default: 500; Maximum: 1000."


def _strip_signature(text: str) -> tuple[str, str | None]:
    """`text` without its signature parameter, and the signature (None when absent)."""
    kept, sig = [], None
    for part in text.split("&") if text else []:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def binance_verify(headers, raw_query: str, body: str, params: dict, api_key: str, secret: str, now_ms: int) -> ApiError | None:
    """rest-api.md (Request Security, Timing security, HMAC Keys): the key in X-MBX-APIKEY; `timestamp`
    within `recvWindow` of the server's time and less than 1 s ahead of it; `signature` = hex
    HMAC-SHA256(secret, query string + body, without the signature), compared case-insensitively."""
    key = headers.get("X-MBX-APIKEY")
    if not key:
        return ApiError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(key.encode(), api_key.encode()):
        return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    ts = _ms(params, "timestamp")
    if ts is None:
        return _bad("timestamp")
    try:
        window = Decimal(params.get("recvWindow") or DEFAULT_RECV_WINDOW)
    except ArithmeticError:
        window = Decimal(-1)
    if window.is_nan() or not 0 < window <= MAX_RECV_WINDOW:  # a NaN does not compare: it is not valid either
        return ApiError(-1130, "Data sent for parameter 'recvWindow' is not valid.")
    if ts >= now_ms + AHEAD_MS:
        return ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > window:
        return ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
    query, sig_q = _strip_signature(raw_query)
    text, sig_b = _strip_signature(body)
    sig = sig_q if sig_q is not None else sig_b  # the query's value wins (rest-api.md)
    if not sig:
        return _bad("signature")
    expected = hmac.new(secret.encode(), (query + text).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig.lower().encode(), expected.encode()):  # HMAC: not case-sensitive
        return ApiError(-1022, "Signature for this request is not valid.")
    return None


class BinanceDialect(BinanceStreamMixin, DialectBase):
    prefix = "/binance"
    exchange_id = "binance"
    d8 = staticmethod(d8)
    verify = staticmethod(binance_verify)

    def __init__(self, venue) -> None:
        super().__init__(venue)
        saved = venue.dialect_state.get(self.exchange_id, {})
        # legs the engine plays with another shape: order id -> (Binance type, stopPrice, price)
        self.shapes: dict[str, tuple] = {v[0]: tuple(v[1:]) for v in saved.get("shapes", [])}
        self._placing: dict[int, tuple] = {}   # leg index -> shape, while place_list runs (under venue.lock)

    def shape(self, o: E.SimOrder) -> tuple | None:
        """(Binance type, stopPrice, price) of a leg the engine plays with another shape, else None;
        while a list is being placed, by leg index (the change feed shows its legs before the ids are known)."""
        if o.id in self.shapes:
            return self.shapes[o.id]
        return self._placing.get(o.leg) if o.list_id and o.leg is not None else None

    def remember_shape(self, order_id: str, kind: str, stop, price) -> None:
        value = [order_id, kind, None if stop is None else str(stop), None if price is None else str(price)]
        self.shapes[order_id] = tuple(value[1:])
        self.venue.note_dialect(self.exchange_id, "shapes", value)

    # ------------------------------------------------------------------ plumbing
    def parse_body(self, request: web.Request, text: str) -> dict | None:
        try:  # rest-api.md: POST, PUT and DELETE may carry the parameters in a form body
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False)) if text else None
        except ValueError as exc:
            raise Malformed(str(exc)) from None

    def bad_request(self, exc: Malformed) -> ApiError:
        return ApiError(-1100, f"Illegal characters found in a parameter. ({exc.message})", exc.status)

    def system_error(self) -> ApiError:
        return ApiError(-1000, "An unknown error occurred while processing the request.", 500)

    def not_found_error(self, call: Call):
        return (-1020, f"This operation is not supported: {call.method} {call.endpoint}", 404)

    def rate_limited(self, request: web.Request) -> web.Response:
        return web.json_response({"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}, status=429)

    def authenticate(self, request: web.Request, call: Call, text: str) -> None:
        if call.endpoint == USER_STREAM:  # user-data-stream.md: USER_STREAM endpoints take the key only
            self._check_key(request.headers.get("X-MBX-APIKEY"))
            return
        creds = self.venue.credentials(self.exchange_id)
        raw_query = request.raw_path.partition("?")[2]
        failure = binance_verify(request.headers, raw_query, text, self.params(call), creds.api_key, creds.secret, call.now_ms)
        if failure is not None:
            raise failure

    def ok(self, data, call: Call) -> web.Response:
        return web.json_response(data)

    def fail(self, err: ApiError, call: Call) -> web.Response:
        return web.json_response({"code": int(err.code), "msg": err.message}, status=err.status)

    def map_reject(self, rej: E.Reject, call: Call) -> ApiError:
        code, msg = REJECTS[rej.reason]
        if rej.reason == E.TRIGGER_WRONG_SIDE and "/orderList/" in call.endpoint:
            msg = PRICE_RELATION  # errors.md: the OCO price restrictions
        if rej.reason == E.NOT_FOUND and call.method == "DELETE":
            code, msg = -2011, "Unknown order sent."
        if rej.reason == E.BAD_REQUEST:
            msg = f"{msg} ({rej.message})"
        return ApiError(code, msg)

    @staticmethod
    def params(call: Call) -> dict:
        return dict(call.body or {}, **call.query)  # rest-api.md: the query string's value wins

    # ------------------------------------------------------------------ ids and views
    @staticmethod
    def market_id(symbol: str) -> str:
        return symbol.replace("/", "")

    @overload
    def symbol_of(self, p: dict, required: Literal[True] = True) -> str: ...
    @overload
    def symbol_of(self, p: dict, required: bool = True) -> str | None: ...

    def symbol_of(self, p: dict, required: bool = True) -> str | None:
        market = p.get("symbol")
        if market in (None, ""):
            if required:
                raise _bad("symbol")
            return None
        for symbol in self.engine.markets():
            if self.market_id(symbol) == market:
                return symbol
        raise ApiError(-1121, "Invalid symbol.")

    def order_of(self, p: dict, symbol: str) -> E.SimOrder:
        """rest-api.md: `orderId` or `origClientOrderId`; with both, the order must carry both."""
        oid, cid = _int(p, "orderId"), p.get("origClientOrderId")
        if oid is None and not cid:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if oid is not None:
            o = self.engine.order(str(oid))
        else:
            assert cid  # checked above: one of the two was sent
            o = self.engine.order_by_client_id(cid)
        if o.symbol != symbol or (cid and o.client_id != cid):
            raise E.Reject(E.NOT_FOUND, f"no such order on {symbol}")
        return o

    def list_of(self, p: dict, id_key: str, cid_key: str) -> E.SimList:
        lid, cid = _int(p, id_key), p.get(cid_key)
        if lid is None and not cid:
            raise ApiError(-1102, f"Param '{id_key}' or '{cid_key}' must be sent, but both were empty/null!")
        if lid is not None:
            lst = self.engine.get_list(str(lid))
        else:
            assert cid  # checked above: one of the two was sent
            lst = self.engine.list_by_client_id(cid)
        if cid and lst.client_id != cid:
            raise E.Reject(E.NOT_FOUND, "no such order list")
        return lst

    def order_type(self, o: E.SimOrder) -> str:
        shape = self.shape(o)
        if shape is not None:
            return shape[0]
        if o.type == "limit":
            return "LIMIT_MAKER" if o.post_only else "LIMIT"
        if o.type == "market":
            return "MARKET"
        prefix = "TAKE_PROFIT" if o.role == "take_profit" else "STOP_LOSS"
        return prefix + ("_LIMIT" if o.type == "stop_limit" else "")

    @staticmethod
    def status(o: E.SimOrder) -> str:  # enums.md: Order status
        if o.status == "pending":
            return "PENDING_NEW"
        if o.status in E.LIVE:
            return "PARTIALLY_FILLED" if o.filled else "NEW"
        if o.status == "filled":
            return "FILLED"
        if o.status == "rejected":
            return "REJECTED"
        return "CANCELED" if o.reason in ("user", "list") else "EXPIRED"

    def order_view(self, o: E.SimOrder) -> dict:
        kind = self.order_type(o)
        stop, price = (self.shape(o) or (kind, o.trigger, o.price))[1:]
        working = -1 if o.status == "pending" or (o.is_trigger and o.triggered_ms is None) else (o.triggered_ms or o.created_ms)
        view = {
            "symbol": self.market_id(o.symbol), "orderId": int(o.id),
            "orderListId": int(o.list_id) if o.list_id else -1, "clientOrderId": o.client_id or "",
            "price": d8(price), "origQty": d8(o.amount), "executedQty": d8(o.filled),
            "cummulativeQuoteQty": d8(o.cost), "status": self.status(o), "timeInForce": o.time_in_force,
            "type": kind, "side": o.side.upper(), "time": o.created_ms, "updateTime": o.updated_ms,
            "isWorking": working != -1 and o.status in E.LIVE, "workingTime": working,
            "origQuoteOrderQty": d8(o.funds), "selfTradePreventionMode": "NONE",
        }
        if kind not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            view["stopPrice"] = d8(stop)  # rest-api.md: conditional fields
        return view

    def fill_view(self, f: E.Fill) -> dict:
        o = self.engine.order(f.order_id)
        return {"symbol": self.market_id(f.symbol), "id": int(f.id), "orderId": int(f.order_id),
                "orderListId": int(o.list_id) if o.list_id else -1, "price": d8(f.price), "qty": d8(f.amount),
                "quoteQty": d8(f.cost), "commission": d8(f.fee), "commissionAsset": f.fee_currency, "time": f.ts,
                "isBuyer": f.side == BUY, "isMaker": f.liquidity == "maker", "isBestMatch": True}

    def list_view(self, lst: E.SimList, reports: bool = False) -> dict:
        legs = sorted(self.engine.list_orders(lst.id), key=lambda o: int(o.id))
        done = lst.status != "open"  # enums.md: listStatusType / listOrderStatus
        view = {"orderListId": int(lst.id), "contingencyType": "OCO" if lst.kind == "oco" else "OTO",
                "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
                "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
                "listClientOrderId": lst.client_id or "", "transactionTime": lst.updated_ms,
                "symbol": self.market_id(lst.symbol),
                "orders": [{"symbol": self.market_id(o.symbol), "orderId": int(o.id), "clientOrderId": o.client_id or ""}
                           for o in legs]}
        if reports:
            view["orderReports"] = [self.order_view(o) for o in legs]
        return view

    # ------------------------------------------------------------------ public market data
    @route("GET", "/api/v3/ping")
    def ping(self, call: Call):
        return {}

    @route("GET", "/api/v3/time")
    def time(self, call: Call):
        return {"serverTime": call.now_ms}  # the wall clock: what `timestamp` is checked against

    def symbol_info(self, symbol: str) -> dict:
        r = self.engine.rules(symbol)
        big = num(E.MAX_NUMBER)
        lot = {"minQty": d8(r.min_size), "maxQty": big, "stepSize": d8(r.lot_size)}
        return {
            "symbol": self.market_id(symbol), "status": "TRADING", "baseAsset": r.base, "baseAssetPrecision": 8,
            "quoteAsset": r.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8, "orderTypes": list(ORDER_TYPES), "icebergAllowed": False,
            "ocoAllowed": True, "otoAllowed": True, "opoAllowed": True, "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False, "cancelReplaceAllowed": False, "amendAllowed": False,
            "pegInstructionsAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [  # filters.md
                {"filterType": "PRICE_FILTER", "minPrice": d8(r.tick_size), "maxPrice": big, "tickSize": d8(r.tick_size)},
                dict(lot, filterType="LOT_SIZE"), dict(lot, filterType="MARKET_LOT_SIZE"),
                # the engine checks the minimum on market orders too, at the last price
                {"filterType": "NOTIONAL", "minNotional": d8(r.min_notional), "applyMinToMarket": True,
                 "maxNotional": big, "applyMaxToMarket": False, "avgPriceMins": 0},
            ],
            "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"],
        }

    @route("GET", "/api/v3/exchangeInfo")
    def exchange_info(self, call: Call):
        wanted = [call.query["symbol"]] if call.query.get("symbol") else None
        symbols = [self.symbol_of({"symbol": s}) for s in wanted] if wanted else self.engine.symbols()
        return {"timezone": "UTC", "serverTime": call.now_ms, "rateLimits": [], "exchangeFilters": [],
                "symbols": [self.symbol_info(s) for s in symbols]}

    def _futures_info(self, call: Call):
        """No futures here; ccxt.binance's load_markets asks for them all the same."""
        return {"timezone": "UTC", "serverTime": call.now_ms, "rateLimits": [], "exchangeFilters": [],
                "assets": [], "symbols": []}

    @route("GET", "/fapi/v1/exchangeInfo")
    def fapi_info(self, call: Call):
        return self._futures_info(call)

    @route("GET", "/dapi/v1/exchangeInfo")
    def dapi_info(self, call: Call):
        return self._futures_info(call)

    @route("GET", "/sapi/v1/margin/allPairs")
    def margin_pairs(self, call: Call):
        return []  # a spot account: no margin pairs (ccxt.binance's load_markets asks)

    @route("GET", "/sapi/v1/margin/isolated/allPairs")
    def isolated_pairs(self, call: Call):
        return []

    @route("GET", "/api/v3/klines")
    def klines(self, call: Call):
        p = call.query
        symbol = self.symbol_of(p)
        frame = INTERVALS.get(p.get("interval", ""))
        if frame is None:
            raise ApiError(-1120, "Invalid interval.")
        limit = _limit(p)
        start, end = market_window(_ms(p, "startTime"), _ms(p, "endTime"), call.now_ms, self.engine.now_ms())
        try:
            bars = candles_from(self.engine, symbol, frame, start)
        except ValueError:
            raise ApiError(-1120, "Invalid interval.") from None
        bars = [b for b in bars if b.ts < end]
        # rest-api.md: with startTime the oldest from it, else the most recent, `limit` of them
        bars = bars[:limit] if start is not None else bars[-limit:]
        return [[b.ts, d8(b.open), d8(b.high), d8(b.low), d8(b.close), d8(b.volume), b.ts + frame - 1,
                 d8(b.volume * b.close), 0, "0", "0", "0"] for b in bars]

    def ticker_view(self, symbol: str) -> dict:
        t = self.engine.ticker(symbol)
        change = t.last - t.open
        return {"symbol": self.market_id(symbol), "priceChange": d8(change),
                "priceChangePercent": num((change / t.open * 100).quantize(Decimal("0.001"))) if t.open else "0",
                "weightedAvgPrice": d8(t.quote_volume / t.volume if t.volume else t.last), "prevClosePrice": d8(t.open),
                "lastPrice": d8(t.last), "lastQty": "0.00000000", "bidPrice": d8(t.bid), "bidQty": "0.00000000",
                "askPrice": d8(t.ask), "askQty": "0.00000000", "openPrice": d8(t.open), "highPrice": d8(t.high),
                "lowPrice": d8(t.low), "volume": d8(t.volume), "quoteVolume": d8(t.quote_volume),
                "openTime": t.ts - 86_400_000, "closeTime": t.ts - 1, "firstId": -1, "lastId": -1, "count": 0}

    def _per_symbol(self, call: Call, view):
        """rest-api.md (tickers): one object for `symbol`, a list for none."""
        symbol = self.symbol_of(call.query, required=False)
        return view(symbol) if symbol else [view(s) for s in self.engine.symbols()]

    @route("GET", "/api/v3/ticker/24hr")
    def ticker_24hr(self, call: Call):
        return self._per_symbol(call, self.ticker_view)

    @route("GET", "/api/v3/ticker/price")
    def ticker_price(self, call: Call):
        return self._per_symbol(call, lambda s: {"symbol": self.market_id(s), "price": d8(self.engine.last_price(s))})

    @route("GET", "/api/v3/ticker/bookTicker")
    def book_ticker(self, call: Call):
        def view(s):
            t = self.engine.ticker(s)
            return {"symbol": self.market_id(s), "bidPrice": d8(t.bid), "bidQty": "0.00000000",
                    "askPrice": d8(t.ask), "askQty": "0.00000000"}
        return self._per_symbol(call, view)

    @route("GET", "/api/v3/depth")
    def depth(self, call: Call):
        symbol = self.symbol_of(call.query)
        t = self.engine.ticker(symbol)
        closed = self.engine.closed_bars(symbol, limit=1)
        size = d8(closed[-1].volume if closed else 0)
        return {"lastUpdateId": t.ts, "bids": [[d8(t.bid), size]], "asks": [[d8(t.ask), size]]}

    # ------------------------------------------------------------------ account
    @route("GET", "/api/v3/account", private=True)
    def account(self, call: Call):
        r = self.engine.rules(self.engine.symbols()[0])
        maker, taker = r.maker_fee, r.taker_fee
        balances = [{"asset": c, "free": d8(free), "locked": d8(used)} for c, (_, free, used) in self.engine.balances().items()
                    if not (self.params(call).get("omitZeroBalances") == "true" and not (free or used))]
        return {"makerCommission": int(maker * 10_000), "takerCommission": int(taker * 10_000), "buyerCommission": 0,
                "sellerCommission": 0, "commissionRates": {"maker": d8(maker), "taker": d8(taker), "buyer": d8(0), "seller": d8(0)},
                "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.engine.now_ms(),
                "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 1}

    @route("GET", "/sapi/v1/capital/config/getall", private=True)
    def capital_config(self, call: Call):
        """One network per coin, named after it; deposits and withdrawals are off (no wallet here)."""
        out = []
        for c, (_total, free, used) in self.engine.balances().items():
            out.append({"coin": c, "name": c, "free": d8(free), "locked": d8(used), "freeze": "0", "withdrawing": "0",
                        "ipoing": "0", "ipoable": "0", "storage": "0", "isLegalMoney": False, "trading": True,
                        "depositAllEnable": False, "withdrawAllEnable": False,
                        "networkList": [{"network": c, "coin": c, "name": c, "isDefault": True, "depositEnable": False,
                                         "withdrawEnable": False, "withdrawFee": "0", "withdrawMin": "0",
                                         "withdrawMax": "0", "withdrawIntegerMultiple": "0.00000001",
                                         "minConfirm": 1, "unLockConfirm": 0, "busy": False}]})
        return out

    @route("GET", "/api/v3/myTrades", private=True)
    def my_trades(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p)
        oid, from_id = _int(p, "orderId"), _int(p, "fromId")
        start, end = _ms(p, "startTime"), _ms(p, "endTime")
        fills = [f for f in self.engine.fills(symbol=symbol, since=start, order_id=None if oid is None else str(oid))
                 if (end is None or f.ts <= end) and (from_id is None or int(f.id) >= from_id)]
        limit = _limit(p)
        fills = fills[:limit] if start is not None or from_id is not None else fills[-limit:]
        return [self.fill_view(f) for f in fills]

    # ------------------------------------------------------------------ listenKey (user-data-stream.md)
    @route("POST", USER_STREAM, private=True)
    def start_user_stream(self, call: Call):
        return {"listenKey": self.new_listen_key()}

    @route("PUT", USER_STREAM, private=True)
    def keep_user_stream(self, call: Call):
        self.keep_listen_key(self.params(call).get("listenKey"))
        return {}

    @route("DELETE", USER_STREAM, private=True)
    def close_user_stream(self, call: Call):
        self.close_listen_key(self.params(call).get("listenKey"))
        return {}

    # ------------------------------------------------------------------ single orders
    @staticmethod
    def client_id(p: dict, key: str) -> str:
        cid = p.get(key)
        if cid in (None, ""):  # rest-api.md: "Automatically generated if not sent."
            return "".join(secrets.choice(ID_CHARS) for _ in range(22))
        if len(cid) > 36 or any(ch not in ID_CHARS + "._:/-_" for ch in cid):  # rest-api.md: ^[\.A-Z\:/a-z0-9_-]{1,36}$
            raise ApiError(-1100, f"Illegal characters found in parameter '{key}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'.")
        return cid

    def leg(self, p: dict, symbol: str, side: str, kind: str, pre: str = "", qty_key: str = "quantity",
            in_list: bool = False) -> E.OrderRequest:
        """The engine request of one order from its Binance parameters (`pre` + Price, StopPrice, ...)."""
        name = (lambda key: pre + key[0].upper() + key[1:]) if pre else (lambda key: key)
        if kind not in ORDER_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        for unsupported in ("trailingDelta", "icebergQty", "pegPriceType"):
            if p.get(name(unsupported)) not in (None, ""):
                raise _unsupported()
        tif = p.get(name("timeInForce")) or None
        if tif not in (None, "GTC", "IOC", "FOK"):
            raise ApiError(-1115, "Invalid timeInForce.")
        limit_type = kind in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        if limit_type and tif is None:  # rest-api.md: mandatory parameters by type
            raise _bad(name("timeInForce"))
        if tif not in (None, "GTC") and (in_list or kind not in ("LIMIT", "MARKET")):
            raise _unsupported()
        price = p.get(name("price")) or None
        stop = p.get(name("stopPrice")) or None
        if (limit_type or kind == "LIMIT_MAKER") and price is None:
            raise _bad(name("price"))
        trigger = kind not in ("LIMIT", "MARKET", "LIMIT_MAKER")
        if trigger and stop is None:
            raise _bad(name("stopPrice"))
        qty, funds = p.get(qty_key) or None, None
        if kind == "MARKET" and qty is None and p.get("quoteOrderQty"):
            if side != BUY:
                raise _unsupported()
            funds = p["quoteOrderQty"]
        elif qty is None:
            raise _bad(qty_key)
        cid = self.client_id(p, name("clientOrderId") if pre else "newClientOrderId")
        role = None if not trigger else ("take_profit" if kind.startswith("TAKE_PROFIT") else "stop_loss")
        etype = {"LIMIT": "limit", "LIMIT_MAKER": "limit", "MARKET": "market", "STOP_LOSS": "stop_market",
                 "TAKE_PROFIT": "stop_market"}.get(kind, "stop_limit")
        return E.OrderRequest(symbol=symbol, side=side, type=etype, amount=qty, funds=funds,
                              price=price if etype in ("limit", "stop_limit") else None,
                              trigger=stop if trigger else None, client_id=cid, role=role,
                              time_in_force=tif or "GTC", post_only=kind == "LIMIT_MAKER" and not in_list)

    def side_of(self, p: dict, key: str = "side") -> str:
        side = p.get(key)
        if side in (None, ""):
            raise _bad(key)
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        return side.lower()

    def would_take(self, symbol: str, side: str, price) -> bool:
        last, price = self.engine.last_price(symbol), E.number("price", price)
        return price >= last if side == BUY else price <= last

    @route("POST", "/api/v3/order", private=True, mutates=True)
    def new_order(self, call: Call):
        p = self.params(call)
        symbol, side = self.symbol_of(p), self.side_of(p)
        kind = p.get("type")
        if not kind:
            raise _bad("type")
        req = self.leg(p, symbol, side, kind)
        if kind == "LIMIT_MAKER" and self.would_take(symbol, side, req.price):
            raise ApiError(-2010, "Order would immediately match and take.")  # errors.md; rest-api.md: LIMIT_MAKER
        o = self.engine.place(req)
        view = self.order_view(o)
        view["transactTime"] = o.created_ms
        # rest-api.md: MARKET and LIMIT answer FULL by default (fills: none yet, nothing fills at placement)
        if p.get("newOrderRespType", "FULL" if kind in ("MARKET", "LIMIT") else "ACK") == "FULL":
            view["fills"] = []
        return view

    @route("GET", "/api/v3/order", private=True)
    def get_order(self, call: Call):
        p = self.params(call)
        return self.order_view(self.order_of(p, self.symbol_of(p)))

    @route("DELETE", "/api/v3/order", private=True, mutates=True)
    def cancel_order(self, call: Call):
        p = self.params(call)
        o = self.order_of(p, self.symbol_of(p))
        self.engine.cancel(o.id)  # rest-api.md: canceling one order of a list cancels the whole list
        view = self.order_view(o)
        view.update(origClientOrderId=o.client_id or "", transactTime=self.engine.now_ms())
        return view

    @route("DELETE", "/api/v3/openOrders", private=True, mutates=True)
    def cancel_open_orders(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p)
        if not self.engine.open_orders(symbol):
            raise ApiError(-2011, "Unknown order sent.")
        done, out = set(), []
        for o in self.engine.open_orders(symbol):
            if o.list_id in done:
                continue
            if o.list_id:  # rest-api.md: lists are canceled too, answered as lists
                done.add(o.list_id)
                out.append(self.list_view(self.engine.cancel_list(o.list_id), reports=True))
            else:
                out.append(self.order_view(self.engine.cancel(o.id)))
        return out

    @route("GET", "/api/v3/openOrders", private=True)
    def open_orders(self, call: Call):
        symbol = self.symbol_of(self.params(call), required=False)
        return [self.order_view(o) for o in self.engine.open_orders(symbol) if o.status != "pending"]

    @route("GET", "/api/v3/allOrders", private=True)
    def all_orders(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p)
        oid, start, end = _int(p, "orderId"), _ms(p, "startTime"), _ms(p, "endTime")
        orders = [o for o in self.engine.orders(symbol=symbol, since=start)
                  if (oid is None or int(o.id) >= oid) and (end is None or o.created_ms <= end)]
        limit = _limit(p)
        orders = orders[:limit] if oid is not None or start is not None else orders[-limit:]
        return [self.order_view(o) for o in orders]

    # ------------------------------------------------------------------ order lists
    def oco_legs(self, p: dict, symbol: str, side: str, reference: Decimal, pre: str = "",
                 qty_key: str = "quantity") -> tuple[list[E.OrderRequest], list[str]]:
        """The above and below legs of an OCO (or of an OTOCO's pending pair, `pre`='pending').

        rest-api.md (New Order list - OCO): one of LIMIT_MAKER / TAKE_PROFIT / TAKE_PROFIT_LIMIT, the
        other STOP_LOSS / STOP_LOSS_LIMIT; sell: take-profit price > last > stop price, buy the reverse."""
        name = lambda key: (pre + key[0].upper() + key[1:]) if pre else key  # noqa: E731
        reqs, levels = {}, {}
        for where in ("above", "below"):
            kind = p.get(name(where + "Type"))
            if not kind:
                raise _bad(name(where + "Type"))
            if kind not in TP_TYPES + SL_TYPES:
                raise ApiError(-1116, "Invalid orderType.")
            req = self.leg(p, symbol, side, kind, pre=name(where), qty_key=qty_key, in_list=True)
            if kind == "LIMIT_MAKER":
                req = E.OrderRequest(**dict(req.__dict__, role="take_profit"))
            # rest-api.md: LIMIT_MAKER / TAKE_PROFIT_LIMIT compare their price, the others their stopPrice
            level = E.number("price", req.price if kind in ("LIMIT_MAKER", "TAKE_PROFIT_LIMIT") else req.trigger)
            assert level is not None  # leg() requires the price or stopPrice of the kind
            levels[where] = level
            reqs[where] = (kind, req)
        kinds = {reqs[w][0] in TP_TYPES for w in reqs}
        if kinds != {True, False}:
            raise _unsupported()
        tp_where = "above" if side == SELL else "below"
        if reqs[tp_where][0] not in TP_TYPES or not levels["above"] > reference > levels["below"]:
            raise ApiError(-2010, PRICE_RELATION)
        pair = [reqs["above"], reqs["below"]]
        return [req for _, req in pair], [kind for kind, _ in pair]

    @staticmethod
    def as_limit(req: E.OrderRequest) -> E.OrderRequest:
        """A take-profit trigger played by the limit that fills at the same prices: TAKE_PROFIT at its stop,
        TAKE_PROFIT_LIMIT at its stop or limit, whichever is further from the market (module docstring)."""
        stop, price = E.number("stopPrice", req.trigger), E.number("price", req.price)
        assert stop is not None  # a take-profit trigger has its stopPrice (leg())
        level = stop if price is None else (max(stop, price) if req.side == SELL else min(stop, price))
        return E.OrderRequest(symbol=req.symbol, side=req.side, type="limit", amount=req.amount, price=level,
                              client_id=req.client_id, role="take_profit")

    def place_list(self, kind: str, legs: list[E.OrderRequest], shapes: dict, p: dict) -> dict:
        self._placing = shapes
        try:
            lst = self.engine.place_list(kind, legs, client_id=self.client_id(p, "listClientOrderId"))
        finally:
            self._placing = {}
        for o in self.engine.list_orders(lst.id):
            if o.leg in shapes:
                self.remember_shape(o.id, *shapes[o.leg])
        return self.list_view(lst, reports=True)

    def tp_limits(self, legs: list[E.OrderRequest], kinds: list[str]) -> tuple[list, dict]:
        """An OCO's legs with TAKE_PROFIT(_LIMIT) played by limits, and the shapes to show (by leg index)."""
        out, shapes = [], {}
        for i, (req, kind) in enumerate(zip(legs, kinds)):
            if kind in ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
                shapes[i] = (kind, req.trigger, req.price)
                req = self.as_limit(req)
            elif kind == "LIMIT_MAKER":
                shapes[i] = (kind, None, req.price)
            out.append(req)
        return out, shapes

    @route("POST", "/api/v3/orderList/oco", private=True, mutates=True)
    def new_oco(self, call: Call):
        p = self.params(call)
        symbol, side = self.symbol_of(p), self.side_of(p)
        legs, kinds = self.oco_legs(p, symbol, side, self.engine.last_price(symbol))
        legs, shapes = self.tp_limits(legs, kinds)  # the engine's OCO is one limit and one trigger
        return self.place_list("oco", legs, shapes, p)

    def working(self, p: dict, symbol: str) -> tuple[E.OrderRequest, tuple | None]:
        """rest-api.md (OTO): the working order is LIMIT or LIMIT_MAKER."""
        kind = p.get("workingType")
        if not kind:
            raise _bad("workingType")
        if kind not in ("LIMIT", "LIMIT_MAKER"):
            raise ApiError(-1116, "Invalid orderType.")
        side = self.side_of(p, "workingSide")
        req = self.leg(p, symbol, side, kind, pre="working", qty_key="workingQuantity", in_list=True)
        if kind == "LIMIT_MAKER" and self.would_take(symbol, side, req.price):
            raise ApiError(-2010, "Order would immediately match and take.")
        return E.OrderRequest(**dict(req.__dict__, role="entry")), (kind, None, req.price) if kind == "LIMIT_MAKER" else None

    def pending_qty(self, p: dict, symbol: str, entry: E.OrderRequest, opo: bool) -> dict:
        """The OPO FAQ: an OPO's pending quantity is what the working order receives, net of the fee,
        adjusted to the lot; only a BUY working order with SELL pending orders."""
        if not opo:
            return p
        if entry.side != BUY or p.get("pendingSide") != "SELL":
            raise _unsupported()
        r = self.engine.rules(symbol)
        amount = E.number("workingQuantity", entry.amount)
        assert amount is not None  # leg() requires a limit's quantity
        received = floor_to(amount * (1 - r.max_fee), r.lot_size)
        return dict(p, pendingQuantity=str(received))

    def _oto(self, call: Call, opo: bool):
        p = self.params(call)
        symbol = self.symbol_of(p)
        entry, entry_shape = self.working(p, symbol)
        p = self.pending_qty(p, symbol, entry, opo)
        side = self.side_of(p, "pendingSide")
        kind = p.get("pendingType")
        if not kind:
            raise _bad("pendingType")
        if kind == "MARKET":
            raise _unsupported()
        req = self.leg(p, symbol, side, kind, pre="pending", qty_key="pendingQuantity", in_list=True)
        shapes = {0: entry_shape} if entry_shape else {}
        if req.type == "limit":  # a pending limit is a take-profit stop-limit at its price (module docstring)
            shapes[1] = (kind, None, req.price)
            req = E.OrderRequest(**dict(req.__dict__, type="stop_limit", trigger=req.price, role="take_profit"))
        return self.place_list("oto", [entry, req], shapes, p)

    def _otoco(self, call: Call, opo: bool):
        p = self.params(call)
        symbol = self.symbol_of(p)
        entry, entry_shape = self.working(p, symbol)
        p = self.pending_qty(p, symbol, entry, opo)
        side = self.side_of(p, "pendingSide")
        reference = E.number("workingPrice", entry.price)
        assert reference is not None  # the working order is a limit: leg() requires its price
        exits, kinds = self.oco_legs(p, symbol, side, reference, pre="pending", qty_key="pendingQuantity")
        shapes = {0: entry_shape} if entry_shape else {}
        for i, (req, kind) in enumerate(zip(exits, kinds), start=1):
            if kind == "LIMIT_MAKER":  # the engine's OTOCO takes trigger take-profits as they are
                shapes[i] = (kind, None, req.price)
        return self.place_list("otoco", [entry] + exits, shapes, p)

    @route("POST", "/api/v3/orderList/oto", private=True, mutates=True)
    def new_oto(self, call: Call):
        return self._oto(call, opo=False)

    @route("POST", "/api/v3/orderList/otoco", private=True, mutates=True)
    def new_otoco(self, call: Call):
        return self._otoco(call, opo=False)

    @route("POST", "/api/v3/orderList/opo", private=True, mutates=True)
    def new_opo(self, call: Call):
        return self._oto(call, opo=True)

    @route("POST", "/api/v3/orderList/opoco", private=True, mutates=True)
    def new_opoco(self, call: Call):
        return self._otoco(call, opo=True)

    @route("DELETE", "/api/v3/orderList", private=True, mutates=True)
    def cancel_list(self, call: Call):
        p = self.params(call)
        symbol = self.symbol_of(p)
        lst = self.list_of(p, "orderListId", "listClientOrderId")
        if lst.symbol != symbol:
            raise E.Reject(E.NOT_FOUND, "no such order list")
        if lst.status != "open":
            raise ApiError(-2011, "Order list is not active.")  # choice: errors.md has no message for it
        view = self.list_view(self.engine.cancel_list(lst.id), reports=True)
        for report in view["orderReports"]:
            report["origClientOrderId"] = report["clientOrderId"]
        return view

    @route("GET", "/api/v3/orderList", private=True)
    def get_list(self, call: Call):
        return self.list_view(self.list_of(self.params(call), "orderListId", "origClientOrderId"))

    @route("GET", "/api/v3/allOrderList", private=True)
    def all_lists(self, call: Call):
        p = self.params(call)
        from_id, start, end = _int(p, "fromId"), _ms(p, "startTime"), _ms(p, "endTime")
        lists = [lst for lst in self.engine.lists()
                 if (from_id is None or int(lst.id) >= from_id) and (start is None or lst.created_ms >= start)
                 and (end is None or lst.created_ms <= end)]
        limit = _limit(p)
        lists = lists[:limit] if from_id is not None or start is not None else lists[-limit:]
        return [self.list_view(lst) for lst in lists]

    @route("GET", "/api/v3/openOrderList", private=True)
    def open_lists(self, call: Call):
        return [self.list_view(lst) for lst in self.engine.lists(status="open")]
