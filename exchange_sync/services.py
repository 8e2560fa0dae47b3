"""Changes around sync runs: setups, queuing, claiming, finishing, recording issues."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.row_errors import storable_text

logger = logging.getLogger(__name__)

# A run that has not shown a sign of life for this long is taken to be dead (its worker
# was killed): its claim on the setup no longer blocks a new run. A live run beats at
# least every sync.run.PULSE_SECONDS (20 s), whatever it is doing, so this is three
# missed beats.
STALE_RUN_AFTER = timedelta(seconds=60)
ACTIVE_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
# A queued run whose task no worker has started for this long has its task sent again
# (the task may have been lost with a killed worker); then after twice as long, and so
# on, so a run waiting its turn behind many others is sent a handful of times at most.
TASK_RESEND_AFTER = timedelta(seconds=60)


def exchange_sync_setup_get_or_create(user: AbstractBaseUser) -> ExchangeSyncSetup:
    """The user's setup, created with the defaults when they have none (a write: POST only)."""
    setup, _ = ExchangeSyncSetup.objects.get_or_create(user=user)
    return setup


def exchange_sync_setup_enable(setup: ExchangeSyncSetup) -> bool:
    """Switch background sync on (scheduled entries sync only enabled setups); True when
    it was off."""
    switched_on = bool(ExchangeSyncSetup.objects.filter(pk=setup.pk, is_enabled=False).update(is_enabled=True))
    setup.is_enabled = True
    return switched_on


def sync_run_active(setup: ExchangeSyncSetup) -> SyncRun | None:
    """The run of this setup that is queued or running (and not stale), if any."""
    cutoff = timezone.now() - STALE_RUN_AFTER
    waiting = Q(created_at__gte=cutoff) | Q(task_sent_at__gte=cutoff)
    return (
        setup.runs.filter(status__in=ACTIVE_STATUSES)
        .filter(Q(heartbeat_at__gte=cutoff) | Q(heartbeat_at__isnull=True) & waiting)
        .order_by("-created_at")
        .first()
    )


def sync_run_create(
    setup: ExchangeSyncSetup,
    *,
    kind: str,
    trigger: str,
    requested_by: AbstractBaseUser | None = None,
    confirms: SyncRun | None = None,
    task_sent: bool = False,
) -> SyncRun:
    """A new run of `setup`, stamped with its user's name and mailbox (kept after the user
    is deleted, for audit); `task_sent` when it is queued for a worker's task."""
    return SyncRun.objects.create(
        setup=setup,
        user_name=setup.user.get_username(),
        mailbox=setup.mailbox,
        kind=kind,
        trigger=trigger,
        requested_by=requested_by,
        confirms=confirms,
        task_sent_at=timezone.now() if task_sent else None,
    )


def sync_run_start(run: SyncRun) -> bool:
    """Take `run` out of the queue: True for exactly one caller while it is queued.

    A run's task can reach the workers twice (the tick sends again the task of a run
    queued too long, which may only have been waiting its turn): the second finds the
    run started, or finished, and leaves it alone instead of running it twice or
    refusing it.
    """
    now = timezone.now()
    started = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if started:
        run.status, run.started_at, run.heartbeat_at = SyncRun.Status.RUNNING, now, now
    return bool(started)


def sync_run_claim(run: SyncRun) -> bool:
    """Make `run` the setup's running run, unless another live run holds it.

    A compare-and-swap: read who holds the setup, decide whether that claim is dead
    (finished or stale), then one UPDATE conditional on the setup's own column still
    naming that holder. Of two runs claiming at the same moment exactly one wins, on
    every database. (A condition reaching through the join to the holder's status
    would not do: PostgreSQL re-checks only the updated row's own columns when the
    row changed under it, so both claims could pass.)
    """
    now = timezone.now()
    holder_id = ExchangeSyncSetup.objects.filter(pk=run.setup_id).values_list("running_run_id", flat=True).first()
    if holder_id is not None and holder_id != run.pk:
        holder = SyncRun.objects.filter(pk=holder_id).values("status", "heartbeat_at").first()
        alive = (
            holder is not None
            and holder["status"] not in SyncRun.FINISHED
            and not (holder["heartbeat_at"] and holder["heartbeat_at"] < now - STALE_RUN_AFTER)
        )
        if alive:
            return False
    claimed = ExchangeSyncSetup.objects.filter(pk=run.setup_id, running_run_id=holder_id).update(running_run=run)
    if claimed:
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now)
        run.status, run.started_at, run.heartbeat_at = SyncRun.Status.RUNNING, now, now
        if holder_id is not None and holder_id != run.pk:
            _interrupt_dead([holder_id], now, taken_over_by=run.pk)
    return bool(claimed)


