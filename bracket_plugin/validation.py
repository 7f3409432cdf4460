"""Pure input checks for order lists: each returns a list of Violations, none does I/O.

`raise_for` turns violations into the ccxt exception of the first one, naming every broken rule,
so callers fail before a request is built."""
from __future__ import annotations

import math
import re
from decimal import Decimal

import ccxt

from .model import ENTRY_LIMIT, ENTRY_MARKET, OCO, OTO, OTOCO, Violation

CLIENT_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]+')
REMARK_MAX = 20

# plain decimal text; the exponent is bounded so that Decimal never leaves its range
NUMBER_TEXT = re.compile(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?')
# the largest amount or price is this many steps of the market's precision (its lot or tick): far
# beyond any real order, and well inside the 28 digits ccxt's Decimal-based precision helpers work in
MAX_STEPS = 10 ** 18
# params that carry a price (or, for `cost`, a quote amount): checked as numbers like the arguments
PRICE_PARAMS = frozenset(('stopLossLimitPrice', 'takeProfitLimitPrice', 'triggerPrice', 'stopPrice',
                          'stopLossPrice', 'takeProfitPrice', 'cost'))
SCALARS = (str, int, float, bool, type(None))


def check_symbol(markets: dict | None, symbol) -> list[Violation]:
    if not isinstance(symbol, str) or not markets or symbol not in markets:
        return [Violation('symbol', f'{_shown(symbol)} is not a market of this exchange', 'BadSymbol')]
    return []


def check_side(side) -> list[Violation]:
    if side not in ('buy', 'sell'):
        return [Violation('side', f"must be 'buy' or 'sell', got {_shown(side)}")]
    return []


def _exact(value) -> float | Decimal | None:
    """The exact value of a number: a float as it is (the common case, compared as fast floats), an
    int, Decimal or plain decimal text as a Decimal (no overflow); None for anything else, bools too."""
    if isinstance(value, float):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)) or (isinstance(value, str) and NUMBER_TEXT.fullmatch(value)):
        return Decimal(value)
    return None


def _shown(value) -> str:
    """repr() for a message, kept short (a 2**1024 amount would fill the screen)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f'an integer of {value.bit_length()} bits'
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + '...'


def check_positive(field: str, value, required: bool = True, step=None) -> list[Violation]:
    """A real number (int, float, Decimal or decimal text; not a bool), finite, > 0 and at most MAX_STEPS
    steps of `step`, the market's lot (amounts) or tick (prices)."""
    if value is None:
        return [Violation(field, 'is required', 'ArgumentsRequired')] if required else []
    exact = _exact(value)
    if exact is None:
        what = f'not a bool ({value})' if isinstance(value, bool) else f'got {_shown(value)}'
        return [Violation(field, f'must be a finite number, {what}')]
    if not (math.isfinite(exact) if isinstance(exact, float) else exact.is_finite()):
        return [Violation(field, f'must be finite, got {_shown(value)}')]
    if exact <= 0:
        return [Violation(field, f'must be greater than 0, got {_shown(value)}')]
    most = MAX_STEPS * (step or 1)   # Decimal compares exactly with a float
    if exact > most:
        return [Violation(field, f'must be at most {most:g} ({MAX_STEPS:.0e} steps of the market precision '
                                 f'{step}), got {_shown(value)}')]
    return []


def check_price_params(params: dict, tick) -> list[Violation]:
    """The PRICE_PARAMS present in `params` (None means absent), as numbers at the market's tick."""
    return [bad for key, value in params.items() if key in PRICE_PARAMS and value is not None
            for bad in check_positive(f'params.{key}', value, step=tick)]


def check_params(params, nested: bool = False) -> list[Violation]:
    """`params` is a dict with string keys whose values are scalars (str, int, float, bool or None;
    floats finite, ints of 64 bits). `nested` also lets lists and dicts through (a JSON body ccxt
    encodes whole)."""
    if not isinstance(params, dict):
        return [Violation('params', f'must be a dict, got {type(params).__name__}', 'BadRequest')]
    out = []
    for key, value in params.items():
        if not isinstance(key, str):
            out.append(Violation('params', f'keys must be strings, got {_shown(key)}', 'BadRequest'))
        elif isinstance(value, float) and not math.isfinite(value):   # in a price param, an order value
            out.append(Violation(f'params.{key}', f'must be finite, got {value!r}',
                                 'InvalidOrder' if key in PRICE_PARAMS else 'BadRequest'))
        elif not (isinstance(value, SCALARS) or (nested and isinstance(value, (list, dict)))):
            out.append(Violation(f'params.{key}', 'must be a str, int, float, bool or None, '
                                 f'got {type(value).__name__}', 'BadRequest'))
        elif isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63:   # ccxt's JSON encoder stops there
            out.append(Violation(f'params.{key}', f'must fit in 64 bits, got {_shown(value)}', 'BadRequest'))
    return out


def check_not_replacing(extra: dict, request: dict) -> list[Violation]:
    """Extra params may add request fields, never replace the ones built (and checked) from the arguments."""
    return [Violation(f'params.{key}', 'would replace the request field built from the arguments', 'BadRequest')
            for key in extra if key in request]


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


__all__ = ['check_symbol', 'check_side', 'check_positive', 'check_price_params', 'check_params',
           'check_not_replacing', 'check_client_order_id', 'check_remark',
           'check_entry_type', 'check_ordering', 'check_one_exit', 'check_minimums', 'raise_for',
           'OCO', 'OTO', 'OTOCO']
