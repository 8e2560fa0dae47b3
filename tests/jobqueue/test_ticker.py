"""The job queue's ticker (jobqueue.ticker): one tick recovers dead sync runs and
dispatches due entries cheaply; the ticker thread writes its cluster's heartbeat, keeps
ticking after a tick fails, and stops when asked."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from exchange_sync.live.requests import live_requests_make
from exchange_sync.models import ExchangeSyncSetup, LiveSyncRequest, SyncRun
from exchange_sync.services import STALE_RUN_AFTER, sync_run_claim, sync_run_create
from jobqueue import ticker as ticker_module
from jobqueue.models import ClusterHeartbeat, JobQueueEntry
from jobqueue.services import job_queue_entry_set_ready
from jobqueue.ticker import Ticker, cluster_heartbeat_start, tick
from tests.factories import make_user
from tests.live.conftest import make_setup


def _wait_for(condition, what: str, seconds: float = 30) -> None:
    """Poll until `condition` holds; the bound only ends a test that failed anyway."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def running_ticker():
    """Start a Ticker (tick every 10 ms); stopped and joined at the end of the test."""
    started = []

    def start(**kwargs) -> Ticker:
        thread = Ticker("bcsync-test", interval=0.01, **kwargs)
        started.append(thread)
        thread.start()
        return thread

    yield start
    for thread in started:
        thread.stop()
        thread.join(10)


@pytest.mark.django_db
def test_an_idle_tick_is_eight_queries(django_assert_num_queries, monkeypatch):
    # Dead runs, queued runs whose task may be lost, due live sync requests, due
    # subscription upkeeps, due Outlook polls, stale claims, expired entries, due
    # entries: each one indexed query. (The scan for setups without a subscription row
    # runs every 30 s, not every tick.)
    monkeypatch.setattr("exchange_sync.live.subscriptions._last_scan", time.monotonic())
    with django_assert_num_queries(8):
        tick()


@pytest.mark.django_db
def test_a_tick_dispatches_a_due_entry_and_interrupts_a_dead_run_in_one_go(make_entry, q_sync, test_objects):
    setup = ExchangeSyncSetup.objects.create(user=make_user(mailbox="tick@cronus.example"))
    dead = sync_run_create(setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.JOB)
    assert sync_run_claim(dead)
    SyncRun.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - STALE_RUN_AFTER - timedelta(seconds=1))
    entry = job_queue_entry_set_ready(make_entry())

    report = tick()

    assert report.dispatch.claimed == [entry.pk]
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert test_objects == [("", "runner")]  # the entry ran (inline here)


@pytest.mark.django_db
def test_a_tick_queues_the_live_sync_run_of_a_due_request_and_not_of_one_still_waiting():
    ann, bob = make_setup("ann"), make_setup("bob")
    now = timezone.now()
    live_requests_make([ann.pk], now - timedelta(seconds=3))  # due a second ago
    live_requests_make([bob.pk], now + timedelta(seconds=5))
    with mock.patch("django_q.tasks.async_task"):
        report = tick(now)

    assert report.live_queued == 1
    assert list(SyncRun.objects.values_list("setup_id", "trigger")) == [(ann.pk, SyncRun.Trigger.LIVE)]
    assert list(LiveSyncRequest.objects.values_list("setup_id", flat=True)) == [bob.pk]


@pytest.mark.django_db
def test_a_second_tick_at_the_same_moment_dispatches_nothing_again(make_entry):
    entry = job_queue_entry_set_ready(make_entry())
    now = timezone.now()

    assert tick(now).dispatch.claimed == [entry.pk]
    assert tick(now).dispatch.claimed == []
    assert JobQueueEntry.objects.get(pk=entry.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_the_ticker_writes_its_clusters_heartbeat_after_each_tick(running_ticker):
    before = timezone.now()
    thread = running_ticker()

    _wait_for(lambda: ClusterHeartbeat.objects.filter(last_tick_at__gte=before).exists(), "a heartbeat")
    first = ClusterHeartbeat.objects.get().last_tick_at
    _wait_for(lambda: ClusterHeartbeat.objects.get().last_tick_at > first, "a later heartbeat")

    heartbeat = ClusterHeartbeat.objects.get()  # one row per cluster process, updated
    assert (heartbeat.cluster_name, heartbeat.started_at >= before) == ("bcsync-test", True)
    assert thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_the_ticker_keeps_ticking_after_a_tick_raises(running_ticker, monkeypatch, caplog):
    calls = []

    def failing_then_working(now=None):
        calls.append(now)
        if len(calls) <= 2:
            raise RuntimeError("the database went away")
        return tick(now)

    monkeypatch.setattr(ticker_module, "tick", failing_then_working)
    running_ticker()

    _wait_for(lambda: ClusterHeartbeat.objects.filter(last_tick_at__isnull=False).exists(), "a tick that worked")
    assert len(calls) >= 3
    assert "Job queue tick failed" in caplog.text
    assert "the database went away" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_ticker_stops_when_asked_and_ticks_no_more(running_ticker, monkeypatch):
    calls = []
    monkeypatch.setattr(ticker_module, "tick", lambda now=None: calls.append(now) or tick(now))
    thread = running_ticker()
    _wait_for(lambda: len(calls) >= 2, "two ticks")

    thread.stop()
    thread.join(10)

    assert not thread.is_alive()
    ticks = len(calls)
    time.sleep(1)  # a hundred intervals: a ticker still running would tick again
    assert len(calls) == ticks


@pytest.mark.django_db
def test_a_starting_cluster_removes_heartbeats_of_clusters_gone_for_a_week():
    now = timezone.now()
    old = cluster_heartbeat_start("bcsync", now - timedelta(days=9))
    ClusterHeartbeat.objects.filter(pk=old.pk).update(last_tick_at=now - timedelta(days=8))
    recent = cluster_heartbeat_start("bcsync", now - timedelta(days=1))
    ClusterHeartbeat.objects.filter(pk=recent.pk).update(last_tick_at=now - timedelta(days=1))

    new = cluster_heartbeat_start("bcsync", now)

    assert set(ClusterHeartbeat.objects.values_list("pk", flat=True)) == {recent.pk, new.pk}
