"""The README's demo command, end to end, in a fresh virtual environment on a copy of the repository."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_demo_command() -> str:
    """The one line the README gives for a fresh machine: set up and run the demo."""
    readme = (ROOT / "README.md").read_text()
    found = [line.strip() for line in readme.splitlines() if "-m venv" in line and line.strip().endswith("bracket-plugin demo")]
    assert len(found) == 1, f"the README must give exactly one demo command, found {found}"
    return found[0]


def copy_repository(dest: Path) -> None:
    """The files git would check out (tracked, plus new files not ignored), symlinks kept as links."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_readme_demo_command_in_a_fresh_venv(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    command = readme_demo_command()
    assert command.startswith("python3.11 -m venv ") and "bracket-plugin demo" in command
    command = command.replace("python3.11", f'"{sys.executable}"', 1)  # the interpreter running the tests
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, timeout=1400)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    # the demo's verdicts (this test is the one run of the demo command in the suite)
    assert "kucoin: identical" in done.stdout and "cryptocom: identical" in done.stdout
    assert "demo: identical" in done.stdout
    charts = re.findall(r"^chart: (.+\.png)$", done.stdout, re.M)
    assert charts
    for chart in charts:
        path = Path(chart) if Path(chart).is_absolute() else repo / chart
        assert path.read_bytes()[:4] == b"\x89PNG"
