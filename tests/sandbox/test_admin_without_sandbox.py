"""With the sandbox off (production), its admin pages are gone, not broken: the admin
index does not offer them and their address answers 403 instead of a server error."""

from __future__ import annotations

import pytest
from django.test import override_settings

from exchange_sync.sandbox.services import mailbox_add

pytestmark = pytest.mark.django_db

MAILBOXES = "/admin/graph_sandbox/mailbox/"


@override_settings(GRAPH_SANDBOX=False, ROOT_URLCONF="tests.project.urls_without_sandbox")
def test_the_sandbox_admin_is_hidden_when_the_sandbox_is_off(admin_client_for, superuser):
    mailbox_add("ann@cronus.example")
    client = admin_client_for(superuser)

    assert client.get(MAILBOXES).status_code == 403
    assert "Outlook (sandbox)" not in client.get("/admin/").content.decode()


def test_the_sandbox_admin_is_there_when_the_sandbox_is_on(admin_client_for, superuser):
    mailbox_add("ann@cronus.example")
    client = admin_client_for(superuser)

    assert "Open in Outlook (sandbox)" in client.get(MAILBOXES).content.decode()
    assert "Outlook (sandbox)" in client.get("/admin/").content.decode()
