"""bracket_plugin: OCO / OTO / OTOCO linked orders for ccxt, and a backtrader broker for them."""
from .exchanges import cryptocom, exchange, kucoin
from .markets import MarketInfo, market_info
from .model import (CANCELED, CLOSED, ENTRY, OCO, OPEN, OTO, OTOCO, REJECTED, STOP_LOSS, TAKE_PROFIT,
                    order_list)

__all__ = ['kucoin', 'cryptocom', 'exchange',
           'OCO', 'OTO', 'OTOCO', 'ENTRY', 'TAKE_PROFIT', 'STOP_LOSS',
           'OPEN', 'CLOSED', 'CANCELED', 'REJECTED', 'order_list', 'MarketInfo', 'market_info']
