"""Fixtures for live sync: setups of several salespeople with different scopes, and what
they have asked for."""

from __future__ import annotations

import pytest

from exchange_sync.models import ContactLink, ExchangeSyncSetup, LiveSyncRequest
from tests.factories import make_user


def make_setup(name: str, contact_filter: dict[str, str] | None = None, *, mailbox: bool = True, **fields):
    user = make_user(name, mailbox=f"{name}@cronus.example" if mailbox else None)
    return ExchangeSyncSetup.objects.create(user=user, contact_filter=contact_filter or {}, **fields)


def link(setup: ExchangeSyncSetup, contact) -> ContactLink:
    """The contact as synchronized to the setup's Outlook folder by an earlier run."""
    return ContactLink.objects.create(
        setup=setup,
        contact=contact,
        contact_no=contact.no,
        graph_id=f"graph-{setup.pk}-{contact.pk}",
        state=ContactLink.State.LINKED,
        fields_hash="x",
    )


def requested() -> set[str]:
    """Whose setups have a live run pending (by user name)."""
    return set(LiveSyncRequest.objects.values_list("setup__user__username", flat=True))


def forget_requests() -> None:
    LiveSyncRequest.objects.all().delete()


@pytest.fixture
def london(transactional_db):
    """Ann synchronizes the London contacts."""
    return make_setup("ann", {"city": "London"})


@pytest.fixture
def paris(transactional_db):
    """Bob synchronizes the Paris contacts."""
    return make_setup("bob", {"city": "Paris"})
