"""Users and contact folders."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import responses

from exchange_sync.graph import GraphConflictError, GraphError, GraphNotFoundError
from exchange_sync.graph.stamp import FOLDER_STAMP_PROPERTY_ID
from tests.graph.conftest import BASE, FOLDER_ID, FOLDER_PATH, MAILBOX, load, sent_json

FOLDERS_URL = f"{BASE}/users/{MAILBOX}/contactFolders"


def test_it_gets_a_user_selecting_only_what_it_needs(mocked, client):
    mocked.get(f"{BASE}/users/{MAILBOX}", json=load("user.json"))

    user = client.get_user(MAILBOX)

    assert user["mail"] == MAILBOX
    request = mocked.calls[0].request
    assert request.params == {"$select": "id,mail,userPrincipalName,displayName"}
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["client-request-id"]


def test_it_raises_not_found_for_an_unknown_mailbox(mocked, client):
    mocked.get(f"{BASE}/users/nobody@cronus.example", status=404, json=load("error_invalid_user.json"))

    with pytest.raises(GraphNotFoundError) as caught:
        client.get_user("nobody@cronus.example")

    assert caught.value.code == "ErrorInvalidUser"


def test_it_lists_contact_folders(mocked, client):
    mocked.get(FOLDERS_URL, json=load("contact_folders.json"))

    folders = client.list_contact_folders(MAILBOX)

    assert [f["displayName"] for f in folders] == ["Business Central"]
    assert mocked.calls[0].request.params == {}


def test_it_finds_folders_by_name_quoting_apostrophes(mocked, client):
    mocked.get(FOLDERS_URL, json={"value": []})

    assert client.list_contact_folders(MAILBOX, display_name="Ann's contacts") == []

    assert mocked.calls[0].request.params == {"$filter": "displayName eq 'Ann''s contacts'"}


def test_it_follows_next_links_when_listing_folders(mocked, client):
    next_link = f"{FOLDERS_URL}?%24skip=1"
    mocked.get(next_link, json={"value": [{"id": "f2", "displayName": "Two"}]})
    mocked.get(FOLDERS_URL, json={"value": [{"id": "f1", "displayName": "One"}], "@odata.nextLink": next_link})

    folders = client.list_contact_folders(MAILBOX)

    assert [f["id"] for f in folders] == ["f1", "f2"]
    assert unquote(mocked.calls[1].request.url) == unquote(next_link)


def test_it_gets_a_folder_by_its_url_encoded_id(mocked, client):
    mocked.get(FOLDER_PATH, json=load("contact_folder.json"))

    assert client.get_contact_folder(MAILBOX, FOLDER_ID)["id"] == FOLDER_ID
    assert mocked.calls[0].request.path_url.endswith("/contactFolders/AAMkAGI2TG93AAA%3D")


def test_it_raises_not_found_for_a_deleted_folder(mocked, client):
    mocked.get(FOLDER_PATH, status=404, json=load("error_item_not_found.json"))

    with pytest.raises(GraphNotFoundError) as caught:
        client.get_contact_folder(MAILBOX, FOLDER_ID)

    assert caught.value.code == "ErrorItemNotFound"


def test_it_creates_a_folder(mocked, client):
    mocked.post(FOLDERS_URL, status=201, json=load("contact_folder.json"))

    folder = client.create_contact_folder(MAILBOX, "Business Central")

    assert folder["id"] == FOLDER_ID
    assert sent_json(mocked.calls[0]) == {"displayName": "Business Central"}


FOLDER_STAMP = {"id": FOLDER_STAMP_PROPERTY_ID, "value": "bcsync"}


def test_it_creates_a_folder_stamped_as_bcsyncs_in_the_same_post(mocked, client):
    mocked.post(FOLDERS_URL, status=201, json=load("contact_folder.json"))

    client.create_contact_folder(MAILBOX, "Business Central", stamped=True)

    assert sent_json(mocked.calls[0]) == {
        "displayName": "Business Central",
        "singleValueExtendedProperties": [FOLDER_STAMP],
    }
    assert FOLDER_STAMP_PROPERTY_ID.startswith("String {") and FOLDER_STAMP_PROPERTY_ID.endswith("} Name BcSyncFolder")


@pytest.mark.parametrize(
    ("answer", "is_stamped"),
    [
        # Graph spells the GUID in its own case: compared case-insensitively.
        ([{"id": FOLDER_STAMP_PROPERTY_ID.replace("0f45d569", "0F45D569"), "value": "x"}], True),
        ([FOLDER_STAMP], True),
        (None, False),
        ([], False),
    ],
)
def test_it_reads_a_folders_stamp_with_expand(mocked, client, answer, is_stamped):
    body = load("contact_folder.json")
    if answer is not None:
        body["singleValueExtendedProperties"] = answer
    mocked.get(FOLDER_PATH, json=body)

    folder = client.get_contact_folder(MAILBOX, FOLDER_ID, expand_stamp=True)

    assert folder["isBcsyncFolder"] is is_stamped
    assert mocked.calls[0].request.params == {
        "$expand": f"singleValueExtendedProperties($filter=id eq '{FOLDER_STAMP_PROPERTY_ID}')"
    }


def test_it_stamps_an_existing_folder_with_a_patch(mocked, client):
    mocked.patch(FOLDER_PATH, json=load("contact_folder.json"))

    client.stamp_contact_folder(MAILBOX, FOLDER_ID)

    assert sent_json(mocked.calls[0]) == {"singleValueExtendedProperties": [FOLDER_STAMP]}


def test_it_raises_a_conflict_when_the_folder_name_exists(mocked, client):
    mocked.post(FOLDERS_URL, status=409, json=load("error_folder_exists.json"))

    with pytest.raises(GraphConflictError) as caught:
        client.create_contact_folder(MAILBOX, "Business Central")

    assert caught.value.code == "ErrorFolderExists"


def test_it_renames_a_folder(mocked, client):
    mocked.patch(FOLDER_PATH, json=dict(load("contact_folder.json"), displayName="BC"))

    assert client.rename_contact_folder(MAILBOX, FOLDER_ID, "BC")["displayName"] == "BC"
    assert sent_json(mocked.calls[0]) == {"displayName": "BC"}


def test_it_deletes_a_folder_by_its_encoded_id(mocked, client):
    mocked.delete(FOLDER_PATH, status=204)

    client.delete_contact_folder(MAILBOX, FOLDER_ID)

    (call,) = mocked.calls
    assert (call.request.method, call.request.url) == ("DELETE", FOLDER_PATH)


def test_deleting_a_folder_that_is_gone_says_so(mocked, client):
    mocked.delete(FOLDER_PATH, status=404, json=load("error_item_not_found.json"))

    with pytest.raises(GraphNotFoundError):
        client.delete_contact_folder(MAILBOX, FOLDER_ID)


def test_it_url_encodes_a_mailbox_with_reserved_characters(mocked, client):
    mocked.get(f"{BASE}/users/ann%2Bsales@cronus.example", json=load("user.json"))

    client.get_user("ann+sales@cronus.example")

    assert "/users/ann%2Bsales@cronus.example" in mocked.calls[0].request.url


def test_it_refuses_to_send_its_token_to_a_next_link_on_another_host(client):
    with responses.RequestsMock() as rsps:
        rsps.get(FOLDERS_URL, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/steal"})

        with pytest.raises(GraphError, match="another host") as caught:
            client.list_contact_folders(MAILBOX)

    assert caught.value.code == "UnexpectedLink"