def _interrupt_dead(run_ids: list[int], now, *, taken_over_by: int | None = None) -> int:
    """Mark runs whose worker died as Interrupted (only those still shown as running)."""
    then = f" Run #{taken_over_by} took over." if taken_over_by else ""
    return SyncRun.objects.filter(pk__in=run_ids, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.INTERRUPTED,
        finished_at=now,
        error=(
            "The worker carrying out this run stopped (no sign of life for "
            f"{int(STALE_RUN_AFTER.total_seconds())} seconds). What it wrote is kept; the next sync carries on." + then
        ),
    )


def sync_runs_recover_stale(*, now=None) -> list[SyncRun]:
    """Runs whose worker died: marked Interrupted, their setup released, and a run a
    person started with a button (or live sync started for their edits) queued again, so
    it carries on without another click or edit.

    Called every few seconds (each `qcluster`'s job queue tick). Job Queue runs are not
    queued again here: their entry's own lease expires and the job queue reruns it.
    Returns the runs queued in their place.
    """
    now = now or timezone.now()
    dead = list(
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - STALE_RUN_AFTER).select_related(
            "setup"
        )
    )
    replacements = []
    for run in dead:
        if not _interrupt_dead([run.pk], now):
            continue  # it came back to life, or another sweep got it
        logger.warning("Sync run %s of setup %s stopped showing signs of life; interrupted", run.pk, run.setup_id)
        ExchangeSyncSetup.objects.filter(pk=run.setup_id, running_run=run).update(running_run=None)
        if run.trigger in (SyncRun.Trigger.BUTTON, SyncRun.Trigger.LIVE) and run.setup is not None:
            replacement, queued = sync_run_queue(
                run.setup, kind=run.kind, trigger=run.trigger, requested_by=run.requested_by
            )
            if queued:
                replacements.append(replacement)
    return replacements


def sync_runs_resend_lost(now) -> int:
    """Send again the task of each queued run no worker has started since its task was
    sent TASK_RESEND_AFTER ago, or more when it has waited longer (the wait doubles with
    each sending). Called every few seconds by each `qcluster`'s job queue tick.

    A worker killed after taking a run's task from Redis loses it, and the run would stay
    queued, with the live sync request it carried gone, until the next edit or schedule.
    A sending is claimed with a conditional UPDATE, so two ticking clusters send it once;
    a task that reaches a worker twice starts the run once (`sync_run_start`). Returns how
    many were sent.
    """
    from django_q.tasks import async_task

    sent = 0
    waiting = SyncRun.objects.filter(status=SyncRun.Status.QUEUED, task_sent_at__lt=now - TASK_RESEND_AFTER)
    for pk, created_at, task_sent_at in waiting.values_list("pk", "created_at", "task_sent_at"):
        if now - task_sent_at < task_sent_at - created_at:
            continue  # waited longer already: not yet twice as long
        if SyncRun.objects.filter(pk=pk, status=SyncRun.Status.QUEUED, task_sent_at=task_sent_at).update(
            task_sent_at=now
        ):
            waited = now - task_sent_at
            logger.warning("Sync run %s still queued %s after its task was sent; sending it again", pk, waited)
            async_task("exchange_sync.tasks.sync_run_task", pk, task_name=f"sync-run-{pk}")
            sent += 1
    return sent


