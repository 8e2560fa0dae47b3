"""The polling fallback: a live setup without a change subscription looks at its Outlook
folder every LIVE_POLL_SECONDS, and asks for a live run only when something changed. A
subscribed setup polls too, every LIVE_SAFETY_POLL_SECONDS (15 min), for an Outlook
change whose notification Graph never delivered.

A poll is one Graph request: the first page of the folder's delta from the setup's
stored delta link (the link is not saved, so the run that follows reads the same
changes: the delta query stays the source of truth, and the run applies them). An
incremental run costs more requests than that even when nothing changed, and would add
an empty run to the run history every minute; a poll adds nothing when idle.

`polls_due(now)` (every tick) is one indexed query; each due row is claimed with a
conditional UPDATE that moves `poll_at` one interval on from its previous time (so the
setups keep the spread `subscriptions.poll_phase` gave them), and a worker task polls.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from django.conf import settings

from exchange_sync.graph import GraphClient, GraphDeltaExpiredError, GraphError
from exchange_sync.live.requests import live_requests_make
from exchange_sync.live.scope import live_setups
from exchange_sync.models import LiveSubscription

logger = logging.getLogger(__name__)


def polls_due(now: datetime) -> int:
    """Queue a poll of each setup whose poll is due at `now`; how many were queued."""
    from django_q.tasks import async_task

    queued = 0
    polling_interval = timedelta(seconds=settings.LIVE_POLL_SECONDS)
    due = LiveSubscription.objects.filter(poll_at__lte=now)
    for pk, poll_at, status, failures in due.values_list("pk", "poll_at", "status", "failures"):
        # A failing renewal keeps its subscription's notifications in doubt: it polls.
        if status == LiveSubscription.Status.ACTIVE and not failures:
            following = safety_poll_slot(pk, now)
        else:
            following = poll_at + polling_interval
            if following <= now:  # a long pause (the cluster was down): start again from now
                following = now + polling_interval
        if LiveSubscription.objects.filter(pk=pk, poll_at=poll_at).update(poll_at=following):
            async_task("exchange_sync.tasks.live_poll_task", pk, task_name=f"live-poll-{pk}")
            queued += 1
    return queued


def spread(key: int) -> float:
    """A fraction in [0, 1) that spreads ids evenly (golden-ratio steps)."""
    return (key * 0.6180339887) % 1.0


def safety_poll_slot(pk: int, now: datetime) -> datetime | None:
    """A subscribed row's next safety poll after `now` (None when switched off): every
    LIVE_SAFETY_POLL_SECONDS at a phase of its own, so rows subscribed in the same tick
    do not all poll in the same tick, and a cluster that was down does not catch up."""
    seconds = settings.LIVE_SAFETY_POLL_SECONDS
    if not seconds:
        return None
    phase = spread(pk) * seconds
    slot = (math.floor((now.timestamp() - phase) / seconds) + 1) * seconds + phase
    return datetime.fromtimestamp(slot, tz=UTC)


def live_poll(pk: int, client: GraphClient, now: datetime) -> str:
    """Poll one setup's folder; a live run is asked for when it changed. What was found."""
    row = LiveSubscription.objects.filter(pk=pk, setup__in=live_setups()).select_related("setup__user__m365_identity")
    row = row.first()
    if row is None:
        return "not live"
    setup = row.setup
    if not setup.folder_id or not setup.delta_link:
        live_requests_make([setup.pk], now)  # never synchronized: the run sets the folder up
        return "first run asked for"
    try:
        page = next(iter(client.iter_contacts_delta(setup.mailbox, setup.folder_id, delta_link=setup.delta_link)))
    except GraphDeltaExpiredError:
        live_requests_make([setup.pk], now)  # the run reconciles fully
        return "delta expired: run asked for"
    except GraphError as exc:
        logger.warning("Live sync: polling setup %s failed: %s", setup.pk, exc)
        return f"failed: {exc}"
    # More pages (no delta link on the first) means changes too.
    if page.items or page.removed_ids or page.delta_link is None:
        live_requests_make([setup.pk], now)
        return "changed: run asked for"
    return "unchanged"
