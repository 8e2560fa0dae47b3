"""django-q2 entry points: fetch by id, call the engine."""

from __future__ import annotations

from exchange_sync.connection import graph_client_for_setup
from exchange_sync.models import SyncRun
from exchange_sync.sync import sync_run_execute


def sync_run_task(run_id: int) -> str:
    """Carry out a queued sync run (queued by a button, a job or a confirmation)."""
    run = SyncRun.objects.select_related("setup").get(pk=run_id)
    if run.is_finished:
        return f"Run #{run.pk} had already finished ({run.get_status_display()})."
    client = graph_client_for_setup(run.setup)
    try:
        run = sync_run_execute(run, client=client)
    finally:
        client.close()
    return f"Run #{run.pk}: {run.get_status_display()}"
