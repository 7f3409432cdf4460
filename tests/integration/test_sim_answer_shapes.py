"""The simulator's answers have the keys and value types of the real ones that ccxt records.

The real answers are in tests/fixtures/recorded/ (copied from ccxt's static test tables, which the
installed ccxt package does not ship; each file says where its entries come from). Each test makes
the same ccxt call that produced the recorded answer, against the simulator over real HTTP, and
compares the raw JSON it got back (ccxt's last_json_response) key by key and type by type.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bracket_plugin.sim.kucoin import KucoinDialect
from simfixtures import SYMBOL, client, cryptocom_raw, kucoin_raw, make_venue, venue  # noqa: F401

RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded"


def recorded(exchange_id: str) -> dict:
    return json.loads((RECORDED / f"{exchange_id}.json").read_text())["answers"]


def kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "dict"}[type(value)]


def shape_diff(sim, real, path: str = "$") -> list[str]:
    """Where `sim` differs from `real` in keys or value types; each item of a list is compared with
    the real list's first item."""
    if kind(sim) != kind(real):
        return [f"{path}: {kind(sim)} where the real answer has {kind(real)}"]
    out = []
    if isinstance(real, dict):
        out += [f"{path}.{k}: missing" for k in real if k not in sim]
        out += [f"{path}.{k}: extra" for k in sim if k not in real]
        for k in real:
            if k in sim:
                out += shape_diff(sim[k], real[k], f"{path}.{k}")
    elif isinstance(real, list) and real:
        if not sim:
            return [f"{path}: empty where the real answer has items"]
        for i, item in enumerate(sim):
            out += shape_diff(item, real[0], f"{path}[{i}]")
    return out


def test_shape_diff_reports_keys_and_types():
    real = {"a": "1", "b": [{"c": True}], "d": None}
    assert shape_diff({"a": "2", "b": [{"c": False}, {"c": True}], "d": None}, real) == []
    assert shape_diff({"a": 1, "b": [{"c": True, "x": 0}], "e": 1}, real) == [
        "$.d: missing", "$.e: extra", "$.a: int where the real answer has str", "$.b[0].x: extra"]
    assert shape_diff({"a": "1", "b": [], "d": None}, real) == ["$.b: empty where the real answer has items"]


# ---------------------------------------------------------------------------------- Crypto.com

@pytest.fixture
def cdc(venue):  # noqa: F811
    ex = client(venue, "cryptocom", enableLastJsonResponse=True)
    ex.load_markets()
    return ex


def test_cryptocom_user_balance_has_the_real_fields_and_totals_from_the_balances(venue, cdc):  # noqa: F811
    open_order = cdc.create_order(SYMBOL, "limit", "buy", 2, 0.05)  # holds 0.1 BTC (its fee is paid in ETH)
    cdc.fetch_balance()
    answer = cdc.last_json_response
    assert shape_diff(answer, recorded("cryptocom")["fetchBalance"]) == []
    account = answer["result"]["data"][0]
    positions = {p["instrument_name"]: p for p in account["position_balances"]}
    assert sorted(positions) == ["BTC", "ETH"] and account["instrument_name"] == "BTC"  # valued in the quote
    last = venue.engine_for("cryptocom").last_price(SYMBOL)
    eth, btc = Decimal(positions["ETH"]["quantity"]), Decimal(positions["BTC"]["quantity"])
    assert Decimal(positions["ETH"]["market_value"]) == (eth * last).quantize(Decimal("1e-8"))
    assert Decimal(positions["BTC"]["market_value"]) == btc
    held = Decimal(positions["BTC"]["reserved_qty"])
    assert held == Decimal("0.1")
    assert Decimal(positions["BTC"]["max_withdrawal_balance"]) == btc - held
    cash = Decimal(positions["ETH"]["market_value"]) + btc
    assert Decimal(account["total_cash_balance"]) == Decimal(account["total_collateral_value"]) == cash > 0
    assert Decimal(account["total_margin_balance"]) == cash
    assert Decimal(account["total_initial_margin"]) == held  # what the open order holds
    assert Decimal(account["total_available_balance"]) == cash - held
    for p in positions.values():
        assert (p["haircut"], p["collateral_eligible"], p["collateral_amount"]) == ("0", True, p["market_value"])
    assert "collateral_weight" not in positions["ETH"]
    cdc.cancel_order(open_order["id"], SYMBOL)


def test_cryptocom_exchange_style_balance_access(venue):  # noqa: F811
    """The PyPI client `cryptocom-exchange` reads every position with [] (no .get): a missing
    collateral_eligible crashed it."""
    answer = cryptocom_raw(venue, "private/user-balance").json()
    balances = {}
    for position in answer["result"]["data"][0]["position_balances"]:
        balances[position["instrument_name"]] = (
            Decimal(position["quantity"]), Decimal(position["reserved_qty"]), Decimal(position["market_value"]),
            Decimal(position["collateral_amount"]), Decimal(position["haircut"]), position["collateral_eligible"],
            Decimal(position["max_withdrawal_balance"]))
    assert balances["ETH"][0] == 100 and balances["BTC"][0] == 10
    assert all(b[5] is True for b in balances.values())


