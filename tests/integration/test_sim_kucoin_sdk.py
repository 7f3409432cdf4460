"""KuCoin's official Python SDK (kucoin-universal-sdk) against the simulator, changing only its
spot endpoint: it signs its own requests (its code, not ccxt's and not ours) and parses the answers
into its own models, so this checks the dialect from a second, independent client."""
from __future__ import annotations

import warnings
from decimal import Decimal

import pytest

from simfixtures import SYMBOL, venue  # noqa: F401  (fixture)

with warnings.catch_warnings():  # the SDK's models use pydantic v1-style Field extras; not ours to fix
    warnings.simplefilter("ignore", DeprecationWarning)
    from kucoin_universal_sdk.api.client import DefaultClient
    from kucoin_universal_sdk.generate.account.account.model_get_spot_account_list_req import (
        GetSpotAccountListReqBuilder,
    )
    from kucoin_universal_sdk.generate.spot.order.model_add_order_old_req import AddOrderOldReqBuilder
    from kucoin_universal_sdk.generate.spot.order.model_add_order_req import AddOrderReqBuilder
    from kucoin_universal_sdk.generate.spot.order.model_cancel_order_by_client_oid_req import (
        CancelOrderByClientOidReqBuilder,
    )
    from kucoin_universal_sdk.generate.spot.order.model_cancel_order_by_order_id_old_req import (
        CancelOrderByOrderIdOldReqBuilder,
    )
    from kucoin_universal_sdk.generate.spot.order.model_get_open_orders_req import GetOpenOrdersReqBuilder
    from kucoin_universal_sdk.generate.spot.order.model_get_order_by_order_id_old_req import (
        GetOrderByOrderIdOldReqBuilder,
    )
    from kucoin_universal_sdk.generate.spot.order.model_get_order_by_order_id_req import GetOrderByOrderIdReqBuilder
    from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
    from kucoin_universal_sdk.model.common import RestError
    from kucoin_universal_sdk.model.transport_option import TransportOptionBuilder
# the SDK's transport reads pydantic's model_fields from instances (deprecated in pydantic 2.11)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sdk_rest(venue, passphrase=None):
    creds = venue.credentials("kucoin")
    option = (ClientOptionBuilder().set_key(creds.api_key).set_secret(creds.secret)
              .set_passphrase(passphrase or creds.passphrase).set_spot_endpoint(venue.url + "/kucoin")
              .set_transport_option(TransportOptionBuilder().set_connect_timeout(5).set_read_timeout(5).set_max_retries(0).build()).build())
    return DefaultClient(option).rest_service()


def balances(rest) -> dict:
    accounts = rest.get_account_service().get_account_api().get_spot_account_list(
        GetSpotAccountListReqBuilder().set_type("trade").build()).data
    return {a.currency: (Decimal(a.balance), Decimal(a.available), Decimal(a.holds)) for a in accounts}


def test_official_sdk_accounts_limit_order_and_cancel(venue):
    rest = sdk_rest(venue)
    assert balances(rest) == {"ETH": (Decimal(100), Decimal(100), Decimal(0)), "BTC": (Decimal(10), Decimal(10), Decimal(0))}
    orders = rest.get_spot_service().get_order_api()
    placed = orders.add_order_old(AddOrderOldReqBuilder().set_client_oid("sdk-1").set_symbol("ETH-BTC").set_side("buy")
                                  .set_type("limit").set_price("0.05").set_size("2").build())
    assert venue.engine_for("kucoin").order(placed.order_id).client_id == "sdk-1"
    got = orders.get_order_by_order_id_old(GetOrderByOrderIdOldReqBuilder().set_order_id(placed.order_id).build())
    assert (got.client_oid, got.side, Decimal(got.price), Decimal(got.size), got.is_active) == (
        "sdk-1", "buy", Decimal("0.05"), Decimal(2), True)
    fee = venue.engine_for("kucoin").rules(SYMBOL).max_fee
    assert balances(rest)["BTC"][2] == Decimal("0.1") * (1 + fee)  # 2 ETH at 0.05 held, with the fee
    with pytest.raises(RestError) as exc:  # funds already held: KuCoin's own refusal, parsed by the SDK
        orders.add_order_old(AddOrderOldReqBuilder().set_client_oid("sdk-2").set_symbol("ETH-BTC").set_side("buy")
                             .set_type("limit").set_price("0.05").set_size("199").build())
    assert exc.value.get_common_response().code == "200004"
    canceled = orders.cancel_order_by_order_id_old(CancelOrderByOrderIdOldReqBuilder().set_order_id(placed.order_id).build())
    assert canceled.cancelled_order_ids == [placed.order_id]
    got = orders.get_order_by_order_id_old(GetOrderByOrderIdOldReqBuilder().set_order_id(placed.order_id).build())
    assert (got.is_active, got.cancel_exist) == (False, True)
    assert balances(rest)["BTC"] == (Decimal(10), Decimal(10), Decimal(0))


def test_official_sdk_hf_order_calls(venue):
    """The SDK's default spot order methods use KuCoin's HF paths (/api/v1/hf/orders...)."""
    rest = sdk_rest(venue)
    orders = rest.get_spot_service().get_order_api()
    placed = orders.add_order(AddOrderReqBuilder().set_client_oid("hf-1").set_symbol("ETH-BTC").set_side("sell")
                              .set_type("limit").set_price("0.3").set_size("3").build())
    assert placed.client_oid == "hf-1" and balances(rest)["ETH"] == (Decimal(100), Decimal(97), Decimal(3))
    get = lambda symbol="ETH-BTC": orders.get_order_by_order_id(  # noqa: E731
        GetOrderByOrderIdReqBuilder().set_order_id(placed.order_id).set_symbol(symbol).build())
    got = get()
    assert (got.client_oid, got.side.value, got.active, got.in_order_book, Decimal(got.remain_size)) == (
        "hf-1", "sell", True, True, Decimal(3))
    open_ = orders.get_open_orders(GetOpenOrdersReqBuilder().set_symbol("ETH-BTC").build()).data
    assert [o.id for o in open_] == [placed.order_id]
    with pytest.raises(RestError):  # HF calls name the symbol, and it must be the order's
        get("BTC-ETH")
    canceled = orders.cancel_order_by_client_oid(
        CancelOrderByClientOidReqBuilder().set_client_oid("hf-1").set_symbol("ETH-BTC").build())
    assert canceled.client_oid == "hf-1"
    got = get()
    assert (got.active, got.cancel_exist, Decimal(got.cancelled_size)) == (False, True, Decimal(3))
    assert balances(rest)["ETH"] == (Decimal(100), Decimal(100), Decimal(0))
    assert orders.get_open_orders(GetOpenOrdersReqBuilder().set_symbol("ETH-BTC").build()).data == []


def test_official_sdk_with_a_wrong_passphrase_is_refused(venue):
    with pytest.raises(RestError) as exc:
        balances(sdk_rest(venue, passphrase="not-the-passphrase"))
    assert "status code: 401" in str(exc.value) and '"400004"' in str(exc.value)  # KuCoin's bad passphrase
