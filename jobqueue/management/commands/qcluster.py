"""`manage.py qcluster`: django-q2's worker cluster, stopping within a bounded time.

django-q2 stops on SIGTERM or SIGINT by waiting for every running task to end, and a
sync of a large mailbox may run for many minutes (up to Q_TIMEOUT): a deploy or a
restart (systemd, Kubernetes and honcho all send SIGTERM) would wait that long, and then
be killed in the middle of a run. This command (it takes the name of django-q2's own,
as jobqueue is listed before django_q in INSTALLED_APPS) runs django-q2's cluster with
a stop handler of its own in front of the cluster's:

- On SIGTERM or SIGINT it first tells each worker process, with SIGUSR1, that the
  worker is shutting down (a SIGTERM sent to the whole process group, as systemd does,
  reaches the workers directly and means the same to them; the cluster's other
  processes do not see it): a running sync stops after the chunk it is on and ends as
  "Interrupted", releasing its setup (exchange_sync.sync.shutdown). Then django-q2 stops
  as it always does: workers finish their task, take their STOP and exit.
- If the cluster has not stopped after Q_STOP_TIMEOUT seconds (default 30), its
  processes are killed, as a crash would: the sync is built to survive that (pending
  creates are found again by their stamp; the next run takes over the setup).

The cluster's main process also runs the job queue's ticker (jobqueue.ticker): dead
sync runs recovered and due Job Queue Entries dispatched every JOBQUEUE_TICK_SECONDS,
beside the workers rather than in their queue. It starts once the cluster's processes
are forked (so none of them inherits the thread) and stops at the first stop signal.

Only the worker processes react to SIGUSR1: the cluster's other processes inherit it
ignored. Upstream, django-q2 waits for tasks without a bound, and its signal handler
can deadlock (https://github.com/django-q2/django-q2/issues/346); neither is changed
here, the bound is kept from outside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django_q.cluster import Cluster
from django_q.conf import Conf
from django_q.management.commands.qcluster import Command as DjangoQClusterCommand

from jobqueue.ticker import Ticker

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WORKER_STOP_SIGNAL = signal.SIGUSR1
# How long a stopped cluster waits for the ticker to end the tick it is on.
TICKER_JOIN_SECONDS = 10.0


class Command(DjangoQClusterCommand):
    help = "Starts the job queue worker cluster (django-q2); SIGTERM stops it within Q_STOP_TIMEOUT seconds."

    def handle(self, *args, **options):
        """django-q2's own `handle`, with our stop handler in front of the cluster's."""
        if not settings.SECRET_KEY:  # signing needs it, as django-q2's command checks
            raise CommandError("SECRET_KEY must be set.")
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        # Inherited by every process the cluster forks; workers set their own handler
        # when they start (jobqueue.apps), so only they react to it.
        signal.signal(WORKER_STOP_SIGNAL, signal.SIG_IGN)
        cluster = Cluster()
        ticker = Ticker(Conf.CLUSTER_NAME)
        stop = _BoundedStop(cluster, settings.Q_STOP_TIMEOUT, ticker)
        for signum in STOP_SIGNALS:
            signal.signal(signum, stop.on_signal)
        # Forked with SIGTERM blocked, the cluster's processes do not die of a SIGTERM sent
        # to the whole process group (systemd's default KillMode=control-group): stopping
        # is this process's job. django-q2's sentinel would die of it at once, maybe
        # holding the lock of the stop event this process then waits on, which ended in a
        # kill after Q_STOP_TIMEOUT and exit 1. Workers unblock it and take it as the stop
        # request (jobqueue.apps). A SIGTERM to this process while the cluster starts waits
        # until it has started.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            cluster.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if options.get("run_once"):
            cluster.stop()
            return
        if stop.started:  # a stop signal came while the cluster was starting
            return
        ticker.start()
        # Wait here while the cluster runs (the stop signal's handler runs in this thread),
        # then let the ticker finish the tick it is on.
        while cluster.sentinel.is_alive():
            time.sleep(0.5)
        ticker.stop()
        ticker.join(TICKER_JOIN_SECONDS)


class _BoundedStop:
    """The stop signal's handler: stop the ticker, warn the workers, start the deadline,
    then stop as django-q2 does."""

    def __init__(self, cluster, timeout: float, ticker: Ticker) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.ticker = ticker
        self.started = False
        self.killed = False

    def on_signal(self, signum, frame) -> None:
        if not self.started:
            self.started = True
            self.ticker.stop()  # no new dispatch while the cluster stops
            sentinel = self.cluster.sentinel
            if sentinel is not None and sentinel.pid:
                for pid in _children(sentinel.pid):
                    _signal(pid, WORKER_STOP_SIGNAL)
            deadline = threading.Timer(self.timeout, self._kill, args=(sentinel,))
            deadline.daemon = True
            deadline.start()
        self.cluster.sig_handler(signum, frame)
        if self.killed:
            # The deadline killed the cluster, which ended django-q2's wait: exit as
            # killed (1), not as a clean stop, whichever thread gets here first.
            os._exit(1)

    def _kill(self, sentinel) -> None:
        self.killed = True
        logger.error("The job queue workers did not stop within %s s; killing them", self.timeout)
        if sentinel is not None and sentinel.pid:
            for pid in _children(sentinel.pid):
                _signal(pid, signal.SIGKILL)
            _signal(sentinel.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(sentinel.pid, 0)  # ours to reap; its children go to init
        os._exit(1)


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (2nd field) is in parentheses and may hold spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
