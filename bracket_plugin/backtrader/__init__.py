"""backtrader integration: BracketStore (exchange, journal, polling), BracketBroker, live feed.

    store = BracketStore('kucoin', config, journal='bracket_journal.sqlite')
    cerebro.setbroker(store.getbroker())
    cerebro.adddata(store.getdata('ETH/BTC', timeframe=bt.TimeFrame.Minutes, compression=5))
"""
from .broker import BracketBroker
from .store import BracketStore

__all__ = ['BracketStore', 'BracketBroker']
