"""Fixtures for the admin tests: staff users with and without the sync permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from exchange_sync.models import ExchangeSyncSetup
from jobqueue.roles import ADMINISTRATOR_ROLE, USER_ROLE, contact_sync_roles_ensure
from tests.factories import make_user


def grant_sync(user):
    """A salesperson: the Contact Sync User role (their own setup, syncs, runs, entries)."""
    contact_sync_roles_ensure()  # a transactional test before may have flushed the groups
    user.groups.add(Group.objects.get(name=USER_ROLE))
    return user


def grant_administrator(user):
    """A sync administrator: the Contact Sync Administrator role (everyone's)."""
    contact_sync_roles_ensure()
    user.groups.add(Group.objects.get(name=ADMINISTRATOR_ROLE))
    return user


def grant_view(user):
    """Staff who may look at their setup, runs and issues, and nothing more."""
    codenames = ["view_exchangesyncsetup", "view_syncrun", "view_syncissue"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
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
