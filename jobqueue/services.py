"""Job queue services: the dispatcher's claim, run, log and sweep, and the card actions.

How an entry moves (Business Central's rules, made safe for several workers):

- ``job_queue_dispatch`` (every few seconds, from each cluster's ticker) first sweeps stale
  claims and expired entries, then claims each due Ready / Waiting entry with one
  conditional UPDATE (status Ready or Waiting, due, not expired) that sets it In Process
  with a fresh claim token and a lease. A partial unique index keeps one entry of a
  category In Process; an entry whose category is busy becomes Waiting. Double dispatch
  (two clusters, a re-delivered task) is harmless: only one UPDATE matches.
- The claimed entry runs as a django-q2 task (``jobqueue.tasks.run_entry``). The task
  starts only if the entry still holds its claim token, renews the lease, writes an
  "In Process" log entry, calls the object as the entry's user and finishes: the log
  gets Success or Error; the entry becomes Finished (one-off), Ready at its next run
  (recurring), Ready after the rerun delay (attempts left) or Error (no attempts left).
  Every entry write is conditional on the claim token, so a run that lost its claim
  (swept, or delivered twice) only writes its log.
- Set On Hold or Restart on an entry In Process does not stop the run (Business
  Central's rule) and does not release its claim either: the category stays busy and no
  second run starts. The request is kept in ``status_after_run`` and applied when the run
  ends: the entry becomes On Hold, or Ready with its first run computed (Restart).
- A worker killed mid-run leaves the entry In Process with a lease that expires; the
  next dispatch sweeps it like a failed attempt and says so in the log.
- Expired entries are not run and not deleted (Business Central deletes them): they
  are set to Error with a log entry, so nothing disappears silently.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task

from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from jobqueue.objects import object_resolve
from jobqueue.recurrence import first_run_at, next_run_at

logger = logging.getLogger(__name__)

Status = JobQueueEntry.Status
LogStatus = JobQueueLogEntry.Status

RUN_FUNC = "jobqueue.tasks.run_entry"
LOG_RETENTION_DAYS = 7

_RELEASED_CLAIM = {
    "claim_token": None,
    "claimed_at": None,
    "lease_expires_at": None,
    "worker_id": "",
    "status_after_run": "",
}


class JobQueueError(Exception):
    """A card action that cannot be done in the entry's current state."""


@dataclass
class DispatchReport:
    """What one dispatcher tick did, for the ticker's log and tests."""

    swept: int = 0
    expired: int = 0
    waiting: int = 0
    claimed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"claimed {len(self.claimed)}, waiting {self.waiting}, expired {self.expired}, swept {self.swept}"


def _lease() -> timedelta:
    """How long a claim lasts without news from its run: JOBQUEUE_LEASE_SECONDS, by
    default django-q2's task timeout plus five minutes (a run cannot outlive the timeout)."""
    seconds = getattr(settings, "JOBQUEUE_LEASE_SECONDS", None) or settings.Q_CLUSTER.get("timeout", 3600) + 300
    return timedelta(seconds=seconds)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _due(now: datetime) -> Q:
    return (Q(earliest_start_at__isnull=True) | Q(earliest_start_at__lte=now)) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


# --- Card actions ------------------------------------------------------------------


def job_queue_entry_set_ready(entry: JobQueueEntry, *, now: datetime | None = None) -> JobQueueEntry:
    """Business Central's "Set Status to Ready": reset attempts and error and compute the
    first run (not before a future Earliest Start Date/Time; inside the recurrence).
    Raises JobQueueError for an entry In Process and ValidationError for an object that
    cannot run."""
    now = now or timezone.now()
    entry.clean()
    earliest = entry.earliest_start_at if entry.earliest_start_at and entry.earliest_start_at > now else None
    first = first_run_at(entry.recurrence, now, earliest, timezone.get_default_timezone())
    updated = (
        JobQueueEntry.objects.filter(pk=entry.pk)
        .exclude(status=Status.IN_PROCESS)
        .update(status=Status.READY, attempts=0, error_message="", earliest_start_at=first, **_RELEASED_CLAIM)
    )
    if not updated:
        raise JobQueueError(
            f"Job Queue Entry {entry.pk} is In Process; wait for it to finish, or use Restart to run it "
            "again once this run ends."
        )
    entry.refresh_from_db()
    return entry


