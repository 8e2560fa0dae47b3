"""Run mutmut over the modules that carry the guarantees and report their scores.

    python -m tests.mutation [MODULE ...]      (make mutate MODULES="sync.guard outbox")

Each MODULE is a key of TARGETS (all of them when none is given). mutmut works in a
copy of the project under mutants/, made anew each time. The report (per module:
mutants, killed, survived, no test, timeout; then every survivor) is printed and
written to mutants/score.md.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "mutants"
CLASS = "\u01c1"  # how mutmut joins a class and its method in a mutant's name

# What each module promises is README's "What a sync guarantees"; these are the mutant
# names (globs) of the code that keeps each promise.
TARGETS: dict[str, list[str]] = {
    "outbox": ["exchange_sync.outbox.*"],
    "sync.guard": ["exchange_sync.sync.guard.*"],
    "sync.run": ["exchange_sync.sync.run.*"],
    # The claim, and how it marks the dead run it takes over.
    "services.sync_run_claim": [
        "exchange_sync.services.x_sync_run_claim__mutmut_*",
        "exchange_sync.services.x__interrupt_dead__mutmut_*",
    ],
    "sync.engine": [
        f"exchange_sync.sync.engine.x{CLASS}Engine{CLASS}{method}__mutmut_*"
        for method in (
            "_pull_changes",
            "_pull_everything",
            "_pull_page",
            "_compare_linked",
            "_leaving_scope",
            "_remove_duplicates",
            "_apply_missing",
            "_push",
            "_sendable",
            "_push_one",
            "_delete_out_of_scope",
            "_in_scope_ids",
        )
    ],
    "sync.inbound": ["exchange_sync.sync.inbound.*"],
    "contact_filter": ["exchange_sync.contact_filter.*", "exchange_sync.filter_syntax.*"],
    "mapping": ["exchange_sync.mapping.*"],
}

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no test", 33: "no test", 36: "timeout", 24: "timeout"}
STATUS |= {-24: "timeout", 152: "timeout", 255: "timeout", None: "not run"}
# SIGALRM: the plugin's clock stopped a mutant whose tests hung without using CPU.
STATUS |= {-14: "timeout", 142: "timeout"}


def main(modules: list[str]) -> int:
    unknown = [name for name in modules if name not in TARGETS]
    if unknown:
        print(f"Unknown module(s) {unknown}; choose from: {' '.join(TARGETS)}", file=sys.stderr)
        return 2
    modules = modules or list(TARGETS)
    patterns = [pattern for name in modules for pattern in TARGETS[name]]
    # A fresh copy each time: mutmut never removes a file deleted or renamed since its
    # last copy (a renamed migration breaks the test database), and it would keep which
    # tests call a function as measured before that function changed.
    shutil.rmtree(MUTANTS, ignore_errors=True)
    os.environ.pop("DATABASE_URL", None)  # SQLite only
    os.chdir(ROOT)
    started = time.monotonic()
    code = _mutmut_run(patterns)
    minutes = (time.monotonic() - started) / 60
    report = score(modules, minutes)
    MUTANTS.mkdir(exist_ok=True)
    (MUTANTS / "score.md").write_text(report)
    print(report)
    return code


def _mutmut_run(patterns: list[str]) -> int:
    """mutmut's `run`, in this process, with two changes (mutmut has no setting for them):

    - Text written for a person (a string literal of three words or more: an
      error's wording, a log line) is not mutated. What it says is read in review; a
      test per word would pin the wording, not a behaviour. Strings that are data (a
      Graph property, a status, a separator) are still mutated.
    - mutmut's second run of all the selected tests on the unchanged code ("clean
      tests") is skipped: the run that measured which test calls what just ran the same
      tests on the same unchanged code, and mutmut stops if any of them failed.
    """
    from mutmut.__main__ import cli
    from mutmut.mutation import mutators
    from mutmut.workers import isolation

    def operator_string_not_prose(node):
        if getattr(node, "value", None) and PROSE.search(node.value):
            return
        yield from operator_string(node)

    operator_string = mutators.operator_string
    operators = mutators.mutation_operators  # the list mutmut reads: changed in place
    operators[:] = [(kind, operator_string_not_prose if op is operator_string else op) for kind, op in operators]
    for runner in (isolation.ForkRunner, isolation.ForkServerRunner):
        runner.run_clean_tests = lambda self, tests: 0
    try:
        cli.main(["run", "--max-children", str(os.cpu_count() or 2), *patterns], standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# Three words: text for a person, not data ("Business Central", a category, is data).
PROSE = re.compile(r"[A-Za-z]+\s+[A-Za-z]+\s+[A-Za-z(]")


def results() -> dict[str, int | None]:
    """Every mutant's exit code, from mutmut's files under mutants/."""
    found: dict[str, int | None] = {}
    for meta in MUTANTS.glob("exchange_sync/**/*.py.meta"):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def score(modules: list[str], minutes: float) -> str:
    codes = results()
    lines = [
        f"Mutation score, {time.strftime('%Y-%m-%d %H:%M')}, {minutes:.0f} min on {os.cpu_count()} cores",
        "",
        "| module | mutants | killed | survived | no test | timeout | not run | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    survivors: list[str] = []
    total: Counter[str] = Counter()
    for name in modules:
        keys = sorted(key for key in codes if any(fnmatch.fnmatchcase(key, p) for p in TARGETS[name]))
        counts = Counter(STATUS.get(codes[key], "suspicious") for key in keys)
        survivors += [key for key in keys if STATUS.get(codes[key]) in ("survived", "no test")]
        total += counts
        lines.append(_row(name, len(keys), counts))
    lines.append(_row("all", sum(total.values()), total))
    lines += ["", "Survivors (`mutmut show NAME` shows the change):", ""]
    lines += [f"- {key}" for key in survivors] or ["- none"]
    return "\n".join(lines) + "\n"


def _row(name: str, mutants: int, counts: Counter[str]) -> str:
    checked = mutants - counts["not run"]
    # A timeout is a kill: the mutant made the tests hang, which a run would notice.
    killed = counts["killed"] + counts["timeout"]
    rate = f"{100 * killed / checked:.1f}%" if checked else "-"
    cells = [counts[s] for s in ("killed", "survived", "no test", "timeout", "not run")]
    return f"| {name} | {mutants} | " + " | ".join(map(str, cells)) + f" | {rate} |"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