def test_cryptocom_currency_networks_have_string_times_and_code(cdc):
    cdc.fetch_currencies()
    answer = cdc.last_json_response
    real = recorded("cryptocom")["fetchCurrencies"]
    currencies = answer["result"]["currency_map"]
    assert sorted(currencies) == ["BTC", "ETH"]
    for code, entry in currencies.items():
        one = dict(answer, result=dict(answer["result"], currency_map={"USDT": entry}))
        assert shape_diff(one, real) == [], code
        assert entry["network_list"][0]["network_id"] == entry["default_network"] == code
    assert answer["code"] == "0" and isinstance(answer["id"], str)


def test_cryptocom_envelope_echoes_a_numeric_id_as_a_number(venue, cdc):  # noqa: F811
    cdc.fetch_balance()
    sent = json.loads(cdc.last_request_body)
    assert isinstance(sent["id"], str) and sent["id"].isdigit()  # ccxt sends its nonce as a string
    assert cdc.last_json_response["id"] == int(sent["id"])
    for request_id, echoed in ((42, 42), ("17", 17), ("-3", -3), ("abc", "abc"), ("1" * 30, "1" * 30)):
        r = cryptocom_raw(venue, "private/get-open-orders", request_id=request_id)
        assert (r.status_code, r.json()["id"]) == (200, echoed), request_id
    r = cryptocom_raw(venue, "private/get-order-detail", {"order_id": "1"}, request_id="55")
    assert (r.status_code, r.json()["id"]) == (400, 55)  # errors too


def test_cryptocom_create_cancel_and_ticker_shapes(cdc):
    real = recorded("cryptocom")
    order = cdc.create_order(SYMBOL, "limit", "buy", 1, 0.05)
    assert shape_diff(cdc.last_json_response, real["createOrder"]) == []
    cdc.cancel_order(order["id"], SYMBOL)
    answer = cdc.last_json_response
    assert shape_diff(answer, real["cancelOrder"]) == []
    assert (answer["code"], answer["message"]) == (0, "NO_ERROR")
    cdc.fetch_ticker(SYMBOL)
    assert shape_diff(cdc.last_json_response, real["fetchTicker"]) == []


def test_cryptocom_filled_market_order_detail_and_history_shapes(venue, cdc):  # noqa: F811
    real = recorded("cryptocom")
    order = cdc.create_order(SYMBOL, "market", "buy", 1)
    venue.step()
    fetched = cdc.fetch_order(order["id"], SYMBOL)
    assert shape_diff(cdc.last_json_response, real["fetchOrder"]) == []
    assert fetched["status"] == "closed" and fetched["price"] == fetched["average"]  # as ccxt parses the real one
    cdc.fetch_orders(SYMBOL)
    assert shape_diff(cdc.last_json_response, real["fetchOrders"]) == []


def test_cryptocom_limit_orders_keep_their_limit_price(cdc):
    """The recorded MARKET order has no limit_price; limit orders carry it (ccxt reads it as the price)."""
    order = cdc.create_order(SYMBOL, "limit", "buy", 1, 0.05)
    fetched = cdc.fetch_order(order["id"], SYMBOL)
    assert cdc.last_json_response["result"]["limit_price"] == "0.05" and fetched["price"] == 0.05
    extra = shape_diff(cdc.last_json_response, recorded("cryptocom")["fetchOrder"])
    assert extra == ["$.result.limit_price: extra"]


# ---------------------------------------------------------------------------------- KuCoin

@pytest.fixture
def ku(venue):  # noqa: F811
    ex = client(venue, "kucoin", enableLastJsonResponse=True)
    ex.load_markets()
    return ex


def test_kucoin_symbols_have_the_call_auction_fields(ku):
    answer = ku.public_get_symbols()
    real = recorded("kucoin")["symbolsItem"]
    assert [shape_diff(item, real) for item in answer["data"]] == [[]]


def test_kucoin_currencies_differ_only_by_need_tag(ku):
    """`chains[].needTag` is not in ccxt's (older) recording but is in KuCoin's current API and in
    its official SDK's model, so the simulator keeps it."""
    answer = ku.public_get_currencies()
    for item in answer["data"]:
        assert shape_diff(item, recorded("kucoin")["currenciesItem"]) == ["$.chains[0].needTag: extra"]


def test_kucoin_stats_shape(ku):
    ku.fetch_ticker(SYMBOL)
    assert shape_diff(ku.last_json_response, recorded("kucoin")["fetchTicker"]) == []


def test_kucoin_filled_market_order_shapes(venue, ku):  # noqa: F811
    real = recorded("kucoin")
    order = ku.create_order(SYMBOL, "market", "buy", 1)
    venue.step()
    fetched = ku.fetch_order(order["id"], SYMBOL)
    assert shape_diff(ku.last_json_response, real["fetchOrder"]) == []
    assert fetched["status"] == "closed" and fetched["average"] == pytest.approx(fetched["cost"] / fetched["filled"])
    ku.fetch_closed_orders(SYMBOL)
    assert shape_diff(ku.last_json_response, real["fetchClosedOrders"]) == []


def test_kucoin_account_ids_are_24_hex_digits_per_currency(venue, ku):  # noqa: F811
    ku.fetch_balance()
    answer = ku.last_json_response
    assert shape_diff(answer, recorded("kucoin")["fetchBalance"]) == []
    ids = {a["currency"]: a["id"] for a in answer["data"]}
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids.values()) and len(set(ids.values())) == len(ids)
    assert ids == {c: KucoinDialect.account_id("trade", c) for c in ids}
    with make_venue() as other:  # the same ids on another run
        again = kucoin_raw(other, "GET", "/api/v1/accounts").json()["data"]
        assert {a["currency"]: a["id"] for a in again} == ids
