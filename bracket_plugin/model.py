"""Order-list vocabulary shared by the exchange layer and its callers.

An ORDER LIST is the unified dict every OCO / OTO / OTOCO method returns:

    {'id', 'clientOrderId', 'symbol', 'type', 'status', 'orders', 'timestamp', 'datetime', 'info'}

`orders` holds ccxt unified order dicts, one per leg, each with an extra key `role`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# list kinds
OCO = 'oco'
OTO = 'oto'
OTOCO = 'otoco'
LIST_KINDS = (OCO, OTO, OTOCO)

# leg roles. For an OCO the plain limit leg is 'take_profit' and the trigger leg 'stop_loss',
# whatever the side (a buy OCO's trigger leg is a breakout entry, still called 'stop_loss').
ENTRY = 'entry'
TAKE_PROFIT = 'take_profit'
STOP_LOSS = 'stop_loss'
ROLES = (ENTRY, TAKE_PROFIT, STOP_LOSS)

# list statuses (ccxt order status words)
OPEN = 'open'
CLOSED = 'closed'
CANCELED = 'canceled'
REJECTED = 'rejected'
STATUSES = (OPEN, CLOSED, CANCELED, REJECTED)

# entry types accepted in params['entryType']
ENTRY_LIMIT = 'limit'
ENTRY_MARKET = 'market'


@dataclass(frozen=True)
class Violation:
    """One broken input rule. `error` names the ccxt exception class to raise."""
    field: str
    rule: str
    error: str = 'InvalidOrder'

    def __str__(self) -> str:
        return f'{self.field}: {self.rule}'


def order_list(*, id: str | None, client_order_id: str | None, symbol: str | None, kind: str,
               status: str | None, orders: list[dict], timestamp: int | None, datetime: str | None,
               info: Any) -> dict:
    """The unified order-list dict (keys fixed by the contract)."""
    return {
        'id': id,
        'clientOrderId': client_order_id,
        'symbol': symbol,
        'type': kind,
        'status': status,
        'orders': orders,
        'timestamp': timestamp,
        'datetime': datetime,
        'info': info,
    }


def list_status(leg_statuses: list[str | None], exit_filled: bool) -> str | None:
    """List status from unified leg statuses.

    open while any leg is open; closed once an exit leg (any leg of an OCO) has filled;
    rejected when every leg was rejected; canceled otherwise (canceled / expired legs)."""
    if not leg_statuses:
        return None
    if any(s == OPEN for s in leg_statuses):
        return OPEN
    if exit_filled:
        return CLOSED
    if all(s == REJECTED for s in leg_statuses):
        return REJECTED
    return CANCELED
