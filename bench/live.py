"""`make bench`, scenario ``live``: how fast a Business Central edit reaches Outlook by
live sync, with 150 ms per Graph operation and Outlook's throttle on.

This process plays one job queue cluster: the job queue's own ticker thread
(`jobqueue.ticker.Ticker`, every JOBQUEUE_TICK_SECONDS, 2 s) queues the live runs that
are due (and the subscription upkeep and Outlook polls), as it does in each `manage.py
qcluster`, and a worker thread carries out each queued task with the function a qcluster
runs (`exchange_sync.tasks.*`), one at a time. An observer thread reads the folder back
through Graph (one listing request per poll) and notes when each edited value is
readable there. Outlook -> Business Central: bench.live_inbound.

- 100 edits at random moments over about 60 s, each a phone number changed and saved
  (its own transaction): p50 / p95 / max from the commit to the value readable in
  Outlook; target p95 <= 10 s.
- A burst of 1,000 edits, saved one after the other as fast as this process can: how
  many live runs carried them, and the time from the first commit to the last value
  readable in Outlook.
"""

from __future__ import annotations

import logging
import queue
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from unittest import mock

from django.db import connection
from django.utils import timezone

from bench.world import World

POLL_SECONDS = 0.5

logger = logging.getLogger(__name__)


@dataclass
class LiveFigures:
    edits: int
    latencies: list[float] = field(default_factory=list)
    runs: int = 0
    total_seconds: float = 0.0
    graph_requests: int = 0
    unseen: int = 0
    reads_refused: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


class JobQueue:
    """The job queue's ticker and one worker, in threads of this process.

    Every task the tick queues (live runs, subscription upkeep, Outlook polls) goes to the
    worker, which calls it by its dotted path as a qcluster would. Each Graph client the
    tasks make is counted when it is closed, so `graph_requests()` counts the requests this
    cluster sent.
    """

    def __init__(self) -> None:
        from exchange_sync.graph import GraphClient
        from jobqueue.ticker import Ticker

        self.tasks: queue.Queue[tuple[str, tuple]] = queue.Queue()
        self.stopped = threading.Event()
        self.ticker = Ticker("bench-live")
        self.threads = [self.ticker, threading.Thread(target=self._work, name="live-worker", daemon=True)]
        self.requests = 0
        self._close = GraphClient.close
        self._patches = [
            mock.patch("django_q.tasks.async_task", self._enqueue),
            # Counted as each task closes its client (whichever factory made it); only the
            # worker's, not the bench's readers and editors.
            mock.patch.object(GraphClient, "close", lambda client: self._closing(client)),
        ]

    def _enqueue(self, func: str, *args, **kwargs) -> None:
        self.tasks.put((func, args))

    def _closing(self, client) -> None:
        if threading.current_thread() is self.threads[1]:
            self.requests += client.request_count
        self._close(client)

    def graph_requests(self) -> int:
        """Graph requests sent by the tasks this worker finished (every attempt counted)."""
        return self.requests

    def __enter__(self) -> JobQueue:
        for patch in self._patches:
            patch.start()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.ticker.stop()
        for thread in self.threads:
            thread.join()
        for patch in self._patches:
            patch.stop()

    def _work(self) -> None:
        from django.utils.module_loading import import_string

        try:
            while not self.stopped.is_set():
                try:
                    func, args = self.tasks.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    import_string(func)(*args)
                except Exception:  # a qcluster logs a failed task and goes on
                    logger.exception("Bench job queue: task %s%r failed", func, args)
        finally:
            connection.close()


