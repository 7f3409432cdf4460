"""Crypto.com Exchange spot, as the package knows it (source: the Crypto.com Exchange API v1
documentation, https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html: Digital Signature,
Reference and Market Data API (public/get-instruments carries each instrument's minimums), Trading
API, Advanced Order Management API, Response and Reason Codes)."""
from decimal import Decimal

from . import MARK, RECEIVED, SimDefaults, VenueProfile

PROFILE = VenueProfile(
    id='cryptocom',
    name='Crypto.com',
    sync_class='bracket_plugin.exchanges:cryptocom',
    async_class='bracket_plugin.async_support:cryptocom',
    native=frozenset({'oco', 'oto', 'otoco'}),   # private/advanced/create-oco, -oto, -otoco
    stop_leg_needs_limit=False,
    separate_trigger_orders=False,
    single_trigger_role='stop_loss',          # a single trigger order is sent as STOP_LOSS / STOP_LIMIT
    maker_fee=Decimal('0.00075'),
    taker_fee=Decimal('0.00075'),
    fee_currency=RECEIVED,                   # a buy pays in the base (recorded fill: fee_instrument_name)
    trigger_price=MARK,                       # triggers watch the mark price
    list_client_id_max=34,                    # 36 with the 2-character leg suffix
    key_env={'apiKey': 'BRACKET_CRYPTOCOM_API_KEY', 'secret': 'BRACKET_CRYPTOCOM_SECRET'},
    sim=SimDefaults(
        dialect='bracket_plugin.sim.cryptocom:CryptocomDialect',
        credentials=('sim-cryptocom-key', 'sim-cryptocom-secret'),
        id_base=6_540_219_377_766_000_000,    # numeric strings, like Crypto.com's order ids
        url_keys=('base',),
        url_paths={'v1': '/exchange/v1', 'v2': '/v2', 'derivatives': '/v2'},
    ),
    notes=(
        'triggers fire on the mark price (the simulator watches a mark series given with mark_data, else the last price)',
        'a fill of either OCO leg, even partial, cancels the other',
    ),
)
