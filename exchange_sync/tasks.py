"""django-q2 entry points: fetch by id, call the engine."""

from __future__ import annotations

from django.utils import timezone

from exchange_sync.connection import graph_client_for_setup, graph_client_from_settings
from exchange_sync.graph import GraphClient
from exchange_sync.live.polling import live_poll
from exchange_sync.live.subscriptions import live_subscription_upkeep
from exchange_sync.models import ExchangeSyncSetup, SyncRun
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


def _live_client(subscription_id: int) -> GraphClient:
    """The client of the subscription's setup (the person's own sign-in when they
    connected their mailbox); the app's for a row whose setup was deleted."""
    setup = ExchangeSyncSetup.objects.filter(live_subscription__pk=subscription_id).first()
    return graph_client_for_setup(setup) if setup is not None else graph_client_from_settings()


def live_subscription_upkeep_task(subscription_id: int) -> str:
    """Create, renew, reauthorize or delete a live setup's change subscription (queued by the ticker)."""
    client = _live_client(subscription_id)
    try:
        return live_subscription_upkeep(subscription_id, client, timezone.now())
    finally:
        client.close()


def live_poll_task(subscription_id: int) -> str:
    """Poll a live setup's Outlook folder for changes (queued by the ticker)."""
    client = _live_client(subscription_id)
    try:
        return live_poll(subscription_id, client, timezone.now())
    finally:
        client.close()
