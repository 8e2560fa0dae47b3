"""`manage.py qcluster` stops within a bounded time when sent SIGTERM (as systemd,
Kubernetes and honcho stop it): a running sync ends as "Interrupted" after the chunk it
is on, releasing its setup, and the next run finishes the job with no duplicate; a
task that does not stop is killed after Q_STOP_TIMEOUT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_q.tasks import async_task

from exchange_sync import services
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.models import Contact as OutlookContact
from exchange_sync.sandbox.services import mailbox_add, mailbox_configure
from exchange_sync.sync import sync_setup
from exchange_sync.sync.engine import CHUNK
from tests.factories import make_person, make_user

ROOT = Path(__file__).resolve().parents[2]
MAILBOX = "stop@cronus.example"
# More than one chunk, so the stop can come between chunks.
CONTACTS = CHUNK + 100


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_qcluster(live_server, log: Path, *, stop_timeout: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bcsync_project.settings_test",
        "DJANGO_READ_DOT_ENV": "0",
        "DATABASE_URL": _database_url(),
        "BCSYNC_TEST_QUEUE": settings.Q_CLUSTER["name"],
        "SITE_URL": live_server.url,
        "GRAPH_BASE_URL": f"{live_server.url}/graph-sandbox/v1.0",
        "Q_WORKERS": "1",
        "Q_SYNC": "false",
        "Q_STOP_TIMEOUT": str(stop_timeout),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the test can tell when all of it is gone
    )
    _wait_until(lambda: "running." in log.read_text(), 60, "the cluster to start", process, log)
    return process


def _wait_until(condition, seconds: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"Waiting for {what}: {'exited' if process.poll() is not None else 'timed out'}.\n"
                f"{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)


def _group_is_gone(process: subprocess.Popen) -> bool:
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def _kill_group(process: subprocess.Popen) -> None:
    if not _group_is_gone(process):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _sigterm_main_process(process: subprocess.Popen) -> None:
    """As Kubernetes, Docker, honcho and systemd's KillMode=mixed stop a service."""
    process.send_signal(signal.SIGTERM)


def _sigterm_process_group(process: subprocess.Popen) -> None:
    """As systemd's default KillMode=control-group stops a service: every process of it
    (the sentinel, the workers, the pusher and the monitor too) gets SIGTERM at once."""
    os.killpg(process.pid, signal.SIGTERM)


@pytest.mark.parametrize("sigterm", [_sigterm_main_process, _sigterm_process_group])
@pytest.mark.django_db(transaction=True)
def test_sigterm_interrupts_a_running_sync_after_its_chunk_and_the_worker_exits(sigterm, live_server, tmp_path):
    mailbox_add(MAILBOX)
    # Slow enough that a chunk takes several seconds: the stop arrives in the middle of one.
    mailbox_configure(MAILBOX, latency_ms=60)
    user = make_user("stopper", mailbox=MAILBOX)
    setup = ExchangeSyncSetup.objects.create(user=user)
    for n in range(CONTACTS):
        make_person(email=f"stop{n}@example.com")
    log = tmp_path / "qcluster.log"
    # A generous bound: this test proves the clean stop, not the kill.
    process = _start_qcluster(live_server, log, stop_timeout=120)
    try:
        run, _ = services.sync_run_queue(setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON)
        # Creates are reaching Outlook: the run is in its first chunk of CHUNK contacts.
        _wait_until(lambda: OutlookContact.objects.filter(mailbox__email=MAILBOX).exists(), 60, "the run", process, log)

        sigterm(process)
        process.wait(timeout=150)
    finally:
        _kill_group(process)

    assert process.returncode == 0, log.read_text()[-3000:]  # stopped by itself, not killed
    # django-q2's sentinel stopped its workers in order, rather than dying of the signal.
    assert "stopping cluster processes" in log.read_text()
    assert _group_is_gone(process)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.INTERRUPTED, run.error
    assert run.created_in_outlook == CHUNK  # the chunk it was on, whole; no more
    setup.refresh_from_db()
    assert setup.running_run is None

    mailbox_configure(MAILBOX, latency_ms=0)
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    try:
        assert sync_setup(setup, client=client).status == SyncRun.Status.SUCCEEDED
        setup.refresh_from_db()
        stamps = [
            stamp_value(item)
            for page in client.iter_contacts(MAILBOX, setup.folder_id, expand_stamp=True, page_size=1000)
            for item in page
        ]
    finally:
        client.close()
    assert len(stamps) == CONTACTS
    assert len(set(stamps)) == CONTACTS  # no duplicate


@pytest.mark.django_db(transaction=True)
def test_a_task_that_does_not_stop_is_killed_after_the_stop_timeout(live_server, tmp_path):
    log = tmp_path / "qcluster.log"
    process = _start_qcluster(live_server, log, stop_timeout=3)
    try:
        async_task("time.sleep", 600)
        _wait_until(lambda: "'time.sleep'" in log.read_text(), 60, "the task", process, log)

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        # The killed workers are reaped by init, a moment later.
        deadline = time.monotonic() + 30
        while not (gone := _group_is_gone(process)) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        _kill_group(process)

    assert process.returncode == 1
    assert "did not stop within 3.0 s; killing them" in log.read_text()
    assert gone, subprocess.run(["ps", "-eo", "pid,ppid,pgid,stat,cmd"], capture_output=True, text=True).stdout
