"""Market rules and the bar fill rules of the simulator (pure functions, Decimal only).

The fill rules reproduce backtrader's BackBroker (module `backtrader.brokers.bbroker`, `_try_exec_market`,
`_try_exec_limit`, `_try_exec_stop`, `_try_exec_stoplimit`, with no slippage) so that a paper run on
the simulator and a backtest on the same bars give the same fill prices on the same bars.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from bracket_plugin.bars import Bar
from bracket_plugin.venues import LAST

BUY, SELL = "buy", "sell"
UP, DOWN = "up", "down"
MAKER, TAKER = "maker", "taker"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What a market accepts: increments, minimums, fees. `fee_in`: the currency a fill's fee is
    charged in, 'quote' (KuCoin) or 'received' (the asset the fill brings in: the base on a buy,
    the quote on a sell; Crypto.com). `trigger_price`: 'last' or 'mark' (the engine's mark series,
    the trades' own prices where it has none)."""

    symbol: str  # 'ETH/BTC'
    base: str
    quote: str
    tick_size: Decimal  # price increment
    lot_size: Decimal  # amount increment (base)
    min_size: Decimal  # smallest amount (base)
    min_notional: Decimal  # smallest amount * price (quote)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    max_open_stops: int | None = None  # untriggered trigger orders per market (KuCoin: 20)
    fee_in: str = "quote"
    trigger_price: str = LAST  # what a trigger order watches: LAST (the trades) or MARK (Crypto.com)

    def fee_currency(self, side: str) -> str:
        """The currency a fill on `side` pays its fee in."""
        return self.base if self.fee_in == "received" and side == BUY else self.quote

    def fee_rate(self, liquidity: str) -> Decimal:
        return self.maker_fee if liquidity == MAKER else self.taker_fee

    @property
    def max_fee(self) -> Decimal:
        return max(self.maker_fee, self.taker_fee)


def split_symbol(symbol: str) -> tuple[str, str]:
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f"symbol must look like BASE/QUOTE, got {symbol!r}")
    return base, quote


def _pow10(exp: int) -> Decimal:
    return Decimal(1).scaleb(exp)


