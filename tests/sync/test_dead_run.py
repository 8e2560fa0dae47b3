"""A run whose worker died (killed, never released its claim) holds its setup only
until its heartbeat is STALE_RUN_AFTER old; then the next run takes the setup over."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone

from exchange_sync.models import SyncRun
from exchange_sync.services import STALE_RUN_AFTER, sync_run_claim, sync_run_create
from tests.factories import make_person

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def _job_run(setup) -> SyncRun:
    return sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB)


def test_a_dead_run_holds_its_setup_until_its_heartbeat_is_stale_and_not_a_moment_longer(setup):
    with time_machine.travel(NOW, tick=False) as clock:
        dead = _job_run(setup)
        assert sync_run_claim(dead)  # then its worker is killed: no release, no more heartbeats

        clock.move_to(NOW + STALE_RUN_AFTER)
        assert not sync_run_claim(_job_run(setup))

        clock.move_to(NOW + STALE_RUN_AFTER + timedelta(seconds=1))
        successor = _job_run(setup)
        assert sync_run_claim(successor)
    setup.refresh_from_db()
    assert setup.running_run_id == successor.pk


def test_the_next_sync_after_a_dead_run_goes_ahead_and_syncs(sync, outlook, setup):
    people = [make_person() for _ in range(3)]
    dead = _job_run(setup)
    assert sync_run_claim(dead)
    SyncRun.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - STALE_RUN_AFTER - timedelta(minutes=1))

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(outlook.by_stamp()) == {p.no for p in people}
    setup.refresh_from_db()
    assert setup.running_run_id is None  # released when it finished
