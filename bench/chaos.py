"""`make chaos`: fault drills against the Graph sandbox, each checked on both sides.

Drills (CHAOS_DRILLS, comma separated, default all):

- ``kill``: CHAOS_TRIALS (10) times, a full sync of 2,000 contacts into an empty folder
  (CHAOS_KILL_LATENCY_MS, 50 ms per Graph operation) is killed with SIGKILL after a
  random delay (0.5 s to CHAOS_KILL_MAX_SECONDS, 20 s; the run takes about 30 s), until
  that many runs were really killed; a run started at once is refused (the
  dead run still holds the setup); once the dead run is stale (its heartbeat is set back
  by the STALE_RUN_AFTER the product waits) a normal sync runs to the end;
- ``storm``: a full sync of CHAOS_STORM_CONTACTS (1,000) while the sandbox refuses 30% of
  the requests with 429 and fails ~10% with 503 (and ~10% with 504), then normal syncs
  (still in the storm) until one succeeds without failures (at most 5);
- ``expired``: after changes on both sides, the delta link expires (410 Gone, then
  syncStateNotFound): the normal sync must fall back to a full reconciliation;
- ``together``: two syncs of one setup started at the same moment, three times: one
  must be refused;
- ``worker-kill``: CHAOS_WORKER_KILL_TRIALS (2) times, a person's "Sync with Microsoft
  365" (queued as the button queues it, a full sync of CHAOS_WORKER_KILL_CONTACTS,
  2,000, at 50 ms per Graph operation) runs in a real `manage.py qcluster`; once it has
  done about a third, the whole qcluster (its process group: sentinel, workers, monitor,
  pusher) is killed with SIGKILL, and a new qcluster is started, as a restarted machine
  would. Nothing else is done: the new cluster's tick finds the run silent, marks it
  Interrupted and queues the person's run again. Measured: the time from the kill until
  the setup is in sync (a run after the kill succeeded and both sides are equal).
  Target: within 3 minutes.
- ``notify-faults``, ``notify-worker-kill``, ``subscription-removed``: live sync from
  Outlook by change notifications, with a real qcluster and the sandbox's notifications
  dropped, duplicated, reordered and late; the qcluster killed between a notification
  and its run; the subscription removed by Outlook, and a `missed` lifecycle
  notification. Each waits (bounded) until every edit made on one side is on the other,
  then checks as below and that no contact ever had two copies. See bench.notify.

After each, the check: no duplicate in the folder, no contact lost on either side
(Business Central's count unchanged, every in-scope contact in Outlook), and both sides
equal for in-scope contacts, field by field. Exits 1 when a check fails.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time

from bench.cluster import qcluster_kill, qcluster_start
from bench.harness import Stage, worker_report
from bench.notify import drill_notify_faults, drill_notify_worker_kill, drill_subscription_removed
from bench.trial import Drill, say
from bench.world import World, both_sides_check

DRILLS = (
    "kill",
    "storm",
    "expired",
    "together",
    "worker-kill",
    "notify-faults",
    "notify-worker-kill",
    "subscription-removed",
)
WORKER_KILL_TARGET = 180.0


def _check(world: World, contacts: int) -> tuple[bool, str]:
    from exchange_sync.connection import graph_client_from_settings

    client = graph_client_from_settings()
    try:
        check = both_sides_check(world, client, expected_contacts=contacts)
    finally:
        client.close()
    if check.ok:
        return True, ""
    return False, "; ".join(check.problems)


def _stale(world: World) -> int | None:
    """Set the heartbeat of the run holding the setup back by the stale period, as if
    that long had passed since its worker died; return its id."""
    from django.utils import timezone

    from exchange_sync.models import SyncRun
    from exchange_sync.services import STALE_RUN_AFTER

    setup = world.setup
    if setup.running_run_id is None:
        return None
    SyncRun.objects.filter(pk=setup.running_run_id).update(
        heartbeat_at=timezone.now() - STALE_RUN_AFTER - timezone.timedelta(seconds=1)
    )
    return setup.running_run_id


def drill_kill(stage: Stage, trials: int, contacts: int = 2000) -> Drill:
    drill = Drill(f"SIGKILL during a {contacts:,}-contact full sync")
    World("CKBASE", code="CK").seed(contacts)
    longest = float(os.environ.get("CHAOS_KILL_MAX_SECONDS", "20"))
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "6700")))
    kills, n = 0, 0
    # Trials go on until `trials` runs were really killed (a run may end before its kill).
    while kills < trials and n < 2 * trials:
        n += 1
        world = World(f"CK{n:02d}", code="CK").create()
        # A little latency stretches the run (about 30 s) over the kill's random delay;
        # without it the run would be over before most kills.
        world.configure(latency_ms=int(os.environ.get("CHAOS_KILL_LATENCY_MS", "50")))
        delay = rng.uniform(0.5, longest)
        process = stage.start_worker(world.email, full=True)
        time.sleep(delay)
        finished_first = process.poll() is not None
        if not finished_first:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate()
        killed_at = _progress(world)
        notes = [f"killed after {delay:.1f}s at {killed_at}" if not finished_first else "finished before the kill"]
        ok = True
        if not finished_first:
            at_once = stage.run_worker(world.email, full=False)
            if at_once["status"] != "refused":
                ok = False
                notes.append(f"a run at once was {at_once['status']}, not refused")
            _stale(world)
        after = stage.run_worker(world.email, full=False)
        if after["status"] != "succeeded":
            ok = False
            notes.append(f"the next run {after['status']}: {after['error'][:100]}")
        else:
            notes.append(f"next run: {after['counts']['created_in_outlook']} created")
        good, problems = _check(world, contacts)
        drill.trial(ok and good, "; ".join([*notes, problems] if problems else notes))
    return drill


def _progress(world: World) -> str:
    from exchange_sync.models import ContactLink, SyncRun

    run = SyncRun.objects.filter(setup=world.setup).order_by("-pk").first()
    linked = ContactLink.objects.filter(setup=world.setup, graph_id__isnull=False).count()
    return f"{run.progress_done if run else 0}/{run.progress_total if run else 0} ({linked} linked)"


def drill_storm(stage: Stage, contacts: int) -> Drill:
    drill = Drill(f"429/503 storm, {contacts:,} contacts")
    world = World("STORM").create()
    world.seed(contacts)
    # 30% refused with 429 before they run; of the rest 2/7 fail transiently, half 503,
    # half 504: about 10% of all requests each.
    world.configure(transient_rate=0.2 / 0.7)
    stage.start_server({"DJANGO_SETTINGS_MODULE": "bench.settings", "GRAPH_SANDBOX_THROTTLE_ERROR_RATE": "0.3"})
    statuses: dict[str, int] = {}
    runs = []
    try:
        for attempt in range(6):
            report = stage.run_worker(world.email, full=attempt == 0, record=True)
            for status, count in report["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
            runs.append(f"{report['status']} ({report['counts']['failed']} failed, {report['wall_seconds']:.0f}s)")
            if report["status"] == "succeeded":
                break
    finally:
        world.configure(transient_rate=None)
        stage.start_server()
    total = sum(statuses.values())
    shares = ", ".join(f"{s}: {statuses.get(s, 0) / total:.0%}" for s in ("429", "503", "504")) if total else ""
    good, problems = _check(world, contacts)
    converged = runs and runs[-1].startswith("succeeded")
    note = f"runs: {' -> '.join(runs)}; answers seen {shares} of {total}"
    drill.trial(good and bool(converged), "; ".join(filter(None, [note, problems])))
    return drill


def drill_expired(stage: Stage, contacts: int = 300) -> Drill:
    from contacts.models import Contact
    from exchange_sync.connection import graph_client_from_settings

    drill = Drill("expired delta link")
    world = World("EXPIRED").create()
    world.seed(contacts)
    stage.run_worker(world.email, full=True)
    expected = contacts
    for n, expiry in enumerate(("410", "syncStateNotFound"), start=1):
        # Changes on both sides while the link expires.
        Contact.objects.filter(no__in=[f"{world.code}{i:07d}" for i in range(n, 40, 4)]).update(city="Leeds")
        client = graph_client_from_settings()
        setup = world.setup
        try:
            items = [i for page in client.iter_contacts(world.email, setup.folder_id, page_size=50) for i in page][:10]
            for item in items[:4]:
                client.update_contact(world.email, setup.folder_id, item["id"], {"jobTitle": "Edited in Outlook"})
            for item in items[4:7]:
                client.delete_contact(world.email, setup.folder_id, item["id"])
            client.create_contact(
                world.email,
                setup.folder_id,
                {
                    "givenName": "New",
                    "surname": f"Outlook{n}",
                    "emailAddresses": [{"address": f"new.outlook{n}@customers.example"}],
                },
            )
        finally:
            client.close()
        expected += 1  # the contact made in Outlook comes to Business Central
        world.configure(expire_delta=expiry)
        report = stage.run_worker(world.email, full=False)
        world.configure(expire_delta="")
        fell_back = "full reconciliation" in report["error"]
        good, problems = _check(world, expected)
        after = stage.run_worker(world.email, full=False)
        notes = [
            f"{expiry}: {report['status']}, {'fell back to full' if fell_back else 'NO fallback noted'}",
            f"next run {after['status']} in {after['requests']} requests",
        ]
        ok = good and fell_back and report["status"] == "succeeded" and after["status"] == "succeeded"
        drill.trial(ok, "; ".join(filter(None, [*notes, problems])))
    return drill


def drill_together(stage: Stage, trials: int = 3, contacts: int = 500) -> Drill:
    drill = Drill("two triggers at the same moment")
    World("TTBASE", code="TT").seed(contacts)
    for n in range(1, trials + 1):
        world = World(f"TT{n:02d}", code="TT").create()
        first = stage.start_worker(world.email, full=n % 2 == 1)
        second = stage.start_worker(world.email, full=False)
        outputs = [p.communicate() for p in (first, second)]
        reports = [worker_report(p.returncode, *out) for p, out in zip((first, second), outputs, strict=True)]
        statuses = sorted(r["status"] for r in reports)
        good, problems = _check(world, contacts)
        one_refused = statuses == ["refused", "succeeded"]
        drill.trial(good and one_refused, "; ".join(filter(None, [f"statuses {statuses}", problems])))
    return drill


def drill_worker_kill(stage: Stage, trials: int, contacts: int) -> Drill:
    from exchange_sync.models import SyncRun
    from exchange_sync.services import sync_run_queue

    drill = Drill(f"qcluster SIGKILLed during a button-started {contacts:,}-contact sync")
    World("CWBASE", code="CW").seed(contacts)
    latency = int(os.environ.get("CHAOS_WORKER_KILL_LATENCY_MS", "50"))
    for n in range(1, trials + 1):
        world = World(f"CW{n:02d}", code="CW").create()
        world.configure(latency_ms=latency)
        clusters = [qcluster_start(stage, f"qcluster-{n}a")]
        try:
            run, _ = sync_run_queue(world.setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON)
            deadline = time.monotonic() + 300
            while True:
                run.refresh_from_db()
                if run.is_finished or time.monotonic() > deadline:
                    break
                if run.progress_total and run.progress_done >= run.progress_total // 3:
                    break
                time.sleep(0.2)
            if run.is_finished:
                drill.trial(False, f"run #{run.pk} ended ({run.status}) before the kill")
                continue
            at_kill = _progress(world)
            qcluster_kill(clusters[0])
            killed, killed_at = time.monotonic(), time.time()
            clusters.append(qcluster_start(stage, f"qcluster-{n}b"))
            restarted = time.monotonic() - killed
            in_sync, note = _wait_in_sync(world, run.pk, contacts, killed)
            runs = ", ".join(f"#{r.pk} {r.status}" for r in SyncRun.objects.filter(setup=world.setup).order_by("pk"))
            ok = in_sync is not None and in_sync <= WORKER_KILL_TARGET
            drill.trial(
                ok,
                f"killed at {at_kill}; new qcluster ready after {restarted:.0f} s; "
                + (f"in sync {in_sync:.0f} s after the kill" if in_sync is not None else note)
                + f" (target {WORKER_KILL_TARGET:.0f} s; {_recovery_steps(world, run.pk, killed_at)}); runs: {runs}",
            )
        finally:
            for cluster in clusters:
                qcluster_kill(cluster)
    return drill


def _recovery_steps(world: World, killed_run: int, killed_at: float) -> str:
    """Where the time went: the kill until the dead run was marked Interrupted (and the
    person's run queued again), then the run that took over, from its start to its end."""
    from exchange_sync.models import SyncRun

    dead = SyncRun.objects.get(pk=killed_run)
    after = SyncRun.objects.filter(setup=world.setup, pk__gt=killed_run).order_by("pk").first()
    steps = []
    if dead.status == SyncRun.Status.INTERRUPTED and dead.finished_at:
        steps.append(f"interrupted {dead.finished_at.timestamp() - killed_at:.0f} s after the kill")
    if after and after.started_at and after.finished_at:
        steps.append(f"the run queued again took {(after.finished_at - after.started_at).total_seconds():.0f} s")
    return ", ".join(steps)


def _wait_in_sync(world: World, killed_run: int, contacts: int, killed: float) -> tuple[float | None, str]:
    """Seconds from the kill until a run after the killed one succeeded and both sides
    are equal; (None, why) after twice the target."""
    from exchange_sync.models import SyncRun

    while time.monotonic() - killed < 2 * WORKER_KILL_TARGET:
        done = SyncRun.objects.filter(setup=world.setup, pk__gt=killed_run, status=SyncRun.Status.SUCCEEDED)
        if done.exists():
            finished = time.monotonic()
            good, problems = _check(world, contacts)
            return (finished - killed, "") if good else (None, f"a run succeeded but the sides differ: {problems}")
        time.sleep(1)
    return None, f"not in sync {2 * WORKER_KILL_TARGET:.0f} s after the kill"


def main() -> int:
    chosen = [d.strip() for d in os.environ.get("CHAOS_DRILLS", ",".join(DRILLS)).split(",") if d.strip()]
    stage = Stage()
    drills: list[Drill] = []
    try:
        stage.prepare()
        stage.start_server()
        say(f"sandbox at {stage.site_url}, database {stage.env['DATABASE_URL']}; drills: {', '.join(chosen)}")
        for name in chosen:
            if name not in DRILLS:
                print(f"Unknown drill {name}; choose from {', '.join(DRILLS)}", file=sys.stderr)
                return 2
            try:
                if name == "kill":
                    drills.append(drill_kill(stage, int(os.environ.get("CHAOS_TRIALS", "10"))))
                elif name == "storm":
                    drills.append(drill_storm(stage, int(os.environ.get("CHAOS_STORM_CONTACTS", "1000"))))
                elif name == "worker-kill":
                    drills.append(
                        drill_worker_kill(
                            stage,
                            int(os.environ.get("CHAOS_WORKER_KILL_TRIALS", "2")),
                            int(os.environ.get("CHAOS_WORKER_KILL_CONTACTS", "2000")),
                        )
                    )
                elif name == "notify-faults":
                    drills.append(drill_notify_faults(stage))
                elif name == "notify-worker-kill":
                    drills.append(drill_notify_worker_kill(stage))
                elif name == "subscription-removed":
                    drills.append(drill_subscription_removed(stage))
                elif name == "expired":
                    drills.append(drill_expired(stage))
                else:
                    drills.append(drill_together(stage))
            except Exception as exc:  # a drill that breaks down is a failed drill, reported
                say(f"{name} stopped: {exc!r}")
                drills.append(Drill(name, trials=1, passed=0, notes=[f"stopped: {exc!r}"[:300]]))
    finally:
        stage.close()
    print()
    print("| drill | trials | passed | notes |")
    print("|---|---|---|---|")
    for drill in drills:
        print(f"| {drill.name} | {drill.trials} | {drill.passed} | {' / '.join(drill.notes)} |")
    return 0 if drills and all(d.passed == d.trials for d in drills) else 1


if __name__ == "__main__":
    sys.exit(main())
