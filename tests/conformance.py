"""The conformance suite's view of the venues: the venue-generic tests (exchange-layer wire tests,
simulator dialect tests, broker tests, parity) run for every registered venue (`VENUES`), and
take what differs between venues from the venue's own facts module, `tests/venue_facts/<id>.py`:
the request paths its runs take, its recorded answers, its clock window. A new venue gets the
whole suite by being registered and writing its facts module."""
from __future__ import annotations

import importlib

from bracket_plugin import venues

VENUES = venues.ids()


def facts(venue_id: str):
    """The venue's test facts (tests/venue_facts/<id>.py)."""
    return importlib.import_module(f'venue_facts.{venue_id}')

# ccxt config switching a venue's native lists off: every group is managed by the broker
NO_LISTS = {'has': {'createOcoOrder': False, 'createOtoOrder': False, 'createOtocoOrder': False}}


def bracket_modes():
    """pytest params (venue, capabilities) for the ways a bracket runs: on each venue as it is
    (native lists where it has them), and managed (NO_LISTS) where it has a native OTOCO."""
    import pytest

    out = []
    for v in VENUES:
        out.append(pytest.param(v, None, id=v))
        if native_brackets(v):
            out.append(pytest.param(v, NO_LISTS, id=f'{v}-managed'))
    return out


def native_brackets(venue_id: str, caps: dict | None = None) -> bool:
    """Whether a bracket with a limit entry goes out as the venue's native OTOCO."""
    return caps is None and 'otoco' in venues.profile(venue_id).native
