"""The pytest plugin of `make mutate` (mutmut, see docs/mutation.md); the suite never
loads it.

mutmut runs the tests of each mutant in a process forked from its own, two at a time.
Forked, they would all share the SQLite test database named when the settings were
imported, and migrating a new one for each mutant costs more than most mutants' tests.
So the first test run (mutmut's own) keeps its migrated database as a template, and each
mutant's process works on its own copy of it, deleted when its tests end.

mutmut runs against a mutant the tests that called the function it changed, fastest
first, stopping at the first failure. A mutant no test notices would run them all, and
the engine's functions are called by every sync test. So a mutant gets the fastest of
its tests up to MUTATE_TEST_SECONDS (default 6) of their measured time, each counted
with TEST_OVERHEAD for what mutmut does not measure (the test's setup and teardown: a
database flushed, a sandbox mailbox made): the tests written for a function are the
fast ones that call it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TEMPLATE_NAME = ".test-db-mutmut-template.sqlite3"
DEFAULT_TEST_SECONDS = 6.0
# Seconds of setup and teardown per test (a transactional test flushes the database):
# on a quiet machine the selection's 467 tests took about 100 s for 50 s of test calls
# (0.1 s each), rounded up.
TEST_OVERHEAD = 0.15


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
        _use_the_copy_as_it_is()
    database["TEST"]["NAME"] = str(name)
    config.option.reuse_db = True  # migrate only what the template lacks; keep it after


def _use_the_copy_as_it_is() -> None:
    """A mutant's copy of the template is migrated already: point the connection at it
    without running `migrate` again (a third of what a mutant's process cost before
    its first test). No test of the selection uses serialized_rollback."""
    from django.conf import settings
    from django.db.backends.base.creation import BaseDatabaseCreation

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        name = self._get_test_db_name()
        self.connection.close()
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name
        return name

    BaseDatabaseCreation.create_test_db = create_test_db


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _in_a_mutant_process():
        return
    from mutmut.state import state  # this process is a fork of mutmut's: its measurements

    durations = state().duration_by_test
    budget = float(os.environ.get("MUTATE_TEST_SECONDS", DEFAULT_TEST_SECONDS))
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
    spent, kept = 0.0, []
    for item in items:
        cost = durations.get(item.nodeid, 0.0) + TEST_OVERHEAD
        if kept and spent + cost > budget:
            break
        spent += cost
        kept.append(item)
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=items[len(kept) :])
        items[:] = kept


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
