"""Per-venue facts for the conformance suite (see tests/conformance.py), one module per venue."""
