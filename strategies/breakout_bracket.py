"""Breakout entry protected by a bracket (OTOCO on the exchange).

When the close breaks above the highest high of the last `lookback` bars, place a buy bracket:
a limit entry at the close, a stop-loss (Stop) below it and a take-profit (Limit) above it.
An entry still unfilled after `entry_bars` bars is cancelled, which cancels its exits too.
Only one bracket is live at a time. Plain backtrader: runs unchanged on BackBroker and live.
"""
import backtrader as bt

from bracket_plugin import market_info


class BreakoutBracket(bt.Strategy):
    params = (
        ("lookback", 96),        # bars in the breakout range (8 hours of 5-minute bars)
        ("size", 1.0),           # base currency (ETH)
        ("take_profit", 0.015),  # distance of the take-profit from the entry, as a fraction
        ("stop_loss", 0.010),    # distance of the stop-loss from the entry, as a fraction
        ("entry_bars", 3),       # bars an unfilled entry may wait before it is cancelled
        ("tick", None),          # price step; None: the market's own (bracket_plugin.market_info)
    )

    def __init__(self):
        self.range_high = bt.ind.Highest(self.data.high(-1), period=self.p.lookback)
        self.live = set()      # refs of this bracket's orders not yet finished
        self.entry = None
        self.entry_filled = False
        self.placed_at = 0

    def to_tick(self, price):
        if self.p.tick is not None:
            return round(round(price / self.p.tick) * self.p.tick, 12)
        return market_info(self.data).round_price(price)

    def notify_order(self, order):
        if order.status == order.Completed and self.entry is not None and order.ref == self.entry.ref:
            self.entry_filled = True
        if not order.alive():
            self.live.discard(order.ref)

    def next(self):
        if self.live:
            waited = len(self) - self.placed_at
            if not self.entry_filled and waited >= self.p.entry_bars and self.entry.ref in self.live:
                self.cancel(self.entry)
            return
        # flat: nothing but dust (less than a lot, what a fee charged in the base leaves)
        if not market_info(self.data).is_dust(self.position.size) or self.data.close[0] <= self.range_high[0]:
            return
        price = self.to_tick(self.data.close[0])
        orders = self.buy_bracket(
            size=self.p.size,
            exectype=bt.Order.Limit,
            price=price,
            stopprice=self.to_tick(price * (1 - self.p.stop_loss)),
            limitprice=self.to_tick(price * (1 + self.p.take_profit)),
        )
        self.entry = orders[0]
        self.entry_filled = False
        self.live = {o.ref for o in orders}
        self.placed_at = len(self)
