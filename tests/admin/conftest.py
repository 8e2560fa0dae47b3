"""Fixtures for the admin tests: staff users with and without the sync permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from exchange_sync.models import ExchangeSyncSetup
from tests.factories import make_user


def grant_sync(user):
    user.user_permissions.add(Permission.objects.get(codename="run_contact_sync"), *contact_permissions())
    return user


def contact_permissions():
    return Permission.objects.filter(codename__in=["view_contact", "change_contact"])


@pytest.fixture
def ann(db):
    """A salesperson with a mailbox and the right to start synchronizations."""
    return grant_sync(make_user("ann", mailbox="ann@cronus.example"))


@pytest.fixture
def ann_setup(ann):
    return ExchangeSyncSetup.objects.create(user=ann)


@pytest.fixture
def bob_setup(db):
    return ExchangeSyncSetup.objects.create(user=grant_sync(make_user("bob", mailbox="bob@cronus.example")))


@pytest.fixture
def as_user(client):
    """Log a user into the test client and return the client."""

    def login(user):
        client.force_login(user)
        return client

    return login
