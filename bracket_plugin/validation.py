"""Pure input checks for order lists: each returns a list of Violations, none does I/O.

`raise_for` turns violations into the ccxt exception of the first one, naming every broken rule,
so callers fail before a request is built."""
from __future__ import annotations

import re

import ccxt

from .model import OCO, OTO, OTOCO, ENTRY_LIMIT, ENTRY_MARKET, Violation

CLIENT_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]+')
REMARK_MAX = 20


def check_symbol(markets: dict | None, symbol) -> list[Violation]:
    if not isinstance(symbol, str) or not markets or symbol not in markets:
        return [Violation('symbol', f'{symbol!r} is not a market of this exchange', 'BadSymbol')]
    return []


def check_side(side) -> list[Violation]:
    if side not in ('buy', 'sell'):
        return [Violation('side', f"must be 'buy' or 'sell', got {side!r}")]
    return []


def check_positive(field: str, value, required: bool = True) -> list[Violation]:
    if value is None:
        return [Violation(field, 'is required', 'ArgumentsRequired')] if required else []
    try:
        ok = float(value) > 0
    except (TypeError, ValueError):
        return [Violation(field, f'must be a number, got {value!r}')]
    return [] if ok else [Violation(field, f'must be greater than 0, got {value!r}')]


def check_client_order_id(cid, max_len: int, field: str = 'params.clientOrderId',
                          charset: bool = True) -> list[Violation]:
    """Length, and with `charset` the [A-Za-z0-9_-] rule (KuCoin's, also applied to Crypto.com list
    ids; Crypto.com documents only the length for a single order's client_oid)."""
    if not isinstance(cid, str) or not cid:
        return [Violation(field, f'must be a non-empty string, got {cid!r}')]
    out = []
    if len(cid) > max_len:
        out.append(Violation(field, f'must be at most {max_len} characters, got {len(cid)}'))
    if charset and not CLIENT_ID_PATTERN.fullmatch(cid):
        out.append(Violation(field, 'may contain only letters, digits, "_" and "-"'))
    return out


def check_remark(remark, field: str = 'params.remark') -> list[Violation]:
    if remark is None:
        return []
    if not isinstance(remark, str) or not remark.isascii():
        return [Violation(field, 'must be ASCII text')]
    if len(remark) > REMARK_MAX:
        return [Violation(field, f'must be at most {REMARK_MAX} ASCII characters, got {len(remark)}')]
    return []


def check_entry_type(entry_type, price) -> list[Violation]:
    if entry_type not in (ENTRY_LIMIT, ENTRY_MARKET):
        return [Violation('params.entryType', f"must be 'limit' or 'market', got {entry_type!r}")]
    if entry_type == ENTRY_LIMIT and price is None:
        return [Violation('price', "is required for a limit entry (params.entryType 'limit')",
                          'ArgumentsRequired')]
    return []


def _below(lo_field, lo, hi_field, hi, why) -> list[Violation]:
    if lo is None or hi is None or float(lo) < float(hi):
        return []
    return [Violation(lo_field, f'must be below {hi_field} ({lo} >= {hi}) {why}')]


def check_ordering(kind: str, side: str, price=None, stop_price=None,
                   stop_loss_price=None, take_profit_price=None) -> list[Violation]:
    """Price order per side and list kind.

    OCO sell: stop_price < price (limit above the market, stop below); OCO buy: price < stop_price.
    OTO / OTOCO buy: stop_loss_price < price < take_profit_price; sell: the reverse.
    With a market entry (price None) only stop vs take-profit is checked."""
    if kind == OCO:
        if side == 'sell':
            return _below('stop_price', stop_price, 'price', price, 'for a sell OCO')
        return _below('price', price, 'stop_price', stop_price, 'for a buy OCO')
    why = f'for a {side} {kind.upper()}'
    out: list[Violation] = []
    if side == 'buy':
        out += _below('stop_loss_price', stop_loss_price, 'price', price, why)
        out += _below('price', price, 'take_profit_price', take_profit_price, why)
        if price is None:
            out += _below('stop_loss_price', stop_loss_price, 'take_profit_price', take_profit_price, why)
    else:
        out += _below('take_profit_price', take_profit_price, 'price', price, why)
        out += _below('price', price, 'stop_loss_price', stop_loss_price, why)
        if price is None:
            out += _below('take_profit_price', take_profit_price, 'stop_loss_price', stop_loss_price, why)
    return out


def check_one_exit(stop_loss_price, take_profit_price) -> list[Violation]:
    """An OTO has exactly one exit leg."""
    if (stop_loss_price is None) == (take_profit_price is None):
        return [Violation('stop_loss_price/take_profit_price',
                          'an OTO needs exactly one of them', 'ArgumentsRequired')]
    return []


def check_minimums(market: dict, amount, prices: dict) -> list[Violation]:
    """amount and amount*price against the market's minimums, for every priced leg.

    `amount` and `prices` ({field: price}) are the values after precision rounding."""
    limits = market.get('limits') or {}
    min_amount = (limits.get('amount') or {}).get('min')
    min_cost = (limits.get('cost') or {}).get('min')
    if min_amount is None and min_cost is None:
        return []
    amt = float(amount)
    out = []
    if min_amount is not None and amt < min_amount:
        out.append(Violation('amount', f'{amount} is below the market minimum amount {min_amount}'))
    if min_cost is not None:
        for field, p in prices.items():
            if p is not None and amt * float(p) < min_cost:
                out.append(Violation(f'amount * {field}', f'cost {amt * float(p):.12g} is below '
                                     f'the market minimum cost {min_cost}'))
    return out


def raise_for(exchange_id: str, violations: list[Violation]) -> None:
    """Raise the ccxt class of the first violation; the message lists them all."""
    if not violations:
        return
    cls = getattr(ccxt, violations[0].error)
    raise cls(f'{exchange_id} ' + '; '.join(str(v) for v in violations))


__all__ = ['check_symbol', 'check_side', 'check_positive', 'check_client_order_id', 'check_remark',
           'check_entry_type', 'check_ordering', 'check_one_exit', 'check_minimums', 'raise_for',
           'OCO', 'OTO', 'OTOCO']
