"""Contacts in a folder: create, get, list, PATCH with If-Match, DELETE."""

from __future__ import annotations

import pytest

FULL = {
    "givenName": "Ann",
    "surname": "Lee",
    "emailAddresses": [{"address": "ann@fabrikam.example", "name": "Ann Lee"}],
    "businessPhones": ["+1 555 0100"],
    "mobilePhone": "+1 555 0101",
    "companyName": "Fabrikam",
    "jobTitle": "Buyer",
    "businessAddress": {"street": "1 Main St\nSuite 2", "city": "Springfield", "postalCode": "12345"},
    "categories": ["Business Central"],
}


def test_it_creates_a_contact_with_graphs_read_only_properties(graph):
    folder = graph.folder()
    response = graph.post(graph.contacts_path(folder), FULL)
    body = response.json()
    assert response.status_code == 201
    assert body["@odata.context"].endswith("/contacts/$entity")
    assert body["@odata.etag"] == f'W/"{body["changeKey"]}"'
    assert len(body["id"]) > 40
    assert body["parentFolderId"] == folder
    assert body["displayName"] == "Ann Lee"  # composed by Outlook from the name parts
    assert body["createdDateTime"] == body["lastModifiedDateTime"]
    for name, value in FULL.items():
        assert body[name] == value
    assert "singleValueExtendedProperties" not in body


def test_it_gets_a_contact_with_select(graph):
    folder = graph.folder()
    created = graph.contact(folder, **FULL)
    body = graph.get(
        f"{graph.contact_path(folder, created['id'])}", params={"$select": "surname,emailAddresses"}
    ).json()
    assert set(body) == {"@odata.context", "@odata.etag", "id", "surname", "emailAddresses"}


