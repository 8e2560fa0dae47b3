"""Every promise the README makes about a sync names the tests that prove it, in
tests/PROMISES.md, and those tests exist.

tests/PROMISES.md has a `## <README heading>` for each README section of promises; under
it every sentence of that section, word for word, as one `- ` line, each followed by the
tests that prove it as indented `- tests/<file>.py::test_<name>` lines. A promise added to
the README without its line here, or a test renamed, fails this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "tests" / "PROMISES.md"
TEST_ID = re.compile(r"^  - `?(tests/[\w/]+\.py)::(test_\w+)`?")


def _index() -> dict[str, dict[str, list[tuple[str, str]]]]:
    """{README heading: {promise: [(test file, test name), ...]}} as PROMISES.md lists them."""
    sections: dict[str, dict[str, list[tuple[str, str]]]] = {}
    promises: dict[str, list[tuple[str, str]]] = {}
    promise = ""
    for line in INDEX.read_text().splitlines():
        if line.startswith("## "):
            promises = sections.setdefault(line[3:].strip(), {})
        elif line.startswith("- "):
            promise = _words(line[2:])
            promises[promise] = []
        elif match := TEST_ID.match(line):
            promises[promise].append((match.group(1), match.group(2)))
    return sections


def _words(text: str) -> str:
    return " ".join(text.split())


def _readme_promises(heading: str) -> list[str]:
    """The sentences of the bullets of the README section under `### heading` (or `## heading`)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"^#{{2,3}} {re.escape(heading)}\n(.*?)(?=^#{{1,3}} )", readme, re.M | re.S)
    assert match, f"README.md has no section '{heading}'"
    bullets, current = [], None
    for line in match.group(1).splitlines():  # the promises are the section's bullets
        if line.startswith("- "):
            # Without its bold title when the title is a sentence of its own ("**No
            # duplicates.**"); a bold name that begins the sentence stays in it.
            current = [re.sub(r"^\*\*[^*]+\.\*\*", "", line[2:])]
            bullets.append(current)
        elif line.startswith("  ") and current is not None:
            current.append(line)
        else:
            current = None
    # Sentences end at . ! or ?, except the "." of the page name "Exchange Sync. Setup".
    split = re.compile(r"(?<=[.!?])(?<!Exchange Sync\.)\s+(?=[A-Z*`])")
    return [_words(s) for bullet in bullets for s in split.split(_words(" ".join(bullet))) if s]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_the_index_covers_the_guarantees_section():
    assert "What a sync guarantees" in _index()


def test_every_promise_in_the_readme_is_in_the_index_word_for_word():
    for heading, promises in _index().items():
        readme = _readme_promises(heading)
        assert [p for p in readme if p not in promises] == [], f"promises of '{heading}' missing in PROMISES.md"
        assert [p for p in promises if p not in readme] == [], f"PROMISES.md quotes what '{heading}' no longer says"


def test_every_promise_names_at_least_one_test():
    for heading, promises in _index().items():
        assert [p for p, tests in promises.items() if not tests] == [], heading


def test_every_named_test_exists():
    missing = []
    for promises in _index().values():
        for path, name in {test for tests in promises.values() for test in tests}:
            if not (ROOT / path).is_file() or name not in _test_names(ROOT / path):
                missing.append(f"{path}::{name}")
    assert sorted(missing) == []
