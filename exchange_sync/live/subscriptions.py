"""Outlook -> Business Central: each live setup's Graph change subscription, kept alive.

Every live setup has a LiveSubscription row. With a public notification URL
(GRAPH_NOTIFICATION_URL) the upkeep subscribes to the changes of the setup's folder
(https://learn.microsoft.com/graph/api/subscription-post-subscriptions) and Outlook
tells bcsync of each change within seconds (notifications.py); without one, or while a
subscription cannot be made, the setup polls its folder instead (polling.py).

The ticker calls `subscriptions_maintain(now)` every tick: one indexed query for the rows
whose `upkeep_at` is due, each claimed with a conditional UPDATE (two clusters ticking
together queue it once) and handed to a worker task (`live_subscription_upkeep`), since
Graph calls do not belong in the ticker. Every SCAN_SECONDS it also scans for live
setups without a row and rows whose setup was switched off or deleted.

The upkeep, per row:
- none yet (or removed by Outlook): create one, lasting LIFETIME, with a fresh random
  clientState; a failure keeps the setup polling and retries after a backoff (1 min,
  doubling, at most 1 h), never every tick;
- while subscribed, the folder is polled once at once (for changes made before the
  subscription), then every LIVE_SAFETY_POLL_SECONDS (15 min by default, 0 switches it
  off): Graph does not promise to deliver every notification (Microsoft's advice is a
  delta query beside them), and an Outlook edit whose only notification was lost would
  otherwise wait for the next scheduled sync;
- active: renew (PATCH expirationDateTime) once less than RENEW_BEFORE is left; a
  subscription Graph no longer knows is recreated; a failed renewal starts polling
  until a renewal succeeds;
- reauthorizationRequired: reauthorize, then renew;
- live sync switched off, background sync off or the setup deleted, or the setup's
  folder recreated in Outlook: DELETE at Graph (a new row follows for a live setup).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse

from exchange_sync.graph import GraphClient, GraphError, GraphNotFoundError, parse_graph_datetime
from exchange_sync.live.polling import spread
from exchange_sync.live.scope import live_setups
from exchange_sync.models import LiveSubscription

logger = logging.getLogger(__name__)

# Outlook contacts allow 10,080 minutes (under 7 days,
# https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime);
# a little less, so a clock a few minutes ahead of Graph's is not refused.
LIFETIME = timedelta(minutes=10_000)
# Renewed with a day left: a day of retries (with backoff) before it runs out.
RENEW_BEFORE = timedelta(days=1)
# A claimed upkeep whose task was lost (a worker killed, Redis at-most-once) is looked at again after this.
LEASE = timedelta(minutes=2)
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
SCAN_SECONDS = 30.0

_last_scan: float | None = None


def notification_urls() -> tuple[str, str] | None:
    """(notificationUrl, lifecycleNotificationUrl) from GRAPH_NOTIFICATION_URL, or None."""
    base = settings.GRAPH_NOTIFICATION_URL
    if not base:
        return None
    return f"{base}{reverse('graph_notifications')}", f"{base}{reverse('graph_lifecycle')}"


def poll_phase(setup_id: int, now: datetime) -> datetime:
    """A setup's first poll: spread over one interval by its id, so the polls of many
    setups do not all fall in the same tick."""
    return now + timedelta(seconds=spread(setup_id) * settings.LIVE_POLL_SECONDS)


def polling_poll_at(row: LiveSubscription, now: datetime) -> datetime:
    """The next poll of a setup that starts (or keeps) polling: its poll coming within an
    interval, else now (not a safety poll a quarter of an hour away)."""
    if row.poll_at and now <= row.poll_at <= now + timedelta(seconds=settings.LIVE_POLL_SECONDS):
        return row.poll_at
    return now


def subscriptions_maintain(now: datetime) -> int:
    """Queue the upkeep of every row due at `now` (and scan now and then); how many were queued."""
    global _last_scan
    if _last_scan is None or time.monotonic() - _last_scan >= SCAN_SECONDS:
        _last_scan = time.monotonic()
        live_subscriptions_scan(now)
    from django_q.tasks import async_task

    queued = 0
    for pk, upkeep_at in LiveSubscription.objects.filter(upkeep_at__lte=now).values_list("pk", "upkeep_at"):
        # Claimed for LEASE: the task sets the next upkeep itself.
        if LiveSubscription.objects.filter(pk=pk, upkeep_at=upkeep_at).update(upkeep_at=now + LEASE):
            async_task("exchange_sync.tasks.live_subscription_upkeep_task", pk, task_name=f"live-upkeep-{pk}")
            queued += 1
    return queued


def live_subscriptions_scan(now: datetime) -> None:
    """Give every live setup a row (polling until subscribed), and mark for deletion at
    Graph the rows of setups no longer live and the subscriptions of a folder the setup
    no longer uses (recreated in Outlook: a new id); rows without a Graph subscription
    simply go. A dropped row's setup gets a new one at the next scan."""
    urls = notification_urls()
    missing = live_setups().filter(live_subscription__isnull=True).values_list("pk", flat=True)
    LiveSubscription.objects.bulk_create(
        [LiveSubscription(setup_id=pk, poll_at=poll_phase(pk, now), upkeep_at=now if urls else None) for pk in missing],
        ignore_conflicts=True,
    )
    moved = Q(status=LiveSubscription.Status.ACTIVE) & ~Q(folder_id=F("setup__folder_id"))
    gone = LiveSubscription.objects.exclude(status=LiveSubscription.Status.DROPPING).filter(
        Q(setup__isnull=True) | ~Q(setup__in=live_setups()) | moved
    )
    gone.filter(graph_id="").delete()
    gone.update(status=LiveSubscription.Status.DROPPING, upkeep_at=now, poll_at=None)
    if urls:  # a URL configured since: subscribe the setups that poll
        LiveSubscription.objects.filter(status=LiveSubscription.Status.POLLING, upkeep_at__isnull=True).update(
            upkeep_at=now
        )


