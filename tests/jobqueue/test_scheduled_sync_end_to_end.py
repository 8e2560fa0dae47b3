"""The scheduled path as it runs in production, nothing mocked: a real `manage.py
qcluster` whose ticker dispatches the due Codeunit 6700 entry, one sync task per
mailbox, each syncing its mailbox in the sandbox over HTTP."""

from __future__ import annotations

import time

import pytest
from django_q.models import Task

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.models import Contact as OutlookContact
from exchange_sync.sandbox.services import mailbox_add
from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from jobqueue.objects import CONTACT_SYNC_CODEUNIT_ID, ObjectType
from tests.browser.conftest import sandbox_site, worker  # noqa: F401 (fixtures: live sandbox, real qcluster)
from tests.factories import make_person, make_user

MAILBOXES = ("ann@cronus.example", "bob@cronus.example")
RUN_ENTRY, SYNC_TASK = "jobqueue.tasks.run_entry", "exchange_sync.tasks.sync_run_task"


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    """Poll until `condition` holds; the bound only ends a test that failed anyway."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_the_clusters_tick_runs_the_due_contact_sync_entry_and_each_mailbox_syncs_in_its_own_task(sandbox_site, worker):  # noqa: F811
    people = [make_person() for _ in range(3)]
    setups = []
    for address in MAILBOXES:
        mailbox_add(address)
        setups.append(ExchangeSyncSetup.objects.create(user=make_user(address.split("@")[0], mailbox=address)))
    boss = make_user("boss", is_superuser=True)
    # Codeunit 6700 without USER=: every setup with background sync enabled. Ready and
    # due now: the worker's ticker dispatches it, nothing else is queued by hand.
    entry = services.job_queue_entry_set_ready(
        JobQueueEntry.objects.create(
            user=boss, object_type_to_run=ObjectType.CODEUNIT, object_id_to_run=CONTACT_SYNC_CODEUNIT_ID
        )
    )

    def both_synced() -> bool:
        return SyncRun.objects.filter(status__in=SyncRun.FINISHED).count() >= len(MAILBOXES)

    _wait_for(both_synced, "a finished run of each mailbox")
    _wait_for(lambda: Task.objects.filter(func=SYNC_TASK).count() >= len(MAILBOXES), "the sync tasks' results")

    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert log.status == JobQueueLogEntry.Status.SUCCESS, log.error_message
    assert log.message.startswith("Queued 2 mailbox(es)"), log.message
    runs = list(SyncRun.objects.order_by("pk"))
    assert sorted(run.setup_id for run in runs) == sorted(setup.pk for setup in setups)  # one run per mailbox
    for run in runs:
        assert (run.status, run.trigger, run.created_in_outlook) == (SyncRun.Status.SUCCEEDED, "job", 3), run.error
    tasks = Task.objects.filter(func=SYNC_TASK)
    assert sorted(task.args[0] for task in tasks) == sorted(run.pk for run in runs)  # one task per mailbox
    assert all(task.success for task in tasks)
    assert Task.objects.filter(func=RUN_ENTRY).count() == 1
    for address in MAILBOXES:
        stored = OutlookContact.objects.filter(mailbox__email=address, is_deleted=False)
        assert sorted(c.data["displayName"] for c in stored) == sorted(p.name for p in people)
