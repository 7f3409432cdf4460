"""The README's first strategy, as a newcomer copies it: its Python block saved as `first.py`, then
its commands (all but the live one, which needs keys and an exchange) run as written, with the
`bracket-plugin` command of this environment, in an empty folder."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "bracket-plugin"


def readme_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def first_strategy() -> str:
    found = [b for b in readme_blocks("python") if "class FirstBracket" in b]
    assert len(found) == 1, "the README must give the first strategy in one python block"
    return found[0]


def first_commands() -> list[list[str]]:
    """The README's commands on `first.py`, but `live` (a real exchange)."""
    lines = [line.strip() for b in readme_blocks("bash") for line in b.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith(".venv/bin/bracket-plugin") and "first.py" in line]
    return [c for c in commands if c[1] != "live"]


def test_the_readme_names_backtest_venue_backtest_and_compare_on_first_py():
    assert [c[1:3] for c in first_commands()] == [["backtest", "first.py"], ["backtest", "first.py"],
                                                  ["compare", "first.py"]]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_readme_first_strategy_runs_as_written(tmp_path):
    (tmp_path / "first.py").write_text(first_strategy())
    for i, command in enumerate(first_commands()):
        out = tmp_path / f"out{i}"
        run = subprocess.run([str(CLI), *command[1:], "--out", str(out)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=540)
        assert run.returncode == 0, f"{' '.join(command)} exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        files = {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}
        assert files, f"{' '.join(command)} wrote no trade file"
        for name, saved in files.items():
            assert saved["trades"], f"{' '.join(command)}: no trade in {name}"
