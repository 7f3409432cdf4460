"""KuCoin's REST dialect (spot, classic account) under the `/kucoin` prefix.

Paths, field names, status values and error codes follow KuCoin's spot API as ccxt 4.5.90 calls
and parses it (KuCoin's API documentation: https://www.kucoin.com/docs-new).  Envelope: `{"code": "200000", "data": ...}`;
errors `{"code": "<code>", "msg": "..."}`.

Choices where KuCoin is silent or unclear (listed in docs/simulator.md):
- untriggered single stop orders are only cancelable through /api/v1/stop-order/*, and OCO legs
  only through /api/v3/oco/*; both are readable through /api/v1/orders/{orderId};
- a stop order without `stop` triggers in the direction the price has to move from where it is;
- canceling one OCO leg is refused (cancel the OCO instead);
- a request it cannot read (body not JSON, NaN/Infinity, nested over 32 levels, not UTF-8; a header
  not UTF-8) and a value of the wrong type (a `symbol` that is no string, a number out of range) are
  parameter errors: HTTP 400, code 400100; a body over 1 MiB: HTTP 413, code 400100;
- numbers must lie within 1e-30 .. 1e15 (engine.MIN_NUMBER, MAX_NUMBER); others are 400100;
- an unexpected failure of the simulator answers HTTP 500, code 500000 ("internal").
"""
from __future__ import annotations

import hashlib
import math
import re
from decimal import Decimal
from typing import Literal, overload
from urllib.parse import unquote

from aiohttp import web

from bracket_plugin.sim import engine as E
from bracket_plugin.sim.auth import kucoin_verify
from bracket_plugin.sim.candles import candles_from, market_window, num
from bracket_plugin.sim.kucoin_stream import KucoinStreamMixin
from bracket_plugin.sim.rules import DOWN, UP
from bracket_plugin.sim.server import ApiError, Call, DialectBase, Malformed, parse_json, route

OK = "200000"
TIMEFRAMES = {
    "1min": 60_000, "3min": 180_000, "5min": 300_000, "15min": 900_000, "30min": 1_800_000,
    "1hour": 3_600_000, "2hour": 7_200_000, "4hour": 14_400_000, "6hour": 21_600_000,
    "8hour": 28_800_000, "12hour": 43_200_000, "1day": 86_400_000, "1week": 604_800_000,
}
CLIENT_OID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
NOT_EXIST_CANCEL = "order_not_exist_or_not_allow_to_cancel"

# engine rejection -> (code, msg, HTTP status)
REJECTS = {
    E.INSUFFICIENT_BALANCE: ("200004", "Balance insufficient!", 200),
    E.BELOW_MIN_SIZE: ("400100", "Order size below the minimum requirement.", 400),
    E.BELOW_MIN_NOTIONAL: ("400100", "Order funds below the minimum requirement.", 400),
    E.BAD_TICK: ("400100", "Price increment invalid.", 400),
    E.BAD_LOT: ("400100", "Order size increment invalid.", 400),
    E.UNKNOWN_SYMBOL: ("900001", "symbol not exists!", 400),
    E.DUPLICATE_CLIENT_ID: ("126044", "clientOid duplicate", 200),
    E.TOO_MANY_STOPS: ("200003", "The number of untriggered stop orders of this pair has reached the limit (20)", 200),
    E.TRIGGER_WRONG_SIDE: ("400100", "price not in the given range!", 400),
    E.BAD_LEG_COMBINATION: ("400100", "Parameter error: the legs of this order do not combine", 400),
    E.NOT_FOUND: ("400100", "The order does not exist.", 400),
    E.NOT_CANCELABLE: ("400100", NOT_EXIST_CANCEL, 400),
    E.BAD_REQUEST: ("400100", "Parameter error", 400),
}

ORDER_STATUS_ACTIVE = ("pending", "open", "triggered")


def _bad(msg: str) -> ApiError:
    return ApiError("400100", msg, 400)


