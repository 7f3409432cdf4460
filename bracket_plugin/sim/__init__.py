"""Loopback exchange simulator: KuCoin and Crypto.com REST dialects over a bar-replay engine."""
from bracket_plugin.sim.venue import Venue

__all__ = ["Venue"]