def live_subscription_upkeep(pk: int, client: GraphClient, now: datetime) -> str:
    """Bring one row up to date with Graph (see the module docstring); what was done."""
    row = LiveSubscription.objects.select_related("setup__user__m365_identity").filter(pk=pk).first()
    if row is None:
        return "gone"
    status = LiveSubscription.Status
    if row.status == status.DROPPING:
        return _drop(row, client)
    if row.status == status.REAUTHORIZE:
        try:
            client.reauthorize_subscription(row.graph_id)
        except GraphNotFoundError:
            return _create(row, client, now)
        except GraphError as exc:
            return _failed(row, exc, now)
        return _renew(row, client, now)
    if row.status == status.ACTIVE and row.graph_id:
        if row.expires_at and row.expires_at - now > RENEW_BEFORE:
            _save(row, upkeep_at=row.expires_at - RENEW_BEFORE)
            return "not due"
        return _renew(row, client, now)
    return _create(row, client, now)


def _create(row: LiveSubscription, client: GraphClient, now: datetime) -> str:
    urls = notification_urls()
    setup = row.setup
    if urls is None:
        _save(row, status=LiveSubscription.Status.POLLING, upkeep_at=None, poll_at=polling_poll_at(row, now))
        return "polling: no public notification URL"
    if setup is None or not setup.folder_id or not setup.mailbox:
        # The first run makes the folder (a poll asks for it); try again in a minute.
        _save(
            row,
            status=LiveSubscription.Status.POLLING,
            upkeep_at=now + BACKOFF_FIRST,
            poll_at=polling_poll_at(row, now),
        )
        return "waiting for the folder"
    client_state = secrets.token_urlsafe(32)
    notification_url, lifecycle_url = urls
    try:
        created = client.create_subscription(
            setup.mailbox,
            setup.folder_id,
            notification_url=notification_url,
            lifecycle_notification_url=lifecycle_url,
            expires_at=now + LIFETIME,
            client_state=client_state,
        )
    except GraphError as exc:
        _save(row, status=LiveSubscription.Status.POLLING, graph_id="", client_state="")
        return _failed(row, exc, now)
    expires_at = parse_graph_datetime(created["expirationDateTime"])
    _save(
        row,
        status=LiveSubscription.Status.ACTIVE,
        graph_id=created["id"],
        folder_id=setup.folder_id,
        client_state=client_state,
        expires_at=expires_at,
        upkeep_at=expires_at - RENEW_BEFORE,
        # One poll at once, for Outlook changes made before the subscription existed
        # (while polling, or after Outlook removed the old one); then the safety polls.
        poll_at=now,
        failures=0,
        last_error="",
    )
    logger.info("Live sync: setup %s subscribed to Outlook changes until %s", setup.pk, expires_at)
    return "created"


def _renew(row: LiveSubscription, client: GraphClient, now: datetime) -> str:
    try:
        renewed = client.renew_subscription(row.graph_id, now + LIFETIME)
    except GraphNotFoundError:  # expired or removed meanwhile: a new one
        _save(row, status=LiveSubscription.Status.REMOVED)
        return _create(row, client, now)
    except GraphError as exc:
        return _failed(row, exc, now)
    expires_at = parse_graph_datetime(renewed["expirationDateTime"])
    _save(
        row,
        status=LiveSubscription.Status.ACTIVE,
        expires_at=expires_at,
        upkeep_at=expires_at - RENEW_BEFORE,
        poll_at=row.poll_at or (now if settings.LIVE_SAFETY_POLL_SECONDS else None),
        failures=0,
        last_error="",
    )
    return "renewed"


def _drop(row: LiveSubscription, client: GraphClient) -> str:
    try:
        client.delete_subscription(row.graph_id)
    except GraphNotFoundError:
        pass  # already gone at Graph
    except GraphError as exc:
        # It expires by itself within a week; its notifications are refused meanwhile.
        logger.warning("Live sync: could not delete subscription %s at Graph: %s", row.graph_id, exc)
    row.delete()
    return "deleted"


def _failed(row: LiveSubscription, exc: GraphError, now: datetime) -> str:
    """Poll meanwhile, and look again after a backoff that doubles with each failure."""
    failures = row.failures + 1
    backoff = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
    _save(
        row,
        failures=failures,
        last_error=str(exc)[:1000],
        upkeep_at=now + backoff,
        poll_at=polling_poll_at(row, now),
    )
    logger.warning(
        "Live sync: subscription of setup %s failed (%s); polling, next try in %s", row.setup_id, exc, backoff
    )
    return f"failed: {exc}"


def _save(row: LiveSubscription, **fields: object) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    LiveSubscription.objects.filter(pk=row.pk).update(**fields)