def _int(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be an integer") from None


def _page(items: list, query: dict, default_size: int = 50, view=None) -> dict:
    """One page of `items`; `view` (if given) renders only the items of that page."""
    size = _int(query.get("pageSize"), "pageSize") or default_size
    page = _int(query.get("currentPage"), "currentPage") or 1
    if not 1 <= size <= 500:
        raise _bad("pageSize should be between 1 and 500")
    if page < 1:
        raise _bad("currentPage should be >= 1")
    total = len(items)
    rows = items[(page - 1) * size: page * size]
    return {"currentPage": page, "pageSize": size, "totalNum": total, "totalPage": max(1, math.ceil(total / size)),
            "items": [view(x) for x in rows] if view else rows}


class KucoinDialect(KucoinStreamMixin, DialectBase):
    prefix = "/kucoin"
    exchange_id = "kucoin"

    # ------------------------------------------------------------------ plumbing
    def parse_body(self, request: web.Request, text: str) -> dict | None:
        if not text:
            return None
        body = parse_json(text)
        if not isinstance(body, dict):
            raise Malformed("request body must be a JSON object")
        return body

    def bad_request(self, exc: Malformed) -> ApiError:
        return ApiError("400100", exc.message, exc.status)

    def system_error(self) -> ApiError:
        return ApiError("500000", "Internal Server Error", 500)

    def authenticate(self, request: web.Request, call: Call, text: str) -> None:
        raw = request.raw_path[len(call.prefix):]  # path + '?' + query exactly as sent
        spellings = [raw] if unquote(raw) == raw else [raw, unquote(raw)]
        body = text if request.method not in ("GET", "DELETE") else ""
        failure = kucoin_verify(request.headers, request.method, spellings, body, self.venue.credentials("kucoin"), call.now_ms)
        if failure is not None:
            raise ApiError(failure.code, failure.message, failure.status)

    def ok(self, data, call: Call) -> web.Response:
        return web.json_response({"code": OK, "data": data})

    def fail(self, err: ApiError, call: Call) -> web.Response:
        return web.json_response({"code": str(err.code), "msg": err.message}, status=err.status)

    def not_found_error(self, call: Call):
        return ("404", f"Not Found: {call.method} {call.endpoint}", 404)

    def rate_limited(self, request: web.Request) -> web.Response:
        return web.json_response({"code": "429000", "msg": "Too many requests in a short period of time, please retry later."}, status=429)

    def map_reject(self, rej: E.Reject, call: Call) -> ApiError:
        code, msg, status = REJECTS[rej.reason]
        if rej.reason == E.NOT_FOUND and call.method == "DELETE":
            msg = NOT_EXIST_CANCEL
        if rej.reason in (E.BAD_REQUEST, E.BAD_LEG_COMBINATION):
            msg = f"{msg}: {rej.message}"
        return ApiError(code, msg, status)

    # ------------------------------------------------------------------ ids and views
    @staticmethod
    def market_id(symbol: str) -> str:
        return symbol.replace("/", "-")

    @overload
    def symbol_of(self, market_id: str | None, required: Literal[True] = True) -> str: ...
    @overload
    def symbol_of(self, market_id: str | None, required: bool = True) -> str | None: ...

    def symbol_of(self, market_id: str | None, required: bool = True) -> str | None:
        if market_id in (None, ""):
            if required:
                raise _bad("symbol is required")
            return None
        if not isinstance(market_id, str):
            raise _bad("symbol must be a string")
        symbol = market_id.replace("-", "/")
        if symbol not in self.engine.markets():
            raise ApiError("900001", "symbol not exists!", 400)
        return symbol

    def body(self, call: Call) -> dict:
        return call.body or {}

    def order_view(self, o: E.SimOrder) -> dict:
        rules = self.engine.rules(o.symbol)
        trigger = o.type in E.TRIGGER_TYPES
        active = o.status in ORDER_STATUS_ACTIVE
        view = {
            "id": o.id, "symbol": self.market_id(o.symbol), "opType": "DEAL",
            "type": "market" if o.type in ("market", "stop_market") else "limit",
            "side": o.side, "price": num(o.price) or "0", "size": num(o.amount),
            "funds": num(o.funds) or "0", "dealFunds": num(o.cost), "dealSize": num(o.filled),
            "fee": num(o.fee), "feeCurrency": rules.quote, "stp": "",
            "stop": (("loss" if o.direction == DOWN else "entry") if trigger else ""),
            "stopTriggered": bool(trigger and o.triggered_ms is not None),
            "stopPrice": num(o.trigger) or "0",
            "timeInForce": "GTC", "postOnly": False, "hidden": False, "iceberg": False, "visibleSize": "0",
            "cancelAfter": 0, "channel": "API", "clientOid": o.client_id or "", "remark": None, "tags": "",
            "isActive": active, "cancelExist": o.status in ("canceled", "rejected"),
            "createdAt": o.created_ms, "tradeType": "TRADE",
        }
        if trigger and o.status == "open":  # untriggered stop order, as /api/v1/stop-order shows it
            view["status"] = "NEW"
            view["orderTime"] = o.created_ms * 1_000_000
        return view

    def fill_view(self, f: E.Fill) -> dict:
        o = self.engine.order(f.order_id)
        rules = self.engine.rules(f.symbol)
        return {
            "symbol": self.market_id(f.symbol), "tradeId": f.id, "orderId": f.order_id, "counterOrderId": "",
            "side": f.side, "liquidity": f.liquidity, "forceTaker": False, "price": num(f.price),
            "size": num(f.amount), "funds": num(f.cost), "fee": num(f.fee),
            "feeRate": num(rules.fee_rate(f.liquidity)), "feeCurrency": f.fee_currency,
            "stop": ("loss" if o.direction == DOWN else "entry") if o.is_trigger else "",
            "tradeType": "TRADE", "type": "market" if o.type in ("market", "stop_market") else "limit",
            "createdAt": f.ts,
        }

    @staticmethod
    def is_untriggered_stop(o: E.SimOrder) -> bool:
        return o.is_trigger and o.list_id is None and o.status == "open"

    # ------------------------------------------------------------------ public market data
    @route("GET", "/api/v1/timestamp")
    def timestamp(self, call: Call):
        return call.now_ms  # server time is the wall clock: it is what request timestamps are checked against

    @route("GET", "/api/v1/status")
    def status(self, call: Call):
        return {"status": "open", "msg": ""}

    @route("GET", "/api/v2/symbols")
    def symbols(self, call: Call):
        out = []
        for symbol, r in self.engine.markets().items():
            out.append({
                "symbol": self.market_id(symbol), "name": self.market_id(symbol), "baseCurrency": r.base,
                "quoteCurrency": r.quote, "feeCurrency": r.quote, "market": r.quote,
                "baseMinSize": num(r.min_size), "quoteMinSize": num(r.min_notional), "baseMaxSize": "10000000000",
                "quoteMaxSize": "99999999", "baseIncrement": num(r.lot_size), "quoteIncrement": num(r.tick_size),
                "priceIncrement": num(r.tick_size), "priceLimitRate": "0.1", "minFunds": num(r.min_notional),
                "isMarginEnabled": False, "enableTrading": True, "feeCategory": 1,
                "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00", "st": False,
                # no call auctions here: KuCoin answers these as false and nulls outside an auction
                "callauctionIsEnabled": False, "callauctionPriceFloor": None, "callauctionPriceCeiling": None,
                "callauctionFirstStageStartTime": None, "callauctionSecondStageStartTime": None,
                "callauctionThirdStageStartTime": None, "tradingStartTime": None,
            })
        if call.query.get("market"):
            out = [m for m in out if m["market"] == call.query["market"]]
        return out

    @route("GET", "/api/v3/currencies")
    def currencies(self, call: Call):
        return [self.currency_view(c) for c in self.engine.currencies()]

    @route("GET", "/api/v3/currencies/{currency}")
    def currency(self, call: Call):
        code = call.params["currency"]
        if code not in self.engine.currencies():
            raise _bad(f"currency {code} does not exist")
        return self.currency_view(code)

    @staticmethod
    def currency_view(code: str) -> dict:
        return {
            "currency": code, "name": code, "fullName": code, "precision": 8, "confirms": None,
            "contractAddress": None, "isMarginEnabled": False, "isDebitEnabled": False,
            "chains": [{"chainName": code, "chainId": code.lower(), "withdrawalMinSize": "0", "withdrawalMinFee": "0",
                        "isWithdrawEnabled": False, "isDepositEnabled": False, "confirms": 1, "preConfirms": 1,
                        "contractAddress": "", "needTag": False}],
        }

    def ticker_view(self, symbol: str) -> dict:
        t = self.engine.ticker(symbol)
        r = self.engine.rules(symbol)
        change = t.last - t.open
        return {
            "time": t.ts, "symbol": self.market_id(symbol), "symbolName": self.market_id(symbol),
            "buy": num(t.bid), "sell": num(t.ask), "bestBidSize": "0", "bestAskSize": "0",
            "changeRate": num((change / t.open).quantize(Decimal("0.0001"))) if t.open else "0",
            "changePrice": num(change), "high": num(t.high), "low": num(t.low), "vol": num(t.volume),
            "volValue": num(t.quote_volume), "last": num(t.last), "averagePrice": num(t.last),
            "takerFeeRate": num(r.taker_fee), "makerFeeRate": num(r.maker_fee),
            "takerCoefficient": "1", "makerCoefficient": "1",
        }

    @route("GET", "/api/v1/market/allTickers")
    def all_tickers(self, call: Call):
        return {"time": self.engine.now_ms(), "ticker": [self.ticker_view(s) for s in self.engine.symbols()]}

    @route("GET", "/api/v1/market/stats")
    def stats(self, call: Call):
        """allTickers' item without the name and the book sizes, as the real 24 h stats answer."""
        view = self.ticker_view(self.symbol_of(call.query.get("symbol")))
        for key in ("symbolName", "bestBidSize", "bestAskSize"):
            del view[key]
        return view

    @route("GET", "/api/v1/market/orderbook/level1")
    def level1(self, call: Call):
        symbol = self.symbol_of(call.query.get("symbol"))
        t = self.engine.ticker(symbol)
        return {"time": t.ts, "sequence": str(t.ts), "price": num(t.last), "size": "0", "bestBid": num(t.bid),
                "bestBidSize": "0", "bestAsk": num(t.ask), "bestAskSize": "0"}

    def book(self, call: Call) -> dict:
        """No resting liquidity is simulated: one level each side at the last price, sized by the
        last closed bar's volume (bid = ask = last, as the ticker says)."""
        symbol = self.symbol_of(call.query.get("symbol"))
        t = self.engine.ticker(symbol)
        closed = self.engine.closed_bars(symbol, limit=1)
        size = num(closed[-1].volume) if closed else "0"
        return {"time": t.ts, "sequence": str(t.ts), "bids": [[num(t.bid), size]], "asks": [[num(t.ask), size]]}

    @route("GET", "/api/v1/market/orderbook/{level}")
    def book_public(self, call: Call):
        if call.params["level"] not in ("level2_20", "level2_100"):
            raise _bad("level must be level2_20 or level2_100")
        return self.book(call)

    @route("GET", "/api/v3/market/orderbook/level2", private=True)
    def book_full(self, call: Call):
        return self.book(call)

    @route("GET", "/api/v1/market/candles")
    def candles(self, call: Call):
        symbol = self.symbol_of(call.query.get("symbol"))
        frame = TIMEFRAMES.get(call.query.get("type", ""))
        if frame is None:
            raise _bad(f"type must be one of {', '.join(TIMEFRAMES)}")
        start = _int(call.query.get("startAt"), "startAt")
        end = _int(call.query.get("endAt"), "endAt")
        start_ms, end_ms = market_window(start * 1000 if start else None, end * 1000 if end else None,
                                         call.now_ms, self.engine.now_ms())
        try:
            bars = candles_from(self.engine, symbol, frame, start_ms)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        bars = [b for b in bars if (start_ms is None or b.ts >= start_ms) and b.ts < end_ms][-1500:]
        return [[str(b.ts // 1000), num(b.open), num(b.close), num(b.high), num(b.low), num(b.volume),
                 num(b.volume * b.close)] for b in reversed(bars)]

    # futures markets: none here, but ccxt's load_markets asks
    @route("GET", "/api/v1/contracts/active")
    def contracts(self, call: Call):
        return []

    # ------------------------------------------------------------------ account
    @route("GET", "/api/v3/margin/symbols", private=True)
    def margin_symbols(self, call: Call):
        return {"timestamp": self.engine.now_ms(), "items": []}

    @route("GET", "/api/v1/isolated/symbols", private=True)
    def isolated_symbols(self, call: Call):
        return []

    @route("GET", "/api/v1/hf/accounts/opened", private=True)
    def hf_opened(self, call: Call):
        return False  # a classic account: orders go to /api/v1/orders

    @route("GET", "/api/ua/v1/account/mode", private=True)
    def account_mode(self, call: Call):
        return {"selfAccountMode": "CLASSIC"}

    @staticmethod
    def account_id(kind: str, currency: str) -> str:
        """24 hex digits like KuCoin's account ids, the same for a currency's account on every run."""
        return hashlib.sha256(f"kucoin-{kind}-{currency}".encode()).hexdigest()[:24]

    @route("GET", "/api/v1/accounts", private=True)
    def accounts(self, call: Call):
        kind = call.query.get("type")
        if kind not in (None, "", "trade"):
            return []
        out = []
        for cur, (total, free, used) in self.engine.balances().items():
            if call.query.get("currency") and call.query["currency"] != cur:
                continue
            out.append({"id": self.account_id("trade", cur), "currency": cur, "type": "trade",
                        "balance": num(total), "available": num(free), "holds": num(used)})
        return out

    # ------------------------------------------------------------------ single orders
    def _order_request(self, b: dict, trigger: bool, need_cid: bool = True) -> E.OrderRequest:
        cid = b.get("clientOid")
        if not cid and need_cid:
            raise _bad("clientOid is required")
        if cid and (not isinstance(cid, str) or not CLIENT_OID.match(cid)):
            raise _bad("clientOid may only hold letters, digits, '_' and '-', at most 40 characters")
        side, kind = b.get("side"), b.get("type", "limit")
        if side not in ("buy", "sell"):
            raise _bad("side must be buy or sell")
        if kind not in ("limit", "market"):
            raise _bad("type must be limit or market")
        if b.get("tradeType") not in (None, "TRADE"):
            raise _bad("tradeType: only TRADE (spot) is supported")
        symbol = self.symbol_of(b.get("symbol"))
        stop = b.get("stop")
        direction = None
        if trigger:
            if b.get("stopPrice") in (None, ""):
                raise _bad("stopPrice is required")
            if stop not in (None, "", "loss", "entry"):
                raise _bad("stop must be loss or entry")
            direction = DOWN if stop == "loss" else UP if stop == "entry" else None
            etype = "stop_limit" if kind == "limit" else "stop_market"
        else:
            etype = kind
        if kind == "limit" and b.get("price") in (None, ""):
            raise _bad("price is required for a limit order")
        if kind == "market" and b.get("size") in (None, "") and b.get("funds") in (None, ""):
            raise _bad("size or funds is required for a market order")
        return E.OrderRequest(
            symbol=symbol, side=side, type=etype, amount=b.get("size") or None,
            price=b.get("price") if kind == "limit" else None, trigger=b.get("stopPrice") if trigger else None,
            funds=(b.get("funds") or None) if kind == "market" else None, client_id=cid or None, direction=direction,
        )

    @route("POST", "/api/v1/orders", private=True, mutates=True)
    def create_order(self, call: Call):
        b = self.body(call)
        if b.get("stopPrice") not in (None, ""):
            raise _bad("stopPrice is not accepted here: place trigger orders with /api/v1/stop-order")
        return {"orderId": self.engine.place(self._order_request(b, trigger=False)).id}

    @route("POST", "/api/v1/stop-order", private=True, mutates=True)
    def create_stop_order(self, call: Call):
        return {"orderId": self.engine.place(self._order_request(self.body(call), trigger=True)).id}

    def _cancel_plain(self, o: E.SimOrder) -> E.SimOrder:
        if o.list_id is not None or self.is_untriggered_stop(o) or o.status not in ORDER_STATUS_ACTIVE:
            raise ApiError("400100", NOT_EXIST_CANCEL, 400)
        return self.engine.cancel(o.id)

    def _cancel_stop(self, o: E.SimOrder) -> E.SimOrder:
        if not self.is_untriggered_stop(o):
            raise ApiError("400100", NOT_EXIST_CANCEL, 400)
        return self.engine.cancel(o.id)

    @route("DELETE", "/api/v1/orders/{orderId}", private=True, mutates=True)
    def cancel_order(self, call: Call):
        o = self._cancel_plain(self.engine.order(call.params["orderId"]))
        return {"cancelledOrderIds": [o.id]}

    @route("DELETE", "/api/v1/order/client-order/{clientOid}", private=True, mutates=True)
    def cancel_by_client_oid(self, call: Call):
        o = self._cancel_plain(self.engine.order_by_client_id(call.params["clientOid"]))
        return {"cancelledOrderId": o.id, "clientOid": o.client_id}

    @route("DELETE", "/api/v1/stop-order/{orderId}", private=True, mutates=True)
    def cancel_stop_order(self, call: Call):
        if call.params["orderId"] in ("cancel", "cancelOrderByClientOid"):
            return self.cancel_stop_dispatch(call)
        o = self._cancel_stop(self.engine.order(call.params["orderId"]))
        return {"cancelledOrderIds": [o.id]}

    def cancel_stop_dispatch(self, call: Call):
        if call.params["orderId"] == "cancelOrderByClientOid":
            cid = call.query.get("clientOid")
            if not cid:
                raise _bad("clientOid is required")
            o = self._cancel_stop(self.engine.order_by_client_id(cid))
            return {"cancelledOrderId": o.id, "clientOid": o.client_id}
        symbol = self.symbol_of(call.query.get("symbol"), required=False)
        only = set(filter(None, (call.query.get("orderIds") or "").split(",")))
        done = []
        for o in self.engine.orders(symbol=symbol, status="open"):
            if self.is_untriggered_stop(o) and (not only or o.id in only):
                self.engine.cancel(o.id)
                done.append(o.id)
        return {"cancelledOrderIds": done}

    @route("DELETE", "/api/v1/orders", private=True, mutates=True)
    def cancel_all(self, call: Call):
        symbol = self.symbol_of(call.query.get("symbol"), required=False)
        done = []
        for o in self.engine.orders(symbol=symbol, status=ORDER_STATUS_ACTIVE):
            if o.list_id is None and not self.is_untriggered_stop(o):
                self.engine.cancel(o.id)
                done.append(o.id)
        return {"cancelledOrderIds": done}

    @route("GET", "/api/v1/orders/{orderId}", private=True)
    def get_order(self, call: Call):
        return self.order_view(self.engine.order(call.params["orderId"]))

    @route("GET", "/api/v1/order/client-order/{clientOid}", private=True)
    def get_order_by_client_oid(self, call: Call):
        return self.order_view(self.engine.order_by_client_id(call.params["clientOid"]))

    @route("GET", "/api/v1/stop-order/{orderId}", private=True)
    def get_stop_order(self, call: Call):
        if call.params["orderId"] == "queryOrderByClientOid":
            cid = call.query.get("clientOid")
            if not cid:
                raise _bad("clientOid is required")
            o = self.engine.order_by_client_id(cid)
            if not o.is_trigger or o.list_id:
                raise E.Reject(E.NOT_FOUND, f"no stop order with client id {cid}")
            return [self.order_view(o)]
        o = self.engine.order(call.params["orderId"])
        if not o.is_trigger or o.list_id:
            raise E.Reject(E.NOT_FOUND, f"no stop order {o.id}")
        return self.order_view(o)

    def _filtered(self, orders: list[E.SimOrder], q: dict) -> list[dict]:
        since, until = _int(q.get("startAt"), "startAt"), _int(q.get("endAt"), "endAt")
        out = [o for o in orders
               if (not q.get("side") or o.side == q["side"]) and (since is None or o.created_ms >= since)
               and (until is None or o.created_ms <= until)]
        return [self.order_view(o) for o in reversed(out)]  # newest first

    @route("GET", "/api/v1/orders", private=True)
    def list_orders(self, call: Call):
        q = call.query
        status = q.get("status", "done")  # KuCoin lists done orders unless asked for active ones
        if status not in ("active", "done"):
            raise _bad("status must be active or done")
        symbol = self.symbol_of(q.get("symbol"), required=False)
        wanted = ORDER_STATUS_ACTIVE if status == "active" else E.FINAL
        orders = [o for o in self.engine.orders(symbol=symbol, status=wanted)
                  if o.list_id is None and not self.is_untriggered_stop(o)]
        return _page(self._filtered(orders, q), q)

    @route("GET", "/api/v1/stop-order", private=True)
    def list_stop_orders(self, call: Call):
        symbol = self.symbol_of(call.query.get("symbol"), required=False)
        orders = [o for o in self.engine.orders(symbol=symbol, status="open") if self.is_untriggered_stop(o)]
        return _page(self._filtered(orders, call.query), call.query)

    @route("GET", "/api/v1/fills", private=True)
    def fills(self, call: Call):
        q = call.query
        symbol = self.symbol_of(q.get("symbol"), required=False)
        since, until = _int(q.get("startAt"), "startAt"), _int(q.get("endAt"), "endAt")
        items = [f for f in self.engine.fills(symbol=symbol, since=since, order_id=q.get("orderId") or None)
                 if (until is None or f.ts <= until) and (not q.get("side") or f.side == q["side"])]
        return _page([self.fill_view(f) for f in reversed(items)], q)

    # ------------------------------------------------------------------ HF single orders
    # The /api/v1/hf/orders family (what KuCoin's own SDK calls by default) on the same account:
    # plain limit and market orders, every call names its symbol, answers carry HF's fields.
    def _hf_view(self, o: E.SimOrder) -> dict:
        view = self.order_view(o)
        active = view.pop("isActive")
        for key in ("stop", "stopTriggered", "stopPrice"):  # not HF fields (HF orders here are not stops)
            view.pop(key)
        view["stp"] = None  # HF's stp is one of DC/CO/CN/CB or absent; an empty string fails the SDK's model
        closed = o.amount - o.filled if o.amount is not None and o.status in ("canceled", "rejected") else 0
        view.update(active=active, inOrderBook=active, lastUpdatedAt=o.updated_ms,
                    remainSize=num(o.remaining) if active and o.amount is not None else "0", remainFunds="0",
                    cancelledSize=num(closed) or "0", cancelledFunds="0")
        return view

    def _hf_order(self, call: Call, o: E.SimOrder) -> E.SimOrder:
        """The order, if it is a plain order on the market the call names (HF calls must name it)."""
        symbol = self.symbol_of(call.query.get("symbol"))
        if o.symbol != symbol or o.list_id is not None or o.is_trigger:
            raise E.Reject(E.NOT_FOUND, f"no order {o.id} on {symbol}")
        return o

    @route("POST", "/api/v1/hf/orders", private=True, mutates=True)
    def hf_create_order(self, call: Call):
        b = self.body(call)
        o = self.engine.place(self._order_request(b, trigger=False, need_cid=False))
        return {"orderId": o.id, "clientOid": o.client_id or ""}

    @route("DELETE", "/api/v1/hf/orders/{orderId}", private=True, mutates=True)
    def hf_cancel_order(self, call: Call):
        o = self._cancel_plain(self._hf_order(call, self.engine.order(call.params["orderId"])))
        return {"orderId": o.id}

    @route("DELETE", "/api/v1/hf/orders/client-order/{clientOid}", private=True, mutates=True)
    def hf_cancel_by_client_oid(self, call: Call):
        o = self._cancel_plain(self._hf_order(call, self.engine.order_by_client_id(call.params["clientOid"])))
        return {"clientOid": o.client_id}

    @route("GET", "/api/v1/hf/orders/{orderId}", private=True)
    def hf_get_order(self, call: Call):
        if call.params["orderId"] == "active":
            symbol = self.symbol_of(call.query.get("symbol"))
            return [self._hf_view(o) for o in self.engine.orders(symbol=symbol, status=ORDER_STATUS_ACTIVE)
                    if o.list_id is None and not o.is_trigger]
        return self._hf_view(self._hf_order(call, self.engine.order(call.params["orderId"])))

    @route("GET", "/api/v1/hf/orders/client-order/{clientOid}", private=True)
    def hf_get_order_by_client_oid(self, call: Call):
        return self._hf_view(self._hf_order(call, self.engine.order_by_client_id(call.params["clientOid"])))

    # ------------------------------------------------------------------ OCO (v3)
    @staticmethod
    def oco_status(lst: E.SimList, legs: list[E.SimOrder]) -> str:
        if lst.status == "done":
            return "DONE"
        if lst.status == "canceled":
            return "CANCELLED"
        return "TRIGGERED" if any(o.status == "triggered" for o in legs) else "NEW"

    @staticmethod
    def leg_status(o: E.SimOrder) -> str:
        return {"open": "NEW", "pending": "NEW", "triggered": "TRIGGERED", "filled": "DONE"}.get(o.status, "CANCELLED")

    def oco_view(self, lst: E.SimList, details: bool = False) -> dict:
        legs = self.engine.list_orders(lst.id)
        view = {"orderId": lst.id, "symbol": self.market_id(lst.symbol), "clientOid": lst.client_id or "",
                "orderTime": lst.created_ms, "status": self.oco_status(lst, legs)}
        if details:
            view["orders"] = [{
                "id": o.id, "symbol": self.market_id(o.symbol), "side": o.side,
                "price": num(o.price, 20), "stopPrice": num(o.trigger if o.is_trigger else o.price, 20),
                "size": num(o.amount, 20), "status": self.leg_status(o),
            } for o in legs]
        return view

    def _oco(self, list_id: str) -> E.SimList:
        lst = self.engine.get_list(list_id)
        if lst.kind != "oco":
            raise E.Reject(E.NOT_FOUND, f"order list {list_id} is not an OCO order")
        return lst

    def _oco_by_client(self, cid: str) -> E.SimList:
        lst = self.engine.list_by_client_id(cid)
        if lst.kind != "oco":
            raise E.Reject(E.NOT_FOUND, f"no OCO order with client id {cid}")
        return lst

    @route("POST", "/api/v3/oco/order", private=True, mutates=True)
    def create_oco(self, call: Call):
        b = self.body(call)
        for key in ("symbol", "side", "price", "size", "stopPrice", "limitPrice", "clientOid"):
            if b.get(key) in (None, ""):
                raise _bad(f"{key} is required")
        cid = b["clientOid"]
        if not isinstance(cid, str) or not CLIENT_OID.match(cid):
            raise _bad("clientOid may only hold letters, digits, '_' and '-', at most 40 characters")
        remark = b.get("remark")
        if remark is not None and (not isinstance(remark, str) or len(remark) > 20 or not remark.isascii()):
            raise _bad("remark must be at most 20 ASCII characters")
        if b.get("tradeType") not in (None, "TRADE"):
            raise _bad("tradeType: only TRADE is supported")
        side = b["side"]
        if side not in ("buy", "sell"):
            raise _bad("side must be buy or sell")
        symbol = self.symbol_of(b["symbol"])
        price, stop = E.number("price", b["price"]), E.number("stopPrice", b["stopPrice"])
        assert price is not None and stop is not None  # both checked present above
        # KuCoin's OCO: sell = take-profit limit above, stop below; buy = limit below, breakout stop above
        if (side == "sell" and not price > stop) or (side == "buy" and not price < stop):
            raise _bad("price not in the given range!")
        legs = [
            E.OrderRequest(symbol=symbol, side=side, type="limit", amount=b["size"], price=b["price"]),
            E.OrderRequest(symbol=symbol, side=side, type="stop_limit", amount=b["size"], price=b["limitPrice"],
                           trigger=b["stopPrice"], role="stop_loss"),
        ]
        return {"orderId": self.engine.place_list("oco", legs, client_id=cid).id}

    def _cancel_oco(self, lst: E.SimList) -> dict:
        if lst.status != "open":
            raise ApiError("400100", NOT_EXIST_CANCEL, 400)
        legs = [o.id for o in self.engine.list_orders(lst.id) if o.status in ORDER_STATUS_ACTIVE]
        self.engine.cancel_list(lst.id)
        return {"cancelledOrderIds": legs}

    @route("DELETE", "/api/v3/oco/order/{orderId}", private=True, mutates=True)
    def cancel_oco(self, call: Call):
        return self._cancel_oco(self._oco(call.params["orderId"]))

    @route("DELETE", "/api/v3/oco/client-order/{clientOid}", private=True, mutates=True)
    def cancel_oco_by_client(self, call: Call):
        return self._cancel_oco(self._oco_by_client(call.params["clientOid"]))

    @route("DELETE", "/api/v3/oco/orders", private=True, mutates=True)
    def cancel_ocos(self, call: Call):
        symbol = self.symbol_of(call.query.get("symbol"), required=False)
        only = set(filter(None, (call.query.get("orderIds") or "").split(",")))
        done: list[str] = []
        for lst in self.engine.lists(symbol=symbol, status="open", kind="oco"):
            if not only or lst.id in only:
                done += self._cancel_oco(lst)["cancelledOrderIds"]
        return {"cancelledOrderIds": done}

    @route("GET", "/api/v3/oco/order/{orderId}", private=True)
    def get_oco(self, call: Call):
        return self.oco_view(self._oco(call.params["orderId"]))

    @route("GET", "/api/v3/oco/client-order/{clientOid}", private=True)
    def get_oco_by_client(self, call: Call):
        return self.oco_view(self._oco_by_client(call.params["clientOid"]))

    @route("GET", "/api/v3/oco/order/details/{orderId}", private=True)
    def get_oco_details(self, call: Call):
        return self.oco_view(self._oco(call.params["orderId"]), details=True)

    @route("GET", "/api/v3/oco/orders", private=True)
    def list_ocos(self, call: Call):
        q = call.query
        symbol = self.symbol_of(q.get("symbol"), required=False)
        since, until = _int(q.get("startAt"), "startAt"), _int(q.get("endAt"), "endAt")
        only = set(filter(None, (q.get("orderIds") or "").split(",")))
        lists = [lst for lst in self.engine.lists(symbol=symbol, kind="oco")
                 if (since is None or lst.created_ms >= since) and (until is None or lst.created_ms <= until)
                 and (not only or lst.id in only)]
        size = _int(q.get("pageSize"), "pageSize")
        if size is not None and not 10 <= size <= 500:
            raise _bad("pageSize should be between 10 and 500")
        return _page(lists[::-1], q, view=self.oco_view)   # newest first; every list is read, a page rendered
