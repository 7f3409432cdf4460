"""What the package knows of each venue, as data: one profile per venue and the registry.

The registry is the one place an exchange id is looked up. The planner, the store, the
simulator, the in-process venue backtest and the CLI ask a profile what they need to know
(`profile('kucoin').stop_leg_needs_limit`) instead of comparing ids. Adding a venue means adding
its files (exchange layer, simulator dialect, profile) and one line in `_MODULES`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from decimal import Decimal

# venue id -> module holding its PROFILE (imported on first use: profiles are plain data)
_MODULES = {
    'kucoin': 'bracket_plugin.venues.kucoin',
    'cryptocom': 'bracket_plugin.venues.cryptocom',
    'binance': 'bracket_plugin.venues.binance',
}

QUOTE, RECEIVED = 'quote', 'received'     # the currency a fill's fee is charged in
LAST, MARK = 'last', 'mark'               # the price a trigger order watches


@dataclass(frozen=True)
class SimDefaults:
    """How the simulator plays this venue: its dialect, test credentials, order ids and limits."""

    dialect: str                    # 'module:Class' of the HTTP dialect
    credentials: tuple              # (api key, secret[, passphrase]) the simulator accepts
    id_base: int                    # order ids are id_base + n ...
    id_format: str = '{:d}'         # ... written in this format
    max_open_stops: int | None = None
    url_keys: tuple = ()            # ccxt `urls['api']` keys pointed at the simulator's prefix
    url_paths: dict = field(default_factory=dict)   # other `urls['api']` keys -> path under the prefix


@dataclass(frozen=True)
class VenueProfile:
    id: str                          # the ccxt id
    name: str                        # as traders write it
    sync_class: str                  # 'module:attr' of the exchange class with the order-list methods
    async_class: str
    native: frozenset                # list kinds the venue places natively ('oco', 'oto', 'otoco')
    stop_leg_needs_limit: bool       # a native OCO's stop leg is always a stop-limit (KuCoin)
    separate_trigger_orders: bool    # untriggered stop orders are read and cancelled apart (KuCoin)
    single_trigger_role: str | None  # role a single trigger order is sent with (None: direction from the market)
    maker_fee: Decimal
    taker_fee: Decimal
    fee_currency: str                # QUOTE, or RECEIVED (the asset a fill brings in)
    trigger_price: str               # LAST or MARK: what a trigger order watches
    list_client_id_max: int          # longest client order id of a list
    key_env: dict                    # ccxt credential field -> environment variable
    sim: SimDefaults
    notes: tuple = ()                # rules worth telling a trader, one line each
    # entry kinds an OTO / OTOCO may start with ('limit', 'market'); others are managed
    native_entry_kinds: frozenset = frozenset({'limit', 'market'})

    def exchange_class(self, asynchronous: bool = False):
        module, _, attr = (self.async_class if asynchronous else self.sync_class).partition(':')
        return getattr(importlib.import_module(module), attr)

    def dialect_class(self):
        module, _, attr = self.sim.dialect.partition(':')
        return getattr(importlib.import_module(module), attr)

    def sim_order_id(self, kind: str, n: int) -> str:
        return self.sim.id_format.format(self.sim.id_base + n)

    def fee_rates(self) -> dict:
        return {'maker_fee': self.maker_fee, 'taker_fee': self.taker_fee, 'max_open_stops': self.sim.max_open_stops}


_LOADED: dict[str, VenueProfile] = {}


def ids() -> tuple[str, ...]:
    """The registered venue ids, in registry order."""
    return tuple(_MODULES)


def known(venue_id) -> bool:
    return venue_id in _MODULES


def profile(venue_id: str) -> VenueProfile:
    """The profile of a registered venue; ValueError naming the registered ones otherwise."""
    found = _LOADED.get(venue_id)
    if found is None:
        if venue_id not in _MODULES:
            raise ValueError(f'unknown venue {venue_id!r}: registered venues are {", ".join(_MODULES)}')
        found = _LOADED[venue_id] = importlib.import_module(_MODULES[venue_id]).PROFILE
    return found


def find(venue_id) -> VenueProfile | None:
    """The profile, or None for an exchange the package has no profile of (plain ccxt)."""
    return profile(venue_id) if venue_id in _MODULES else None


def profiles() -> list[VenueProfile]:
    return [profile(v) for v in _MODULES]


def names(conjunction: str = 'or') -> str:
    """The registered venues as traders write them: 'KuCoin, Crypto.com or Binance'."""
    *rest, last = [p.name for p in profiles()]
    return f'{", ".join(rest)} {conjunction} {last}' if rest else last
