"""Every engine rejection reaches the client with the exchange's own code (raw HTTP, documented shapes)."""
from __future__ import annotations

import ccxt
import pytest

from simfixtures import SYMBOL, client, cryptocom_raw, kucoin_raw, venue  # noqa: F401  (fixture)


def ku_order(**kw):
    body = {"clientOid": kw.pop("clientOid", "cid-1"), "side": "buy", "symbol": "ETH-BTC", "type": "limit",
            "price": "0.05", "size": "1"}
    body.update(kw)
    return body


def ku(venue, method, endpoint, body=None):
    r = kucoin_raw(venue, method, endpoint, body)
    return r.status_code, r.json()["code"], r.json().get("msg"), r.json().get("data")


@pytest.mark.parametrize("body, status, code, msg", [
    (ku_order(size="1000"), 200, "200004", "Balance insufficient!"),
    (ku_order(size="0.0005"), 400, "400100", "Order size below the minimum requirement."),
    (ku_order(size="1.00005"), 400, "400100", "Order size increment invalid."),
    (ku_order(price="0.0500005"), 400, "400100", "Price increment invalid."),
    (ku_order(symbol="DOGE-BTC"), 400, "900001", "symbol not exists!"),
    (ku_order(clientOid="bad id!"), 400, "400100", None),
])
def test_kucoin_order_rejections(venue, body, status, code, msg):
    got = ku(venue, "POST", "/api/v1/orders", body)
    assert got[:2] == (status, code)
    if msg:
        assert got[2] == msg
    assert venue.engine_for("kucoin").orders() == []


def test_kucoin_duplicate_client_oid(venue):
    assert ku(venue, "POST", "/api/v1/orders", ku_order())[1] == "200000"
    assert ku(venue, "POST", "/api/v1/orders", ku_order())[:3] == (200, "126044", "clientOid duplicate")


def test_kucoin_second_order_on_held_funds_is_refused(venue):
    assert ku(venue, "POST", "/api/v1/orders", ku_order(clientOid="a", price="0.09", size="100"))[1] == "200000"
    assert ku(venue, "POST", "/api/v1/orders", ku_order(clientOid="b", price="0.09", size="20"))[1] == "200004"


def test_kucoin_twenty_stop_orders_per_pair(venue):
    for i in range(20):
        got = ku(venue, "POST", "/api/v1/stop-order", ku_order(clientOid=f"s{i}", side="sell", size="0.01",
                                                              price="0.05", stopPrice="0.05", stop="loss"))
        assert got[1] == "200000", got
    got = ku(venue, "POST", "/api/v1/stop-order", ku_order(clientOid="s20", side="sell", size="0.01", price="0.05",
                                                          stopPrice="0.05", stop="loss"))
    assert got[:2] == (200, "200003")


def test_kucoin_oco_rejections(venue):
    last = venue.engine_for("kucoin").last_price(SYMBOL)
    base = {"symbol": "ETH-BTC", "side": "sell", "size": "1", "clientOid": "oco-1"}
    # sell OCO: limit above, stop below; swapped is out of range
    bad = dict(base, price="0.08", stopPrice="0.12", limitPrice="0.119")
    assert ku(venue, "POST", "/api/v3/oco/order", bad)[:3] == (400, "400100", "price not in the given range!")
    # stop leg on the wrong side of the market
    above = str(round(last * 2, 6))
    wrong = dict(base, price=str(round(last * 3, 6)), stopPrice=above, limitPrice=above)
    assert ku(venue, "POST", "/api/v3/oco/order", wrong)[:2] == (400, "400100")
    assert ku(venue, "POST", "/api/v3/oco/order", dict(base, clientOid="x" * 41, price="0.2", stopPrice="0.05",
                                                      limitPrice="0.049"))[:2] == (400, "400100")
    assert ku(venue, "POST", "/api/v3/oco/order", dict(base, remark="r" * 21, price="0.2", stopPrice="0.05",
                                                      limitPrice="0.049"))[:2] == (400, "400100")
    ok = dict(base, price="0.2", stopPrice="0.05", limitPrice="0.049")
    assert ku(venue, "POST", "/api/v3/oco/order", ok)[1] == "200000"
    assert ku(venue, "POST", "/api/v3/oco/order", ok)[:2] == (200, "126044")


def test_kucoin_cancel_unknown(venue):
    got = ku(venue, "DELETE", "/api/v1/orders/5c35c02703aa673ceec2ffff")
    assert got[:3] == (400, "400100", "order_not_exist_or_not_allow_to_cancel")
    got = ku(venue, "DELETE", "/api/v3/oco/order/5c35c02703aa673ceec2ffff")
    assert got[:3] == (400, "400100", "order_not_exist_or_not_allow_to_cancel")


def test_kucoin_errors_map_in_ccxt(venue):
    ex = client(venue, "kucoin")
    ex.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "limit", "buy", 1000, 0.05)
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("5c35c02703aa673ceec2ffff", SYMBOL)
    with pytest.raises(ccxt.InvalidOrder):
        ex.private_post_orders({"clientOid": "z", "side": "buy", "symbol": "ETH-BTC", "type": "limit",
                                "price": "0.05", "size": "0.0005"})


def cdc(venue, method, params):
    r = cryptocom_raw(venue, method, params)
    return r.status_code, r.json()["code"], r.json().get("message"), r.json().get("result")


def leg(**kw):
    out = {"instrument_name": "ETH_BTC", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "0.05"}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


