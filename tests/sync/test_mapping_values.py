"""What a Graph contact reads as, field by field (exchange_sync/mapping.py): the values
the sync compares with Business Central's and copies into it. Fast: no database, no
sandbox, so `make mutate` reaches them within its budget."""

from __future__ import annotations

from exchange_sync.mapping import CATEGORY, MAPPED_FIELDS, graph_body, outlook_values, value_problems, values_hash

EVERY_FIELD = {field: f"{field} value" for field in MAPPED_FIELDS} | {
    "email": "ann@cronus.example",
    "email_2": "ann.private@example.com",
}


def test_every_mapped_field_written_to_outlook_reads_back_as_it_was():
    assert outlook_values(graph_body(EVERY_FIELD)) == EVERY_FIELD


def test_a_contact_without_any_property_reads_as_empty_values_never_none():
    assert outlook_values({}) == dict.fromkeys(MAPPED_FIELDS, "")
    nulls = {"givenName": None, "surname": None, "initials": None, "businessAddress": {"street": None}}
    assert outlook_values(nulls) == dict.fromkeys(MAPPED_FIELDS, "")


def test_the_name_is_made_of_its_parts_when_outlook_has_no_display_name():
    item = {"givenName": "Ann", "middleName": "B.", "surname": "Lee"}
    assert outlook_values(item)["name"] == "Ann B. Lee"
    assert outlook_values({"surname": "Lee"})["name"] == "Lee"
    assert outlook_values({**item, "displayName": "Dr Ann Lee"})["name"] == "Dr Ann Lee"


def test_an_email_entry_without_an_address_keeps_its_place_as_an_empty_value():
    item = {"emailAddresses": [{"name": "Ann"}, {"address": "ann@cronus.example", "name": "Ann"}]}
    values = outlook_values(item)
    assert (values["email"], values["email_2"]) == ("", "ann@cronus.example")


def test_the_first_street_line_is_the_address_and_the_rest_address_2_whatever_the_line_breaks():
    item = {"businessAddress": {"street": "1 Main Street\r\nSuite 2\nBack door"}}
    values = outlook_values(item)
    assert (values["address"], values["address_2"]) == ("1 Main Street", "Suite 2\nBack door")
    values = outlook_values({"businessAddress": {"street": "1 Main Street"}})
    assert (values["address"], values["address_2"]) == ("1 Main Street", "")


def test_only_the_first_business_phone_is_the_phone():
    values = outlook_values({"businessPhones": ["+44 20 1", "+44 20 2"], "mobilePhone": "+44 7700 1"})
    assert (values["phone"], values["mobile_phone"]) == ("+44 20 1", "+44 7700 1")


def test_a_value_as_long_as_its_field_fits_and_a_broken_character_is_named_with_the_field():
    assert value_problems({"city": "C" * 30}) == {}  # City holds 30 characters
    assert value_problems({"city": "C" * 31}) == {"city": "City is longer than 30 characters"}
    assert value_problems({"city": "Lon\ud800don"}) == {
        "city": "City contains a broken character (a lone Unicode surrogate)"
    }


def test_a_field_missing_from_the_values_is_written_as_empty():
    """An update compares with the Graph body of what Outlook is known to hold, which
    may be nothing: each property then reads as empty, never as None."""
    empty = graph_body({})
    address = empty.pop("businessAddress")
    assert empty == {
        "displayName": "",
        "givenName": "",
        "middleName": "",
        "surname": "",
        "initials": "",
        "jobTitle": "",
        "companyName": "",
        "emailAddresses": [],
        "businessPhones": [],
        "mobilePhone": "",
        "businessHomePage": "",
        "categories": [CATEGORY],
    }
    assert address == {"street": "", "city": "", "state": "", "postalCode": "", "countryOrRegion": ""}


def test_the_first_email_is_shown_with_the_contacts_name_and_the_second_with_itself():
    assert graph_body(EVERY_FIELD)["emailAddresses"] == [
        {"address": "ann@cronus.example", "name": "name value"},
        {"address": "ann.private@example.com", "name": "ann.private@example.com"},
    ]


def test_the_digest_of_values_is_the_one_stored_by_earlier_versions():
    """Links store it: a digest computed another way after an upgrade would make every
    contact look changed, and the next run would send them all again."""
    assert values_hash({"name": "Zoë Ørsted", "city": "Malmö"}) == (
        "f91849bcc22578fddbdef879b8e63035821484a6da11d527454faed532568903"
    )
    assert values_hash({}) == values_hash(dict.fromkeys(MAPPED_FIELDS, ""))