def test_it_updates_a_contact_with_a_new_change_key(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    path = f"{graph.contact_path(folder, created['id'])}"
    response = graph.patch(path, {"jobTitle": "Owner"}, headers={"If-Match": created["@odata.etag"]})
    body = response.json()
    assert response.status_code == 200
    assert body["jobTitle"] == "Owner"
    assert body["givenName"] == "Ann"
    assert body["changeKey"] != created["changeKey"]
    assert body["id"] == created["id"]


def test_it_changes_the_change_key_even_when_nothing_changed(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    body = graph.patch(f"{graph.contact_path(folder, created['id'])}", {"givenName": "Ann"}).json()
    assert body["changeKey"] != created["changeKey"]


def test_it_refuses_a_patch_with_a_stale_etag(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    path = f"{graph.contact_path(folder, created['id'])}"
    graph.patch(path, {"jobTitle": "Owner"})
    response = graph.patch(path, {"jobTitle": "Clerk"}, headers={"If-Match": created["@odata.etag"]})
    assert response.status_code == 412
    assert response.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert graph.get(path).json()["jobTitle"] == "Owner"


def test_it_refuses_a_delete_with_a_stale_etag(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    path = f"{graph.contact_path(folder, created['id'])}"
    graph.patch(path, {"jobTitle": "Owner"})
    assert graph.delete(path, headers={"If-Match": created["@odata.etag"]}).status_code == 412
    assert graph.get(path).status_code == 200


def test_it_regenerates_the_display_name_unless_the_patch_sends_it(graph):
    folder = graph.folder()
    created = graph.contact(folder, displayName="Custom Name")
    path = f"{graph.contact_path(folder, created['id'])}"
    assert graph.patch(path, {"surname": "Park"}).json()["displayName"] == "Ann Park"
    assert graph.patch(path, {"surname": "Kim", "displayName": "Custom"}).json()["displayName"] == "Custom"


def test_it_deletes_a_contact(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    path = f"{graph.contact_path(folder, created['id'])}"
    assert graph.delete(path).status_code == 204
    assert graph.get(path).status_code == 404
    assert graph.delete(path).status_code == 404


def test_it_lists_contacts_in_pages_with_select(graph):
    folder = graph.folder()
    made = [graph.contact(folder, surname=f"Lee {i}")["id"] for i in range(7)]
    url, seen, pages = graph.contacts_path(folder), [], 0
    params = {"$top": "3", "$select": "surname"}
    while url:
        body = graph.get(url, params=params).json()
        assert body["@odata.context"].endswith("/contacts(surname)")
        assert all(set(c) == {"@odata.etag", "id", "surname"} for c in body["value"])
        seen += [c["id"] for c in body["value"]]
        url, params, pages = body.get("@odata.nextLink"), None, pages + 1
    assert seen == made
    assert pages == 3


def test_it_pages_by_ten_without_top(graph):
    folder = graph.folder()
    for i in range(11):
        graph.contact(folder, surname=str(i))
    body = graph.get(graph.contacts_path(folder)).json()
    assert len(body["value"]) == 10
    assert "@odata.nextLink" in body


def test_it_finds_contacts_by_email_address_case_insensitively(graph):
    folder = graph.folder()
    wanted = graph.contact(folder, emailAddresses=[{"address": "Ann@Fabrikam.example"}])
    graph.contact(folder, emailAddresses=[{"address": "bob@fabrikam.example"}])
    body = graph.get(
        graph.contacts_path(folder), params={"$filter": "emailAddresses/any(a:a/address eq 'ann@fabrikam.example')"}
    ).json()
    assert [c["id"] for c in body["value"]] == [wanted["id"]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"emailAddresses": [{"address": f"a{i}@x.example"} for i in range(4)]}, "ErrorInvalidArgument"),
        ({"businessPhones": ["1", "2", "3"]}, "ErrorInvalidArgument"),
        ({"faxNumber": "1"}, "RequestBodyRead"),
        ({"givenName": 5}, "RequestBodyRead"),
    ],
)
def test_it_refuses_what_outlook_refuses(graph, body, code):
    folder = graph.folder()
    response = graph.post(graph.contacts_path(folder), body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert graph.get(graph.contacts_path(folder)).json()["value"] == []


def test_it_words_the_limit_like_outlook(graph):
    folder = graph.folder()
    response = graph.post(graph.contacts_path(folder), {"businessPhones": ["1", "2", "3"]})
    assert response.json()["error"]["message"] == (
        "The multi value property BusinessPhones has 3 entries, that exceeds the max allowed value of 2"
    )


def test_it_accepts_three_emails_and_two_business_phones(graph):
    folder = graph.folder()
    body = {"emailAddresses": [{"address": f"a{i}@x.example"} for i in range(3)], "businessPhones": ["1", "2"]}
    assert graph.post(graph.contacts_path(folder), body).status_code == 201


def test_it_pages_contacts_by_the_preferred_page_size_and_says_it_applied_it(graph):
    folder = graph.folder()
    for surname in ("A", "B", "C"):
        graph.contact(folder, surname=surname)
    prefer = {"Prefer": 'odata.maxpagesize=2, IdType="ImmutableId"'}
    first = graph.get(graph.contacts_path(folder), headers=prefer)
    assert [c["surname"] for c in first.json()["value"]] == ["A", "B"]
    assert first.headers["Preference-Applied"] == 'odata.maxpagesize=2, IdType="ImmutableId"'
    rest = graph.get(first.json()["@odata.nextLink"], headers=prefer)
    assert [c["surname"] for c in rest.json()["value"]] == ["C"]
    assert rest.headers["Preference-Applied"] == 'odata.maxpagesize=2, IdType="ImmutableId"'


def test_top_wins_over_the_preferred_page_size_which_is_then_not_applied(graph):
    folder = graph.folder()
    for surname in ("A", "B", "C"):
        graph.contact(folder, surname=surname)
    response = graph.get(graph.contacts_path(folder), params={"$top": "1"}, headers={"Prefer": "odata.maxpagesize=2"})
    assert [c["surname"] for c in response.json()["value"]] == ["A"]
    assert "Preference-Applied" not in response.headers


def test_it_claims_no_page_size_it_was_not_asked_for(graph):
    folder = graph.folder()
    graph.contact(folder)
    prefer = {"Prefer": 'IdType="ImmutableId"'}
    for path in (graph.contacts_path(folder), f"{graph.contacts_path(folder)}/delta"):
        assert graph.get(path, headers=prefer).headers["Preference-Applied"] == 'IdType="ImmutableId"', path
        assert "Preference-Applied" not in graph.get(path).headers, path