@pytest.mark.parametrize("params, code", [
    (leg(quantity="1000"), 306),
    (leg(quantity="0.0005"), 415),
    (leg(instrument_name="DOGE_BTC"), 209),
    (leg(price="0.0500005"), 308),
    (leg(type="ICEBERG"), 218),
    (leg(side="HOLD"), 220),
    (dict(leg(), quantity=1), 40004),  # numbers must travel as strings
    (leg(type="STOP_LOSS", side="SELL", price=None, ref_price="0.5"), 229),  # sell stop above the market
])
def test_cryptocom_order_rejections(venue, params, code):
    got = cdc(venue, "private/create-order", params)
    assert got[:2] == (400, code)
    assert venue.engine_for("cryptocom").orders() == []


def test_cryptocom_duplicate_client_oid_and_held_funds(venue):
    assert cdc(venue, "private/create-order", leg(client_oid="c1"))[1] == 0
    assert cdc(venue, "private/create-order", leg(client_oid="c1"))[:3] == (400, 204, "DUPLICATE_CLORDID")
    assert cdc(venue, "private/create-order", leg(client_oid="c2", quantity="100", price="0.09"))[1] == 0
    assert cdc(venue, "private/create-order", leg(client_oid="c3", quantity="20", price="0.09"))[1] == 306


def test_cryptocom_advanced_rejections(venue):
    last = venue.engine_for("cryptocom").last_price(SYMBOL)
    hi, lo = str(round(last * 2, 6)), str(round(last / 2, 6))
    # OCO sell: the stop leg above the market is on the wrong side
    oco = [leg(side="SELL", price=hi), leg(side="SELL", type="STOP_LOSS", price=None, ref_price=hi)]
    assert cdc(venue, "private/advanced/create-oco", {"order_list": oco})[:2] == (400, 50007)
    # two limit legs do not make an OCO
    assert cdc(venue, "private/advanced/create-oco", {"order_list": [leg(side="SELL", price=hi), leg(side="SELL", price=hi)]})[:2] == (400, 50010)
    # OTO exit on the same side as the entry
    oto = [leg(price=lo), leg(type="STOP_LOSS", price=None, ref_price=str(round(last / 3, 6)))]
    assert cdc(venue, "private/advanced/create-oto", {"order_list": oto})[:2] == (400, 50010)
    # OTO with a LIMIT second leg
    assert cdc(venue, "private/advanced/create-oto", {"order_list": [leg(price=lo), leg(side="SELL", price=hi)]})[:2] == (400, 40004)
    # OTOCO without a take-profit leg
    otoco = [leg(price=lo), leg(side="SELL", type="STOP_LOSS", price=None, ref_price=str(round(last / 3, 6))),
             leg(side="SELL", type="STOP_LIMIT", price=str(round(last / 3, 6)), ref_price=str(round(last / 3, 6)))]
    assert cdc(venue, "private/advanced/create-otoco", {"order_list": otoco})[:2] == (400, 50010)
    # OCO trigger with a price type other than the mark price
    oco = [leg(side="SELL", price=hi), leg(side="SELL", type="STOP_LOSS", price=None, ref_price=lo, ref_price_type="LAST_PRICE")]
    assert cdc(venue, "private/advanced/create-oco", {"order_list": oco})[:2] == (400, 230)
    assert venue.engine_for("cryptocom").orders() == []


def test_cryptocom_not_found_and_not_active(venue):
    assert cdc(venue, "private/get-order-detail", {"order_id": "123"})[:2] == (400, 212)
    assert cdc(venue, "private/advanced/cancel-oco", {"list_id": "123"})[:2] == (400, 212)
    oid = cdc(venue, "private/create-order", leg())[3]["order_id"]
    assert cdc(venue, "private/cancel-order", {"order_id": oid})[1] == 0
    assert cdc(venue, "private/cancel-order", {"order_id": oid})[:3] == (400, 316, "NO_ACTIVE_ORDER")
    assert cdc(venue, "private/no-such-method", {})[:2] == (400, 40002)


def test_cryptocom_errors_map_in_ccxt(venue):
    ex = client(venue, "cryptocom")
    ex.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "limit", "buy", 1000, 0.05)
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(SYMBOL, "limit", "buy", 0.0005, 0.05)


def test_kucoin_order_families_are_canceled_through_their_own_endpoints(venue):
    stop = ku(venue, "POST", "/api/v1/stop-order", ku_order(clientOid="st", side="sell", stopPrice="0.05", stop="loss"))[3]["orderId"]
    oco = ku(venue, "POST", "/api/v3/oco/order", {"symbol": "ETH-BTC", "side": "sell", "price": "0.2", "size": "1",
                                                   "stopPrice": "0.05", "limitPrice": "0.049", "clientOid": "oc"})[3]["orderId"]
    leg = ku(venue, "GET", f"/api/v3/oco/order/details/{oco}")[3]["orders"][0]["id"]
    # readable through the plain order endpoint, but not cancelable there
    assert ku(venue, "GET", f"/api/v1/orders/{stop}")[3]["status"] == "NEW"
    for oid in (stop, leg):
        assert ku(venue, "DELETE", f"/api/v1/orders/{oid}")[:3] == (400, "400100", "order_not_exist_or_not_allow_to_cancel")
    assert ku(venue, "DELETE", f"/api/v1/stop-order/{stop}")[3] == {"cancelledOrderIds": [stop]}
    assert len(ku(venue, "DELETE", f"/api/v3/oco/order/{oco}")[3]["cancelledOrderIds"]) == 2
