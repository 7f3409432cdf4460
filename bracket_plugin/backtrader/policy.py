"""One request policy for every venue call the store and the feed make.

Each call ends in one of three outcomes:

- DONE: the venue answered; the result is in hand.
- REFUSED: a definite answer that the venue did not (and will not) do it: a bad order, missing
  funds, an unknown order, a permission problem. A repeated refusal would be the same.
- UNKNOWN: anything else (timeout, reset, 5xx, 429, an answer ccxt could not read, a bug in a
  parser): the call may or may not have taken effect. An unknown outcome never ends a run; the
  caller settles it by reading the venue (a create by its client id, a cancel by the order).

Reads are repeated here a few times, with one bounded backoff (`Backoff`), because repeating a read
is always safe. Writes are sent once per call: the caller decides what to do after UNKNOWN.

A refused timestamp (ccxt's InvalidNonce: the local clock is off the venue's) is corrected once
per call with ccxt's own mechanism (`load_time_difference`, whose `timeDifference` the exchange
classes subtract from their nonce) and the call repeated; a refusal that survives the correction
is REFUSED with a message that says what to fix (so is one whose venue time cannot be read). The venue checks the timestamp before it looks
at the request, so repeating a create after InvalidNonce cannot place it twice.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ccxt

log = logging.getLogger('bracket_plugin.backtrader')

DONE, REFUSED, UNKNOWN = 'done', 'refused', 'unknown'

# definite answers: the venue looked at the request and said no
REFUSALS = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.BadSymbol, ccxt.NotSupported,
            ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended, ccxt.OperationRejected,
            ccxt.ArgumentsRequired)


class ClockError(ccxt.InvalidNonce):
    """The venue refuses our timestamps even after correcting for the measured difference."""


@dataclass(frozen=True)
class Outcome:
    kind: str                 # DONE | REFUSED | UNKNOWN
    result: Any = None        # the answer (DONE): a ccxt answer, untyped JSON
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.kind == DONE

    @property
    def refused(self) -> bool:
        return self.kind == REFUSED

    @property
    def unknown(self) -> bool:
        return self.kind == UNKNOWN

    def refused_as(self, cls) -> bool:
        return self.kind == REFUSED and isinstance(self.error, cls)


def classify(exc: BaseException) -> str:
    """REFUSED for a definite answer, UNKNOWN for everything else."""
    return REFUSED if isinstance(exc, REFUSALS) else UNKNOWN


@dataclass(frozen=True)
class Backoff:
    """Waits between tries: `base * 2**n`, at most `cap` each and `budget` in all for one call,
    so a failing venue holds the strategy's loop up for at most `budget` seconds a call."""
    base: float = 0.05
    cap: float = 1.0
    budget: float = 2.0

    def waits(self, attempts: int):
        spent = 0.0
        for n in range(attempts - 1):
            wait = min(self.base * 2 ** n, self.cap, self.budget - spent)
            if wait <= 0:
                return
            spent += wait
            yield wait

    def cycles(self, failures: int, cap: int = 16) -> int:
        """Cycles to skip before an unknown outcome is looked at again (1, 2, 4, ... up to `cap`)."""
        return min(2 ** max(failures - 1, 0), cap)


class Policy:
    """Runs exchange calls and classifies their outcomes. Counts every request it sends."""

    def __init__(self, exchange, attempts: int = 3, backoff: Backoff = Backoff()):
        self.exchange = exchange
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.calls: Counter = Counter()   # requests sent, by method name

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def _send(self, name: str, args: tuple):
        self.calls[name] += 1
        return getattr(self.exchange, name)(*args)

    def _once(self, name: str, args: tuple) -> Outcome:
        try:
            return Outcome(DONE, self._send(name, args))
        except ccxt.InvalidNonce as exc:
            return self._after_clock_refusal(name, args, exc)
        except Exception as exc:  # noqa: BLE001 - an unreadable answer is an unknown outcome, not a crash
            kind = classify(exc)
            if not isinstance(exc, ccxt.BaseError):
                log.exception('%s: unexpected %s, treated as an unknown outcome', name, type(exc).__name__)
            return Outcome(kind, error=exc)

    def _after_clock_refusal(self, name: str, args: tuple, exc: BaseException) -> Outcome:
        before = self.exchange.options.get('timeDifference', 0)
        try:
            self.calls['load_time_difference'] += 1
            diff = self.exchange.load_time_difference()
        except Exception as sync_exc:  # noqa: BLE001
            msg = (f'clock: {self.exchange.id} refuses the request timestamps and its time could not be read '
                   f'to correct them ({type(sync_exc).__name__}); set the system clock right (NTP): {exc}')
            log.error(msg)
            return Outcome(REFUSED, error=ClockError(msg))
        log.warning('%s: the venue refused our timestamp; local clock is %+d ms off the venue, corrected',
                    name, diff)
        try:
            return Outcome(DONE, self._send(name, args))
        except ccxt.InvalidNonce as again:
            msg = (f'clock: {self.exchange.id} refuses the request timestamps even after correcting by {diff} ms '
                   f'(was {before} ms); set the system clock right (NTP) and restart: {again}')
            log.error(msg)
            return Outcome(REFUSED, error=ClockError(msg))
        except Exception as other:  # noqa: BLE001
            return Outcome(classify(other), error=other)

    def write(self, name: str, *args) -> Outcome:
        """A call that changes the venue (create, cancel): sent once."""
        return self._once(name, args)

    def read(self, name: str, *args) -> Outcome:
        """A call that only reads: repeated on UNKNOWN, within the backoff's budget."""
        out = self._once(name, args)
        for wait in self.backoff.waits(self.attempts):
            if not out.unknown:
                break
            time.sleep(wait)
            out = self._once(name, args)
        return out