def default_rules(symbol: str, bars: list[Bar], maker_fee: Decimal | str = "0.001", taker_fee: Decimal | str = "0.001",
                  max_open_stops: int | None = None, fee_in: str = "quote", description: dict | None = None,
                  trigger_price: str = LAST) -> MarketRules:
    """Sensible rules for a market, scaled to its price level; `description` (a bar file's market
    description, markets.describe) overrides any of tick_size, lot_size, min_size, min_notional.

    The reference price p is the median close; with k = round(log10 p):
    tick = 10**(k-5), min notional = 10**(k-3) (quote), min size = 10**round(log10(min notional / p)),
    lot = min size / 10.  For ETH/BTC at ~0.1 this gives tick 0.000001, lot 0.0001, min size 0.001,
    min notional 0.0001 BTC, i.e. KuCoin's own ETH-BTC figures.
    """
    base, quote = split_symbol(symbol)
    p = sorted(b.close for b in bars)[len(bars) // 2]
    k = int(p.log10().to_integral_value())
    min_notional = _pow10(k - 3)
    min_size = _pow10(int((min_notional / p).log10().to_integral_value()))
    derived = dict(tick_size=_pow10(k - 5), lot_size=min_size / 10, min_size=min_size, min_notional=min_notional)
    return MarketRules(
        symbol=symbol, base=base, quote=quote, **dict(derived, **(description or {})),
        maker_fee=Decimal(str(maker_fee)), taker_fee=Decimal(str(taker_fee)), max_open_stops=max_open_stops,
        fee_in=fee_in, trigger_price=trigger_price,
    )


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def default_direction(side: str, role: str | None, trigger: Decimal, last: Decimal) -> str:
    """Which way the price must cross `trigger` to fire.

    Stop-loss legs fire against the position (sell: down, buy: up), take-profit legs with it
    (sell: up, buy: down).  A trigger without a role fires when the price moves through it from the
    side the market is on now; a trigger at the market falls back to the stop direction.
    """
    stop_dir = DOWN if side == SELL else UP
    if role == "stop_loss":
        return stop_dir
    if role == "take_profit":
        return UP if stop_dir == DOWN else DOWN
    if trigger < last:
        return DOWN
    if trigger > last:
        return UP
    return stop_dir


def trigger_on_wrong_side(direction: str, trigger: Decimal, reference: Decimal) -> bool:
    """A 'down' trigger must sit below the reference price, an 'up' trigger above it."""
    return trigger >= reference if direction == DOWN else trigger <= reference


@dataclass(frozen=True, slots=True)
class Match:
    """Outcome of trying one order against one bar."""

    triggered: bool = False  # a trigger order fired on this bar (stop-limit keeps resting as a limit)
    price: Decimal | None = None  # fill price, None when nothing fills
    liquidity: str = TAKER


NO_MATCH = Match()


def price_path(bar: Bar) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The prices a bar went through, in the order its fill rules assume: the open, then the
    extreme on the side the bar closed away from, then the other extreme, then the close (a bar
    that closes up went down first: open, low, high, close; one that closes down: open, high,
    low, close). What a stream publishes inside a bar."""
    if bar.close >= bar.open:
        return bar.open, bar.low, bar.high, bar.close
    return bar.open, bar.high, bar.low, bar.close


def crossing(direction: str, trigger: Decimal, bar: Bar, tick: Decimal) -> Decimal | None:
    """Where the bar's trades first cross a level watched `direction` ('down': at or below it), or
    None if they do not: the open when the bar opened through it, else the first tick past it (the
    level rounded to the tick away from the bar's start), which a bar on the tick grid reaches."""
    if not _crossed_in_bar(direction, trigger, bar):
        return None
    if _crossed_at_open(direction, trigger, bar):
        return bar.open
    steps = trigger / tick
    steps = steps.to_integral_value(rounding=ROUND_CEILING if direction == UP else ROUND_FLOOR)
    return _within(steps * tick, bar)


def path_position(bar: Bar, price: Decimal, direction: str) -> tuple[int, Decimal]:
    """Sort key: when, on the bar's price path (price_path), the trades cross `price` moving
    `direction`: the segment, then the distance along it."""
    first = bar.low if bar.close >= bar.open else bar.high   # the extreme the path reaches first
    if (direction == DOWN) == (first == bar.low):
        return 0, abs(bar.open - price)
    return 1, abs(first - price)


def match_market(bar: Bar) -> Match:
    """Market orders fill at the open of the first bar after placement."""
    return Match(price=bar.open, liquidity=TAKER)


def match_limit(side: str, limit: Decimal, bar: Bar) -> Match:
    """A limit fills at the open if the open is already at or better than the limit (gap, taker),
    else at its own price if the bar reaches it (resting, maker)."""
    if side == BUY:
        if limit >= bar.open:
            return Match(price=bar.open, liquidity=TAKER)
        if limit >= bar.low:
            return Match(price=limit, liquidity=MAKER)
    else:
        if limit <= bar.open:
            return Match(price=bar.open, liquidity=TAKER)
        if limit <= bar.high:
            return Match(price=limit, liquidity=MAKER)
    return NO_MATCH


def _crossed_at_open(direction: str, trigger: Decimal, bar: Bar) -> bool:
    return bar.open >= trigger if direction == UP else bar.open <= trigger


def _crossed_in_bar(direction: str, trigger: Decimal, bar: Bar) -> bool:
    return bar.high >= trigger if direction == UP else bar.low <= trigger


def _within(price: Decimal, bar: Bar) -> Decimal:
    """`price` held inside the bar's range: where a market order sent at that moment can trade."""
    return min(max(price, bar.low), bar.high)


def _watched(bar: Bar, mark: Bar | None) -> Bar | None:
    """The mark bar when it differs from the trades' prices, else None (the trades are watched)."""
    if mark is None or (mark.open, mark.high, mark.low, mark.close) == (bar.open, bar.high, bar.low, bar.close):
        return None
    return mark


def match_stop(direction: str, trigger: Decimal, bar: Bar, mark: Bar | None = None) -> Match:
    """A stop (market after trigger) fills at the open if the open is through the trigger,
    else at the trigger if the bar reaches it; always taker.

    mark: the bar of a mark price series the trigger watches instead of the trades.  It fires when
    the mark crosses; the market order then trades on the trades' bar: at its open when the mark
    opened through the trigger, else at the trigger held inside the bar's range."""
    watch = _watched(bar, mark) or bar
    if _crossed_at_open(direction, trigger, watch):
        return Match(triggered=True, price=bar.open, liquidity=TAKER)
    if _crossed_in_bar(direction, trigger, watch):
        return Match(triggered=True, price=_within(trigger, bar), liquidity=TAKER)
    return NO_MATCH


def match_stop_limit(side: str, direction: str, trigger: Decimal, limit: Decimal, bar: Bar,
                     mark: Bar | None = None) -> Match:
    """A stop-limit not yet triggered (once triggered it is matched with `match_limit`).

    Gap through the trigger at the open: triggered, then tried as a limit on the same bar (so a gap
    through the limit waits).  Trigger reached inside the bar: BackBroker's own inference from the
    bar's shape (buy: `_try_exec_stoplimit` upper branch, sell: lower branch), taker at the trigger
    or, in one case, at the limit.  For the two combinations BackBroker has no order for (a buy
    trigger firing downwards, a sell trigger firing upwards: take-profit-limit legs) the
    conservative rule applies: fill at the trigger when the limit accepts it, else rest as a limit.

    mark: as in match_stop.  A mark crossing inside the bar says nothing of the trades' path, so
    the conservative rule applies there too, at the trigger held inside the trades' range.
    """
    watch = _watched(bar, mark)
    if _crossed_at_open(direction, trigger, watch or bar):
        m = match_limit(side, limit, bar)
        return Match(triggered=True, price=m.price, liquidity=m.liquidity)
    if not _crossed_in_bar(direction, trigger, watch or bar):
        return NO_MATCH
    if watch is not None:
        return _at_trigger(side, _within(trigger, bar), limit)
    if side == BUY and direction == UP:
        if bar.open > bar.close:
            if limit >= trigger:
                return Match(True, trigger, TAKER)
            if limit >= bar.close:
                return Match(True, limit, MAKER)
        elif limit >= trigger:
            return Match(True, trigger, TAKER)
        return Match(triggered=True)
    if side == SELL and direction == DOWN:
        if bar.open <= bar.close:
            if limit <= trigger:
                return Match(True, trigger, TAKER)
            if limit <= bar.close:
                return Match(True, limit, MAKER)
        elif limit <= trigger:
            return Match(True, trigger, TAKER)
        return Match(triggered=True)
    return _at_trigger(side, trigger, limit)


def _at_trigger(side: str, price: Decimal, limit: Decimal) -> Match:
    """Fired at `price`: filled there when the limit accepts it, else resting as a limit."""
    accepts = limit >= price if side == BUY else limit <= price
    return Match(True, price, TAKER) if accepts else Match(triggered=True)
