"""django-q2 entry points: fetch by id, call a service."""

from __future__ import annotations

import uuid

from exchange_sync.services import sync_runs_recover_stale
from jobqueue import services


def dispatch_due_entries() -> str:
    """The dispatcher schedule's task (every minute): due Job Queue Entries, and sync runs
    whose worker died (interrupted, and queued again when a person started them)."""
    recovered = sync_runs_recover_stale()
    report = str(services.job_queue_dispatch())
    return f"{report}; {len(recovered)} interrupted sync runs queued again" if recovered else report


def run_entry(entry_id: int, claim_token: str, user_id: int) -> str:
    """Run one claimed Job Queue Entry as its user."""
    log = services.job_queue_entry_run(entry_id, uuid.UUID(claim_token), user_id)
    return log.status if log else "claim no longer held"
