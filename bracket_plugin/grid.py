"""A sweep's grid (pure): parameter values from ranges and lists, the combinations in a fixed
order, and the key that names one finished combination in the cache."""
from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal, InvalidOperation

MAX_VALUES = 10_000     # values one range may give (a typo like 0:1:0.0000001 is refused, not run)


def parse_values(name: str, text: str) -> list:
    """`START:STOP:STEP` (STOP included when the steps reach it), `A,B,C`, or one value; numbers
    as int when they are whole and written so, else float, else the text itself. ValueError
    naming the parameter and the rule."""
    text = text.strip()
    if text.count(':') == 2:
        try:
            start, stop, step = (Decimal(p) for p in text.split(':'))
        except InvalidOperation:
            raise ValueError(f'--param {name}={text}: a range is START:STOP:STEP, three numbers') from None
        if step <= 0 or stop < start:
            raise ValueError(f'--param {name}={text}: a range needs STEP > 0 and STOP >= START')
        count = int((stop - start) / step) + 1
        if count > MAX_VALUES:
            raise ValueError(f'--param {name}={text}: {count} values, more than {MAX_VALUES}')
        whole = all('.' not in p and 'e' not in p.lower() for p in text.split(':'))
        return [int(start + i * step) if whole else float(start + i * step) for i in range(count)]
    values = [_value(v.strip()) for v in text.split(',')]
    if any(v == '' for v in values):
        raise ValueError(f'--param {name}={text}: an empty value (write A,B,C)')
    return values


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def combinations(params: dict[str, list]) -> list[dict]:
    """Every combination of the values, the first parameter varying slowest (a fixed order)."""
    names = list(params)
    for name, values in params.items():
        if not values:
            raise ValueError(f'param {name}: no values to sweep')
    return [dict(zip(names, combo)) for combo in itertools.product(*(params[n] for n in names))]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def combination_key(strategy: str, data: str, params: dict, run: dict) -> str:
    """The cache name of one combination: the strategy file's and the data's digests, the
    parameters and what else decides the result (`run`: venue, symbol, cash, commission)."""
    canonical = json.dumps({'strategy': strategy, 'data': data, 'params': params, 'run': run},
                           sort_keys=True, separators=(',', ':'), default=str)
    return digest(canonical.encode())[:32]
