"""Why a BackBroker backtest and a venue run differ, trade by trade (pure).

`label(backtest, venue, info, profile)` pairs the two trade lists by entry time and names, for
each trade that is not equal, the venue rule that explains it. A difference no rule explains is
labelled UNEXPLAINED: a bug to look at, never a label to accept.

The rules (docs/broker.md, "Where BackBroker and the exchange differ"):
- TICK: the venue rounds prices to the market's tick; BackBroker fills at the price asked.
- LOT: the venue truncates amounts to the market's lot.
- MINIMUM: the venue refuses an order below its minimum amount or notional.
- CROSSED_OCO: exits placed after the market crossed a level go out as the orders they turn into
  (the venue refuses an OCO whose levels are crossed); on a bar touching both levels the resting
  take-profit fills where BackBroker's stop wins.
- STOP_LIMIT_GAP: the venue's OCO stop leg is a stop-limit (KuCoin): a gap through its limit
  leaves it resting where BackBroker's stop fills at the open.
- MANAGED_STOP: a stop watched by the broker (no native list) where the broker sees only closed
  bars (no stream, no replay pausing inside the bar) fires when its bar has closed and fills at the
  next bar's open. The venue backtest and paper runs pause inside the bar: no such difference.
- MARK_TRIGGER: the venue's triggers watch a mark price series that the trades' bars do not
  follow (Crypto.com, run with a mark series): an exit fires on another bar, or not at all.
- ACCOUNT: one side cannot afford what the other trades (BackBroker checks its own cash, the
  venue its balances): a trade only one side has, with nothing else to explain it.
- SHIFTED: an entry moved because the trade before it ended at another time.
"""
from __future__ import annotations

from bracket_plugin.venues import MARK

TICK, LOT, MINIMUM = 'tick rounding', 'lot rounding', 'minimum'
CROSSED_OCO, STOP_LIMIT_GAP, MANAGED_STOP = 'crossed OCO', 'stop-limit gap', 'managed stop'
MARK_TRIGGER, ACCOUNT, SHIFTED, UNEXPLAINED = 'mark trigger', 'account', 'shifted', 'unexplained'
RULES = (TICK, LOT, MINIMUM, CROSSED_OCO, STOP_LIMIT_GAP, MANAGED_STOP, MARK_TRIGGER, ACCOUNT, SHIFTED)

_PRICES = ('entry_price', 'exit_price')
_TIMES = ('entry_time', 'exit_time')


def pairs(backtest: list[dict], venue: list[dict]) -> list[tuple[dict | None, dict | None]]:
    """The two lists side by side, trades with the same entry time together, in time order."""
    by_time = {t['entry_time']: t for t in venue}
    seen: set = set()
    out: list[tuple[dict | None, dict | None]] = []
    for t in backtest:
        other = by_time.get(t['entry_time'])
        if other is not None:
            seen.add(t['entry_time'])
        out.append((t, other))
    out += [(None, t) for t in venue if t['entry_time'] not in seen]
    return sorted(out, key=lambda p: (p[0] or p[1] or {})['entry_time'])


def _close(a, b, step: float) -> bool:
    return a is not None and b is not None and abs(a - b) <= step * (1 + 1e-9)


def _rule(b: dict | None, v: dict | None, info, profile, managed: bool, shifted: bool, marks: bool) -> str:
    if b is None or v is None:
        t = b or v
        assert t is not None   # a pair has at least one side
        small = info is not None and (t['size'] < info.min_size or t['size'] * t['entry_price'] < info.min_notional)
        return MINIMUM if small and v is None else SHIFTED if shifted else ACCOUNT
    if (b['side'], b['entry_time']) != (v['side'], v['entry_time']):
        return UNEXPLAINED
    if b['size'] != v['size']:
        return LOT if info is not None and _close(b['size'], v['size'], info.lot_size) else UNEXPLAINED
    same_exit = (b['exit_time'], b['exit_reason']) == (v['exit_time'], v['exit_reason'])
    if same_exit:
        tick = info.tick_size if info is not None else 0.0
        return TICK if all(_close(b[k], v[k], tick) or b[k] == v[k] for k in _PRICES) else UNEXPLAINED
    if (b['exit_reason'], v['exit_reason']) == ('stop_loss', 'take_profit') and b['exit_time'] == v['exit_time']:
        return CROSSED_OCO
    if b['exit_reason'] == 'stop_loss' and (v['exit_time'] or '9') > (b['exit_time'] or ''):
        if managed:
            return MANAGED_STOP
        if profile is not None and profile.stop_leg_needs_limit:
            return STOP_LIMIT_GAP
    if marks and not managed and profile is not None and profile.trigger_price == MARK:
        return MARK_TRIGGER
    return UNEXPLAINED


def label(backtest: list[dict], venue: list[dict], info=None, profile=None, managed: bool = False,
          marks: bool = False) -> list[dict]:
    """[{'trade': i, 'rule': r, 'backtest': trade or None, 'venue': trade or None}] for each pair
    that differs (i counts the pairs from 0); `info`: the market's MarketInfo, `profile`: the
    venue's VenueProfile, `managed`: the run had its native lists switched off, `marks`: the
    venue ran with a mark price series."""
    out, shifted = [], False
    for i, (b, v) in enumerate(pairs(backtest, venue)):
        if b == v:
            shifted = False
            continue
        rule = _rule(b, v, info, profile, managed, shifted, marks)
        if b is not None and v is not None:
            # a trade that ends at another time can move the entries after it (until two pair again)
            shifted = b['exit_time'] != v['exit_time']
        out.append({'trade': i, 'rule': rule, 'backtest': b, 'venue': v})
    return out


def both_levels_touched(bracket: dict, bar) -> bool:
    """The bar reached both exit levels of a bracket (a run result's `brackets` row): where the
    order in which a broker tries the two legs decides how it ends."""
    tp, sl = bracket.get('take_profit'), bracket.get('stop_loss')
    if tp is None or sl is None:
        return False
    high, low = float(bar.high), float(bar.low)
    return high >= tp and low <= sl if bracket['side'] == 'long' else low <= tp and high >= sl


def counts(differences: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in differences:
        out[d['rule']] = out.get(d['rule'], 0) + 1
    return out
