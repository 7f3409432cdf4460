"""Market entry, then an OCO exit that protects the position.

When the fast moving average crosses above the slow one, buy `size` at market. Once the buy has
filled, protect the position with a sell Stop below and a sell Limit above the price, linked with
`oco=` so that the fill of one cancels the other (an OCO on the exchange).
Plain backtrader: runs unchanged on BackBroker and live.
"""
import backtrader as bt

from bracket_plugin import market_info


class OcoExit(bt.Strategy):
    params = (
        ("fast", 24),            # bars in the fast moving average
        ("slow", 96),            # bars in the slow moving average
        ("size", 1.0),           # base currency (ETH)
        ("take_profit", 0.010),  # distance of the take-profit from the close, as a fraction
        ("stop_loss", 0.008),    # distance of the stop-loss from the close, as a fraction
        ("tick", None),          # price step; None: the market's own (bracket_plugin.market_info)
    )

    def __init__(self):
        fast = bt.ind.SMA(self.data.close, period=self.p.fast)
        slow = bt.ind.SMA(self.data.close, period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)
        self.live = set()  # refs of orders not yet finished

    def to_tick(self, price):
        if self.p.tick is not None:
            return round(round(price / self.p.tick) * self.p.tick, 12)
        return market_info(self.data).round_price(price)

    def notify_order(self, order):
        if not order.alive():
            self.live.discard(order.ref)

    def next(self):
        if self.live:
            return
        close = self.data.close[0]
        # what can be sold: the position down to the market's lot (a fee charged in the base leaves
        # less than was bought, and dust after the exit); below the minimum amount it is only dust
        info = market_info(self.data)
        held = info.floor_amount(self.position.size) if self.position.size > 0 else 0.0
        if held >= info.min_size:
            # Levels from the current close, so the stop is always below the market when placed.
            stop = self.sell(size=held, exectype=bt.Order.Stop,
                             price=self.to_tick(close * (1 - self.p.stop_loss)))
            take = self.sell(size=held, exectype=bt.Order.Limit,
                             price=self.to_tick(close * (1 + self.p.take_profit)), oco=stop)
            self.live = {stop.ref, take.ref}
        elif self.cross[0] > 0:
            self.live = {self.buy(size=self.p.size).ref}
