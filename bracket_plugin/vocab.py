"""One vocabulary for every layer: list kinds, leg roles, leg kinds and statuses.

The exchange layer, the planner, the group state machine and the simulator's engine name these
things with the members below. They are `str` enums: a member equals its word ('oco' == ListKind.OCO),
so journals, state files and wire formats written before keep reading the same.
"""
from __future__ import annotations

from enum import StrEnum


class ListKind(StrEnum):
    """A linked order list: one-cancels-other, one-triggers-other, one-triggers-an-OCO."""
    OCO = 'oco'
    OTO = 'oto'
    OTOCO = 'otoco'


class GroupKind(StrEnum):
    """What a strategy's order group is: a list kind, or one order alone."""
    SINGLE = 'single'
    OCO = 'oco'
    OTO = 'oto'
    OTOCO = 'otoco'


class Role(StrEnum):
    """What a leg is for. In an OCO the plain limit leg is the take-profit, the trigger leg the
    stop-loss, whatever the side (a buy OCO's trigger leg is a breakout entry, still 'stop_loss')."""
    ENTRY = 'entry'
    TAKE_PROFIT = 'take_profit'
    STOP_LOSS = 'stop_loss'


class LegKind(StrEnum):
    """What the venue is asked for, per leg (the planner's words)."""
    MARKET = 'market'
    LIMIT = 'limit'
    STOP = 'stop'                # trigger, then market
    STOP_LIMIT = 'stop_limit'    # trigger, then a limit


class OrderType(StrEnum):
    """An order as the simulator's engine holds it (LegKind.STOP is a 'stop_market' there)."""
    LIMIT = 'limit'
    MARKET = 'market'
    STOP_MARKET = 'stop_market'
    STOP_LIMIT = 'stop_limit'


class ListStatus(StrEnum):
    """A list's or an order's status in ccxt's words (the exchange layer's answers)."""
    OPEN = 'open'
    CLOSED = 'closed'
    CANCELED = 'canceled'
    REJECTED = 'rejected'


class LegStatus(StrEnum):
    """A leg in the group state machine: waiting (only in our plan), inactive (on the venue, not
    live yet), open, and the three ends."""
    WAITING = 'waiting'
    INACTIVE = 'inactive'
    OPEN = 'open'
    FILLED = 'filled'
    CANCELED = 'canceled'
    REJECTED = 'rejected'


class VenueStatus(StrEnum):
    """An order in the simulator's engine: pending (a list exit waiting for its entry), open,
    triggered (a fired stop-limit resting as a limit), and the three ends."""
    PENDING = 'pending'
    OPEN = 'open'
    TRIGGERED = 'triggered'
    FILLED = 'filled'
    CANCELED = 'canceled'
    REJECTED = 'rejected'
