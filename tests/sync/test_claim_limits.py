"""One run per setup at a time: a run claims its setup unless another live run holds it,
and a run that stopped showing it is alive (its worker was killed) releases the setup
after services.STALE_RUN_AFTER. README, "What a sync guarantees": No duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.services import STALE_RUN_AFTER, sync_run_claim, sync_run_create, sync_runs_recover_stale
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def setup():
    return ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox="ann@cronus.example"))


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _run(setup) -> SyncRun:
    return sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB)


def _holder(setup) -> int | None:
    return ExchangeSyncSetup.objects.values_list("running_run_id", flat=True).get(pk=setup.pk)


def _holding(setup, *, status=SyncRun.Status.RUNNING, heartbeat_at=NOW) -> SyncRun:
    """A run of `setup` that holds its claim with this status and last sign of life."""
    run = _run(setup)
    SyncRun.objects.filter(pk=run.pk).update(status=status, heartbeat_at=heartbeat_at)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(running_run=run)
    return run


def test_a_run_claims_a_free_setup_and_starts_now(setup, clock):
    run = _run(setup)
    assert sync_run_claim(run) is True
    assert _holder(setup) == run.pk
    saved = SyncRun.objects.get(pk=run.pk)
    for shown in (run, saved):
        assert (shown.status, shown.started_at, shown.heartbeat_at) == (SyncRun.Status.RUNNING, NOW, NOW)


def test_a_run_that_holds_its_setup_claims_it_again(setup, clock):
    run = _run(setup)
    assert sync_run_claim(run)
    assert sync_run_claim(run) is True
    assert _holder(setup) == run.pk


def test_a_live_run_keeps_its_setup(setup, clock):
    alive = _holding(setup, heartbeat_at=NOW - STALE_RUN_AFTER)  # just not stale yet
    late = _run(setup)
    assert sync_run_claim(late) is False
    assert _holder(setup) == alive.pk
    late.refresh_from_db()
    assert (late.status, late.started_at) == (SyncRun.Status.QUEUED, None)


def test_a_run_that_has_not_shown_a_sign_of_life_yet_keeps_its_setup(setup, clock):
    starting = _holding(setup, heartbeat_at=None)
    assert sync_run_claim(_run(setup)) is False
    assert _holder(setup) == starting.pk


def test_a_dead_run_releases_its_setup_once_its_heartbeat_is_stale(setup, clock):
    dead = _holding(setup, heartbeat_at=NOW - STALE_RUN_AFTER - timedelta(seconds=1))
    other_setup = ExchangeSyncSetup.objects.create(user=make_user("bob", mailbox="bob@cronus.example"))
    elsewhere = _holding(other_setup)
    next_run = _run(setup)
    assert sync_run_claim(next_run) is True
    assert _holder(setup) == next_run.pk
    dead.refresh_from_db()
    assert (dead.status, dead.finished_at) == (SyncRun.Status.INTERRUPTED, NOW)
    assert dead.error == (
        f"The worker carrying out this run stopped (no sign of life for {int(STALE_RUN_AFTER.total_seconds())} "
        f"seconds). What it wrote is kept; the next sync carries on. Run #{next_run.pk} took over."
    )
    elsewhere.refresh_from_db()
    assert (elsewhere.status, elsewhere.error) == (SyncRun.Status.RUNNING, "")  # only the dead run


@pytest.mark.parametrize("status", SyncRun.FINISHED)
def test_a_finished_run_never_blocks_the_next(setup, clock, status):
    finished = _holding(setup, status=status)
    next_run = _run(setup)
    assert sync_run_claim(next_run) is True
    assert _holder(setup) == next_run.pk
    finished.refresh_from_db()
    assert (finished.status, finished.error) == (status, "")  # a finished run keeps its outcome


def test_a_claim_never_takes_a_setup_another_run_took_meanwhile(setup, clock, monkeypatch):
    # Between reading the holder (a dead run) and taking the setup over, another run
    # takes it: the compare-and-swap must fail.
    dead = _holding(setup, heartbeat_at=NOW - STALE_RUN_AFTER - timedelta(minutes=1))
    quicker, slower = _run(setup), _run(setup)
    original_filter = SyncRun.objects.filter

    def holder_read_then_overtaken(*args, **kwargs):
        if kwargs.get("pk") == dead.pk:
            ExchangeSyncSetup.objects.filter(pk=setup.pk).update(running_run=quicker)
        return original_filter(*args, **kwargs)

    monkeypatch.setattr(SyncRun.objects, "filter", holder_read_then_overtaken)
    assert sync_run_claim(slower) is False
    monkeypatch.undo()
    assert _holder(setup) == quicker.pk
    slower.refresh_from_db()
    assert slower.status == SyncRun.Status.QUEUED


def test_a_dead_run_found_by_the_sweep_says_what_happened_and_names_no_successor(setup, clock):
    dead = _holding(setup, heartbeat_at=NOW - STALE_RUN_AFTER - timedelta(seconds=1))
    SyncRun.objects.filter(pk=dead.pk).update(trigger=SyncRun.Trigger.JOB)  # its entry reruns it
    sync_runs_recover_stale()
    dead.refresh_from_db()
    assert (dead.status, dead.finished_at) == (SyncRun.Status.INTERRUPTED, NOW)
    assert dead.error == (
        f"The worker carrying out this run stopped (no sign of life for {int(STALE_RUN_AFTER.total_seconds())} "
        "seconds). What it wrote is kept; the next sync carries on."
    )


def test_a_claim_takes_its_own_setup_only(setup, clock):
    other = ExchangeSyncSetup.objects.create(user=make_user("bo", mailbox="bo@cronus.example"))
    run = _run(setup)
    assert sync_run_claim(run)
    assert (_holder(setup), _holder(other)) == (run.pk, None)