def _after_current_run(entry: JobQueueEntry, status: str) -> bool:
    """If the entry is In Process, ask for ``status`` when its run ends and return True
    (the claim is kept: category busy, no second run). False when it is not running."""
    return bool(JobQueueEntry.objects.filter(pk=entry.pk, status=Status.IN_PROCESS).update(status_after_run=status))


def job_queue_entry_set_on_hold(entry: JobQueueEntry) -> JobQueueEntry:
    """Business Central's "Set On Hold". An entry In Process keeps running and keeps its
    claim; it becomes On Hold when the run ends (``status_after_run``)."""
    idle = JobQueueEntry.objects.filter(pk=entry.pk).exclude(status=Status.IN_PROCESS)
    for _ in range(3):  # the entry may be claimed, or its run end, between the two updates
        if _after_current_run(entry, Status.ON_HOLD) or idle.update(status=Status.ON_HOLD, **_RELEASED_CLAIM):
            break
    entry.refresh_from_db()
    return entry


def job_queue_entry_restart(entry: JobQueueEntry, *, now: datetime | None = None) -> JobQueueEntry:
    """Business Central's "Restart": Set On Hold, then Set Status to Ready. An entry In
    Process keeps running and keeps its claim; it becomes Ready (attempts and error reset,
    first run computed) when the run ends."""
    entry.clean()
    for _ in range(3):
        if _after_current_run(entry, Status.READY):
            entry.refresh_from_db()
            return entry
        held = job_queue_entry_set_on_hold(entry)
        try:
            return job_queue_entry_set_ready(held, now=now)
        except JobQueueError:
            continue  # claimed again between the two steps: ask for Ready after that run
    entry.refresh_from_db()
    return entry


def job_queue_log_entries_delete_older_than(
    days: int = LOG_RETENTION_DAYS, *, now: datetime | None = None, user=None
) -> int:
    """Business Central's "Delete Entries Older Than 7 Days": everyone's, or only
    ``user``'s when given. Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = JobQueueLogEntry.objects.filter(started_at__lt=cutoff)
    deleted, _ = (old if user is None else old.filter(user=user)).delete()
    return deleted


# --- Running an object -------------------------------------------------------------


def _log_start(
    entry: JobQueueEntry, user, now: datetime, *, claim_token: uuid.UUID | None, is_foreground: bool = False
) -> JobQueueLogEntry:
    return JobQueueLogEntry.objects.create(
        entry_id=entry.pk,
        claim_token=claim_token,
        user=user,
        started_at=now,
        object_type_to_run=entry.object_type_to_run,
        object_id_to_run=entry.object_id_to_run,
        object_caption_to_run=entry.object_caption_to_run,
        description=entry.description,
        parameter_string=entry.parameter_string,
        is_foreground=is_foreground,
    )


def _log_finish(log: JobQueueLogEntry, now: datetime, *, error: str | None, message: str = "") -> None:
    """Close an In Process log entry with Success or Error (a log already closed, e.g.
    by the sweeper, is left as it is)."""
    log.status = LogStatus.ERROR if error is not None else LogStatus.SUCCESS
    log.ended_at = now
    log.message = message
    log.error_message = error or ""
    closed = JobQueueLogEntry.objects.filter(pk=log.pk, status=LogStatus.IN_PROCESS).update(
        status=log.status, ended_at=now, message=message, error_message=log.error_message
    )
    if not closed:
        logger.warning("Job Queue Log Entry %s was already closed; outcome %s not recorded", log.pk, log.status)


def _call_object(entry: JobQueueEntry, user) -> tuple[str, str | None]:
    """Run the entry's object as ``user``. Returns (message, error); error is None on
    success. Every Exception becomes an error; django-q2's TimeoutException (a
    SystemExit) passes through to the caller."""
    try:
        run = object_resolve(entry.object_type_to_run, entry.object_id_to_run)
        return run(entry.parameter_string, user) or "", None
    except Exception as exc:
        logger.exception("Job Queue Entry %s (%s) failed", entry.pk, entry)
        return "", _error_text(exc)


def _changes_after_run(entry: JobQueueEntry, now: datetime, *, error: str | None, status_after_run: str) -> dict:
    """The entry's fields once its run ended with ``error`` (None: success)."""
    tz = timezone.get_default_timezone()
    if status_after_run == Status.ON_HOLD:
        return {"status": Status.ON_HOLD, "error_message": error or ""}
    if status_after_run == Status.READY:  # Restart pressed during the run
        earliest = entry.earliest_start_at if entry.earliest_start_at and entry.earliest_start_at > now else None
        first = first_run_at(entry.recurrence, now, earliest, tz)
        return {"status": Status.READY, "earliest_start_at": first, "attempts": 0, "error_message": ""}
    if error is None and entry.is_recurring:
        next_run = next_run_at(entry.recurrence, now, tz)
        return {"status": Status.READY, "earliest_start_at": next_run, "attempts": 0, "error_message": ""}
    if error is None:
        return {"status": Status.FINISHED, "error_message": ""}
    if entry.attempts < entry.maximum_attempts:
        retry_at = now + timedelta(seconds=entry.rerun_delay_seconds)
        return {"status": Status.READY, "earliest_start_at": retry_at, "error_message": error}
    return {"status": Status.ERROR, "error_message": error}


