"""A logger for ccxt that never writes the exchange's credentials.

ccxt logs every request at DEBUG with its headers and body, which carry the API key (KuCoin's
KC-API-KEY header, Crypto.com's `api_key` field). An exchange instance of ours logs through this
wrapper instead, which masks its current credentials in the formatted message."""
from __future__ import annotations

import logging

MASK = '***'
CREDENTIAL_FIELDS = ('apiKey', 'secret', 'password', 'uid', 'privateKey', 'walletAddress', 'token')
_MIN_LEN = 4  # shorter values would mask ordinary text


class RedactingLogger:
    def __init__(self, logger: logging.Logger, exchange):
        self._logger = logger
        self._exchange = exchange   # read at log time: credentials may be set after construction

    def _secrets(self) -> list[str]:
        values = (getattr(self._exchange, f, None) for f in CREDENTIAL_FIELDS)
        return [v for v in values if isinstance(v, str) and len(v) >= _MIN_LEN]

    def log(self, level: int, msg, *args, **kwargs) -> None:
        if not self._logger.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        for secret in self._secrets():
            text = text.replace(secret, MASK)
        kwargs.setdefault('stacklevel', 2)
        self._logger.log(level, text, **kwargs)

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
