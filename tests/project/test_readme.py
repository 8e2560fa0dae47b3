"""The README's Layout section names files and folders that exist, where it says."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_entries() -> list[Path]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    entries, parents = [], []
    for line in block.splitlines()[1:]:  # the first line lists top-level files
        match = re.match(r"^( *)([\w.]+/|[\w.]+\.py)\s", line)
        if not match:
            continue  # a description carried over to the next line
        depth = len(match.group(1)) // 2
        parents = parents[:depth]
        path = ROOT.joinpath(*parents, match.group(2))
        entries.append(path)
        if match.group(2).endswith("/"):
            parents.append(match.group(2).rstrip("/"))
    return entries


def test_the_layout_names_paths_that_exist():
    entries = _layout_entries()
    assert ROOT / "exchange_sync" / "sync" / "engine.py" in entries
    assert ROOT / "exchange_sync" / "outbox.py" in entries
    assert [path.relative_to(ROOT) for path in entries if not path.exists()] == []


def test_the_layout_first_line_names_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    first_line = readme.split("\n## Layout\n", 1)[1].split("```\n", 2)[1].splitlines()[0]
    assert [name for name in first_line.split() if not (ROOT / name).exists()] == []
