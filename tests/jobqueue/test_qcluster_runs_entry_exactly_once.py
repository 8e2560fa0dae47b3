"""Two real qcluster processes on the configured broker (ORM on SQLite by default, Redis
and PostgreSQL when REDIS_URL / DATABASE_URL are set) run a due entry exactly once, though
both clusters' tickers tick at the same moments (each waits for the same whole second of
the clock) when the entry comes due."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Task

from jobqueue import services
from jobqueue.models import ClusterHeartbeat, JobQueueEntry, JobQueueLogEntry
from tests.jobqueue.objects_for_tests import APPEND_TO_FILE

HELPER = Path(__file__).with_name("qcluster_with_test_objects.py")
STARTUP_SECONDS = 60
RUN_SECONDS = 90


def _database_url() -> str:
    """The pytest test database as a DATABASE_URL for the subprocesses."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_cluster(queue: str, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "bcsync_project.settings_test",
        "JOBQUEUE_TEST_QUEUE": queue,
        # The same django-q2 cluster name as this process: it also salts task signatures.
        "BCSYNC_TEST_QUEUE": settings.Q_CLUSTER["name"],
        "Q_SYNC": "false",
        "Q_WORKERS": "2",
        "JOBQUEUE_TICK_SECONDS": "0.5",
        "JOBQUEUE_TEST_ALIGNED_TICKS": "1",
    }
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, str(HELPER)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=HELPER.parents[2],
    )


def _stop(process: subprocess.Popen) -> None:
    """Stop a cluster and its workers: SIGTERM, then SIGKILL (a graceful stop takes ~20 s)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_until(condition, seconds: float, what: str, clusters: list[subprocess.Popen], logs: list[Path]) -> None:
    """Poll ``condition``; fail with the clusters' output on timeout or when one exits."""
    deadline = time.monotonic() + seconds
    while not condition():
        exited = any(process.poll() is not None for process in clusters)
        if exited or time.monotonic() > deadline:
            output = "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in logs)
            problem = "a cluster exited" if exited else f"timed out after {seconds} s"
            pytest.fail(f"Waiting for {what}: {problem}.\n{output}")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_two_qclusters_run_a_due_entry_exactly_once(make_entry, tmp_path):
    runs = tmp_path / "runs.txt"
    queue = f"jobqueue-test-{uuid.uuid4().hex[:12]}"
    logs = [tmp_path / "cluster-a.log", tmp_path / "cluster-b.log"]
    clusters = []
    try:
        clusters = [_start_cluster(queue, path) for path in logs]
        # Both tickers are ticking: each cluster has written its heartbeat.
        _wait_until(
            lambda: ClusterHeartbeat.objects.filter(last_tick_at__isnull=False).count() == 2,
            STARTUP_SECONDS,
            "both clusters' first tick",
            clusters,
            logs,
        )
        # Due at a whole second a little ahead, when both clusters tick at once.
        due_at = (timezone.now() + timedelta(seconds=3)).replace(microsecond=0)
        entry = services.job_queue_entry_set_ready(
            make_entry(APPEND_TO_FILE, parameter_string=f"FILE={runs}", earliest_start_at=due_at)
        )
        assert entry.earliest_start_at == due_at

        def all_done() -> bool:
            return (
                JobQueueLogEntry.objects.filter(entry_id=entry.pk)
                .exclude(status=JobQueueLogEntry.Status.IN_PROCESS)
                .exists()
            )

        _wait_until(all_done, RUN_SECONDS, "the run", clusters, logs)
        time.sleep(3)  # let a (wrong) second run show up
        ticked = ClusterHeartbeat.objects.filter(last_tick_at__gt=due_at).count()
    finally:
        for process in clusters:
            _stop(process)

    assert ticked == 2  # both clusters were ticking when the entry came due
    assert runs.read_text().splitlines() == ["ran as runner"]
    assert list(JobQueueLogEntry.objects.filter(entry_id=entry.pk).values_list("status", flat=True)) == ["Success"]
    assert Task.objects.filter(func="jobqueue.tasks.run_entry").count() == 1
    entry.refresh_from_db()
    assert entry.status == JobQueueEntry.Status.FINISHED
