"""Contacts: list, get, create, update, delete; ids stay immutable."""

from __future__ import annotations

import pytest

from exchange_sync.graph import STAMP_PROPERTY_ID, GraphConflictError, GraphNotFoundError
from tests.graph.conftest import CONTACT_ID, CONTACT_URL, CONTACTS_URL, FOLDER_ID, MAILBOX, load, sent_json

IMMUTABLE = 'IdType="ImmutableId"'
STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY_ID}')"


def test_it_lists_contacts_page_by_page_following_next_links(mocked, client):
    page_1 = load("contacts_page_1.json")
    mocked.get(page_1["@odata.nextLink"], json=load("contacts_page_2.json"))
    mocked.get(CONTACTS_URL, json=page_1)

    pages = list(client.iter_contacts(MAILBOX, FOLDER_ID, select=["displayName", "emailAddresses"], page_size=2))

    assert [[c["displayName"] for c in page] for page in pages] == [["Person 1", "Person 2"], ["Person 3"]]
    first, second = (call.request for call in mocked.calls)
    assert first.params == {"$select": "displayName,emailAddresses", "$top": "2"}
    assert first.headers["Prefer"] == IMMUTABLE
    assert second.url == page_1["@odata.nextLink"]  # followed as an opaque URL
    assert second.headers["Prefer"] == IMMUTABLE


def test_it_yields_an_empty_page_when_graph_sends_one(mocked, client):
    mocked.get(CONTACTS_URL, json={"value": []})

    assert list(client.iter_contacts(MAILBOX, FOLDER_ID)) == [[]]


def test_it_lists_contacts_with_their_stamp_surfaced(mocked, client):
    mocked.get(CONTACTS_URL, json=load("contacts_by_stamp.json"))

    (page,) = client.iter_contacts(MAILBOX, FOLDER_ID, expand_stamp=True)

    assert page[0]["bcContactNo"] == "CT000001"
    assert mocked.calls[0].request.params["$expand"] == STAMP_EXPAND
    assert mocked.calls[0].request.params["$top"] == "100"


def test_it_gets_a_contact_by_its_url_encoded_id(mocked, client):
    mocked.get(CONTACT_URL, json=load("contact.json"))

    contact = client.get_contact(MAILBOX, FOLDER_ID, CONTACT_ID, select=["displayName"])

    assert contact["id"] == CONTACT_ID
    request = mocked.calls[0].request
    assert request.path_url.startswith(
        "/v1.0/users/ann@cronus.example/contactFolders/AAMkAGI2TG93AAA%3D/contacts/AAMkAGI2Contact1%2B%2FA%3D?"
    )
    assert request.params == {"$select": "displayName"}
    assert request.headers["Prefer"] == IMMUTABLE


def test_it_gets_a_contact_with_its_stamp(mocked, client):
    mocked.get(CONTACT_URL, json=load("contact_with_stamp.json"))

    contact = client.get_contact(MAILBOX, FOLDER_ID, CONTACT_ID, expand_stamp=True)

    assert contact["bcContactNo"] == "CT000001"
    assert mocked.calls[0].request.params == {"$expand": STAMP_EXPAND}


def test_it_surfaces_a_missing_stamp_as_none(mocked, client):
    mocked.get(CONTACT_URL, json=load("contact.json"))

    assert client.get_contact(MAILBOX, FOLDER_ID, CONTACT_ID, expand_stamp=True)["bcContactNo"] is None


def test_it_raises_not_found_for_a_deleted_contact(mocked, client):
    mocked.get(CONTACT_URL, status=404, json=load("error_item_not_found.json"))

    with pytest.raises(GraphNotFoundError) as caught:
        client.get_contact(MAILBOX, FOLDER_ID, CONTACT_ID)

    assert caught.value.code == "ErrorItemNotFound"
    assert caught.value.request_id == "3a1f0c4e-0000-4000-8000-000000000404"


def test_it_creates_a_contact_with_the_stamp_without_changing_the_callers_body(mocked, client):
    mocked.post(CONTACTS_URL, status=201, json=load("contact.json"))
    body = {"givenName": "Person", "surname": "1"}

    created = client.create_contact(MAILBOX, FOLDER_ID, body, stamp="CT000001")

    assert created["id"] == CONTACT_ID
    assert sent_json(mocked.calls[0]) == {
        "givenName": "Person",
        "surname": "1",
        "singleValueExtendedProperties": [{"id": STAMP_PROPERTY_ID, "value": "CT000001"}],
    }
    assert body == {"givenName": "Person", "surname": "1"}
    assert mocked.calls[0].request.headers["Prefer"] == IMMUTABLE
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"


def test_it_creates_a_contact_without_a_stamp(mocked, client):
    mocked.post(CONTACTS_URL, status=201, json=load("contact.json"))

    client.create_contact(MAILBOX, FOLDER_ID, {"givenName": "Person"})

    assert sent_json(mocked.calls[0]) == {"givenName": "Person"}


def test_it_updates_a_contact_with_if_match_and_the_stamp(mocked, client):
    mocked.patch(CONTACT_URL, json=dict(load("contact.json"), displayName="New"))

    updated = client.update_contact(
        MAILBOX, FOLDER_ID, CONTACT_ID, {"displayName": "New"}, stamp="CT000001", if_match='W/"EQAAABYAAAB1"'
    )

    assert updated["displayName"] == "New"
    request = mocked.calls[0].request
    assert request.headers["If-Match"] == 'W/"EQAAABYAAAB1"'
    assert request.headers["Prefer"] == IMMUTABLE
    assert sent_json(mocked.calls[0])["singleValueExtendedProperties"] == [
        {"id": STAMP_PROPERTY_ID, "value": "CT000001"}
    ]


def test_it_updates_a_contact_without_if_match_by_default(mocked, client):
    mocked.patch(CONTACT_URL, json=load("contact.json"))

    client.update_contact(MAILBOX, FOLDER_ID, CONTACT_ID, {"displayName": "New"})

    assert "If-Match" not in mocked.calls[0].request.headers
    assert sent_json(mocked.calls[0]) == {"displayName": "New"}


def test_it_raises_a_conflict_for_a_stale_change_key(mocked, client):
    body = {
        "error": {
            "code": "ErrorIrresolvableConflict",
            "message": "The change key passed in the request does not match the current change key for the item.",
        }
    }
    mocked.patch(CONTACT_URL, status=412, json=body)

    with pytest.raises(GraphConflictError) as caught:
        client.update_contact(MAILBOX, FOLDER_ID, CONTACT_ID, {"displayName": "New"}, if_match='W/"old"')

    assert caught.value.status == 412
    assert caught.value.code == "ErrorIrresolvableConflict"


def test_it_deletes_a_contact(mocked, client):
    mocked.delete(CONTACT_URL, status=204)

    assert client.delete_contact(MAILBOX, FOLDER_ID, CONTACT_ID) is None
    assert mocked.calls[0].request.headers["Prefer"] == IMMUTABLE


def test_it_raises_not_found_deleting_a_contact_already_gone(mocked, client):
    mocked.delete(CONTACT_URL, status=404, json=load("error_item_not_found.json"))

    with pytest.raises(GraphNotFoundError):
        client.delete_contact(MAILBOX, FOLDER_ID, CONTACT_ID)
