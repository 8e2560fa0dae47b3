"""The pytest plugin of `make mutate` (mutmut, see docs/mutation.md); the suite never
loads it.

mutmut runs the tests of each mutant in a process forked from its own, two at a time.
Forked, they would all share the SQLite test database named when the settings were
imported, and migrating a new one for each mutant costs more than most mutants' tests.
So the first test run (mutmut's own) keeps its migrated database as a template, and each
mutant's process works on its own copy of it, deleted when its tests end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TEMPLATE_NAME = ".test-db-mutmut-template.sqlite3"


def _in_a_mutant_process() -> bool:
    return "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", "")


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        raise pytest.UsageError("make mutate runs on SQLite: unset DATABASE_URL")
    folder = Path(database["TEST"]["NAME"]).parent
    template = folder / TEMPLATE_NAME
    name = template
    if _in_a_mutant_process():
        name = folder / f".test-db-mutmut-{os.getpid()}.sqlite3"
        shutil.copyfile(template, name)
    database["TEST"]["NAME"] = str(name)
    config.option.reuse_db = True  # migrate only what the template lacks; keep it after


def pytest_unconfigure(config: pytest.Config) -> None:
    from django.conf import settings
    from django.db import connections

    # mutmut forks the next mutant's process from this one: it must not inherit an
    # open connection (nor a WAL not yet written back to the template).
    connections.close_all()
    if _in_a_mutant_process():
        name = settings.DATABASES["default"]["TEST"]["NAME"]
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
