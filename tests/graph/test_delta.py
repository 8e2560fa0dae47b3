"""Delta rounds on a contact folder: pages, removals, the delta link, expiry."""

from __future__ import annotations

import pytest

from exchange_sync.graph import DeltaPage, GraphDeltaExpiredError, GraphError
from tests.graph.conftest import CONTACTS_URL, FOLDER_ID, MAILBOX, load

DELTA_URL = f"{CONTACTS_URL}/delta"


def test_a_first_round_lists_the_folder_page_by_page_and_ends_with_a_delta_link(mocked, client):
    page_1, page_2 = load("delta_page_1.json"), load("delta_page_2.json")
    mocked.get(page_1["@odata.nextLink"], json=page_2)
    mocked.get(DELTA_URL, json=page_1)

    pages = list(client.iter_contacts_delta(MAILBOX, FOLDER_ID, select=["displayName", "changeKey"], page_size=2))

    assert [[c["displayName"] for c in p.items] for p in pages] == [["Person 1", "Person 2"], ["Person 3"]]
    assert [p.delta_link for p in pages] == [None, page_2["@odata.deltaLink"]]
    first, second = (call.request for call in mocked.calls)
    assert first.params == {"$select": "displayName,changeKey"}
    assert first.headers["Prefer"] == 'IdType="ImmutableId", odata.maxpagesize=2'
    # $select and the page size travel inside Graph's links; the follow-up sends no params of its own.
    assert second.url == page_1["@odata.nextLink"]
    assert second.headers["Prefer"] == 'IdType="ImmutableId", odata.maxpagesize=2'


def test_a_round_from_a_stored_delta_link_returns_changes_and_removals(mocked, client):
    stored = load("delta_page_2.json")["@odata.deltaLink"]
    changes = load("delta_changes.json")
    mocked.get(stored, json=changes)

    (page,) = client.iter_contacts_delta(MAILBOX, FOLDER_ID, delta_link=stored)

    assert page == DeltaPage(
        items=[changes["value"][0]],
        removed_ids=["AAMkAGI2Contact3+/A=", "AAMkAGI2Contact4+/A="],
        delta_link=changes["@odata.deltaLink"],
    )
    assert mocked.calls[0].request.url == stored
    assert mocked.calls[0].request.headers["Prefer"] == 'IdType="ImmutableId"'


def test_it_collects_a_whole_round_for_small_folders(mocked, client):
    page_1, page_2 = load("delta_page_1.json"), load("delta_page_2.json")
    mocked.get(page_1["@odata.nextLink"], json=page_2)
    mocked.get(DELTA_URL, json=page_1)

    result = client.contacts_delta(MAILBOX, FOLDER_ID)

    assert [c["id"] for c in result.items] == ["AAMkAGI2Contact1+/A=", "AAMkAGI2Contact2+/A=", "AAMkAGI2Contact3+/A="]
    assert result.removed_ids == []
    assert result.delta_link == page_2["@odata.deltaLink"]


def test_a_round_with_no_changes_still_returns_the_new_delta_link(mocked, client):
    stored = f"{DELTA_URL}?%24deltatoken=old"
    mocked.get(stored, json={"value": [], "@odata.deltaLink": f"{DELTA_URL}?%24deltatoken=new"})

    result = client.contacts_delta(MAILBOX, FOLDER_ID, delta_link=stored)

    assert (result.items, result.removed_ids, result.delta_link) == ([], [], f"{DELTA_URL}?%24deltatoken=new")


def test_an_expired_delta_link_raises_delta_expired(mocked, client):
    stored = f"{DELTA_URL}?%24deltatoken=old"
    mocked.get(stored, status=410, json=load("error_sync_state_not_found.json"), headers={"Location": DELTA_URL})

    with pytest.raises(GraphDeltaExpiredError) as caught:
        client.contacts_delta(MAILBOX, FOLDER_ID, delta_link=stored)

    assert caught.value.location == DELTA_URL
    assert caught.value.code == "syncStateNotFound"


def test_an_evicted_sync_state_answered_as_400_also_raises_delta_expired(mocked, client):
    stored = f"{DELTA_URL}?%24deltatoken=old"
    mocked.get(stored, status=400, json={"error": {"code": "resyncRequired", "message": "Resync required."}})

    with pytest.raises(GraphDeltaExpiredError):
        client.contacts_delta(MAILBOX, FOLDER_ID, delta_link=stored)


def test_a_last_page_without_a_delta_link_is_an_error_not_a_silent_end(mocked, client):
    mocked.get(DELTA_URL, json={"value": [load("contact.json")]})

    with pytest.raises(GraphError) as caught:
        client.contacts_delta(MAILBOX, FOLDER_ID)

    assert caught.value.code == "MissingDeltaLink"


def test_pages_are_fetched_only_as_the_caller_asks_for_them(mocked, client):
    page_1 = load("delta_page_1.json")
    mocked.get(DELTA_URL, json=page_1)
    mocked.get(page_1["@odata.nextLink"], json=load("delta_page_2.json"))

    pages = client.iter_contacts_delta(MAILBOX, FOLDER_ID)
    next(pages)
    assert len(mocked.calls) == 1
    next(pages)
    assert len(mocked.calls) == 2