class Observer(threading.Thread):
    """Reads the folder through Graph and notes when each awaited phone number shows."""

    def __init__(self, world: World, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(name="live-observer", daemon=True)
        self.world, self.poll_seconds = world, poll_seconds
        self.refused = 0
        self.awaited: dict[str, tuple[str, float]] = {}  # contact no -> (phone, committed at)
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def await_value(self, no: str, phone: str, committed_at: float) -> None:
        with self.lock:
            self.awaited[no] = (phone, committed_at)

    def pending(self) -> int:
        with self.lock:
            return len(self.awaited)

    def run(self) -> None:
        from exchange_sync.connection import graph_client_from_settings
        from exchange_sync.graph.errors import GraphError
        from exchange_sync.graph.stamp import stamp_value

        setup = self.world.setup
        client = graph_client_from_settings()
        try:
            while not self.stopped.wait(self.poll_seconds):
                phones = {}
                try:
                    for page in client.iter_contacts(
                        self.world.email, setup.folder_id, select=["businessPhones"], expand_stamp=True, page_size=1000
                    ):
                        for item in page:
                            phones[stamp_value(item)] = (item.get("businessPhones") or [""])[0]
                except GraphError:
                    self.refused += 1  # a reader, too, meets Outlook's limits; read again next poll
                    continue
                now = time.monotonic()
                with self.lock:
                    for no, (phone, committed_at) in list(self.awaited.items()):
                        if phones.get(no) == phone:
                            self.seen[f"{no}:{phone}"] = now - committed_at
                            del self.awaited[no]
        finally:
            client.close()
            connection.close()


def _prepare(stage, tag: str, contacts: int, say) -> World:
    from exchange_sync.models import LiveSyncRequest

    world = World(tag).create()
    world.seed(contacts)
    say(f"live: linking {contacts:,} contacts (untimed full sync without latency) ...")
    seed = stage.run_worker(world.email, full=True)
    if seed["status"] != "succeeded":
        raise RuntimeError(f"The seeding sync did not succeed: {seed}")
    LiveSyncRequest.objects.all().delete()  # the seeding's own requests
    world.configure(latency_ms=150, throttle=True)
    return world


def _live_runs(world: World, since) -> tuple[int, int]:
    from exchange_sync.models import SyncRun

    runs = SyncRun.objects.filter(setup=world.setup, trigger=SyncRun.Trigger.LIVE, created_at__gte=since)
    return runs.count(), sum(runs.values_list("graph_requests", flat=True))


def _edit(no: str, phone: str) -> float:
    from contacts.models import Contact

    contact = Contact.objects.get(no=no)
    contact.phone = phone
    contact.save()  # commits (autocommit): the moment the clock starts
    return time.monotonic()


def _wait_seen(observer: Observer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while observer.pending() and time.monotonic() < deadline:
        time.sleep(0.2)


def random_edits(stage, say, *, edits: int = 100, contacts: int = 200, over_seconds: float = 60.0) -> LiveFigures:
    world = _prepare(stage, "BLIVE", contacts, say)
    figures = LiveFigures(edits=edits)
    moments = sorted(random.uniform(0, over_seconds) for _ in range(edits))
    observer = Observer(world)
    since = timezone.now()
    say(f"live: {edits} edits at random moments over {over_seconds:.0f} s ...")
    with JobQueue():
        observer.start()
        start = time.monotonic()
        for n, moment in enumerate(moments):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            no = f"{world.code}{random.randint(1, contacts):07d}"
            phone = f"+44 20 5555 {n:04d}"
            observer.await_value(no, phone, _edit(no, phone))
        _wait_seen(observer, timeout=120)
        observer.stopped.set()
        observer.join()
    figures.latencies = list(observer.seen.values())
    figures.unseen = observer.pending()
    figures.reads_refused = observer.refused
    figures.runs, figures.graph_requests = _live_runs(world, since)
    figures.total_seconds = time.monotonic() - start
    return figures


def burst(stage, say, *, edits: int = 1_000) -> LiveFigures:
    world = _prepare(stage, "BBURST", edits, say)
    figures = LiveFigures(edits=edits)
    observer = Observer(world, poll_seconds=1.0)
    since = timezone.now()
    say(f"live: a burst of {edits:,} edits ...")
    with JobQueue():
        observer.start()
        start = time.monotonic()
        for n in range(1, edits + 1):
            no = f"{world.code}{n:07d}"
            phone = f"+44 20 6666 {n:04d}"
            observer.await_value(no, phone, _edit(no, phone))
        say(f"live: {edits:,} edits saved in {time.monotonic() - start:.1f} s; waiting for Outlook ...")
        _wait_seen(observer, timeout=600)
        figures.total_seconds = time.monotonic() - start
        observer.stopped.set()
        observer.join()
    figures.latencies = list(observer.seen.values())
    figures.unseen = observer.pending()
    figures.reads_refused = observer.refused
    figures.runs, figures.graph_requests = _live_runs(world, since)
    return figures


@dataclass
class Line:
    """One row of the live sync table."""

    name: str
    figures: LiveFigures
    target: str
    met: bool


def lines_of(
    spread: LiveFigures | None,
    burst_figures: LiveFigures | None,
    notified: LiveFigures | None = None,
    polled: LiveFigures | None = None,
) -> list[Line]:
    """The latency rows, each with its target (issue 15) and whether it was met."""
    rows = []
    for name, figures, target, limit in (
        ("BC -> Outlook, 100 edits at random moments", spread, "p95 <= 10 s", 10.0),
        ("BC -> Outlook, burst of 1,000 edits", burst_figures, "a handful of runs", None),
        ("Outlook -> BC, change notifications, 100 edits", notified, "p95 <= 15 s", 15.0),
        ("Outlook -> BC, polling, 100 edits", polled, "p95 <= 75 s", 75.0),
    ):
        if figures is None:
            continue
        met = not figures.unseen and (figures.percentile(95) <= limit if limit else figures.runs <= 10)
        rows.append(Line(name, figures, target, met))
    return rows


def report(rows: list[Line], rest: list) -> str:
    """One table for every live scenario, and one for the cost at rest (bench.live_inbound.RestFigures)."""
    lines = [
        "Live sync, 150 ms per Graph operation, throttle on; the job queue's own ticker (every 2 s) queues the due "
        "runs, upkeeps and polls, carried out one at a time by a worker thread:",
        "",
        "| scenario | edits | p50 s | p95 s | max s | live runs | Graph requests | total s | not seen | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        figures, lat = row.figures, row.figures.latencies
        lines.append(
            f"| {row.name} | {figures.edits:,} | {statistics.median(lat) if lat else float('nan'):.1f} | "
            f"{figures.percentile(95):.1f} | {max(lat) if lat else float('nan'):.1f} | {figures.runs} | "
            f"{figures.graph_requests:,} | {figures.total_seconds:.1f} | {figures.unseen} | {row.target} | "
            f"{'met' if row.met else 'NOT MET'} |"
        )
    if rest:
        lines += [
            "",
            "| at rest, one mailbox | seconds | Graph requests | per interval (polling / safety poll) | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for figures in rest:
            polling = figures.mode == "polling"
            target = "<= 2 per interval" if polling else "<= 1 per safety interval, and renewals"
            met = _rest_met(figures)
            lines.append(
                f"| {figures.mode} | {figures.seconds:.0f} | {figures.requests} | {figures.per_interval:.2f} | "
                f"{target} | {'met' if met else 'NOT MET'} |"
            )
    return "\n".join(lines)


def _rest_met(figures) -> bool:
    return figures.per_interval <= (2 if figures.mode == "polling" else 1)


def rest_met(rest: list) -> bool:
    return all(_rest_met(figures) for figures in rest)
