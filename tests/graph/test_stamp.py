"""The Business Central contact number stamp: one extended property, one lookup method."""

from __future__ import annotations

from exchange_sync.graph import STAMP_PROPERTY_ID, stamp_value
from tests.graph.conftest import CONTACTS_URL, FOLDER_ID, MAILBOX, load

STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY_ID}')"


def test_the_stamp_is_a_named_string_property_in_one_fixed_property_set():
    assert STAMP_PROPERTY_ID == "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name BcContactNo"


def test_it_finds_contacts_by_their_stamp(mocked, client):
    mocked.get(CONTACTS_URL, json=load("contacts_by_stamp.json"))

    found = client.find_contacts_by_stamp(MAILBOX, FOLDER_ID, "CT000001")

    assert [c["bcContactNo"] for c in found] == ["CT000001"]
    request = mocked.calls[0].request
    assert request.params == {
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP_PROPERTY_ID}' and ep/value eq 'CT000001')",
        "$expand": STAMP_EXPAND,
    }
    assert request.headers["Prefer"] == 'IdType="ImmutableId"'


def test_it_quotes_apostrophes_in_a_stamp_value(mocked, client):
    mocked.get(CONTACTS_URL, json={"value": []})

    assert client.find_contacts_by_stamp(MAILBOX, FOLDER_ID, "O'NEIL") == []

    assert "ep/value eq 'O''NEIL'" in mocked.calls[0].request.params["$filter"]


def test_it_finds_duplicates_across_pages(mocked, client):
    page_1 = load("contacts_by_stamp.json")
    next_link = f"{CONTACTS_URL}?%24skip=1"
    mocked.get(next_link, json=load("contacts_by_stamp.json"))
    mocked.get(CONTACTS_URL, json=dict(page_1, **{"@odata.nextLink": next_link}))

    assert len(client.find_contacts_by_stamp(MAILBOX, FOLDER_ID, "CT000001")) == 2


def test_stamp_value_ignores_case_in_the_property_id_and_other_properties():
    item = {
        "singleValueExtendedProperties": [
            {"id": "String {00000000-0000-0000-0000-000000000000} Name Other", "value": "x"},
            {"id": STAMP_PROPERTY_ID.upper(), "value": "CT000009"},
        ]
    }

    assert stamp_value(item) == "CT000009"
    assert stamp_value({}) is None
