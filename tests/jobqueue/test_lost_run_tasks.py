"""A queued run whose worker task was lost (a worker killed after taking it from Redis,
which hands a task over once) is not left queued: the job queue's tick sends its task
again, after a minute and then at doubling waits, and a task that reaches the workers
twice starts the run once, never refusing or repeating the run the first one started."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.services import (
    TASK_RESEND_AFTER,
    sync_run_claim,
    sync_run_create,
    sync_run_queue,
    sync_run_start,
)
from exchange_sync.tasks import sync_run_task
from jobqueue.ticker import tick
from tests.browser.conftest import sandbox_site  # noqa: F401 (fixture: the live sandbox)
from tests.factories import make_person
from tests.live.conftest import forget_requests, make_setup
from tests.live.test_with_a_worker import _phone_in_outlook

SECOND = timedelta(seconds=1)


def _queued_run(setup: ExchangeSyncSetup) -> SyncRun:
    """A run queued as the buttons queue it, whose task no worker ever receives."""
    with mock.patch("django_q.tasks.async_task"):
        run, created = sync_run_queue(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.LIVE)
    assert created
    return run


@pytest.mark.django_db
def test_a_run_queued_a_minute_without_starting_has_its_task_sent_again_then_at_doubling_waits():
    run = _queued_run(make_setup("ann"))
    sent = run.task_sent_at
    assert sent is not None

    def resent_at(moment) -> list:
        with mock.patch("django_q.tasks.async_task") as async_task:
            report = tick(moment)
        sent = [c.args for c in async_task.call_args_list if c.args[0] == "exchange_sync.tasks.sync_run_task"]
        assert report.resent == len(sent)
        return sent

    task = ("exchange_sync.tasks.sync_run_task", run.pk)
    assert resent_at(sent + TASK_RESEND_AFTER - SECOND) == []
    again = sent + TASK_RESEND_AFTER + SECOND
    assert resent_at(again) == [task]
    assert resent_at(again + SECOND) == []  # sent once per wait, not every tick
    # Each wait is as long as the run has waited so far: about 1, 1, 2, 4 minutes...
    third = again + (again - sent) + SECOND
    assert resent_at(third - 2 * SECOND) == []
    assert resent_at(third) == [task]
    assert resent_at(third + 1.5 * TASK_RESEND_AFTER) == []  # not a minute again: over two
    assert resent_at(third + (third - sent) + SECOND) == [task]


@pytest.mark.django_db
def test_only_queued_runs_with_a_task_are_sent_again():
    later = timezone.now() + timedelta(hours=1)
    running = _queued_run(make_setup("ann"))
    assert sync_run_start(running) and sync_run_claim(running)
    SyncRun.objects.filter(pk=running.pk).update(heartbeat_at=later)  # alive: not recovered either
    finished = _queued_run(make_setup("bob"))
    SyncRun.objects.filter(pk=finished.pk).update(status=SyncRun.Status.SUCCEEDED)
    # A run of `manage.py sync_contacts` is carried out where it is made: no task to lose.
    sync_run_create(make_setup("cay"), kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.COMMAND)
    with mock.patch("django_q.tasks.async_task") as async_task:
        assert tick(later).resent == 0
    assert "exchange_sync.tasks.sync_run_task" not in [c.args[0] for c in async_task.call_args_list]


@pytest.mark.django_db
def test_a_run_whose_task_was_sent_again_counts_as_queued_so_a_click_shows_it():
    setup = make_setup("ann")
    run = _queued_run(setup)
    resent = timezone.now()
    # Made two minutes ago, its task sent again just now: still the setup's queued run.
    SyncRun.objects.filter(pk=run.pk).update(created_at=resent - 2 * TASK_RESEND_AFTER, task_sent_at=resent)
    with mock.patch("django_q.tasks.async_task"):
        shown, created = sync_run_queue(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)
    assert (shown.pk, created) == (run.pk, False)


@pytest.mark.django_db
def test_a_run_leaves_the_queue_once_however_many_tasks_reach_it():
    run = _queued_run(make_setup("ann"))
    twin = SyncRun.objects.get(pk=run.pk)  # the same run, as a second task reads it
    assert [sync_run_start(run), sync_run_start(twin)] == [True, False]
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.RUNNING


@pytest.mark.django_db
def test_a_second_task_of_a_running_run_leaves_it_alone():
    setup = make_setup("ann")
    run = _queued_run(setup)
    assert sync_run_start(run) and sync_run_claim(run)  # the first task is carrying it out
    client = mock.Mock()
    with mock.patch("exchange_sync.tasks.graph_client_for_setup", return_value=client):
        sync_run_task(run.pk)

    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # not refused, not run a second time
    assert ExchangeSyncSetup.objects.get(pk=setup.pk).running_run_id == run.pk
    assert [name for name, *_ in client.method_calls] == ["close"]


@pytest.mark.django_db(transaction=True)
def test_the_edits_a_lost_task_carried_reach_outlook_when_the_tick_sends_it_again(sandbox_site, q_sync):  # noqa: F811
    mailbox_add("ann@cronus.example")
    setup = make_setup("ann", {"city": "London"})
    person = make_person(city="London", phone="+44 20 7946 0019")
    run = _queued_run(setup)  # its task lost with the worker that took it
    forget_requests()  # the edit's request: the live dispatch turned it into this run

    tick(timezone.now() + TASK_RESEND_AFTER + SECOND)  # the task runs inline here

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert _phone_in_outlook(setup, person.no) == "+44 20 7946 0019"
    assert SyncRun.objects.count() == 1
