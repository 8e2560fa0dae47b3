"""`make bench`, scenario ``live``, Outlook -> Business Central: how fast an Outlook edit
reaches Business Central, and what a live setup costs at rest, with 150 ms per Graph
operation and Outlook's throttle on.

The cluster is played as in `bench.live` (the real ticker thread, a worker thread
running every task it queues). A person edits in Outlook through Graph (a PATCH of a
contact's business phone, sent to the bench's sandbox server); a thread reads the
contacts table every POLL_SECONDS and notes when each edited value is in Business Central.

- With change notifications: GRAPH_NOTIFICATION_URL is the bench's own server (it
  serves the product's /graph/notifications/ beside the sandbox; http on 127.0.0.1 is
  accepted by the sandbox only). The setup subscribes through the tick's upkeep, then 100
  edits at random moments over about 60 s; target p95 <= 15 s. At rest: the Graph
  requests the cluster sends with no edit: only the safety polls (one request per
  LIVE_SAFETY_POLL_SECONDS, 15 min) and renewals (due a day before a week-long
  subscription ends). Measured over REST_SAFETY_INTERVALS safety intervals of
  REST_SAFETY_SECONDS (a quarter of an hour each would add 45 minutes to the bench);
  target: at most 1 request per safety interval.
- With polling (no GRAPH_NOTIFICATION_URL, LIVE_POLL_SECONDS as configured, 60 s by
  default): the same 100 edits; target p95 <= 75 s. At rest: requests over
  REST_POLL_INTERVALS polling intervals; target <= 2 per interval.

Each scenario has its own world (mailbox, setup, contacts); the world of the scenario
before is switched off first, so its polls and runs do not count here.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.test import override_settings

from bench.live import JobQueue, LiveFigures, _prepare
from bench.world import World

POLL_SECONDS = 0.2
REST_SAFETY_SECONDS = 20.0
REST_SAFETY_INTERVALS = 3
REST_POLL_INTERVALS = 2
OVER_SECONDS = 60.0
WAIT_SECONDS = 180.0


@dataclass
class RestFigures:
    """Graph requests of one mailbox's live setup with no edits."""

    mode: str
    seconds: float
    requests: int
    interval: float

    @property
    def per_interval(self) -> float:
        return self.requests / (self.seconds / self.interval)


class BusinessCentral(threading.Thread):
    """Reads the contacts table and notes when each awaited phone number is there."""

    def __init__(self) -> None:
        super().__init__(name="live-bc-observer", daemon=True)
        self.awaited: dict[str, tuple[str, float]] = {}  # contact no -> (phone, edited at)
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def await_value(self, no: str, phone: str, edited_at: float) -> None:
        with self.lock:
            self.awaited[no] = (phone, edited_at)

    def pending(self) -> int:
        with self.lock:
            return len(self.awaited)

    def run(self) -> None:
        from contacts.models import Contact

        try:
            while not self.stopped.wait(POLL_SECONDS):
                with self.lock:
                    nos = list(self.awaited)
                phones = dict(Contact.objects.filter(no__in=nos).values_list("no", "phone")) if nos else {}
                now = time.monotonic()
                with self.lock:
                    for no, (phone, edited_at) in list(self.awaited.items()):
                        if phones.get(no) == phone:
                            self.seen[f"{no}:{phone}"] = now - edited_at
                            del self.awaited[no]
        finally:
            connection.close()


def _two_way(world: World) -> None:
    """Outlook edits come back only to a setup that keeps them (off by default: Business
    Central is the master); a person who wants them back switches it on."""
    from exchange_sync.models import ExchangeSyncSetup

    ExchangeSyncSetup.objects.filter(pk=world.setup.pk).update(keep_outlook_edits=True)


def _retire_others(keep: World) -> None:
    """Switch live sync off for every other setup, and have the next tick scan at once
    (their subscriptions deleted, their polls stopped)."""
    from exchange_sync.live import subscriptions
    from exchange_sync.models import ExchangeSyncSetup

    ExchangeSyncSetup.objects.exclude(pk=keep.setup.pk).update(is_live_sync_enabled=False)
    subscriptions._last_scan = None


def _outlook_ids(world: World, client) -> dict[str, str]:
    from exchange_sync.graph.stamp import stamp_value

    ids = {}
    for page in client.iter_contacts(world.email, world.setup.folder_id, select=["id"], expand_stamp=True):
        for item in page:
            ids[stamp_value(item)] = item["id"]
    return ids


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"live: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.5)


def _status(world: World) -> str | None:
    from exchange_sync.models import LiveSubscription

    return LiveSubscription.objects.filter(setup=world.setup).values_list("status", flat=True).first()


