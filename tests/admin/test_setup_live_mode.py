"""The setup page and the setup list say how Outlook edits come back: "Live" with the
subscription's expiry, "Polling every 60 s", or "Scheduled only"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from exchange_sync.models import ExchangeSyncSetup, LiveSubscription

pytestmark = pytest.mark.django_db
SETUPS = reverse("admin:exchange_sync_exchangesyncsetup_changelist")


def page_of(setup: ExchangeSyncSetup) -> str:
    return reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])


def test_a_subscribed_setup_shows_live_with_its_expiry(as_user, ann, ann_setup):
    expires = timezone.now().replace(microsecond=0) + timedelta(days=6)
    LiveSubscription.objects.create(
        setup=ann_setup, status=LiveSubscription.Status.ACTIVE, graph_id="s-1", client_state="x", expires_at=expires
    )

    page = as_user(ann).get(page_of(ann_setup)).content.decode()

    expiry = formats.date_format(timezone.localtime(expires), "DATETIME_FORMAT")  # "Dec. 9, 2026, 8:27 a.m."
    assert f"Live (subscription until {expiry})" in page


def test_a_setup_without_a_subscription_shows_polling(as_user, ann, ann_setup):
    page = as_user(ann).get(page_of(ann_setup)).content.decode()

    assert "Polling every 60 s" in page


def test_an_expired_subscription_shows_polling(as_user, ann, ann_setup):
    LiveSubscription.objects.create(
        setup=ann_setup,
        status=LiveSubscription.Status.ACTIVE,
        graph_id="s-1",
        client_state="x",
        expires_at=timezone.now() - timedelta(minutes=1),
    )

    page = as_user(ann).get(page_of(ann_setup)).content.decode()

    assert "Polling every 60 s" in page


def test_a_setup_with_live_sync_off_shows_scheduled_only(as_user, ann, ann_setup, superuser, bob_setup):
    ExchangeSyncSetup.objects.filter(pk=ann_setup.pk).update(is_live_sync_enabled=False)

    page = as_user(superuser).get(SETUPS).content.decode()

    assert "Scheduled only" in page  # Ann's
    assert "Polling every 60 s" in page  # Bob's