def sync_run_refuse(run: SyncRun) -> SyncRun:
    """Finish `run` as refused because another run of its setup is going."""
    other = ExchangeSyncSetup.objects.filter(pk=run.setup_id).values_list("running_run", flat=True).first()
    run.status = SyncRun.Status.REFUSED
    run.error = f"Another synchronization of this setup is running (run #{other}). Wait for it to finish."
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def sync_run_release(run: SyncRun) -> None:
    ExchangeSyncSetup.objects.filter(pk=run.setup_id, running_run=run).update(running_run=None)


def sync_run_heartbeat(run: SyncRun, **counters: int) -> None:
    """Save progress and counters, and show the run is alive."""
    run.heartbeat_at = timezone.now()
    fields = ["heartbeat_at", "progress_done", "progress_total", *counters]
    for name, value in counters.items():
        setattr(run, name, value)
    run.save(update_fields=fields)


def sync_issues_record(issues: list[SyncIssue]) -> None:
    """Save a run's issues. An issue may quote the very value that was refused (a lone
    surrogate, a NUL), so its texts are made storable first: the report must not fail
    on what it reports."""
    for issue in issues:
        issue.reason = storable_text(issue.reason)
        issue.outlook_name = storable_text(issue.outlook_name)[:200]
        issue.contact_no = storable_text(issue.contact_no)[:20]
    if issues:
        SyncIssue.objects.bulk_create(issues, batch_size=500)


def setup_mark_attention(setup: ExchangeSyncSetup, message: str) -> None:
    """A permanent problem a person must fix: shown on the setup until a run succeeds."""
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
        needs_attention=True, last_error=message, last_sync_at=timezone.now()
    )
    setup.needs_attention, setup.last_error = True, message


def setup_mark_result(setup: ExchangeSyncSetup, run: SyncRun) -> None:
    """Record a finished run on its setup (health at a glance)."""
    now = timezone.now()
    with transaction.atomic():
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
            ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
                last_sync_at=now, last_success_at=now, last_error="", needs_attention=False
            )
        else:
            ExchangeSyncSetup.objects.filter(pk=setup.pk).update(last_sync_at=now, last_error=run.error)


def sync_run_is_confirmable(run: SyncRun) -> bool:
    """A run waiting for confirmation can be confirmed while it is its setup's latest
    word: once another run has gone (or a confirmation of it), its plan is out of date."""
    if run.status != SyncRun.Status.NEEDS_CONFIRMATION or run.setup is None:
        return False
    return not run.setup.runs.filter(pk__gt=run.pk).exclude(status=SyncRun.Status.REFUSED).exists()


def sync_run_queue(
    setup: ExchangeSyncSetup,
    *,
    kind: str,
    trigger: str,
    requested_by: AbstractBaseUser | None = None,
    confirms: SyncRun | None = None,
) -> tuple[SyncRun, bool]:
    """Queue a run of `setup` on the workers; (run, True), or (the active run, False)
    when one is already queued or running, so a second click shows that run."""
    from django_q.tasks import async_task

    active = sync_run_active(setup)
    if active is not None:
        return active, False
    run = sync_run_create(
        setup, kind=kind, trigger=trigger, requested_by=requested_by, confirms=confirms, task_sent=True
    )
    # Enqueue after commit: a worker must find the run row when it picks the task up.
    transaction.on_commit(
        lambda: async_task("exchange_sync.tasks.sync_run_task", run.pk, task_name=f"sync-run-{run.pk}")
    )
    return run, True


def sync_run_confirm(run: SyncRun, *, requested_by: AbstractBaseUser | None = None) -> tuple[SyncRun, bool]:
    """Queue the confirmed repeat of a run that stopped as "needs confirmation"."""
    if run.status != SyncRun.Status.NEEDS_CONFIRMATION:
        raise ValueError("Only a run that needs confirmation can be confirmed.")
    if not sync_run_is_confirmable(run):
        raise ValueError(
            "The setup has synchronized again since this run, so what it planned may no longer hold. "
            "Confirm the newest run that needs confirmation instead."
        )
    return sync_run_queue(run.setup, kind=run.kind, trigger=run.trigger, requested_by=requested_by, confirms=run)
