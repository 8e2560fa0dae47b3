"""What the sandbox sends to subscribers: change notifications for contact changes, and
lifecycle notifications, shaped as Graph documents them.

Change notification (https://learn.microsoft.com/graph/api/resources/changenotification,
the example of https://learn.microsoft.com/graph/change-notifications-delivery-webhooks):
a changeNotificationCollection `{"value": [{subscriptionId, subscriptionExpirationDateTime,
changeType, resource, resourceData {@odata.type, @odata.id, @odata.etag, id},
clientState, tenantId}]}`, ids only (no resource data for contacts without encryption).
A deleted contact has no etag. Ids are regular, or immutable when the subscription was
made with `Prefer: IdType="ImmutableId"`
(https://learn.microsoft.com/graph/outlook-immutable-id).

Lifecycle notification (https://learn.microsoft.com/graph/change-notifications-lifecycle-events):
the same collection with `{subscriptionId, subscriptionExpirationDateTime, tenantId,
clientState, lifecycleEvent}`, sent to the lifecycleNotificationUrl (none without one).

`contact_changed` is called by `services` after a change commits (the API, the Outlook
page, the `sandbox_mailbox` command): a move is "deleted" in its source folder (old
regular id) and "created" in its target. Deleted Items is a mail folder, not among the
contact folders `users/{u}/contacts` covers: a contact moved there is "created" only for
a subscription on Deleted Items itself (`contactFolders/deleteditems/contacts`). The mailbox's notification knobs (drop,
duplicate, delay, reorder) apply here; lifecycle notifications ignore them.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from . import delivery
from .models import Mailbox, Subscription

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
LIFECYCLE_EVENTS = ("subscriptionRemoved", "reauthorizationRequired", "missed")


@dataclass(frozen=True)
class ContactChange:
    """A committed change, captured before later changes replace the row's values."""

    mailbox_id: int
    folder_id: int
    is_contact_folder: bool  # False for Deleted Items (a mail folder)
    change_type: str
    graph_id: str
    immutable_id: str
    change_key: str | None  # None for a deletion


