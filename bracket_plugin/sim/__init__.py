"""Loopback exchange simulator: the REST dialects of the registered venues over a bar-replay engine."""
from bracket_plugin.sim.venue import Venue

__all__ = ["Venue"]
