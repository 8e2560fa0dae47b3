"""What an update sends (exchange_sync/patch.py), without a sandbox: changed mapped
properties only, lists merged into Outlook's, bcsync's own list entries told apart."""

from __future__ import annotations

from exchange_sync.mapping import MAPPED_FIELDS
from exchange_sync.patch import merged_lists, needs_lists, update_body

BC = dict.fromkeys(MAPPED_FIELDS, "") | {"name": "Ann Lee", "first_name": "Ann", "surname": "Lee", "email": "a@x"}
LISTS = {
    "emailAddresses": [{"address": "a@x", "name": "Ann"}, {"address": "own@x", "name": "own"}, {"address": "3@x"}],
    "businessPhones": ["1", "2"],
    "categories": ["VIP"],
}


def test_an_update_names_only_the_changed_properties_and_the_display_name():
    body = update_body(BC | {"job_title": "Buyer"}, base=BC, lists=None, written=BC)
    assert body == {"displayName": "Ann Lee", "jobTitle": "Buyer"}


def test_without_outlooks_lists_an_update_names_no_list_and_says_when_it_needs_them():
    changed = BC | {"email_2": "b@x"}
    assert "emailAddresses" not in update_body(changed, base=BC, lists=None, written=BC)
    assert needs_lists(changed, BC) and not needs_lists(BC | {"city": "Lyon"}, BC)


def test_business_centrals_slots_are_set_and_the_persons_entries_stay():
    merged = merged_lists(BC | {"email_2": "b@x", "phone": "9"}, LISTS, written={})
    assert [e["address"] for e in merged["emailAddresses"]] == ["a@x", "b@x", "3@x"]
    assert merged["businessPhones"] == ["9", "2"]
    assert merged["categories"] == ["VIP", "Business Central"]


def test_an_empty_slot_keeps_the_persons_entry_but_drops_the_one_bcsync_wrote():
    assert [e["address"] for e in merged_lists(BC, LISTS, written={})["emailAddresses"]] == ["a@x", "own@x", "3@x"]
    written = BC | {"email_2": "OWN@x", "phone": "1"}
    merged = merged_lists(BC, LISTS, written=written)
    assert [e["address"] for e in merged["emailAddresses"]] == ["a@x", "3@x"]
    assert merged["businessPhones"] == ["2"]


def test_business_central_is_added_to_the_categories_once_in_any_case():
    assert merged_lists(BC, LISTS | {"categories": ["business central"]}, {})["categories"] == ["business central"]
    body = update_body(BC | {"phone": "1"}, base=BC | {"phone": "1"}, lists=LISTS, written={})
    assert body == {"displayName": "Ann Lee", "categories": ["VIP", "Business Central"]}
