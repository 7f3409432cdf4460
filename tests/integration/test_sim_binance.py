"""The simulator's Binance spot dialect over real HTTP on 127.0.0.1: raw signed requests built from
Binance's documentation (rest-api.md: HMAC over query string + body), an unmodified ccxt.binance,
and Binance's official Python connector (binance-connector), each changing only its URLs."""
from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal

import ccxt
import pytest
import requests

from bracket_plugin.sim.binance import INTERVALS
from bracket_plugin.sim.rules import floor_to
from simfixtures import SYMBOL, binance_raw, client, make_venue, venue  # noqa: F401  (fixture)

MARKET = "ETHBTC"


def public(venue, path: str, **params):
    return requests.get(f"{venue.url}/binance{path}", params=params, timeout=5)


def ok(response) -> dict | list:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, status: int, code: int, msg: str | None = None) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    if msg is not None:
        assert response.json()["msg"] == msg


def engine(venue):
    return venue.engine_for("binance")


def price(venue, factor) -> str:
    """The last price times `factor`, on the market's tick."""
    e = engine(venue)
    return str(floor_to(e.last_price(SYMBOL) * Decimal(str(factor)), e.rules(SYMBOL).tick_size))


def step_until(venue, done, most: int = 300) -> int:
    for n in range(most):
        if done():
            return n
        venue.step()
    raise AssertionError(f"not done after {most} bars")


# ------------------------------------------------------------------ public endpoints
def test_public_endpoints_and_shapes(venue):
    assert ok(public(venue, "/api/v3/ping")) == {}
    assert abs(ok(public(venue, "/api/v3/time"))["serverTime"] - time.time() * 1000) < 5_000  # the wall clock
    info = ok(public(venue, "/api/v3/exchangeInfo"))
    (sym,) = info["symbols"]
    rules = engine(venue).rules(SYMBOL)
    filters = {f["filterType"]: f for f in sym["filters"]}
    assert (sym["symbol"], sym["baseAsset"], sym["quoteAsset"], sym["ocoAllowed"], sym["otoAllowed"]) == (MARKET, "ETH", "BTC", True, True)
    assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == rules.tick_size
    assert (Decimal(filters["LOT_SIZE"]["stepSize"]), Decimal(filters["LOT_SIZE"]["minQty"])) == (rules.lot_size, rules.min_size)
    assert Decimal(filters["NOTIONAL"]["minNotional"]) == rules.min_notional
    frame = engine(venue).interval_ms(SYMBOL)
    interval = next(name for name, ms in INTERVALS.items() if ms == frame)  # the data's own bars
    klines = ok(public(venue, "/api/v3/klines", symbol=MARKET, interval=interval, limit=3))
    bars = engine(venue).closed_bars(SYMBOL, limit=3)
    assert [k[0] for k in klines] == [b.ts for b in bars] and [Decimal(k[4]) for k in klines] == [b.close for b in bars]
    assert len(klines[0]) == 12 and klines[0][6] == bars[0].ts + frame - 1
    ticker = ok(public(venue, "/api/v3/ticker/24hr", symbol=MARKET))
    assert Decimal(ticker["lastPrice"]) == engine(venue).last_price(SYMBOL) == Decimal(ticker["bidPrice"])
    assert [t["symbol"] for t in ok(public(venue, "/api/v3/ticker/24hr"))] == [MARKET]  # no symbol: a list
    book = ok(public(venue, "/api/v3/depth", symbol=MARKET, limit=5))
    assert Decimal(book["bids"][0][0]) == engine(venue).last_price(SYMBOL) and set(book) == {"lastUpdateId", "bids", "asks"}
    refused(public(venue, "/api/v3/depth", symbol="NOPE"), 400, -1121, "Invalid symbol.")
    refused(public(venue, "/api/v3/klines", symbol=MARKET, interval="7m"), 400, -1120, "Invalid interval.")
    refused(public(venue, "/api/v9/nothing"), 404, -1020)
    assert ok(public(venue, "/fapi/v1/exchangeInfo"))["symbols"] == [] == ok(public(venue, "/dapi/v1/exchangeInfo"))["symbols"]


