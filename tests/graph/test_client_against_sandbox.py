"""The whole client, msal included, against the Graph sandbox over real HTTP.

msal runs its production code path (authority on login.microsoftonline.com); only its
http_client routes identity calls to the live server, as in a sandbox deployment.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command

from exchange_sync.graph import (
    STAMP_FIELD,
    GraphAuthError,
    GraphClient,
    GraphConflictError,
    GraphNotFoundError,
    error_from_batch_response,
    msal_token_provider,
)

MAILBOX = "ann@cronus.example"


@pytest.fixture
def sandbox(live_server, transactional_db) -> str:
    """The sandbox's root URL, with one mailbox provisioned."""
    call_command("sandbox_mailbox", "add", MAILBOX)
    return f"{live_server.url}/graph-sandbox"


def make_client(root: str, *, secret: str | None = None, tenant: str = "sandbox") -> GraphClient:
    tokens = msal_token_provider(
        tenant, settings.M365_CLIENT_ID, secret or settings.M365_CLIENT_SECRET, sandbox_root=root, timeout=30
    )
    return GraphClient(f"{root}/v1.0", tokens, timeout=30, sleep=lambda _seconds: None)


def test_the_client_runs_folders_contacts_stamps_delta_and_batches_against_the_sandbox(sandbox):
    client = make_client(sandbox)

    assert client.get_user(MAILBOX)["mail"].lower() == MAILBOX

    folder = client.create_contact_folder(MAILBOX, "Business Central")
    assert [f["id"] for f in client.list_contact_folders(MAILBOX, display_name="Business Central")] == [folder["id"]]
    with pytest.raises(GraphConflictError):
        client.create_contact_folder(MAILBOX, "Business Central")
    folder_id = folder["id"]
    assert client.rename_contact_folder(MAILBOX, folder_id, "BC")["displayName"] == "BC"

    created = client.create_contact(
        MAILBOX,
        folder_id,
        {"givenName": "Ann", "surname": "Lee", "emailAddresses": [{"address": "ann.lee@example.com"}]},
        stamp="CT000001",
    )
    (found,) = client.find_contacts_by_stamp(MAILBOX, folder_id, "CT000001")
    assert found["id"] == created["id"]
    assert found[STAMP_FIELD] == "CT000001"
    assert client.get_contact(MAILBOX, folder_id, created["id"], expand_stamp=True)[STAMP_FIELD] == "CT000001"

    first = client.contacts_delta(MAILBOX, folder_id, select=["displayName", "emailAddresses"])
    assert [c["id"] for c in first.items] == [created["id"]]
    assert first.delta_link

    updated = client.update_contact(
        MAILBOX, folder_id, created["id"], {"jobTitle": "Buyer"}, if_match=created["@odata.etag"]
    )
    assert updated["jobTitle"] == "Buyer"
    with pytest.raises(GraphConflictError):
        client.update_contact(MAILBOX, folder_id, created["id"], {"jobTitle": "Old"}, if_match=created["@odata.etag"])

    changes = client.contacts_delta(MAILBOX, folder_id, delta_link=first.delta_link)
    assert [c["id"] for c in changes.items] == [created["id"]]

    members = [
        client.batch_request_create_contact(
            str(n), MAILBOX, folder_id, {"givenName": "Person", "surname": str(n)}, f"CT{n:06d}"
        )
        for n in range(2, 27)
    ]
    answers = client.batch(members)
    assert [error_from_batch_response(a) for a in answers] == [None] * 25
    assert [a.status for a in answers] == [201] * 25

    pages = list(client.iter_contacts(MAILBOX, folder_id, expand_stamp=True, page_size=10))
    assert [len(page) for page in pages] == [10, 10, 6]
    assert sorted(c[STAMP_FIELD] for page in pages for c in page) == [f"CT{n:06d}" for n in range(1, 27)]

    client.delete_contact(MAILBOX, folder_id, created["id"])
    with pytest.raises(GraphNotFoundError):
        client.get_contact(MAILBOX, folder_id, created["id"])
    removals = client.contacts_delta(MAILBOX, folder_id, delta_link=changes.delta_link)
    assert created["id"] in removals.removed_ids

    client.delete_contact_folder(MAILBOX, folder_id)
    with pytest.raises(GraphNotFoundError):
        client.get_contact_folder(MAILBOX, folder_id)

    assert client.request_count > 10
    assert client.operation_count == client.request_count + 25 - 2  # two batch envelopes


def test_an_unknown_mailbox_is_not_found_in_the_sandbox(sandbox):
    with pytest.raises(GraphNotFoundError):
        make_client(sandbox).get_user("nobody@cronus.example")


def test_a_wrong_secret_is_reported_as_invalid_client_by_the_sandbox(sandbox):
    with pytest.raises(GraphAuthError) as caught:
        make_client(sandbox, secret="wrong-secret").get_user(MAILBOX)

    assert caught.value.reason == "invalid_client"


def test_an_unknown_tenant_is_reported_as_unknown_tenant_by_the_sandbox(sandbox, settings):
    settings.GRAPH_SANDBOX_UNKNOWN_TENANTS = ["no-such-tenant"]

    with pytest.raises(GraphAuthError) as caught:
        make_client(sandbox, tenant="no-such-tenant").get_user(MAILBOX)

    assert caught.value.reason == "unknown_tenant"
