"""The README's two commands: one demo line for a fresh machine, and the test command that CI runs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_test_command() -> str:
    """The one line the README gives to run the tests: it sets up, builds the docs and runs pytest."""
    readme = (ROOT / "README.md").read_text()
    found = [line.strip() for line in readme.splitlines() if line.startswith("python3.11 -m venv") and "pytest" in line]
    assert len(found) == 1, f"the README must give exactly one test command, found {found}"
    return found[0]


def test_ci_runs_exactly_the_readme_test_command():
    command = readme_test_command()
    script = (ROOT / ".ci" / "run").read_text()
    assert command in script.splitlines(), ".ci/run must run the README's test command unchanged"


def test_the_test_command_builds_the_docs_strictly_before_the_tests():
    command = readme_test_command()
    assert re.search(r"mkdocs build --strict\b.*&&.*-m pytest", command)
    assert (ROOT / "mkdocs.yml").is_file()


def test_the_test_command_runs_ruff_and_mypy_before_the_docs_and_tests():
    command = readme_test_command()
    assert re.search(r"ruff check bracket_plugin tests bench strategies &&.*mypy &&.*mkdocs build", command)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "[tool.ruff]" in pyproject and "[tool.mypy]" in pyproject


def test_getting_started_gives_the_same_test_command():
    page = (ROOT / "docs" / "getting-started.md").read_text()
    assert readme_test_command() in page.splitlines()


def test_every_venue_choice_the_docs_write_names_every_registered_venue():
    """`--exchange a|b|c` and `--venue a|b|c` in the README and docs list the registered venues (a
    venue added to the registry is added to the command reference too); `--venue sim|real` aside."""
    from bracket_plugin import venues

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    written = [(page.name, set(choice.split("|")) - {"none"})
               for page in pages for choice in re.findall(r"--(?:exchange|venue) ([a-z]+(?:\|[a-z]+)+)", page.read_text())]
    venue_lists = [(name, choices) for name, choices in written if choices != {"sim", "real"}]
    assert venue_lists, "the docs write no venue choice: the pattern is stale"
    assert [(name, choices) for name, choices in venue_lists if choices != set(venues.ids())] == []
