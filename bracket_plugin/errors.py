"""Exchange error answers that ccxt 4.5.90 leaves as a bare ExchangeError (or maps too loosely),
and the ccxt class each one should raise. The exchange's code and message stay in the text:
ccxt's handlers put the raw body in the exception message."""
from __future__ import annotations

from ccxt.base.errors import (BadRequest, BadSymbol, DuplicateOrderId, ExchangeNotAvailable, InsufficientFunds,
                              InvalidOrder, NetworkError, NotSupported, OperationRejected, OrderNotFound,
                              RateLimitExceeded)

# Crypto.com Exchange v1 `code` -> class; merged into describe()['exceptions']['exact'].
CRYPTOCOM_EXACT = {
    '140001': NotSupported,      # API_DISABLED: e.g. create-order-list with contingency OCO
    '50002': InvalidOrder,       # invalid price (advanced orders)
    '50007': InvalidOrder,       # INVALID_TRIGGER_PRICE: trigger on the wrong side of the reference price
    '50010': InvalidOrder,       # INVALID_ORDER_PARAMETERS: e.g. OTO exit on the same side as the entry
    '204': DuplicateOrderId,     # DUPLICATE_CLORDID
    '205': DuplicateOrderId,     # DUPLICATE_ORDERID
    '208': BadSymbol,            # instrument not tradable
    '209': BadSymbol,            # INVALID_INSTRUMENT_NAME
    '212': OrderNotFound,        # INVALID_ORDERID
    '229': InvalidOrder,         # INVALID_REF_PRICE
    '230': InvalidOrder,         # INVALID_REF_PRICE_TYPE
    '308': InvalidOrder,         # INVALID_PRICE
    '316': OrderNotFound,        # NO_ACTIVE_ORDER
}

# KuCoin `code` -> class, checked before ccxt's own tables.
KUCOIN_CODES = {
    '126044': DuplicateOrderId,  # clientOid duplicate (ccxt: InvalidOrder)
    '126033': DuplicateOrderId,  # Duplicate order (ccxt: InvalidOrder)
    '900001': BadSymbol,         # symbol does not exist
    '200001': OperationRejected,  # order creation suspended for the pair
    '200002': OperationRejected,  # order cancellation suspended for the pair
    '200003': InvalidOrder,      # open order count limit reached
}


def kucoin_error_class(code: str | None, msg: str | None):
    """The class for a KuCoin error answer, or None to leave it to ccxt.

    KuCoin answers most OCO mistakes with code 400100 and the reason in `msg`, which ccxt turns
    into a generic BadRequest; the message decides here."""
    if code in ('200000', '200', None):
        return None
    cls = KUCOIN_CODES.get(code)
    if cls is not None:
        return cls
    m = (msg or '').lower()
    if 'clientoid' in m and ('duplicat' in m or ('exist' in m and 'not exist' not in m)):
        return DuplicateOrderId
    if 'order' in m and ('not exist' in m or 'not_exist' in m or 'not found' in m):
        return OrderNotFound
    if 'below the minimum' in m or 'price not in the given range' in m:
        return InvalidOrder
    if m == 'account.available.amount':
        return InsufficientFunds
    if 'symbol' in m and ('not exist' in m or 'not_exist' in m):
        return BadSymbol
    if code == '400100' and 'parameter' in m:
        return BadRequest
    return None


def http_error_class(status: int | None, http_exceptions: dict):
    """The class for an HTTP error answer that carries no exchange code (a proxy's HTML 503 page, a
    bare 429), or None to leave the answer to ccxt.

    ccxt's Crypto.com handler turns any such answer into a bare ExchangeError before the HTTP status
    is looked at, and ccxt leaves 5xx statuses missing from its table (505, 507, ...) to a bare
    ExchangeError (sync) or a returned HTML string (async). 429 is RateLimitExceeded; a 5xx keeps
    ccxt's class when that is a network error (504 RequestTimeout), else ExchangeNotAvailable."""
    if status == 429:
        return RateLimitExceeded
    if status is None or status < 500:
        return None
    cls = http_exceptions.get(str(status))
    return cls if cls is not None and issubclass(cls, NetworkError) else ExchangeNotAvailable
