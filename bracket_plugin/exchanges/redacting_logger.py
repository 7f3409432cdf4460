"""Credential masking for everything ccxt writes about a request.

ccxt logs every request at DEBUG with its headers and body, and with `verbose=True` prints them
(`Exchange.log`), which carry the API key (KuCoin's KC-API-KEY header, Crypto.com's `api_key`
field) and KuCoin's signed passphrase. An exchange instance of ours logs through `RedactingLogger`
and prints through `mask`, both masking its current credentials with `secrets_of`."""
from __future__ import annotations

import logging

MASK = '***'
CREDENTIAL_FIELDS = ('apiKey', 'secret', 'password', 'uid', 'privateKey', 'walletAddress', 'token')
_MIN_LEN = 4  # shorter values would mask ordinary text


def secrets_of(exchange) -> list[str]:
    """The exchange's current credentials, read at call time (they may be set after construction),
    plus what it derives from them and sends (`_derived_credentials()`: KuCoin's signed passphrase)."""
    values = [getattr(exchange, f, None) for f in CREDENTIAL_FIELDS]
    derived = getattr(exchange, '_derived_credentials', None)
    if derived is not None:
        values += derived()
    return [v for v in values if isinstance(v, str) and len(v) >= _MIN_LEN]


def mask(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by MASK (longest first, so no part of one survives another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactingLogger:
    def __init__(self, logger: logging.Logger, exchange):
        self._logger = logger
        self._exchange = exchange

    def log(self, level: int, msg, *args, **kwargs) -> None:
        if not self._logger.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.setdefault('stacklevel', 2)
        self._logger.log(level, mask(text, secrets_of(self._exchange)), **kwargs)

    def debug(self, msg, *args, **kwargs):
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.log(logging.WARNING, msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self.log(logging.ERROR, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:
        return self._logger.isEnabledFor(level)

    def __getattr__(self, name):   # anything else ccxt or a user asks of a logger
        return getattr(self._logger, name)
