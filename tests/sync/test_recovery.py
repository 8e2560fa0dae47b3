"""A run whose worker died (no sign of life for STALE_RUN_AFTER) does not block its setup:
the job queue's tick (every qcluster's ticker) marks it Interrupted, releases the setup and queues a run a person
started with a button again; a person pressing Sync takes over at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from exchange_sync import services
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from jobqueue.ticker import tick
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    return ExchangeSyncSetup.objects.create(user=make_user(mailbox="rec@cronus.example"))


def _running(setup, *, silent_for: timedelta, trigger=SyncRun.Trigger.BUTTON) -> SyncRun:
    """A run that claimed the setup and last showed a sign of life `silent_for` ago."""
    run = services.sync_run_create(setup, kind=SyncRun.Kind.FULL, trigger=trigger, requested_by=setup.user)
    assert services.sync_run_claim(run)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - silent_for)
    return run


def test_the_tick_interrupts_a_dead_button_run_releases_the_setup_and_queues_it_again(
    setup, django_capture_on_commit_callbacks
):
    dead = _running(setup, silent_for=services.STALE_RUN_AFTER + timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tick()

    dead.refresh_from_db()
    setup.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert "no sign of life for 60 seconds" in dead.error
    assert setup.running_run is None
    (again,) = setup.runs.filter(status=SyncRun.Status.QUEUED)
    assert (again.kind, again.trigger, again.requested_by) == (dead.kind, dead.trigger, dead.requested_by)
    assert len(callbacks) == 1  # its task goes to the workers once the tick commits


def test_a_run_still_beating_is_left_alone(setup):
    alive = _running(setup, silent_for=services.STALE_RUN_AFTER - timedelta(seconds=5))

    tick()

    alive.refresh_from_db()
    setup.refresh_from_db()
    assert alive.status == SyncRun.Status.RUNNING
    assert setup.running_run_id == alive.pk
    assert not setup.runs.filter(status=SyncRun.Status.QUEUED).exists()


def test_a_dead_job_queue_run_is_interrupted_but_left_to_its_entry_to_rerun(setup):
    dead = _running(setup, silent_for=timedelta(minutes=5), trigger=SyncRun.Trigger.JOB)

    tick()

    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert not setup.runs.filter(status=SyncRun.Status.QUEUED).exists()


def test_a_new_run_takes_over_from_a_dead_one_and_marks_it_interrupted(setup):
    dead = _running(setup, silent_for=services.STALE_RUN_AFTER + timedelta(seconds=1))
    new = services.sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)

    assert services.sync_run_claim(new)

    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert f"Run #{new.pk} took over." in dead.error


def test_a_new_run_is_refused_while_the_holder_still_beats(setup):
    _running(setup, silent_for=services.STALE_RUN_AFTER - timedelta(seconds=5))
    new = services.sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)

    assert not services.sync_run_claim(new)
