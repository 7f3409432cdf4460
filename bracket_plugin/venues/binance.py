"""Binance spot, as the package knows it (sources: Binance's public spot API documentation,
https://github.com/binance/binance-spot-api-docs: rest-api.md, filters.md, errors.md, enums.md, and the OPO FAQ,
https://github.com/binance/binance-spot-api-docs/blob/master/faqs/opo.md)."""
from decimal import Decimal

from . import LAST, RECEIVED, SimDefaults, VenueProfile

PROFILE = VenueProfile(
    id='binance',
    name='Binance',
    sync_class='bracket_plugin.exchanges.binance:binance',
    async_class='bracket_plugin.exchanges.binance:binance_async',
    native=frozenset({'oco', 'oto', 'otoco'}),   # POST /api/v3/orderList/oco, /oto, /otoco
    native_entry_kinds=frozenset({'limit'}),  # an OTO / OTOCO working leg is LIMIT or LIMIT_MAKER
    stop_leg_needs_limit=False,               # STOP_LOSS (market) or STOP_LOSS_LIMIT
    separate_trigger_orders=False,            # openOrders and order read every order type
    single_trigger_role='stop_loss',          # a single trigger order is STOP_LOSS / STOP_LOSS_LIMIT
    maker_fee=Decimal('0.001'),
    taker_fee=Decimal('0.001'),
    fee_currency=RECEIVED,                    # commissionAsset = the asset received (unless paid in BNB)
    trigger_price=LAST,                       # stops trigger on the last trade price
    list_client_id_max=34,                    # 36 ([.A-Z:/a-z0-9_-]) with the 2-character leg suffix
    key_env={'apiKey': 'BRACKET_BINANCE_API_KEY', 'secret': 'BRACKET_BINANCE_SECRET'},
    sim=SimDefaults(
        dialect='bracket_plugin.sim.binance:BinanceDialect',
        credentials=('sim-binance-key', 'sim-binance-secret'),
        id_base=1_000_000,                    # orderId and orderListId are integers
        url_paths={'public': '/api/v3', 'private': '/api/v3', 'v1': '/api/v1',
                   'sapi': '/sapi/v1', 'sapiV2': '/sapi/v2', 'sapiV3': '/sapi/v3', 'sapiV4': '/sapi/v4',
                   'dapiPublic': '/dapi/v1', 'dapiPrivate': '/dapi/v1', 'dapiPrivateV2': '/dapi/v2',
                   'dapiData': '/futures/data', 'eapiPublic': '/eapi/v1', 'eapiPrivate': '/eapi/v1',
                   'fapiPublic': '/fapi/v1', 'fapiPublicV2': '/fapi/v2', 'fapiPublicV3': '/fapi/v3',
                   'fapiPrivate': '/fapi/v1', 'fapiPrivateV2': '/fapi/v2', 'fapiPrivateV3': '/fapi/v3',
                   'fapiData': '/futures/data', 'papi': '/papi/v1', 'papiV2': '/papi/v2'},
    ),
    notes=(
        'an OCO is an above leg and a below leg (sell: LIMIT_MAKER above, STOP_LOSS below); '
        'sell needs limit price > last > stop price, buy the reverse',
        'an OTO / OTOCO working leg is a limit: brackets with a market entry are managed',
        'fees are charged in the asset received: exits are sized net of the entry\'s fee',
    ),
)
