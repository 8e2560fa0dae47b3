"""`make chaos`, the live-sync drills: Outlook's change notifications under faults.

The real stack: a `manage.py qcluster` (its ticker subscribes the setup's folder, queues
the live runs and the subscription upkeep; its worker carries them out) and the stage's
server, which serves the Graph sandbox and bcsync's own notification endpoints
(GRAPH_NOTIFICATION_URL points the cluster at it). The setup has live sync on and keeps
Outlook edits; it is synchronized once before the cluster starts, and each drill waits
for the cluster's subscription.

Edits are made on both sides, on different contacts (a field changed on both sides is a
conflict, which Business Central wins): in Outlook a job title changed through the
sandbox's Graph API (so the server notifies, as Outlook would), in Business Central a
phone number saved (a live run takes it to Outlook). Each edit's value is awaited on the
other side, so an edit lost is seen even when both sides ended up equal (an Outlook edit
overwritten by Business Central's old value).

Settled: every edit's value on the other side, no live request pending, no run running,
and then the full check (no duplicate, nothing lost, both sides equal field by field),
plus the sandbox's note of the most copies of each contact its folder ever held at one
moment, which must stay 1. The wait is bounded (CHAOS_NOTIFY_SETTLE_SECONDS, 90); a drill
that times out names the edits, and says whether a run (as the scheduled sync would
start it) brings them.

A subscribed setup polls its folder every LIVE_SAFETY_POLL_SECONDS (15 min by default),
for an edit whose notification was lost with no later notification to start a run. The
drills' cluster polls every CHAOS_SAFETY_POLL_SECONDS (30) instead, so that the lone
lost edit's trial fits in its LONE_WAIT (60 s); the other trials settle in seconds,
before a safety poll.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable

from bench.cluster import qcluster_kill, qcluster_start
from bench.harness import Stage
from bench.trial import Drill
from bench.world import World, both_sides_check

CONTACTS = 200
JOB_TITLE_MAX = 30  # Business Central's Job Title length
LONE_WAIT = 60.0


def _settle_seconds() -> float:
    return float(os.environ.get("CHAOS_NOTIFY_SETTLE_SECONDS", "90"))


class LiveWorld:
    """A setup synchronized once, its cluster, and the edits awaited on each side."""

    def __init__(self, stage: Stage, tag: str) -> None:
        from exchange_sync.models import LiveSyncRequest

        self.stage, self.tag = stage, tag
        self.world = World(tag).create()
        self.world.seed(CONTACTS)
        type(self.world.setup).objects.filter(pk=self.world.setup.pk).update(keep_outlook_edits=True)
        seeded = stage.run_worker(self.world.email, full=True)
        if seeded["status"] != "succeeded":
            raise RuntimeError(f"The first sync of {tag} did not succeed: {seeded}")
        LiveSyncRequest.objects.all().delete()  # the seeding's own requests
        self.graph_ids = {stamp: item["id"] for stamp, item in self._outlook().items()}
        self.in_bc: dict[str, str] = {}  # contact no -> job title edited in Outlook
        self.in_outlook: dict[str, str] = {}  # contact no -> phone edited in Business Central
        self.next_contact = 1
        self.clusters: list[subprocess.Popen] = []
        self.last_edit = time.monotonic()

    # --- the cluster ----------------------------------------------------------------

    def cluster_start(self) -> None:
        name = f"qcluster-{self.tag.lower()}-{len(self.clusters) + 1}"
        env = {
            "GRAPH_NOTIFICATION_URL": self.stage.site_url,
            "LIVE_SAFETY_POLL_SECONDS": os.environ.get("CHAOS_SAFETY_POLL_SECONDS", "30"),
        }
        self.clusters.append(qcluster_start(self.stage, name, env))

    def cluster_kill(self) -> None:
        qcluster_kill(self.clusters[-1])

    def close(self) -> None:
        for cluster in self.clusters:
            qcluster_kill(cluster)

    def subscription(self, *, other_than: str = "", timeout: float = 120):
        """The setup's active subscription (another than `other_than`), once the cluster made it."""
        from exchange_sync.models import LiveSubscription

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = LiveSubscription.objects.filter(setup=self.world.setup, status=LiveSubscription.Status.ACTIVE).first()
            if row is not None and row.graph_id and row.graph_id != other_than:
                return row
            time.sleep(0.5)
        raise RuntimeError(f"No active subscription for {self.tag} after {timeout:.0f} s")

    # --- edits ----------------------------------------------------------------------

    def _contact_no(self) -> str:
        no = f"{self.world.code}{self.next_contact:07d}"
        self.next_contact += 1
        if self.next_contact > CONTACTS:
            raise RuntimeError("The drill ran out of contacts to edit")
        return no

    def edit_in_outlook(self, value: str) -> str:
        from exchange_sync.connection import graph_client_from_settings

        if len(value) > JOB_TITLE_MAX:  # Business Central would keep its own value (and record why)
            raise ValueError(f"The drill's Outlook value {value!r} is longer than a Job Title may be")
        no = self._contact_no()
        client = graph_client_from_settings()
        try:
            client.update_contact(self.world.email, self.world.setup.folder_id, self.graph_ids[no], {"jobTitle": value})
        finally:
            client.close()
        self.in_bc[no] = value
        self.last_edit = time.monotonic()
        return no

    def edit_in_business_central(self, phone: str) -> str:
        from contacts.models import Contact

        no = self._contact_no()
        contact = Contact.objects.get(no=no)
        contact.phone = phone
        contact.save()
        self.in_outlook[no] = phone
        self.last_edit = time.monotonic()
        return no

    def edits(
        self, outlook: int, business_central: int, over_seconds: float, tag: str, *, outlook_last: int = 0
    ) -> None:
        """That many edits on each side, shuffled, at random moments over `over_seconds`;
        then, once no run is pending, `outlook_last` more in Outlook: those arrive only by
        their notifications (no Business Central edit's run after them reads the delta)."""
        self._edits(["outlook"] * outlook + ["bc"] * business_central, over_seconds, tag)
        if outlook_last:
            self.quiet()
            self._edits(["outlook"] * outlook_last, 1.0, f"{tag} last")

    def quiet(self, seconds: float = 60) -> None:
        """Wait (bounded) until no live run is asked for, queued or running."""
        deadline = time.monotonic() + seconds
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.5)

    def _edits(self, sides: list[str], over_seconds: float, tag: str) -> None:
        random.shuffle(sides)
        moments = sorted(random.uniform(0, over_seconds) for _ in sides)
        start = time.monotonic()
        for n, (side, moment) in enumerate(zip(sides, moments, strict=True)):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            if side == "outlook":
                self.edit_in_outlook(f"{tag} {n}")
            else:
                self.edit_in_business_central(f"+44 20 4{n:03d} {random.randint(1000, 9999)}")

    # --- settling -------------------------------------------------------------------

    def _outlook(self) -> dict[str, dict]:
        from exchange_sync.connection import graph_client_from_settings
        from exchange_sync.graph.stamp import stamp_value

        client = graph_client_from_settings()
        try:
            pages = client.iter_contacts(
                self.world.email,
                self.world.setup.folder_id,
                select=["businessPhones", "jobTitle"],
                expand_stamp=True,
                page_size=1000,
            )
            return {(stamp_value(item) or "").upper(): item for page in pages for item in page}
        finally:
            client.close()

    def unarrived(self) -> tuple[list[str], list[str]]:
        """(Outlook edits not in Business Central, Business Central edits not in Outlook)."""
        from contacts.models import Contact

        titles = dict(Contact.objects.filter(no__in=self.in_bc).values_list("no", "job_title"))
        outlook = self._outlook()
        return (
            sorted(no for no, value in self.in_bc.items() if titles.get(no) != value),
            sorted(
                no
                for no, phone in self.in_outlook.items()
                if (outlook.get(no, {}).get("businessPhones") or [""])[0] != phone
            ),
        )

    def busy(self) -> bool:
        """A live run asked for, queued or running."""
        from exchange_sync.models import LiveSyncRequest, SyncRun

        setup = self.world.setup
        pending = SyncRun.objects.filter(setup=setup, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
        return LiveSyncRequest.objects.filter(setup=setup).exists() or pending.exists()

    def settle(self, seconds: float | None = None) -> tuple[float | None, list[str]]:
        """Seconds from the last edit until settled, and the problems (none when it settled)."""
        seconds = _settle_seconds() if seconds is None else seconds
        deadline = self.last_edit + seconds
        while True:
            to_bc, to_outlook = self.unarrived()
            if not to_bc and not to_outlook and not self.busy():
                settled = time.monotonic() - self.last_edit
                return settled, self.check()
            if time.monotonic() > deadline:
                problems = []
                if to_bc:
                    problems.append(f"{len(to_bc)} Outlook edits not in Business Central: {to_bc[:5]}")
                if to_outlook:
                    problems.append(f"{len(to_outlook)} Business Central edits not in Outlook: {to_outlook[:5]}")
                return None, problems or ["still busy"]
            time.sleep(1)

    def check(self) -> list[str]:
        """Both sides equal, nothing lost, no duplicate ever."""
        from exchange_sync.connection import graph_client_from_settings
        from exchange_sync.graph.stamp import STAMP_PROPERTY_ID
        from exchange_sync.sandbox.models import ValueCopies

        client = graph_client_from_settings()
        try:
            problems = both_sides_check(self.world, client, expected_contacts=CONTACTS).problems
        finally:
            client.close()
        copies = ValueCopies.objects.filter(
            folder__graph_id=self.world.setup.folder_id, property_id=STAMP_PROPERTY_ID, most__gt=1
        )
        if copies.exists():
            problems.append(f"{copies.count()} contacts had two copies at one moment in Outlook")
        return problems

    def runs(self, since_pk: int = 0) -> str:
        from exchange_sync.models import SyncRun

        runs = SyncRun.objects.filter(setup=self.world.setup, pk__gt=since_pk)
        live = runs.filter(trigger=SyncRun.Trigger.LIVE)
        other = runs.exclude(status=SyncRun.Status.SUCCEEDED).values_list("status", flat=True)
        return f"{live.count()} live runs" + (f", not succeeded: {sorted(other)}" if other else "")

    def last_run_pk(self) -> int:
        from exchange_sync.models import SyncRun

        return SyncRun.objects.filter(setup=self.world.setup).order_by("-pk").values_list("pk", flat=True).first() or 0

    def catch_up(self) -> str:
        """After a failed settle: a run as the scheduled sync would start it; did it bring the rest?"""
        from exchange_sync.models import SyncRun
        from exchange_sync.services import sync_run_queue

        sync_run_queue(self.world.setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB)
        self.last_edit = time.monotonic()
        settled, problems = self.settle(60)
        if settled is None:
            return f"a scheduled run did not bring them either ({'; '.join(problems)})"
        return f"a scheduled run brought them in {settled:.0f} s" + (f" but {'; '.join(problems)}" if problems else "")


def _trial(
    drill: Drill,
    live: LiveWorld,
    note: str,
    since_pk: int,
    started: float | None = None,
    seconds: float | None = None,
    *,
    ok: bool = True,
) -> None:
    """Settle, then one trial's verdict with its figures (failed anyway when not `ok`)."""
    settled, problems = live.settle(seconds)
    extra = ""
    if settled is None:
        extra = live.catch_up()
    took = f"settled {settled:.0f} s after the last edit" if settled is not None else "did NOT settle"
    if started is not None and settled is not None:
        took += f" ({time.monotonic() - started:.0f} s after the fault)"
    drill.trial(
        ok and settled is not None and not problems,
        "; ".join(filter(None, [note, took, live.runs(since_pk), *problems, extra])),
    )


def _with_cluster(stage: Stage, tag: str, body: Callable[[LiveWorld], None]) -> None:
    live = LiveWorld(stage, tag)
    try:
        live.cluster_start()
        live.subscription()
        body(live)
    finally:
        live.close()


FAULTS = (  # (label, the Outlook edits' tag, knobs)
    ("drop 30 %", "Drop", {"notification_drop_rate": 0.3}),
    ("duplicate 50 %", "Duplicate", {"notification_duplicate_rate": 0.5}),
    ("reorder, 5 s late", "Late", {"notification_reorder": True, "notification_delay_seconds": 5.0}),
    (
        "all: drop 30 %, duplicate 50 %, reorder, 5 s late",
        "All",
        {
            "notification_drop_rate": 0.3,
            "notification_duplicate_rate": 0.5,
            "notification_reorder": True,
            "notification_delay_seconds": 5.0,
        },
    ),
)
NO_FAULTS = {
    "notification_drop_rate": 0.0,
    "notification_duplicate_rate": 0.0,
    "notification_reorder": False,
    "notification_delay_seconds": 0.0,
}


def drill_notify_faults(stage: Stage) -> Drill:
    """Per fault set, CHAOS_NOTIFY_EDITS (10) edits on each side at random moments over 15 s."""
    drill = Drill("notifications dropped, duplicated, reordered, late")
    edits = int(os.environ.get("CHAOS_NOTIFY_EDITS", "10"))

    def body(live: LiveWorld) -> None:
        chosen = os.environ.get("CHAOS_NOTIFY_FAULTS", "")  # e.g. "all" or "drop": the fault sets whose label starts so
        for label, tag, knobs in FAULTS:
            if chosen and not label.startswith(tuple(chosen.split(","))):
                continue
            since = live.last_run_pk()
            live.world.configure(**{**NO_FAULTS, **knobs})
            # Outlook edits last, except where notifications are dropped: a lost last
            # notification waits for the scheduled sync (the lone-edit trial shows it).
            last = 0 if knobs.get("notification_drop_rate") else 2
            live.edits(edits, edits, 15.0, tag, outlook_last=last)
            then = f", then {last} in Outlook once quiet" if last else ""
            _trial(drill, live, f"{label}, {edits}+{edits} edits{then}", since)
        live.world.configure(**NO_FAULTS)
        _lone_edit_dropped(drill, live)

    _with_cluster(stage, "NFAULT", body)
    return drill


def _lone_edit_dropped(drill: Drill, live: LiveWorld) -> None:
    """One Outlook edit whose only notification is dropped, with nothing after it. Passed
    only when it arrives within LONE_WAIT s by itself, which only the setup's safety poll
    can bring (every CHAOS_SAFETY_POLL_SECONDS here); otherwise the notes say whether a run
    queued as the Job Queue Entry queues it (the scheduled sync) brings it."""
    # Quiet first: the notifications of the last run's own writes to Outlook (a few
    # seconds late with the knobs above) would ask for a run that reads this edit too.
    live.quiet()
    time.sleep(8)
    live.quiet()
    since = live.last_run_pk()
    live.world.configure(**{**NO_FAULTS, "notification_drop_rate": 1.0})
    no = live.edit_in_outlook("Lone, dropped")
    live.world.configure(**NO_FAULTS)
    settled, problems = live.settle(LONE_WAIT)
    if settled is not None:
        drill.trial(not problems, "; ".join([f"a lone dropped edit arrived in {settled:.0f} s", *problems]))
        return
    drill.trial(
        False,
        f"a lone Outlook edit ({no}) whose notification was dropped: not in Business Central after "
        f"{LONE_WAIT:.0f} s (no safety poll brought it); {live.catch_up()}; {live.runs(since)}",
    )


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _moment_reached(setup, moment: str, since: int, before) -> Callable[[], bool]:
    """The moment to kill at: the notification asked for a run (the subscription notes the
    notification, the request is pending), or a live run after `since` exists."""
    from exchange_sync.models import LiveSubscription, LiveSyncRequest, SyncRun

    if moment.startswith("notification") or moment.endswith(TASK_LOST):
        return lambda: (
            LiveSyncRequest.objects.filter(setup=setup).exists()
            and LiveSubscription.objects.get(setup=setup).last_notification_at != before
        )
    return lambda: SyncRun.objects.filter(setup=setup, pk__gt=since).exists()


TASK_LOST = "its task lost with the cluster"


def _queue_and_lose_the_task(setup) -> str:
    """What a cluster killed right after its tick queued a live run leaves (the run
    queued, its task gone: taken from Redis by a worker that died, or never sent): the
    due request made a run here, and the broker's queue is emptied. The request may be
    out of sight for a moment (the killed cluster's tick was taking it, in a transaction
    the kill rolls back): tried for a few seconds."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.brokers import get_broker

    from exchange_sync.live import live_runs_dispatch
    from exchange_sync.models import SyncRun

    deadline = time.monotonic() + 10
    while not live_runs_dispatch(timezone.now() + timedelta(seconds=30)):
        if time.monotonic() > deadline:
            return "NO run could be queued by hand"
        time.sleep(0.2)
    get_broker().purge_queue()
    latest = SyncRun.objects.filter(setup=setup).order_by("-pk").values_list("pk", "status").first()
    return f"run {latest[0]} queued ({latest[1]}), its task purged from the broker"


def drill_notify_worker_kill(stage: Stage) -> Drill:
    """The whole qcluster SIGKILLed between a notification and its run: (1) once the
    notification asked for a run, before the ticker queued it; (2) once the run was
    queued or started; (3) once the run was queued, its task lost with the cluster. A
    new cluster is started; nothing else is done."""
    from exchange_sync.models import LiveSubscription, LiveSyncRequest, SyncRun

    drill = Drill("qcluster killed between a notification and its run")

    def body(live: LiveWorld) -> None:
        setup = live.world.setup
        moments = (
            "notification received, run not yet queued",
            "live run queued or running",
            f"live run queued, {TASK_LOST}",
        )
        for moment in moments:
            since = live.last_run_pk()
            row = LiveSubscription.objects.get(setup=setup)
            before = row.last_notification_at
            for n in range(3):
                live.edit_in_outlook(f"Kill {since} {n}")
            reached = _wait(_moment_reached(setup, moment, since, before), 30)
            live.cluster_kill()
            killed = time.monotonic()
            lost = _queue_and_lose_the_task(setup) if moment.endswith(TASK_LOST) and reached else ""
            after = list(SyncRun.objects.filter(setup=setup, pk__gt=since).values_list("status", flat=True))
            state = f"requests pending {LiveSyncRequest.objects.filter(setup=setup).count()}, runs after: {after}"
            state += f"; {lost}" if lost else ""
            live.cluster_start()
            if not reached or lost.startswith("NO"):
                drill.trial(False, f"{moment}: the moment was never reached {lost}")
                continue
            # BC edits made while the new cluster starts: its live runs take them too.
            for n in range(2):
                live.edit_in_business_central(f"+44 20 3{n:03d} {random.randint(1000, 9999)}")
            # A run killed while running holds the setup until it is stale (STALE_RUN_AFTER, 60
            # s); a queued run whose task was lost has it sent again (TASK_RESEND_AFTER, 60 s).
            _trial(drill, live, f"killed at: {moment} ({state})", since, started=killed, seconds=240)

    _with_cluster(stage, "NKILL", body)
    return drill


def drill_subscription_removed(stage: Stage) -> Drill:
    """(1) Outlook removes the subscription (subscriptionRemoved to the lifecycle URL)
    and edits are made at once (5 on each side over 10 s; then 5 in Outlook only over
    3 s): it is recreated, and the edits arrive, with no edit after to help; (2) an Outlook edit is notified
    through the new subscription. (3) Notifications of a few Outlook edits all dropped, then a
    `missed` lifecycle notification: its catch-up run brings them."""
    from django.utils import timezone

    from exchange_sync.models import LiveSubscription
    from exchange_sync.sandbox.delivery import drain
    from exchange_sync.sandbox.subscriptions import subscription_lifecycle, subscription_remove

    drill = Drill("subscription removed by Outlook; notifications missed")

    def body(live: LiveWorld) -> None:
        for outlook, business_central, seconds in ((5, 5, 10.0), (5, 0, 3.0)):
            since = live.last_run_pk()
            old = live.subscription().graph_id
            removed = time.monotonic()
            subscription_remove(old)
            drain(10)
            live.edits(outlook, business_central, seconds, "Removed")
            try:
                live.subscription(other_than=old, timeout=60)
                recreated = f"a new one active {time.monotonic() - removed:.0f} s after (looked after the edits)"
            except RuntimeError as exc:
                recreated = f"NOT recreated: {exc}"
            # No edit after the new subscription: what was made while there was none must
            # arrive without a later notification's help.
            note = f"subscriptionRemoved, {outlook}+{business_central} edits over {seconds:.0f} s at once, {recreated}"
            _trial(drill, live, note, since, started=removed, ok=not recreated.startswith("NOT"))

        since = live.last_run_pk()
        live.edit_in_outlook("After the new subscription")
        _trial(drill, live, "an Outlook edit through the new subscription", since)

        since = live.last_run_pk()
        # No safety poll meanwhile: only the `missed` notification may bring these edits.
        LiveSubscription.objects.filter(setup=live.world.setup).update(poll_at=None)
        live.world.configure(**{**NO_FAULTS, "notification_drop_rate": 1.0})
        for n in range(4):
            live.edit_in_outlook(f"Missed {n}")
        time.sleep(8)  # more than the debounce and a tick: no run comes without notifications
        lost, _ = live.unarrived()
        live.world.configure(**NO_FAULTS)
        sent = time.monotonic()
        subscription_lifecycle(live.subscription().graph_id, "missed")
        drain(10)
        live.last_edit = sent
        _trial(drill, live, f"missed: {len(lost)} of 4 dropped edits absent before it", since, started=sent)
        LiveSubscription.objects.filter(setup=live.world.setup).update(poll_at=timezone.now())

    _with_cluster(stage, "NREMOVE", body)
    return drill
