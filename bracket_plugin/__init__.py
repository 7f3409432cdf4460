"""bracket_plugin: OCO / OTO / OTOCO linked orders for ccxt, and a backtrader broker for them."""
from .exchanges import cryptocom, exchange, kucoin
from .markets import MarketInfo, market_info
from .model import CANCELED, CLOSED, ENTRY, OCO, OPEN, OTO, OTOCO, REJECTED, STOP_LOSS, TAKE_PROFIT, order_list


def __getattr__(name: str):
    # every registered venue's class by its id (bracket_plugin.binance), as for kucoin and cryptocom
    import importlib

    if name == 'sweep':    # imported on use: it brings pandas and Dask
        return importlib.import_module('bracket_plugin.sweeps').sweep
    venues = importlib.import_module('bracket_plugin.venues')   # not `from . import`: it would call this
    if venues.known(name):
        return venues.profile(name).exchange_class()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['kucoin', 'cryptocom', 'exchange',
           'OCO', 'OTO', 'OTOCO', 'ENTRY', 'TAKE_PROFIT', 'STOP_LOSS',
           'OPEN', 'CLOSED', 'CANCELED', 'REJECTED', 'order_list', 'MarketInfo', 'market_info', 'sweep']
