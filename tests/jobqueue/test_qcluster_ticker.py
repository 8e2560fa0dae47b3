"""A real `manage.py qcluster` ticks while every worker is busy: with its one worker
running a long task and more tasks queued behind it, a dead sync run is still
interrupted (and the person's run queued again), a due Job Queue Entry is still claimed,
and the cluster's heartbeat keeps coming. (When the tick was a django-q2 schedule's task
it waited in the same queue behind them all.)"""

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
from django_q.brokers import get_broker
from django_q.models import Task
from django_q.tasks import async_task

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.services import STALE_RUN_AFTER, sync_run_claim, sync_run_create
from jobqueue.models import ClusterHeartbeat, JobQueueEntry
from jobqueue.services import job_queue_entry_set_ready
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("qcluster_with_test_objects.py")
BUSY = "time.sleep"


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_until(condition, seconds: float, what: str, process: subprocess.Popen, log: Path) -> None:
    """Poll until `condition` holds; the bound only ends a test that failed anyway."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"Waiting for {what}: {'exited' if process.poll() is not None else 'timed out'}.\n"
                f"{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_the_tick_runs_while_every_worker_is_busy(make_entry, tmp_path):
    log = tmp_path / "qcluster.log"
    # A queue of its own: the tasks left in it when the cluster is killed (on Redis they
    # outlive the test database) must not reach another test's worker.
    queue = f"jobqueue-test-{uuid.uuid4().hex[:12]}"
    process = subprocess.Popen(
        [sys.executable, str(HELPER)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bcsync_project.settings_test",
            "DJANGO_READ_DOT_ENV": "0",
            "DATABASE_URL": _database_url(),
            "JOBQUEUE_TEST_QUEUE": queue,
            # The same django-q2 cluster name as this process: it also salts task signatures.
            "BCSYNC_TEST_QUEUE": settings.Q_CLUSTER["name"],
            "Q_WORKERS": "1",
            "Q_SYNC": "false",
            "Q_STOP_TIMEOUT": "3",
            "JOBQUEUE_TICK_SECONDS": "1",
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until(lambda: "running." in log.read_text(), 60, "the cluster to start", process, log)
        for _ in range(3):  # the only worker runs the first; two wait behind it
            async_task(BUSY, 600, cluster=queue)
        _wait_until(lambda: f"'{BUSY}'" in log.read_text(), 60, "the worker to be busy", process, log)
        busy_since = timezone.now()

        setup = ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox="ann@cronus.example"))
        dead = sync_run_create(setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON)
        assert sync_run_claim(dead)
        SyncRun.objects.filter(pk=dead.pk).update(heartbeat_at=busy_since - STALE_RUN_AFTER - timedelta(seconds=1))
        entry = job_queue_entry_set_ready(make_entry())

        def ticked() -> bool:
            return (
                SyncRun.objects.filter(pk=dead.pk, status=SyncRun.Status.INTERRUPTED).exists()
                and JobQueueEntry.objects.filter(pk=entry.pk, status=JobQueueEntry.Status.IN_PROCESS).exists()
            )

        _wait_until(ticked, 120, "the tick to interrupt the dead run and claim the entry", process, log)
        _wait_until(
            lambda: ClusterHeartbeat.objects.filter(last_tick_at__gt=busy_since).exists(),
            60,
            "a heartbeat",
            process,
            log,
        )
        finished = Task.objects.filter(func=BUSY).count()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        get_broker(queue).purge_queue()

    assert finished == 0  # the worker was busy throughout
    assert setup.runs.filter(status=SyncRun.Status.QUEUED, trigger=SyncRun.Trigger.BUTTON).count() == 1
    heartbeat = ClusterHeartbeat.objects.get()
    assert (heartbeat.pid, heartbeat.cluster_name) == (process.pid, queue)