def _entry_after_run(entry: JobQueueEntry, claim_token: uuid.UUID, now: datetime, *, error: str | None) -> bool:
    """Move an entry out of In Process after a run (or a swept claim), honouring a Set On
    Hold or Restart pressed meanwhile. Conditional on the claim token (and on the
    requested status read, so a request made at the last moment is not lost); returns
    False when the claim was lost meanwhile."""
    claimed = JobQueueEntry.objects.filter(pk=entry.pk, claim_token=claim_token, status=Status.IN_PROCESS)
    for _ in range(3):
        requested = claimed.values_list("status_after_run", flat=True).first()
        if requested is None:
            return False
        changes = _changes_after_run(entry, now, error=error, status_after_run=requested)
        if claimed.filter(status_after_run=requested).update(**changes, **_RELEASED_CLAIM):
            return True
    return False


def job_queue_entry_run(entry_id: int, claim_token: uuid.UUID, user_id: int) -> JobQueueLogEntry | None:
    """Run a claimed entry as the user ``user_id`` (the django-q2 task's body). Returns
    its log entry, or None when the claim is no longer held (swept, restarted, set On
    Hold, or the task was delivered twice)."""
    now = timezone.now()
    started = JobQueueEntry.objects.filter(pk=entry_id, claim_token=claim_token, status=Status.IN_PROCESS).update(
        worker_id=_worker_id(), lease_expires_at=now + _lease()
    )
    if not started:
        logger.info("Job Queue Entry %s: claim %s no longer held, not running", entry_id, claim_token)
        return None
    entry = JobQueueEntry.objects.get(pk=entry_id)
    user = get_user_model().objects.get(pk=user_id)
    log = _log_start(entry, user, now, claim_token=claim_token)
    try:
        message, error = _call_object(entry, user)
    except TimeoutException:
        error = f"The run was stopped by the worker timeout ({settings.Q_CLUSTER.get('timeout')} s)."
        _log_finish(log, timezone.now(), error=error)
        _entry_after_run(entry, claim_token, timezone.now(), error=error)
        raise
    finished_at = timezone.now()
    _log_finish(log, finished_at, error=error, message=message)
    if not _entry_after_run(entry, claim_token, finished_at, error=error):
        logger.info("Job Queue Entry %s changed during its run; status left as it is", entry_id)
    return log


def job_queue_entry_run_foreground(entry: JobQueueEntry, user) -> JobQueueLogEntry:
    """Business Central's "Run Once (Foreground)": run the object now as ``user``,
    ignoring category, window and expiration, and log it. The entry's status and next
    run are unchanged. Raises JobQueueError for an entry In Process."""
    if entry.status == Status.IN_PROCESS:
        raise JobQueueError(f"Job Queue Entry {entry.pk} is In Process; wait for it to finish.")
    log = _log_start(entry, user, timezone.now(), claim_token=None, is_foreground=True)
    message, error = _call_object(entry, user)
    _log_finish(log, timezone.now(), error=error, message=message)
    return log


# --- The dispatcher ----------------------------------------------------------------


