"""One pending live run per setup, debounced within a cap, and its dispatch: queued once,
even by two job queue clusters at the same moment (exchange_sync/live/requests.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

from django.db import connection
from django.utils import timezone

from exchange_sync.live import live_runs_dispatch
from exchange_sync.live.requests import live_requests_make
from exchange_sync.models import LiveSyncRequest, SyncRun
from exchange_sync.services import sync_run_create, sync_runs_recover_stale

QUEUE = "django_q.tasks.async_task"


def test_edits_share_one_request_per_setup_whose_due_time_moves_on_with_each(london, paris, settings):
    settings.LIVE_SYNC_DEBOUNCE_SECONDS, settings.LIVE_SYNC_MAX_DELAY_SECONDS = 2, 10
    t0 = timezone.now()
    live_requests_make([london.pk], t0)
    live_requests_make([london.pk, paris.pk], t0 + timedelta(seconds=1))
    requests = {r.setup_id: r for r in LiveSyncRequest.objects.all()}
    assert len(requests) == 2
    assert requests[london.pk].first_requested_at == t0
    assert requests[london.pk].due_at == t0 + timedelta(seconds=3)
    assert requests[paris.pk].due_at == t0 + timedelta(seconds=3)


def test_a_steady_stream_of_edits_never_moves_the_due_time_past_the_cap(london, settings):
    settings.LIVE_SYNC_DEBOUNCE_SECONDS, settings.LIVE_SYNC_MAX_DELAY_SECONDS = 2, 10
    t0 = timezone.now()
    for second in range(30):
        live_requests_make([london.pk], t0 + timedelta(seconds=second))
    request = LiveSyncRequest.objects.get()
    assert request.due_at == t0 + timedelta(seconds=10)


def test_dispatch_queues_an_incremental_live_run_for_each_due_request_and_clears_it(london, paris, settings):
    settings.LIVE_SYNC_DEBOUNCE_SECONDS = 2
    t0 = timezone.now()
    live_requests_make([london.pk], t0)
    live_requests_make([paris.pk], t0 + timedelta(seconds=5))
    with mock.patch(QUEUE) as queue:
        assert live_runs_dispatch(t0 + timedelta(seconds=1)) == 0  # not due yet
        assert live_runs_dispatch(t0 + timedelta(seconds=2)) == 1
    run = SyncRun.objects.get()
    assert (run.setup_id, run.kind, run.trigger) == (london.pk, SyncRun.Kind.INCREMENTAL, SyncRun.Trigger.LIVE)
    queue.assert_called_once_with("exchange_sync.tasks.sync_run_task", run.pk, task_name=f"sync-run-{run.pk}")
    assert set(LiveSyncRequest.objects.values_list("setup_id", flat=True)) == {paris.pk}


def test_two_clusters_dispatching_at_the_same_moment_queue_each_run_once(london, paris):
    now = timezone.now()
    for _round in range(5):
        live_requests_make([london.pk, paris.pk], now - timedelta(seconds=5))
        barrier = threading.Barrier(4)
        queued: list[int] = []

        def dispatch(barrier: threading.Barrier = barrier, queued: list[int] = queued) -> None:
            try:
                barrier.wait()
                queued.append(live_runs_dispatch(now))
            finally:
                connection.close()

        with mock.patch(QUEUE):
            threads = [threading.Thread(target=dispatch) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert sum(queued) == 2, queued
        assert not LiveSyncRequest.objects.exists()
        SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED)
    assert SyncRun.objects.filter(setup=london).count() == 5


def test_a_request_due_while_a_run_is_going_outlives_that_run(london):
    running = sync_run_create(london, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)
    SyncRun.objects.filter(pk=running.pk).update(status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now())
    now = timezone.now()
    live_requests_make([london.pk], now - timedelta(seconds=5))
    with mock.patch(QUEUE) as queue:
        assert live_runs_dispatch(now) == 0
        assert LiveSyncRequest.objects.filter(setup=london).exists()  # for the edits made during that run
        SyncRun.objects.filter(pk=running.pk).update(status=SyncRun.Status.SUCCEEDED)
        assert live_runs_dispatch(now + timedelta(seconds=2)) == 1
    assert queue.call_count == 1
    assert not LiveSyncRequest.objects.exists()


def test_a_request_due_while_a_run_is_queued_is_carried_by_that_run(london):
    sync_run_create(london, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)  # queued, not started
    now = timezone.now()
    live_requests_make([london.pk], now - timedelta(seconds=5))
    with mock.patch(QUEUE) as queue:
        assert live_runs_dispatch(now) == 0
    queue.assert_not_called()
    assert not LiveSyncRequest.objects.exists()
    assert SyncRun.objects.count() == 1


def test_a_setup_switched_off_after_its_request_gets_no_run(london, paris):
    now = timezone.now()
    live_requests_make([london.pk, paris.pk], now - timedelta(seconds=5))
    london.is_live_sync_enabled = False
    london.save()
    paris.is_enabled = False
    paris.save()
    with mock.patch(QUEUE) as queue:
        assert live_runs_dispatch(now) == 0
    queue.assert_not_called()
    assert not SyncRun.objects.exists()
    assert not LiveSyncRequest.objects.exists()


def test_a_live_run_whose_worker_died_is_queued_again_by_the_sweep(london):
    dead = sync_run_create(london, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.LIVE)
    long_ago = timezone.now() - timedelta(minutes=5)
    SyncRun.objects.filter(pk=dead.pk).update(status=SyncRun.Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
    london.running_run = dead
    london.save()
    with mock.patch(QUEUE) as queue:
        [again] = sync_runs_recover_stale()
    assert (again.setup_id, again.trigger, again.status) == (london.pk, SyncRun.Trigger.LIVE, SyncRun.Status.QUEUED)
    queue.assert_called_once()