def graph_datetime(value: datetime) -> str:
    """Graph's DateTimeOffset form, 7 fractional digits: 2016-11-20T18:23:45.9356913Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def tenant_guid(tenant: str) -> str:
    """tenantId is a Guid; the sandbox's tenants are names ("sandbox"), so a name maps to
    a stable Guid of its own."""
    try:
        return str(uuid.UUID(tenant))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-sandbox-tenant:{tenant}"))


def _contact_url(mailbox: Mailbox, contact_id: str) -> str:
    return f"Users/{mailbox.user_id}/Contacts/{contact_id}"


def _change_notification(subscription: Subscription, change: ContactChange) -> dict:
    contact_id = change.immutable_id if subscription.is_immutable_id else change.graph_id
    resource_data = {
        "@odata.type": "#Microsoft.Graph.Contact",
        "@odata.id": _contact_url(subscription.mailbox, contact_id),
    }
    if change.change_key is not None:
        resource_data["@odata.etag"] = f'W/"{change.change_key}"'
    resource_data["id"] = contact_id
    return {
        "subscriptionId": str(subscription.graph_id),
        "subscriptionExpirationDateTime": graph_datetime(subscription.expires_at),
        "changeType": change.change_type,
        "resource": _contact_url(subscription.mailbox, contact_id),
        "resourceData": resource_data,
        "clientState": subscription.client_state,
        "tenantId": tenant_guid(subscription.tenant_id),
    }


# Which mailboxes have a live subscription, read at most once a second per process: most
# contact changes concern no subscriber, and looking for one per change was a third of
# the sandbox's CPU per created contact in `make bench-scale`. A subscription saved or
# deleted in this process clears it at once; one made in another process (a second
# gunicorn worker, the `sandbox_mailbox` command) is seen within the second.
SUBSCRIBED_MAILBOXES_MAX_AGE = 1.0
_subscribed_lock = threading.Lock()
_subscribed: tuple[float, frozenset[int]] | None = None
_subscribed_generation = 0  # moves on with every clear: a read begun before it is not kept


def mailbox_has_subscribers(mailbox_id: int) -> bool:
    """Whether a change in the mailbox may concern a live subscription (cheap: no query
    most of the time)."""
    global _subscribed
    with _subscribed_lock:
        cached, generation = _subscribed, _subscribed_generation
    if cached is None or time.monotonic() - cached[0] > SUBSCRIBED_MAILBOXES_MAX_AGE:
        read_at = time.monotonic()
        live = Subscription.objects.filter(expires_at__gt=timezone.now()).values_list("mailbox_id", flat=True)
        cached = (read_at, frozenset(live))
        with _subscribed_lock:
            if generation == _subscribed_generation:
                _subscribed = cached
    return mailbox_id in cached[1]


@receiver([post_save, post_delete], sender=Subscription, dispatch_uid="sandbox-subscribed-mailboxes")
def _subscriptions_changed(**kwargs) -> None:
    global _subscribed, _subscribed_generation
    with _subscribed_lock:
        _subscribed = None
        _subscribed_generation += 1


def subscriptions_matching(change: ContactChange) -> list[Subscription]:
    """The live subscriptions a change concerns: on its folder, or on every contact folder
    of the mailbox (`users/{u}/contacts`), asking for its change type."""
    scope = Q(folder_id=change.folder_id)
    if change.is_contact_folder:
        scope |= Q(folder__isnull=True)
    live = Subscription.objects.filter(scope, mailbox_id=change.mailbox_id, expires_at__gt=timezone.now())
    return [s for s in live.select_related("mailbox") if change.change_type in s.change_type.split(",")]


_random_lock = threading.Lock()
_randoms: dict[str, random.Random] = {}


def _chance(mailbox: Mailbox, rate: float) -> bool:
    """A seeded coin toss per mailbox and knob version: a test that sets the knobs gets a
    reproducible sequence (like `knobs.chance`)."""
    if rate <= 0:
        return False
    key = f"{mailbox.pk}:{mailbox.knobs_version}"
    with _random_lock:
        rng = _randoms.get(key)
        if rng is None:
            rng = _randoms[key] = random.Random(f"{getattr(settings, 'GRAPH_SANDBOX_RANDOM_SEED', 0)}:{key}")
        return rng.random() < rate


def reorder_window() -> float:
    return float(getattr(settings, "GRAPH_SANDBOX_NOTIFICATION_REORDER_WINDOW_SECONDS", 0.5))


def contact_changed(change: ContactChange) -> None:
    """Queue the change notifications of a committed contact change (never waits for them)."""
    for subscription in subscriptions_matching(change):
        mailbox = subscription.mailbox
        if _chance(mailbox, mailbox.notification_drop_rate):
            continue
        body = {"value": [_change_notification(subscription, change)]}
        copies = 2 if _chance(mailbox, mailbox.notification_duplicate_rate) else 1
        for _ in range(copies):
            if mailbox.is_notification_reordered:
                delivery.hold_reversed(
                    str(mailbox.pk),
                    subscription.notification_url,
                    body,
                    window=reorder_window(),
                    delay=mailbox.notification_delay_seconds,
                )
            else:
                delivery.post_later(subscription.notification_url, body, delay=mailbox.notification_delay_seconds)


def lifecycle_send(subscription: Subscription, event: str) -> bool:
    """Queue a lifecycle notification; False when the subscription has no lifecycleNotificationUrl."""
    if event not in LIFECYCLE_EVENTS:
        raise ValueError(f"Unknown lifecycle event {event!r}; one of {', '.join(LIFECYCLE_EVENTS)}.")
    if not subscription.lifecycle_notification_url:
        return False
    notification = {
        "subscriptionId": str(subscription.graph_id),
        "subscriptionExpirationDateTime": graph_datetime(subscription.expires_at),
        "tenantId": tenant_guid(subscription.tenant_id),
        "clientState": subscription.client_state,
        "lifecycleEvent": event,
    }
    delivery.post_later(subscription.lifecycle_notification_url, {"value": [notification]})
    return True
