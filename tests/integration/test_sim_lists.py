"""Order lists over HTTP: KuCoin OCO v3 and Crypto.com advanced OCO / OTO / OTOCO, with fills."""
from __future__ import annotations

from decimal import Decimal

import pytest

from simfixtures import START, SYMBOL, cdc_call, client, cryptocom_raw, venue  # noqa: F401  (fixture)


def first_bar(venue, pred) -> int:
    bars = venue.bars[SYMBOL]
    return next(i for i in range(START, len(bars)) if pred(bars[i]))


def test_kucoin_oco_stop_fills_and_cancels_the_limit(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    last = venue.engine_for("kucoin").last_price(SYMBOL)
    stop = (last * Decimal("0.99")).quantize(Decimal("0.000001"))
    k = first_bar(venue, lambda b: b.low <= stop)
    high = (last * 2).quantize(Decimal("0.000001"))
    floor = (stop * Decimal("0.9")).quantize(Decimal("0.000001"))  # low enough to fill on the trigger bar
    req = {"symbol": "ETH-BTC", "side": "sell", "price": str(high), "size": "1", "stopPrice": str(stop),
           "limitPrice": str(floor), "clientOid": "oco-a", "remark": "test"}
    oid = ex.private_post_oco_order(req)["data"]["orderId"]
    d = ex.private_get_oco_order_details_orderid({"orderId": oid})["data"]
    assert (d["orderId"], d["clientOid"], d["status"]) == (oid, "oco-a", "NEW")
    legs = d["orders"]
    assert [(leg["side"], Decimal(leg["price"]), leg["status"]) for leg in legs] == [
        ("sell", high, "NEW"), ("sell", floor, "NEW")]
    assert Decimal(legs[0]["stopPrice"]) == Decimal(legs[0]["price"]) and Decimal(legs[1]["stopPrice"]) == stop
    assert ex.private_get_oco_client_order_clientoid({"clientOid": "oco-a"})["data"]["orderId"] == oid
    assert ex.fetch_balance()["ETH"]["used"] == 1.0  # held once for both legs
    for _ in range(k - START + 1):
        venue.step()
    d = ex.private_get_oco_order_details_orderid({"orderId": oid})["data"]
    assert d["status"] == "DONE"
    assert [leg["status"] for leg in d["orders"]] == ["CANCELLED", "DONE"]
    trades = ex.fetch_my_trades(SYMBOL)
    assert [(t["order"], t["amount"]) for t in trades] == [(legs[1]["id"], 1.0)]
    assert ex.fetch_balance()["ETH"] == {"free": 99.0, "used": 0.0, "total": 99.0}
    page = ex.private_get_oco_orders({"symbol": "ETH-BTC", "pageSize": "10"})["data"]
    assert (page["totalNum"], page["items"][0]["orderId"]) == (1, oid)


def test_kucoin_oco_cancel_by_id_client_id_and_all(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    ids = []
    for i in range(3):
        req = {"symbol": "ETH-BTC", "side": "sell", "price": "0.2", "size": "1", "stopPrice": "0.05",
               "limitPrice": "0.049", "clientOid": f"o{i}"}
        ids.append(ex.private_post_oco_order(req)["data"]["orderId"])
    legs0 = [leg["id"] for leg in ex.private_get_oco_order_details_orderid({"orderId": ids[0]})["data"]["orders"]]
    assert ex.private_delete_oco_order_orderid({"orderId": ids[0]})["data"]["cancelledOrderIds"] == legs0
    assert len(ex.private_delete_oco_client_order_clientoid({"clientOid": "o1"})["data"]["cancelledOrderIds"]) == 2
    assert len(ex.private_delete_oco_orders({"symbol": "ETH-BTC"})["data"]["cancelledOrderIds"]) == 2
    statuses = [ex.private_get_oco_order_orderid({"orderId": i})["data"]["status"] for i in ids]
    assert statuses == ["CANCELLED"] * 3
    assert ex.fetch_balance()["ETH"]["used"] == 0


def test_cryptocom_oto_exit_goes_live_after_the_entry_fills(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    eng = venue.engine_for("cryptocom")
    last = eng.last_price(SYMBOL)
    stop = str((last * Decimal("0.5")).quantize(Decimal("0.000001")))
    legs = [{"instrument_name": "ETH_BTC", "side": "BUY", "type": "MARKET", "quantity": "1", "client_oid": "e1"},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "ref_price": stop,
             "client_oid": "s1"}]
    list_id = cdc_call(ex, "private/advanced/create-oto", {"order_list": legs})["result"]["list_id"]
    data = cdc_call(ex, "private/advanced/get-order-list-detail", {"list_id_list": [list_id]})["result"]["data"]
    assert [(x["order_type"], x["status"], x["leg_id"], x["contingency_type"]) for x in data] == [
        ("MARKET", "ACTIVE", 1, "OTO"), ("STOP_LOSS", "PENDING", 2, "OTO")]
    # advanced orders are not in the plain open-order list
    assert ex.fetch_open_orders(SYMBOL) == []
    assert len(cdc_call(ex, "private/advanced/get-open-orders", {})["result"]["data"]) == 2
    venue.step()
    data = cdc_call(ex, "private/advanced/get-order-list-detail", {"list_id_list": [list_id]})["result"]["data"]
    assert [x["status"] for x in data] == ["FILLED", "ACTIVE"]
    assert data[0]["avg_price"] == str(venue.bars[SYMBOL][START].open.normalize())
    detail = cdc_call(ex, "private/advanced/get-order-detail", {"client_oid": "s1"})["result"]
    assert (detail["list_id"], detail["status"]) == (list_id, "ACTIVE")
    cdc_call(ex, "private/advanced/cancel-oto", {"list_id": list_id})
    hist = cdc_call(ex, "private/advanced/get-order-history", {"instrument_name": "ETH_BTC", "limit": 10})["result"]["data"]
    assert sorted(x["status"] for x in hist) == ["CANCELED", "FILLED"]
    trades = ex.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [data[0]["order_id"]]


def test_cryptocom_otoco_take_profit_fills_and_stop_is_canceled(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    bars = venue.bars[SYMBOL]
    last = venue.engine_for("cryptocom").last_price(SYMBOL)
    # the entry is a market buy at the next open; take profit 0.5 % above it, stop far below
    entry_px = bars[START].open
    tp = (entry_px * Decimal("1.005")).quantize(Decimal("0.000001"))
    k = next(i for i in range(START + 1, len(bars)) if bars[i].high >= tp)
    sl = str((last * Decimal("0.5")).quantize(Decimal("0.000001")))
    legs = [{"instrument_name": "ETH_BTC", "side": "BUY", "type": "MARKET", "quantity": "2"},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LOSS", "quantity": "2", "ref_price": sl},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "TAKE_PROFIT_LIMIT", "quantity": "2",
             "price": str(tp), "ref_price": str(tp)}]
    list_id = cdc_call(ex, "private/advanced/create-otoco", {"order_list": legs})["result"]["list_id"]
    for _ in range(k - START + 2):
        venue.step()
    data = cdc_call(ex, "private/advanced/get-order-list-detail", {"list_id_list": [list_id]})["result"]["data"]
    assert [(x["order_type"], x["status"]) for x in data] == [
        ("MARKET", "FILLED"), ("STOP_LOSS", "CANCELED"), ("TAKE_PROFIT_LIMIT", "FILLED")]
    assert [t["side"] for t in ex.fetch_my_trades(SYMBOL)] == ["buy", "sell"]
    # the buy of 2 ETH paid its fee in ETH (0.075%: Crypto.com charges the asset received)
    assert ex.fetch_balance()["ETH"]["total"] == pytest.approx(100.0 - 2 * 0.00075)


def test_cryptocom_oco_cancel_all_advanced_leaves_plain_orders(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    plain = ex.create_order(SYMBOL, "limit", "sell", 1, 0.3)
    legs = [{"instrument_name": "ETH_BTC", "side": "SELL", "type": "LIMIT", "quantity": "1", "price": "0.2"},
            {"instrument_name": "ETH_BTC", "side": "SELL", "type": "STOP_LIMIT", "quantity": "1", "price": "0.049",
             "ref_price": "0.05", "ref_price_type": "MARK_PRICE"}]
    list_id = cdc_call(ex, "private/advanced/create-oco", {"order_list": legs})["result"]["list_id"]
    cdc_call(ex, "private/advanced/cancel-all-orders", {"instrument_name": "ETH_BTC", "type": "ALL"})
    assert venue.engine_for("cryptocom").get_list(list_id).status == "canceled"
    assert [o["id"] for o in ex.fetch_open_orders(SYMBOL)] == [plain["id"]]


def test_cryptocom_order_detail_by_client_oid_plain_and_advanced(venue):
    """get-order-detail takes client_oid in place of order_id (null or absent), on both families."""
    def call(method, params):
        r = cryptocom_raw(venue, method, params)
        return r.status_code, r.json()["code"], r.json().get("result")

    plain = {"instrument_name": "ETH_BTC", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "0.01"}
    plain_id = call("private/create-order", dict(plain, client_oid="plain-1"))[2]["order_id"]
    adv_id = call("private/advanced/create-order", dict(plain, price="0.02", client_oid="adv-1"))[2]["order_id"]
    for params in ({"client_oid": "plain-1"}, {"order_id": None, "client_oid": "plain-1"}):
        status, code, result = call("private/get-order-detail", params)
        assert (status, code, result["order_id"], result["client_oid"], result["limit_price"]) == (
            200, 0, plain_id, "plain-1", "0.01")
    status, code, result = call("private/advanced/get-order-detail", {"client_oid": "adv-1"})
    assert (status, code, result["order_id"], result["status"]) == (200, 0, adv_id, "ACTIVE")
    # each family sees only its own orders; an unknown client_oid is Crypto.com's unknown order
    assert call("private/get-order-detail", {"client_oid": "adv-1"})[:2] == (400, 212)
    assert call("private/advanced/get-order-detail", {"client_oid": "plain-1"})[:2] == (400, 212)
    assert call("private/get-order-detail", {"client_oid": "nobody"})[:2] == (400, 212)
    assert call("private/get-order-detail", {})[1] != 0
    # once filled or canceled, the client_oid still finds it
    call("private/cancel-order", {"client_oid": "plain-1"})
    assert call("private/get-order-detail", {"client_oid": "plain-1"})[2]["status"] == "CANCELED"
