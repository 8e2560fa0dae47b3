"""The sandbox's own cost stays flat with folder size: a page of a 2,000-contact folder,
a delta page and a stamp lookup each take a fixed number of queries (called in-process,
through the same dispatch the HTTP view uses)."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from django.utils import timezone

from exchange_sync.sandbox import ids, operations, services  # noqa: F401  (operations registers routes)
from exchange_sync.sandbox.graph import GraphRequest, GraphResponse, dispatch
from exchange_sync.sandbox.models import Contact, ExtendedProperty, Mailbox

BASE = "http://testserver/graph-sandbox/v1.0"
STAMP = "String {0ecadc8a-1c4b-4a4b-9c25-0a9f1b2c3d4e} Name BcContactNo"
SIZE = 2000


@pytest.fixture
def big_folder(db) -> str:
    mailbox, _ = services.mailbox_add("big@cronus.example")
    folder = services.folder_create(mailbox, "Business Central")
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(
            mailbox=mailbox,
            folder=folder,
            graph_id=ids.new_id(ids.CONTACT),
            change_key=ids.new_change_key(),
            seq=i + 1,
            data={"surname": f"S{i}", "displayName": f"S{i}"},
            created_at=now,
            modified_at=now,
        )
        for i in range(SIZE)
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(change_seq=SIZE)
    ExtendedProperty.objects.bulk_create(
        ExtendedProperty(contact=c, folder=folder, property_id=STAMP, value=f"CT{i:06}", value_folded=f"ct{i:06}")
        for i, c in enumerate(contacts)
    )
    return f"/users/big@cronus.example/contactFolders/{quote(folder.graph_id, safe='')}/contacts"


def get(path: str, query: dict | None = None, headers: dict | None = None) -> GraphResponse:
    return dispatch(GraphRequest("GET", path, query or {}, headers or {}, None, BASE))


def follow(link: str, headers: dict | None = None) -> GraphResponse:
    parts = urlsplit(link)
    return get(parts.path[len("/graph-sandbox/v1.0") :], dict(parse_qsl(parts.query)), headers)


def test_a_late_contacts_page_costs_what_the_first_costs(big_folder, django_assert_max_num_queries):
    expand = {"$top": "100", "$expand": f"singleValueExtendedProperties($filter=id eq '{STAMP}')"}
    page = get(big_folder, expand)
    for _ in range(15):
        page = follow(page.body["@odata.nextLink"])
    with django_assert_max_num_queries(4):
        last = follow(page.body["@odata.nextLink"])
    assert len(last.body["value"]) == 100
    assert last.body["value"][0]["singleValueExtendedProperties"][0]["value"].startswith("CT")


def test_a_delta_round_pages_through_the_folder_with_fixed_queries_per_page(big_folder, django_assert_max_num_queries):
    headers = {"prefer": "odata.maxpagesize=500"}
    page, seen = get(f"{big_folder}/delta", headers=headers), 0
    while "@odata.nextLink" in page.body:
        seen += len(page.body["value"])
        with django_assert_max_num_queries(3):
            page = follow(page.body["@odata.nextLink"], headers)
    assert seen + len(page.body["value"]) == SIZE


def test_a_stamp_lookup_is_one_indexed_query(big_folder, django_assert_max_num_queries):
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP}' and ep/value eq 'ct001999')"
    with django_assert_max_num_queries(3):
        found = get(big_folder, {"$filter": flt})
    assert [c["surname"] for c in found.body["value"]] == ["S1999"]
