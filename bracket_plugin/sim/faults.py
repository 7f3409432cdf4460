"""Fault injection: rules matched against incoming requests, each firing a limited number of times.

Kinds:
- ``delay``: wait ``delay`` seconds before the request is read (a slow network on the way in),
  then process and answer it normally.  A client that gives up before then sends nothing more:
  the request is never processed.
- ``late``: read the request in full at once, wait ``delay`` seconds, then process it and answer.
  The processing goes on even if the client has given up (timed out, disconnected) meanwhile, so
  an order is placed after its client saw a timeout; the answer then goes nowhere.
- ``lose_response``: process the request at once (an order is created), withhold the answer
  ``delay`` seconds (0: none), then drop the connection without an answer: the client cannot
  tell whether it went through.
- ``http_5xx``: answer ``status`` (default 503) without processing.
- ``http_429``: answer 429 with a ``Retry-After: retry_after`` header and the exchange's
  rate-limit body, without processing.
- ``reset``: drop the connection before processing.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

KINDS = ("delay", "late", "lose_response", "http_5xx", "http_429", "reset")


@dataclass
class FaultRule:
    pattern: str
    kind: str
    count: int | None = 1  # None: fire on every match
    delay: float = 0.0
    status: int = 503
    retry_after: int = 1
    method: str | None = None
    fired: int = 0
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"fault count must be >= 1 or None (unlimited), got {self.count}")
        if self.kind == "http_5xx" and not 500 <= self.status <= 599:
            raise ValueError(f"fault status for http_5xx must be 500..599, got {self.status}")
        if self.delay < 0:
            raise ValueError(f"fault delay must be >= 0 seconds, got {self.delay}")
        self._regex = re.compile(self.pattern)
        self.method = self.method.upper() if self.method else None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and self._regex.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


class Faults:
    """Thread-safe rule list: tests add rules from their thread, the server consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, pattern: str, kind: str, count: int | None = 1, delay: float = 0.0, status: int = 503,
            retry_after: int = 1, method: str | None = None) -> FaultRule:
        """`pattern` is a regex searched in the request path (e.g. r'/kucoin/api/v3/oco/order$')."""
        rule = FaultRule(pattern, kind, count, delay, status, retry_after, method)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first live rule matching this request, counted as fired; None if none matches."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path):
                    rule.fired += 1
                    return rule
            return None
