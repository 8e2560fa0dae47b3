"""django-q2 entry points: fetch by id, call a service."""

from __future__ import annotations

import uuid

from jobqueue import services


def run_entry(entry_id: int, claim_token: str, user_id: int) -> str:
    """Run one claimed Job Queue Entry as its user."""
    log = services.job_queue_entry_run(entry_id, uuid.UUID(claim_token), user_id)
    return log.status if log else "claim no longer held"
