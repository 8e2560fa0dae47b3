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
its tests up to MUTATE_TEST_SECONDS (default 6) of their measured time: the tests
written for a function are the fast ones that call it. mutmut measures a test's call
only; its setup and teardown (a database flushed, a sandbox mailbox made, contacts
made by a fixture) cost 0.001 to 0.2 s more, so this plugin measures them in that first
run too and counts them.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
from pathlib import Path

import pytest

TEMPLATE_NAME = ".test-db-mutmut-template.sqlite3"
DEFAULT_TEST_SECONDS = 6.0
# Each test's setup and teardown, in seconds, as the first run measured them; beside
# mutmut's own measurements (mutmut runs every test in its copy, mutants/).
SETUP_AND_TEARDOWN = Path("mutmut-setup-and-teardown.json")
# For a test that run did not measure: a test on the sandbox, whose database is flushed.
UNMEASURED_SETUP_AND_TEARDOWN = 0.2
_measured: dict[str, float] = {}
# CPU seconds a mutant's process may spend: this many times its kept tests' time, plus
# the slack (the tests' database copy, imports a test triggers).
HANG_FACTOR = 3
HANG_SLACK = 10
# Wall-clock seconds, as a multiple of those CPU seconds (tests also wait on the sandbox).
WAIT_FACTOR = 3


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

    calls = state().duration_by_test
    around = json.loads(SETUP_AND_TEARDOWN.read_text()) if SETUP_AND_TEARDOWN.exists() else {}

    def seconds(item: pytest.Item) -> float:
        return calls.get(item.nodeid, 0.0) + around.get(item.nodeid, UNMEASURED_SETUP_AND_TEARDOWN)

    budget = float(os.environ.get("MUTATE_TEST_SECONDS", DEFAULT_TEST_SECONDS))
    items.sort(key=seconds)
    spent, kept = 0.0, []
    for item in items:
        cost = seconds(item)
        if kept and spent + cost > budget:
            break
        spent += cost
        kept.append(item)
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=items[len(kept) :])
        items[:] = kept
    _limit_cpu(spent)


def _limit_cpu(seconds_of_tests: float) -> None:
    """A mutant that makes its tests hang (a loop that never ends) stops after a few
    times the CPU its kept tests need, as a timeout (mutmut counts it killed). mutmut's
    own limit is 30 times the time of every test of the function, whatever the budget
    kept: minutes of a core for each such mutant of the filter's parser."""
    allowed = HANG_FACTOR * seconds_of_tests + HANG_SLACK
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = math.ceil(usage.ru_utime + usage.ru_stime + allowed)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if soft == resource.RLIM_INFINITY or limit < soft:
        resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    # One that hangs without using CPU (a test waiting for what never comes) is stopped by
    # the clock: SIGALRM's default action ends the process, a timeout to the report.
    signal.alarm(math.ceil(WAIT_FACTOR * allowed))


def _in_the_first_run() -> bool:
    """mutmut's run of every selected test, measuring which calls what and how long."""
    return os.environ.get("MUTANT_UNDER_TEST") == "stats"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and _in_the_first_run():
        _measured[report.nodeid] = _measured.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _in_the_first_run():
        SETUP_AND_TEARDOWN.write_text(json.dumps(_measured))


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
