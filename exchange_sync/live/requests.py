"""Live sync requests: at most one pending run per setup, debounced, and their dispatch.

A change that touches a setup makes (or moves) its request: due LIVE_SYNC_DEBOUNCE_SECONDS
after the latest such change, but never later than LIVE_SYNC_MAX_DELAY_SECONDS after the
first, so a burst of edits becomes one run and a steady stream still syncs. The job
queue's ticker calls `live_runs_dispatch` every few seconds; it queues an incremental
run for each due request through the same service as the "Sync with Microsoft 365"
button.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When

from exchange_sync.live.scope import live_setups
from exchange_sync.models import LiveSyncRequest, SyncRun
from exchange_sync.services import sync_run_queue

logger = logging.getLogger(__name__)


def live_requests_make(setup_ids: Collection[int], now: datetime) -> None:
    """Ask for a live run of each setup: two statements whatever their number. A new
    request is due after the debounce; an existing one moves to `now` plus the debounce,
    capped at its first request plus the maximum delay."""
    if not setup_ids:
        return
    debounce = timedelta(seconds=settings.LIVE_SYNC_DEBOUNCE_SECONDS)
    cap = timedelta(seconds=settings.LIVE_SYNC_MAX_DELAY_SECONDS)
    LiveSyncRequest.objects.bulk_create(
        [LiveSyncRequest(setup_id=pk, first_requested_at=now, due_at=now + debounce) for pk in setup_ids],
        ignore_conflicts=True,
    )
    # Rows made just now are already due at now + debounce and are left alone.
    LiveSyncRequest.objects.filter(setup_id__in=setup_ids, due_at__lt=now + debounce).update(
        due_at=Case(
            When(first_requested_at__gte=now + debounce - cap, then=Value(now + debounce)),
            default=F("first_requested_at") + cap,
        )
    )


def live_runs_dispatch(now: datetime) -> int:
    """Queue an incremental run for each request due at `now`; return how many were queued.

    Each request is claimed by deleting it, conditional on the due time read, in the same
    transaction as the run it queues: of two callers (two job queue clusters) exactly one
    queues the run, a request moved on by a new edit meanwhile waits for its new time,
    and a failure leaves the request for the next call. When a run of the setup is
    already running, the request is made again, so edits made during that run go in the
    next one; a run still queued carries them itself.
    """
    queued = 0
    due = LiveSyncRequest.objects.filter(due_at__lte=now).order_by("due_at")
    for pk, setup_id, due_at, first_requested_at in due.values_list("pk", "setup_id", "due_at", "first_requested_at"):
        with transaction.atomic():
            if not LiveSyncRequest.objects.filter(pk=pk, due_at=due_at).delete()[0]:
                continue  # another caller took it, or an edit moved it on
            setup = live_setups().select_related("user__m365_identity").filter(pk=setup_id).first()
            if setup is None:
                continue  # switched off (or unable to run) since the request was made
            run, created = sync_run_queue(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.LIVE)
            if created:
                queued += 1
                logger.info("Live sync: queued run %s of setup %s", run.pk, setup_id)
            elif run.status == SyncRun.Status.RUNNING:
                LiveSyncRequest.objects.get_or_create(
                    setup_id=setup_id, defaults={"first_requested_at": first_requested_at, "due_at": now}
                )
    return queued
