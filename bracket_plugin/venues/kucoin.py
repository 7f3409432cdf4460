"""KuCoin spot, as the package knows it (source: KuCoin's API documentation,
https://www.kucoin.com/docs-new: Authentication, Spot Trading (orders, stop orders, OCO orders),
Symbols, Errors)."""
from decimal import Decimal

from . import LAST, QUOTE, SimDefaults, VenueProfile

PROFILE = VenueProfile(
    id='kucoin',
    name='KuCoin',
    sync_class='bracket_plugin.exchanges:kucoin',
    async_class='bracket_plugin.async_support:kucoin',
    native=frozenset({'oco'}),                # POST /api/v3/oco/order; no OTO / OTOCO endpoint
    stop_leg_needs_limit=True,                # the OCO's stop leg is a stop-limit (`limitPrice` required)
    separate_trigger_orders=True,             # /api/v1/stop-order: its own reads and cancels
    single_trigger_role=None,                 # `stop` left out: the direction follows the market
    maker_fee=Decimal('0.001'),
    taker_fee=Decimal('0.001'),
    fee_currency=QUOTE,                       # fills carry feeCurrency = the quote by default
    trigger_price=LAST,                       # stops trigger on the last trade price
    list_client_id_max=40,
    key_env={'apiKey': 'BRACKET_KUCOIN_API_KEY', 'secret': 'BRACKET_KUCOIN_SECRET',
             'password': 'BRACKET_KUCOIN_PASSWORD'},
    sim=SimDefaults(
        dialect='bracket_plugin.sim.kucoin:KucoinDialect',
        credentials=('sim-kucoin-key', 'sim-kucoin-secret', 'sim-kucoin-passphrase'),
        id_base=0x5c35c02703aa673ceec20000, id_format='{:024x}',   # 24 hex digits, like KuCoin's ids
        max_open_stops=20,                    # untriggered stop orders per pair
        url_keys=('public', 'private', 'futuresPrivate', 'futuresPublic', 'webExchange', 'broker', 'earn',
                  'uta', 'utaV2', 'utaPrivate'),
    ),
    notes=(
        'an OCO is a limit leg and a stop-limit leg: a gap through the stop-limit leaves it resting',
        'an OCO whose levels the market has crossed is refused ("price not in the given range")',
        'no native OTO / OTOCO: brackets are managed (entry, then an OCO of the exits)',
    ),
)
