"""The example strategies, shipped with the package so that `bracket-plugin demo` finds them.

The files here are links to the repository's `strategies/` directory (one source of truth).
Load one with `bracket_plugin.runs.load_strategy(example_path('breakout_bracket'))`.
"""
from importlib import resources
from pathlib import Path

NAMES = ("breakout_bracket", "oco_exit", "short_bracket")


def example_path(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"unknown example strategy {name!r}: choose one of {', '.join(NAMES)}")
    return Path(str(resources.files(__name__) / f"{name}.py"))
