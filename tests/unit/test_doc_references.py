"""Every file the documentation and the package's source name exists in the repository.

The rule, kept simple:

- Scanned: every Markdown file of the repository (`*.md`: README, CHANGELOG, `docs/`) and every
  Python file under `bracket_plugin/` (its whole text: docstrings, comments and strings).
- URLs (`scheme://...`) are removed first: a page outside the repository is cited by its URL.
- A *repository path* is a token of at least two parts joined by `/` whose last part ends in a
  file extension (`.md`, `.py`, `.json`, `.csv`, `.toml`, `.yml`, `.yaml`, `.txt`, `.sh`), such
  as `docs/broker.md`, `bench/engine_ops.py`, `tests/unit/test_groups.py` or
  `bracket_plugin/sim/engine.py`. Names with a placeholder or a wildcard (`venues/<id>.py`,
  `test_broker_*.py`) and bare file names without a folder are not paths.
- A path is found if it exists relative to the repository's root, to `bracket_plugin/` (the
  package's modules name each other as `sim/faults.py`), or to the folder of the file naming it
  (relative links between doc pages).

A path found nowhere fails the test: name a page outside the repository by its URL, or state the
fact itself.
"""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
PATH = re.compile(r"(?<![\w./<>*-])((?:[\w.-]+/)+[\w.-]+\.(?:md|py|json|csv|toml|ya?ml|txt|sh))(?![\w/*<>.-])")


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def scanned_files() -> list[Path]:
    return [f for f in repository_files()
            if f.suffix == ".md" or (f.suffix == ".py" and f.relative_to(ROOT).parts[0] == "bracket_plugin")]


def named_paths(text: str) -> list[str]:
    return PATH.findall(URL.sub(" ", text))


def found(path: str, source: Path) -> bool:
    path = path.split("#")[0]
    return any((base / path).exists() for base in (ROOT, ROOT / "bracket_plugin", source.parent))


def test_the_rule_on_examples(tmp_path):
    assert named_paths("see docs/broker.md, bench/engine_ops.py and tests/unit/test_groups.py::test_x") == [
        "docs/broker.md", "bench/engine_ops.py", "tests/unit/test_groups.py"]
    assert named_paths("reference/exchange-api.md §1; faqs/opo.md") == ["reference/exchange-api.md", "faqs/opo.md"]
    assert named_paths("https://github.com/binance/binance-spot-api-docs/blob/master/faqs/opo.md") == []
    assert named_paths("venues/<id>.py, tests/integration/test_broker_*.py, rest-api.md, .venv/bin/python") == []
    assert found("sim/faults.py", ROOT / "README.md") and found("docs/index.md", ROOT / "README.md")
    assert not found("reference/venue-rules.md", ROOT / "README.md")


def test_every_named_path_exists_in_the_repository():
    missing = []
    for source in scanned_files():
        for path in named_paths(source.read_text(encoding="utf-8")):
            if not found(path, source):
                missing.append(f"{source.relative_to(ROOT)}: {path}")
    assert not missing, "paths named but not in the repository:\n" + "\n".join(missing)
