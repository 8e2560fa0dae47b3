"""The job queue's ticker: a thread in each `manage.py qcluster`'s main process that
recovers dead sync runs (and queued runs whose task was lost), queues the live sync
runs that are due and dispatches due Job Queue Entries every JOBQUEUE_TICK_SECONDS (2 s
by default), and shows the cluster is alive.

It runs beside django-q2's workers, not as a task in their queue: a tick queued behind
40 syncs on one worker would wait for them all, and meanwhile dead runs stay blocked,
due entries wait and the cluster looks dead to `/health/`. Every cluster ticks; what a
tick changes is claimed with conditional UPDATEs (an entry's claim, a dead run's
interruption), so two clusters ticking at the same moment do each thing once.

An idle tick is a handful of indexed queries and one heartbeat write. A tick that
raises is logged and the next one runs as usual: the ticker only stops when asked.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from exchange_sync.live import live_runs_dispatch, polls_due, subscriptions_maintain
from exchange_sync.models import SyncRun
from exchange_sync.services import sync_runs_recover_stale, sync_runs_resend_lost
from jobqueue import services
from jobqueue.models import ClusterHeartbeat

logger = logging.getLogger(__name__)

# Heartbeats of clusters gone this long are removed when a cluster starts.
HEARTBEAT_RETENTION = timedelta(days=7)


@dataclass
class TickReport:
    """What one tick did."""

    dispatch: services.DispatchReport
    requeued: list[SyncRun]
    resent: int = 0
    live_queued: int = 0
    upkeep_queued: int = 0
    polls_queued: int = 0

    @property
    def did_something(self) -> bool:
        dispatch = self.dispatch
        return bool(
            dispatch.claimed
            or dispatch.swept
            or dispatch.expired
            or self.requeued
            or self.resent
            or self.live_queued
            or self.upkeep_queued
            or self.polls_queued
        )

    def __str__(self) -> str:
        requeued = f"; {len(self.requeued)} interrupted sync runs queued again" if self.requeued else ""
        resent = f"; {self.resent} tasks of queued sync runs sent again" if self.resent else ""
        live = f"; {self.live_queued} live sync runs queued" if self.live_queued else ""
        upkeep = f"; {self.upkeep_queued} subscription upkeeps queued" if self.upkeep_queued else ""
        polls = f"; {self.polls_queued} Outlook polls queued" if self.polls_queued else ""
        return f"{self.dispatch}{requeued}{resent}{live}{upkeep}{polls}"


def tick(now: datetime | None = None) -> TickReport:
    """One tick: sync runs whose worker died are interrupted (a person's run queued again
    at once), queued runs whose task seems lost have it sent again, live sync requests
    that are due become runs, Outlook change subscriptions due for upkeep and polls of
    Outlook folders that are due are queued, then due Job Queue Entries are claimed and
    queued."""
    now = now or timezone.now()
    requeued = sync_runs_recover_stale(now=now)
    resent = sync_runs_resend_lost(now)
    live_queued = live_runs_dispatch(now)
    upkeep_queued = subscriptions_maintain(now)
    polls_queued = polls_due(now)
    return TickReport(
        dispatch=services.job_queue_dispatch(now=now),
        requeued=requeued,
        resent=resent,
        live_queued=live_queued,
        upkeep_queued=upkeep_queued,
        polls_queued=polls_queued,
    )


def cluster_heartbeat_start(cluster_name: str, now: datetime) -> ClusterHeartbeat:
    """This process's heartbeat row (and old clusters' rows removed)."""
    ClusterHeartbeat.objects.filter(last_tick_at__lt=now - HEARTBEAT_RETENTION).delete()
    ClusterHeartbeat.objects.filter(last_tick_at__isnull=True, started_at__lt=now - HEARTBEAT_RETENTION).delete()
    return ClusterHeartbeat.objects.create(
        cluster_name=cluster_name, host=socket.gethostname(), pid=os.getpid(), started_at=now
    )


class Ticker(threading.Thread):
    """Calls ``tick`` at once and then every ``interval`` seconds until ``stop``; after
    each completed tick, writes the cluster's heartbeat. A daemon: it never holds the
    process up when the cluster has stopped."""

    def __init__(self, cluster_name: str, interval: float | None = None) -> None:
        super().__init__(name="jobqueue-ticker", daemon=True)
        self.cluster_name = cluster_name
        self.interval = settings.JOBQUEUE_TICK_SECONDS if interval is None else interval
        self._stopped = threading.Event()
        self._heartbeat: ClusterHeartbeat | None = None

    def stop(self) -> None:
        """Ask the ticker to stop: it ends after the tick it is on, if any."""
        self._stopped.set()

    def run(self) -> None:
        try:
            while not self._stopped.is_set():
                self._tick_once()
                self._stopped.wait(self.interval)
        finally:
            connections.close_all()  # this thread's own connections

    def _tick_once(self) -> None:
        try:
            now = timezone.now()
            if self._heartbeat is None:
                self._heartbeat = cluster_heartbeat_start(self.cluster_name, now)
            report = tick(now)
            if report.did_something:
                logger.info("Job queue tick: %s", report)
            ClusterHeartbeat.objects.filter(pk=self._heartbeat.pk).update(last_tick_at=now)
        except Exception:
            # The database or broker may be gone for a moment: say so, start the next tick
            # on a fresh connection.
            logger.exception("Job queue tick failed; trying again in %s s", self.interval)
            connections.close_all()