def _edits(world: World, jobs: JobQueue, say, *, edits: int, contacts: int, over_seconds: float) -> LiveFigures:
    """`edits` Outlook edits at random moments; the time each takes to reach Business Central."""
    from exchange_sync.connection import graph_client_from_settings

    figures = LiveFigures(edits=edits)
    editor = graph_client_from_settings()  # the person in Outlook: not the cluster's requests
    ids = _outlook_ids(world, editor)
    bc = BusinessCentral()
    bc.start()
    requests_before = jobs.graph_requests()
    moments = sorted(random.uniform(0, over_seconds) for _ in range(edits))
    say(f"live: {edits} Outlook edits at random moments over {over_seconds:.0f} s ...")
    start = time.monotonic()
    try:
        for n, moment in enumerate(moments):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            no = f"{world.code}{random.randint(1, contacts):07d}"
            phone = f"+44 20 7777 {n:04d}"
            editor.update_contact(world.email, world.setup.folder_id, ids[no], {"businessPhones": [phone]})
            bc.await_value(no, phone, time.monotonic())  # saved in Outlook: the clock starts
        deadline = time.monotonic() + WAIT_SECONDS
        while bc.pending() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        bc.stopped.set()
        bc.join()
        editor.close()
    figures.latencies = list(bc.seen.values())
    figures.unseen = bc.pending()
    figures.total_seconds = time.monotonic() - start
    figures.graph_requests = jobs.graph_requests() - requests_before
    figures.runs = _inbound_runs(world, start)
    return figures


def _inbound_runs(world: World, since_monotonic: float) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from exchange_sync.models import SyncRun

    since = timezone.now() - timedelta(seconds=time.monotonic() - since_monotonic)
    return SyncRun.objects.filter(setup=world.setup, trigger=SyncRun.Trigger.LIVE, created_at__gte=since).count()


def _at_rest(jobs: JobQueue, mode: str, seconds: float, say) -> RestFigures:
    say(f"live: at rest ({mode}) for {seconds:.0f} s, no edits ...")
    before = jobs.graph_requests()
    time.sleep(seconds)
    return RestFigures(mode, seconds, jobs.graph_requests() - before, settings.LIVE_POLL_SECONDS)


def _at_rest_subscribed(jobs: JobQueue, world: World, say) -> RestFigures:
    """At rest with a subscription: the safety polls, at REST_SAFETY_SECONDS (the row's next
    poll moved to its slot under that interval first, as a cluster started with it would)."""
    from django.utils import timezone

    from exchange_sync.live.polling import safety_poll_slot
    from exchange_sync.models import LiveSubscription

    with override_settings(LIVE_SAFETY_POLL_SECONDS=REST_SAFETY_SECONDS):
        row = LiveSubscription.objects.get(setup=world.setup)
        LiveSubscription.objects.filter(pk=row.pk).update(poll_at=safety_poll_slot(row.pk, timezone.now()))
        seconds = REST_SAFETY_INTERVALS * REST_SAFETY_SECONDS
        say(f"live: at rest (notifications, a safety poll every {REST_SAFETY_SECONDS:.0f} s) for {seconds:.0f} s ...")
        before = jobs.graph_requests()
        time.sleep(seconds)
        return RestFigures("notifications", seconds, jobs.graph_requests() - before, REST_SAFETY_SECONDS)


def notified(stage, say, *, edits: int = 100, contacts: int = 200) -> tuple[LiveFigures, RestFigures]:
    """Outlook -> BC with change notifications delivered to this bench's server."""
    world = _prepare(stage, "BNOTIFY", contacts, say)
    _two_way(world)
    _retire_others(world)
    with override_settings(GRAPH_NOTIFICATION_URL=stage.site_url), JobQueue() as jobs:
        _wait_for(lambda: _status(world) == "active", 60, "the change subscription")
        say("live: subscribed to the folder's changes through the tick's upkeep")
        figures = _edits(world, jobs, say, edits=edits, contacts=contacts, over_seconds=OVER_SECONDS)
        time.sleep(10)  # the last runs finish before the quiet window
        rest = _at_rest_subscribed(jobs, world, say)
    return figures, rest


def polled(stage, say, *, edits: int = 100, contacts: int = 200) -> tuple[LiveFigures, RestFigures]:
    """Outlook -> BC by the polling fallback (no notification URL)."""
    world = _prepare(stage, "BPOLL", contacts, say)
    _two_way(world)
    _retire_others(world)
    with override_settings(GRAPH_NOTIFICATION_URL=""), JobQueue() as jobs:
        _wait_for(lambda: _status(world) == "polling", 60, "the polling row")
        figures = _edits(world, jobs, say, edits=edits, contacts=contacts, over_seconds=OVER_SECONDS)
        time.sleep(10)
        rest = _at_rest(jobs, "polling", REST_POLL_INTERVALS * settings.LIVE_POLL_SECONDS, say)
    return figures, rest
