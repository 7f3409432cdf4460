"""Error answers that carry no exchange code, and the ccxt class each one should raise. Each
venue's own codes (those ccxt 4.5.90 leaves as a bare ExchangeError or maps too loosely) are in
that venue's exchange module; the code and message stay in the text."""
from __future__ import annotations

from ccxt.base.errors import ExchangeNotAvailable, NetworkError, RateLimitExceeded


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
