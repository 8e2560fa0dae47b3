"""Which way Outlook's changes reach Business Central for a setup, in a person's words:
"Live" (a change subscription, with its expiry), "Polling every 60 s", or "Scheduled
only" (live sync or background sync switched off, or the setup waits for a person)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import formats, timezone

from exchange_sync.models import ExchangeSyncSetup, LiveSubscription


@dataclass(frozen=True)
class LiveMode:
    name: str  # "live", "polling", "scheduled"
    text: str
    expires_at: datetime | None = None


def live_mode(setup: ExchangeSyncSetup, now: datetime | None = None) -> LiveMode:
    """The setup's mode. Reads its subscription row (select_related it for a list)."""
    now = now or timezone.now()
    if not (setup.is_live_sync_enabled and setup.is_enabled) or setup.needs_attention:
        return LiveMode("scheduled", "Scheduled only")
    row: LiveSubscription | None = getattr(setup, "live_subscription", None)
    if (
        row is not None
        and row.status == LiveSubscription.Status.ACTIVE
        and row.expires_at is not None
        and row.expires_at > now
    ):
        expiry = formats.date_format(timezone.localtime(row.expires_at), "DATETIME_FORMAT")
        return LiveMode("live", f"Live (subscription until {expiry})", row.expires_at)
    return LiveMode("polling", f"Polling every {settings.LIVE_POLL_SECONDS:g} s")
