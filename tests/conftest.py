"""Fixtures shared by the whole suite."""

import pytest

from tests.factories import make_user


@pytest.fixture
def superuser(db):
    return make_user("boss", is_superuser=True, mailbox="boss@cronus.example")


@pytest.fixture
def admin_client_for(client):
    """Log a given user into the Django test client."""

    def login(user):
        client.force_login(user)
        return client

    return login