def job_queue_entries_sweep_stale(now: datetime) -> int:
    """Entries In Process whose lease expired lost their worker (killed, machine gone,
    task lost by the Redis broker): count it as a failed attempt, so they are retried
    after the rerun delay or set to Error, and say so in the log. Returns how many."""
    swept = 0
    for entry in JobQueueEntry.objects.filter(status=Status.IN_PROCESS, lease_expires_at__lt=now):
        error = (
            f"The run claimed at {timezone.localtime(entry.claimed_at):%Y-%m-%d %H:%M:%S %Z} did not finish: "
            f"its worker ({entry.worker_id or 'not started'}) stopped. The claim expired at "
            f"{timezone.localtime(entry.lease_expires_at):%Y-%m-%d %H:%M:%S %Z}."
        )
        if not _entry_after_run(entry, entry.claim_token, now, error=error):
            continue
        swept += 1
        logger.warning("Job Queue Entry %s: %s", entry.pk, error)
        log = JobQueueLogEntry.objects.filter(claim_token=entry.claim_token).first()
        if log is None:
            log = _log_start(entry, entry.user, entry.claimed_at or now, claim_token=entry.claim_token)
        _log_finish(log, now, error=error)
    return swept


def job_queue_entries_expire(now: datetime) -> int:
    """Ready or Waiting entries past their Expiration Date/Time are not run: set to Error
    with a log entry. Returns how many."""
    expired = 0
    for entry in JobQueueEntry.objects.filter(status__in=[Status.READY, Status.WAITING], expires_at__lte=now):
        error = f"Expired at {timezone.localtime(entry.expires_at):%Y-%m-%d %H:%M:%S %Z} before it could run."
        pending = JobQueueEntry.objects.filter(pk=entry.pk, status__in=[Status.READY, Status.WAITING])
        if pending.update(status=Status.ERROR, error_message=error):
            expired += 1
            _log_finish(_log_start(entry, entry.user, now, claim_token=None), now, error=error)
    return expired


def _claim(entry_id: int, now: datetime) -> uuid.UUID | None:
    """Claim one due entry with a conditional UPDATE. Returns the claim token, or None
    when another dispatcher won or the entry's category is busy (it becomes Waiting)."""
    token = uuid.uuid4()
    try:
        with transaction.atomic():
            claimed = JobQueueEntry.objects.filter(
                _due(now), pk=entry_id, status__in=[Status.READY, Status.WAITING]
            ).update(
                status=Status.IN_PROCESS,
                claim_token=token,
                claimed_at=now,
                lease_expires_at=now + _lease(),
                worker_id="",
                attempts=F("attempts") + 1,
            )
    except IntegrityError:
        # Another entry of its category is In Process (jobqueue_one_in_process_per_category).
        return None
    return token if claimed else None


def _enqueue_run(entry_id: int, claim_token: uuid.UUID, user_id: int) -> None:
    """Hand a claimed entry to a django-q2 worker; if the broker refuses, release the
    claim so the next tick tries again."""
    try:
        async_task(RUN_FUNC, entry_id, str(claim_token), user_id, task_name=f"Job Queue Entry {entry_id}")
    except Exception:
        logger.exception("Job Queue Entry %s could not be queued; released for the next tick", entry_id)
        JobQueueEntry.objects.filter(pk=entry_id, claim_token=claim_token, status=Status.IN_PROCESS).update(
            status=Case(When(status_after_run=Status.ON_HOLD, then=Value(Status.ON_HOLD)), default=Value(Status.READY)),
            attempts=F("attempts") - 1,
            **_RELEASED_CLAIM,
        )


def job_queue_dispatch(*, now: datetime | None = None) -> DispatchReport:
    """One dispatcher tick: sweep stale claims, expire, then claim every due entry in
    priority and entry-number order (one per category) and queue its run."""
    now = now or timezone.now()
    report = DispatchReport(swept=job_queue_entries_sweep_stale(now), expired=job_queue_entries_expire(now))
    due = list(
        JobQueueEntry.objects.filter(_due(now), status__in=[Status.READY, Status.WAITING])
        .order_by("priority", "id")
        .values_list("pk", "category_code", "user_id")
    )
    if not due:
        return report  # the usual tick: nothing due, no more queries
    busy = set(
        JobQueueEntry.objects.filter(status=Status.IN_PROCESS)
        .exclude(category_code="")
        .values_list("category_code", flat=True)
    )
    claims = []
    for entry_id, category, user_id in due:
        token = None if category in busy else _claim(entry_id, now)
        if token is None:
            if category:
                report.waiting += JobQueueEntry.objects.filter(pk=entry_id, status=Status.READY).update(
                    status=Status.WAITING
                )
            continue
        if category:
            busy.add(category)
        claims.append((entry_id, token, user_id))
        report.claimed.append(entry_id)
    # Queue after claiming, so a run that finishes inline (sync mode) cannot let a second
    # entry of its category start in the same tick.
    for claim in claims:
        _enqueue_run(*claim)
    return report