# ------------------------------------------------------------------ authentication
def test_signature_key_and_time_window_refusals(venue):
    path = "/api/v3/account"
    balances = {b["asset"]: b for b in ok(binance_raw(venue, "GET", path))["balances"]}
    assert (balances["ETH"]["free"], balances["BTC"]["locked"]) == ("100.00000000", "0.00000000")
    refused(binance_raw(venue, "GET", path, signature="0" * 64), 400, -1022, "Signature for this request is not valid.")
    refused(binance_raw(venue, "GET", path, secret="not-the-secret"), 400, -1022)
    refused(binance_raw(venue, "GET", path, key=""), 401, -2014)
    refused(binance_raw(venue, "GET", path, key="someone-else"), 401, -2015, "Invalid API-key, IP, or permissions for action.")
    now = int(time.time() * 1000)
    refused(binance_raw(venue, "GET", path, ts=now - 6_000), 400, -1021, "Timestamp for this request is outside of the recvWindow.")
    assert binance_raw(venue, "GET", path, ts=now - 6_000, recv_window=10_000).status_code == 200  # a wider window
    refused(binance_raw(venue, "GET", path, ts=now + 5_000), 400, -1021)  # 1 s ahead at most
    refused(binance_raw(venue, "GET", path, recv_window=60_001), 400, -1130)
    refused(binance_raw(venue, "GET", path, ts=(now - 6_000) * 1000), 400, -1021)  # microseconds read as such
    assert binance_raw(venue, "GET", path, ts=now * 1000).status_code == 200
    sig = hmac.new(b"sim-binance-secret", f"timestamp={now}".encode(), hashlib.sha256).hexdigest()
    assert binance_raw(venue, "GET", path, ts=now, signature=sig.upper()).status_code == 200  # HMAC: any case
    r = requests.get(f"{venue.url}/binance{path}?timestamp={now}", headers={"X-MBX-APIKEY": "sim-binance-key"}, timeout=5)
    refused(r, 400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    # parameters split between the query string and the body, the signature in the body
    order = {"symbol": MARKET, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": price(venue, 0.9)}
    placed = ok(binance_raw(venue, "POST", "/api/v3/order", order, where="split"))
    assert (placed["status"], placed["type"], placed["origQty"]) == ("NEW", "LIMIT", "1.00000000")


def test_recv_window_not_a_number_is_refused_as_not_valid(venue):
    """A NaN recvWindow (which Decimal reads but cannot compare) is -1130 like any other invalid one,
    not a -1000 system error with HTTP 500 (found by tests/property/test_sim_endpoints_props.py)."""
    for window in ("NaN", "sNaN", "-NaN", "nan"):
        refused(binance_raw(venue, "GET", "/api/v3/account", recv_window=window), 400, -1130,
                "Data sent for parameter 'recvWindow' is not valid.")
        refused(binance_raw(venue, "POST", "/api/v3/order", {"symbol": MARKET, "side": "BUY", "type": "MARKET", "quantity": "1"},
                       recv_window=window, where="split"), 400, -1130)
    assert engine(venue).orders() == []


def test_refusals_in_binance_codes(venue):
    e = engine(venue)
    limit = {"symbol": MARKET, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": price(venue, 0.9)}
    post = lambda **changes: binance_raw(venue, "POST", "/api/v3/order", dict(limit, **changes))  # noqa: E731
    tick = e.rules(SYMBOL).tick_size
    refused(post(price=str(Decimal(price(venue, 0.9)) + tick / 2)), 400, -1013, "Filter failure: PRICE_FILTER")
    refused(post(quantity=str(e.rules(SYMBOL).lot_size * Decimal("1.5"))), 400, -1013, "Filter failure: LOT_SIZE")
    refused(post(quantity=str(e.rules(SYMBOL).min_size), price=str(tick)), 400, -1013, "Filter failure: NOTIONAL")
    refused(post(quantity="1000"), 400, -2010, "Account has insufficient balance for requested action.")
    refused(post(symbol="DOGEBTC"), 400, -1121, "Invalid symbol.")
    refused(post(side="HOLD"), 400, -1117, "Invalid side.")
    refused(post(type="ICEBERG"), 400, -1116, "Invalid orderType.")
    refused(binance_raw(venue, "POST", "/api/v3/order", {k: v for k, v in limit.items() if k != "timeInForce"}), 400, -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
    # LIMIT_MAKER that would take; a stop loss that would trigger at once (rest-api.md, errors.md)
    refused(post(type="LIMIT_MAKER", price=price(venue, 1.05), timeInForce=""), 400, -2010, "Order would immediately match and take.")
    refused(post(side="SELL", type="STOP_LOSS", stopPrice=price(venue, 1.05), price="", timeInForce=""), 400, -2010,
            "Order would trigger immediately.")
    refused(binance_raw(venue, "GET", "/api/v3/order", {"symbol": MARKET, "orderId": 42}), 400, -2013, "Order does not exist.")
    refused(binance_raw(venue, "DELETE", "/api/v3/order", {"symbol": MARKET, "orderId": 42}), 400, -2011, "Unknown order sent.")
    maker = ok(post(type="LIMIT_MAKER", timeInForce=""))
    assert (maker["type"], maker["status"]) == ("LIMIT_MAKER", "NEW") and e.order(str(maker["orderId"])).post_only
    assert not e.fills()  # nothing of the refused orders reached the engine's book
    assert [o.id for o in e.open_orders()] == [str(maker["orderId"])]


# ------------------------------------------------------------------ order lists
def oco(venue, side="SELL", **changes):
    params = {"symbol": MARKET, "side": side, "quantity": "2", "listClientOrderId": "list-1"}
    if side == "SELL":
        params.update(aboveType="LIMIT_MAKER", abovePrice=price(venue, 1.01), belowType="STOP_LOSS_LIMIT",
                      belowStopPrice=price(venue, 0.99), belowPrice=price(venue, 0.98), belowTimeInForce="GTC")
    else:
        params.update(aboveType="STOP_LOSS", aboveStopPrice=price(venue, 1.2), belowType="LIMIT_MAKER", belowPrice=price(venue, 0.99))
    return binance_raw(venue, "POST", "/api/v3/orderList/oco", dict(params, **changes))


def test_oco_one_leg_fills_the_other_expires(venue):
    """The replayed market falls after the start: the stop leg fires."""
    placed = ok(oco(venue))
    assert (placed["contingencyType"], placed["listStatusType"], placed["listOrderStatus"], placed["listClientOrderId"]) == (
        "OCO", "EXEC_STARTED", "EXECUTING", "list-1")
    stop, limit = placed["orderReports"]  # by order id: the stop leg first, as in rest-api.md's example
    assert (stop["type"], Decimal(stop["stopPrice"]), limit["type"], limit["status"]) == ("STOP_LOSS_LIMIT", Decimal(price(venue, 0.99)), "LIMIT_MAKER", "NEW")
    assert {b["asset"]: b["locked"] for b in ok(binance_raw(venue, "GET", "/api/v3/account"))["balances"]}["ETH"] == "2.00000000"  # held once
    assert [lst["orderListId"] for lst in ok(binance_raw(venue, "GET", "/api/v3/openOrderList"))] == [placed["orderListId"]]
    list_id = placed["orderListId"]
    get_list = lambda: ok(binance_raw(venue, "GET", "/api/v3/orderList", {"orderListId": list_id}))  # noqa: E731
    step_until(venue, lambda: get_list()["listOrderStatus"] == "ALL_DONE")
    assert get_list()["listStatusType"] == "ALL_DONE"
    status = {o["type"]: o["status"] for o in (ok(binance_raw(venue, "GET", "/api/v3/order", {"symbol": MARKET, "orderId": leg["orderId"]}))
                                               for leg in placed["orders"])}
    assert status == {"LIMIT_MAKER": "EXPIRED", "STOP_LOSS_LIMIT": "FILLED"}
    assert ok(binance_raw(venue, "GET", "/api/v3/openOrderList")) == []
    (trade,) = ok(binance_raw(venue, "GET", "/api/v3/myTrades", {"symbol": MARKET}))
    # the fee in the asset received: a sell receives BTC
    assert (trade["orderId"], trade["orderListId"], trade["commissionAsset"], trade["isBuyer"]) == (stop["orderId"], list_id, "BTC", False)
    rate = engine(venue).rules(SYMBOL).fee_rate("maker" if trade["isMaker"] else "taker")
    assert Decimal(trade["commission"]) == Decimal(trade["quoteQty"]) * rate
    # the list's client id was used: a new list may not take it (never reused here, see the module docstring)
    refused(oco(venue), 400, -2010, "Duplicate order sent.")


def test_crossed_oco_refused(venue):
    relation = "The relationship of the prices for the orders is not correct."
    refused(oco(venue, abovePrice=price(venue, 0.99)), 400, -2010, relation)  # take-profit below the last price
    refused(oco(venue, belowStopPrice=price(venue, 1.02), belowPrice=price(venue, 1.02)), 400, -2010, relation)
    refused(oco(venue, "BUY", belowPrice=price(venue, 1.01)), 400, -2010, relation)
    refused(oco(venue, "BUY", aboveStopPrice=price(venue, 0.98)), 400, -2010, relation)
    refused(oco(venue, aboveType="STOP_LOSS", aboveStopPrice=price(venue, 1.1)), 400, -1014)  # two stop losses
    assert engine(venue).lists() == []
    buy = ok(oco(venue, "BUY"))
    assert [o["type"] for o in buy["orderReports"]] == ["STOP_LOSS", "LIMIT_MAKER"]


def test_oco_take_profit_trigger_leg_keeps_its_type(venue):
    """A buy OCO whose take-profit (below the market) is a TAKE_PROFIT trigger: the market falls to it."""
    placed = ok(oco(venue, "BUY", belowType="TAKE_PROFIT", belowStopPrice=price(venue, 0.99), belowPrice=""))
    tp = next(o for o in placed["orderReports"] if o["type"] == "TAKE_PROFIT")
    assert Decimal(tp["stopPrice"]) == Decimal(price(venue, 0.99))
    step_until(venue, lambda: engine(venue).get_list(str(placed["orderListId"])).status != "open")
    assert ok(binance_raw(venue, "GET", "/api/v3/order", {"symbol": MARKET, "orderId": tp["orderId"]}))["status"] == "FILLED"


def otoco_params(venue, **changes):
    return dict({"symbol": MARKET, "listClientOrderId": "bracket-1", "workingType": "LIMIT", "workingSide": "BUY",
                 "workingPrice": price(venue, 1.01), "workingQuantity": "2", "workingTimeInForce": "GTC",
                 "pendingSide": "SELL", "pendingQuantity": "1.9", "pendingAboveType": "LIMIT_MAKER",
                 "pendingAbovePrice": price(venue, 1.5), "pendingBelowType": "STOP_LOSS",
                 "pendingBelowStopPrice": price(venue, 0.5)}, **changes)


def test_otoco_pending_legs_appear_after_the_working_fill(venue):
    placed = ok(binance_raw(venue, "POST", "/api/v3/orderList/otoco", otoco_params(venue)))
    assert placed["contingencyType"] == "OTO"
    assert [o["status"] for o in placed["orderReports"]] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    working_id = placed["orderReports"][0]["orderId"]
    open_ids = lambda: [o["orderId"] for o in ok(binance_raw(venue, "GET", "/api/v3/openOrders", {"symbol": MARKET}))]  # noqa: E731
    assert open_ids() == [working_id]
    assert len(ok(binance_raw(venue, "GET", "/api/v3/allOrders", {"symbol": MARKET}))) == 3
    venue.step()  # the working buy is above the market: it fills at the next bar's open
    working = ok(binance_raw(venue, "GET", "/api/v3/order", {"symbol": MARKET, "orderId": working_id}))
    assert working["status"] == "FILLED"
    assert sorted(open_ids()) == sorted(o["orderId"] for o in placed["orderReports"][1:])
    types = {o["type"]: o["status"] for o in ok(binance_raw(venue, "GET", "/api/v3/openOrders", {"symbol": MARKET}))}
    assert types == {"LIMIT_MAKER": "NEW", "STOP_LOSS": "NEW"}
    (trade,) = ok(binance_raw(venue, "GET", "/api/v3/myTrades", {"symbol": MARKET}))
    assert (trade["commissionAsset"], Decimal(trade["commission"])) == ("ETH", 2 * engine(venue).rules(SYMBOL).taker_fee)
    canceled = ok(binance_raw(venue, "DELETE", "/api/v3/orderList", {"symbol": MARKET, "listClientOrderId": "bracket-1"}))
    assert (canceled["listStatusType"], canceled["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert [o["status"] for o in canceled["orderReports"]] == ["FILLED", "CANCELED", "CANCELED"]
    assert open_ids() == [] and ok(binance_raw(venue, "GET", "/api/v3/openOrderList")) == []
    refused(binance_raw(venue, "DELETE", "/api/v3/orderList", {"symbol": MARKET, "orderListId": placed["orderListId"]}), 400, -2011)


def test_oto_cancel_by_id_and_by_one_leg(venue):
    oto = {"symbol": MARKET, "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": price(venue, 0.9),
           "workingQuantity": "1", "workingTimeInForce": "GTC", "pendingType": "STOP_LOSS", "pendingSide": "SELL",
           "pendingQuantity": "1", "pendingStopPrice": price(venue, 0.8)}
    first = ok(binance_raw(venue, "POST", "/api/v3/orderList/oto", oto))
    assert [o["type"] for o in first["orderReports"]] == ["LIMIT", "STOP_LOSS"]
    second = ok(binance_raw(venue, "POST", "/api/v3/orderList/oto", dict(oto, pendingType="LIMIT_MAKER", pendingStopPrice="",
                                                                       pendingPrice=price(venue, 1.2))))
    assert [o["type"] for o in second["orderReports"]] == ["LIMIT", "LIMIT_MAKER"]
    lists = ok(binance_raw(venue, "GET", "/api/v3/allOrderList"))
    assert [lst["orderListId"] for lst in lists] == [first["orderListId"], second["orderListId"]]
    done = ok(binance_raw(venue, "DELETE", "/api/v3/orderList", {"symbol": MARKET, "orderListId": first["orderListId"]}))
    assert done["listOrderStatus"] == "ALL_DONE" and {o["status"] for o in done["orderReports"]} == {"CANCELED"}
    # canceling one order of a list cancels the list (rest-api.md)
    leg = ok(binance_raw(venue, "DELETE", "/api/v3/order", {"symbol": MARKET, "orderId": second["orders"][0]["orderId"]}))
    assert (leg["status"], leg["orderListId"]) == ("CANCELED", second["orderListId"])
    again = ok(binance_raw(venue, "GET", "/api/v3/orderList", {"origClientOrderId": second["listClientOrderId"]}))
    assert again["listOrderStatus"] == "ALL_DONE"
    refused(binance_raw(venue, "POST", "/api/v3/orderList/oto", dict(oto, workingType="MARKET")), 400, -1116)


def test_opo_sizes_the_pending_leg_net_of_the_fee(venue):
    placed = ok(binance_raw(venue, "POST", "/api/v3/orderList/opoco", otoco_params(venue, pendingQuantity="", listClientOrderId="opo-1")))
    rules = engine(venue).rules(SYMBOL)
    assert {o["origQty"] for o in placed["orderReports"][1:]} == {f"{floor_to(2 * (1 - rules.max_fee), rules.lot_size):.8f}"}
    refused(binance_raw(venue, "POST", "/api/v3/orderList/opo", otoco_params(venue, workingSide="SELL", pendingSide="BUY")), 400, -1014)


# ------------------------------------------------------------------ clients nobody here wrote
def test_unmodified_ccxt_binance(venue):
    ex = client(venue, "binance")
    assert type(ex) is ccxt.binance
    ex.load_markets()
    assert ex.market(SYMBOL)["id"] == MARKET and ex.market(SYMBOL)["precision"]["price"] == float(engine(venue).rules(SYMBOL).tick_size)
    assert ex.fetch_balance()["ETH"]["free"] == 100
    assert ex.fetch_ticker(SYMBOL)["last"] == float(engine(venue).last_price(SYMBOL))
    assert len(ex.fetch_ohlcv(SYMBOL, "1h", limit=5)) == 5 and ex.fetch_order_book(SYMBOL)["bids"]
    last = float(engine(venue).last_price(SYMBOL))
    resting = ex.create_order(SYMBOL, "limit", "buy", 1, round(last * 0.9, 6))
    stop = ex.create_order(SYMBOL, "market", "sell", 1, None, {"triggerPrice": round(last * 0.9, 6)})
    stop_limit = ex.create_order(SYMBOL, "limit", "sell", 1, round(last * 0.89, 6), {"triggerPrice": round(last * 0.9, 6)})
    take = ex.create_order(SYMBOL, "limit", "sell", 1, round(last * 1.1, 6), {"takeProfitPrice": round(last * 1.1, 6)})
    assert [o["info"]["type"] for o in (stop, stop_limit, take)] == ["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]
    assert ex.fetch_order(stop_limit["id"], SYMBOL)["triggerPrice"] == round(last * 0.9, 6)
    assert {o["id"] for o in ex.fetch_open_orders(SYMBOL)} == {resting["id"], stop["id"], stop_limit["id"], take["id"]}
    assert ex.cancel_order(resting["id"], SYMBOL)["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("42", SYMBOL)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "limit", "buy", 1000, round(last * 0.9, 6))
    market = ex.create_order(SYMBOL, "market", "buy", 1)
    venue.step()
    assert ex.fetch_order(market["id"], SYMBOL)["status"] == "closed"
    (trade,) = ex.fetch_my_trades(SYMBOL)
    assert (trade["order"], trade["fee"]["currency"], trade["fee"]["cost"]) == (market["id"], "ETH", 0.001)
    # an OCO through ccxt's implicit methods (ccxt fills in the list's and legs' client ids)
    last = float(engine(venue).last_price(SYMBOL))
    placed = ex.privatePostOrderListOco({"symbol": MARKET, "side": "SELL", "quantity": "1", "aboveType": "LIMIT_MAKER",
                                         "abovePrice": ex.price_to_precision(SYMBOL, last * 1.2), "belowType": "STOP_LOSS",
                                         "belowStopPrice": ex.price_to_precision(SYMBOL, last * 0.8)})
    assert placed["listClientOrderId"].startswith("x-")
    got = ex.privateGetOrderList({"orderListId": placed["orderListId"]})
    assert got["listOrderStatus"] == "EXECUTING" and len(got["orders"]) == 2
    done = ex.privateDeleteOrderList({"symbol": MARKET, "orderListId": placed["orderListId"]})
    assert done["listStatusType"] == "ALL_DONE"
    assert [o["status"] for o in ex.fetch_orders(SYMBOL) if o["id"] in {str(x["orderId"]) for x in placed["orders"]}] == ["canceled"] * 2


def test_official_binance_connector_places_reads_and_cancels_an_oco(venue):
    from binance.error import ClientError
    from binance.spot import Spot

    creds = venue.credentials("binance")
    spot = Spot(api_key=creds.api_key, api_secret=creds.secret, base_url=venue.url + "/binance", timeout=5)
    assert {b["asset"]: b["free"] for b in spot.account()["balances"]}["BTC"] == "10.00000000"
    placed = spot.new_oco_order(symbol=MARKET, side="SELL", quantity=3, aboveType="LIMIT_MAKER", abovePrice=price(venue, 1.2),
                                belowType="STOP_LOSS", belowStopPrice=price(venue, 0.8), listClientOrderId="connector-1")
    assert placed["listOrderStatus"] == "EXECUTING"
    assert spot.get_oco_order(orderListId=placed["orderListId"])["listClientOrderId"] == "connector-1"
    assert [lst["orderListId"] for lst in spot.get_oco_open_orders()] == [placed["orderListId"]]
    leg = spot.get_order(MARKET, orderId=placed["orders"][1]["orderId"])
    assert (leg["type"], leg["origQty"]) == ("LIMIT_MAKER", "3.00000000")
    canceled = spot.cancel_oco_order(MARKET, listClientOrderId="connector-1")
    assert canceled["listOrderStatus"] == "ALL_DONE" and {o["status"] for o in canceled["orderReports"]} == {"CANCELED"}
    assert spot.get_oco_open_orders() == []
    with pytest.raises(ClientError) as exc:  # Binance's own refusal, parsed by the connector
        spot.cancel_oco_order(MARKET, orderListId=placed["orderListId"])
    assert (exc.value.status_code, exc.value.error_code) == (400, -2011)
    bad = Spot(api_key=creds.api_key, api_secret="wrong", base_url=venue.url + "/binance", timeout=5)
    with pytest.raises(ClientError) as exc:
        bad.account()
    assert exc.value.error_code == -1022


def test_binance_at_the_root_path():
    with make_venue(root="binance") as v:
        assert requests.get(v.url + "/api/v3/ping", timeout=5).json() == {}
        assert ok(binance_raw(v, "GET", "/api/v3/account", prefix=""))["accountType"] == "SPOT"
        refused(binance_raw(v, "GET", "/api/v3/account", prefix="", signature="1" * 64), 400, -1022)


def test_shapes_survive_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with make_venue(state_file=state) as v:
        placed = ok(oco(v, aboveType="TAKE_PROFIT_LIMIT", aboveStopPrice=price(v, 1.01), abovePrice=price(v, 1.02),
                        aboveTimeInForce="GTC"))
    with make_venue(state_file=state) as v:
        legs = ok(binance_raw(v, "GET", "/api/v3/allOrders", {"symbol": MARKET}))
        assert {o["orderId"]: o["type"] for o in legs} == {o["orderId"]: o["type"] for o in placed["orderReports"]}
        assert "TAKE_PROFIT_LIMIT" in {o["type"] for o in legs}
