"""What Graph's change and lifecycle notifications do: ask for a live run, or for upkeep.

A changeNotificationCollection carries only ids
(https://learn.microsoft.com/graph/api/resources/changenotification): a valid one asks
for a debounced live run of its setup (live_requests_make), and the run reads the
folder's delta, which stays the source of truth. Nothing here calls Graph, so the
endpoint answers within Graph's 3 seconds.

A notification is valid when its subscriptionId is one of ours and its clientState
equals that subscription's secret (compared in constant time). Invalid ones are ignored;
a collection with no valid notification is refused. A collection mixing valid and
invalid ones is accepted for the valid ones: refusing it would make Graph send the
valid ones again for hours.

Lifecycle events (https://learn.microsoft.com/graph/change-notifications-lifecycle-events):
`subscriptionRemoved` marks the row for recreation, `reauthorizationRequired` for
reauthorization, both at the next tick (polling meanwhile after a removal); `missed`
asks for a catch-up run.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Any

from exchange_sync.live.requests import live_requests_make
from exchange_sync.models import LiveSubscription

logger = logging.getLogger(__name__)


class NotificationRefused(Exception):
    """Nothing in the request was a valid notification of ours."""


def _valid(payload: Any) -> list[tuple[LiveSubscription, dict]]:
    """(row, notification) for each notification of ours with the right clientState."""
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise NotificationRefused("not a notification collection")
    ids = {str(item.get("subscriptionId")) for item in items if isinstance(item.get("subscriptionId"), str)}
    rows = {
        row.graph_id: row
        for row in LiveSubscription.objects.filter(graph_id__in=ids, setup__isnull=False).exclude(graph_id="")
    }
    valid = []
    for item in items:
        row = rows.get(item.get("subscriptionId"))
        state = item.get("clientState")
        if row is None or not isinstance(state, str) or not row.client_state:
            continue
        if hmac.compare_digest(row.client_state.encode(), state.encode()):
            valid.append((row, item))
    if not valid:
        raise NotificationRefused("no notification of ours")
    if len(valid) < len(items):
        logger.warning(
            "Live sync: ignored %s notification(s) not ours or with a wrong clientState", len(items) - len(valid)
        )
    return valid


def notifications_receive(payload: Any, now: datetime) -> int:
    """Ask for a live run of each setup a change notification concerns; how many setups.
    Raises NotificationRefused when none is valid."""
    setup_ids = {row.setup_id for row, _ in _valid(payload)}
    live_requests_make(setup_ids, now)
    LiveSubscription.objects.filter(setup_id__in=setup_ids).update(last_notification_at=now)
    return len(setup_ids)


def lifecycle_receive(payload: Any, now: datetime) -> int:
    """Act on each lifecycle notification; how many were valid. Raises NotificationRefused."""
    status = LiveSubscription.Status
    valid = _valid(payload)
    for row, item in valid:
        event = item.get("lifecycleEvent")
        rows = LiveSubscription.objects.filter(pk=row.pk, graph_id=row.graph_id)
        if event == "subscriptionRemoved":
            rows.update(status=status.REMOVED, upkeep_at=now, poll_at=now)
            live_requests_make([row.setup_id], now)  # changes since the removal may be unsent
        elif event == "reauthorizationRequired":
            rows.update(status=status.REAUTHORIZE, upkeep_at=now)
        elif event == "missed":
            live_requests_make([row.setup_id], now)
        else:
            logger.warning("Live sync: unknown lifecycle event %r for setup %s", event, row.setup_id)
        logger.info("Live sync: lifecycle event %s for setup %s", event, row.setup_id)
    return len(valid)
