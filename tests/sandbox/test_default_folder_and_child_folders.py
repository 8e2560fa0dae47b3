"""The default Contacts folder (`/users/{u}/contacts`), contacts addressed without their
folder (`/users/{u}/contacts/{id}`), and child folders, as Graph documents them."""

from __future__ import annotations

from urllib.parse import quote

from exchange_sync.sandbox.services import mailbox_add
from tests.sandbox.conftest import MAILBOX

CONTACTS = f"/users/{MAILBOX}/contacts"


def _by_id(contact_id: str) -> str:
    return f"{CONTACTS}/{quote(contact_id, safe='')}"


def test_it_creates_and_lists_contacts_in_the_default_contacts_folder(graph):
    created = graph.post(CONTACTS, {"givenName": "Ann", "surname": "Lee"})
    assert created.status_code == 201, created.text
    assert created.json()["@odata.context"].endswith(f"users('{quote(MAILBOX)}')/contacts/$entity")
    listed = graph.get(CONTACTS).json()
    assert [c["id"] for c in listed["value"]] == [created.json()["id"]]
    assert listed["@odata.context"].endswith("/contacts")


def test_the_default_folder_is_the_parent_of_the_folders_and_not_one_of_them(graph):
    folder = graph.get(graph.folder_path(graph.folder())).json()
    contact = graph.post(CONTACTS, {"givenName": "Ann"}).json()
    assert contact["parentFolderId"] == folder["parentFolderId"]
    default = graph.get(graph.folder_path(contact["parentFolderId"])).json()
    assert default["displayName"] == "Contacts"
    listed = graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"]
    assert [f["id"] for f in listed] == [folder["id"]]
    refused = graph.delete(graph.folder_path(contact["parentFolderId"]))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ErrorDeleteDistinguishedFolder"


def test_it_keeps_the_contacts_of_the_default_folder_apart_from_other_folders(graph):
    folder = graph.folder()
    graph.contact(folder, surname="In a folder")
    graph.post(CONTACTS, {"surname": "In Contacts"})
    assert [c["surname"] for c in graph.get(CONTACTS).json()["value"]] == ["In Contacts"]
    assert [c["surname"] for c in graph.get(graph.contacts_path(folder)).json()["value"]] == ["In a folder"]


def test_it_gets_updates_and_deletes_a_contact_by_id_without_its_folder(graph):
    folder = graph.folder()
    created = graph.contact(folder)
    fetched = graph.get(_by_id(created["id"]), params={"$select": "surname"})
    assert fetched.status_code == 200
    assert fetched.json()["surname"] == "Lee"
    assert fetched.json()["@odata.context"].endswith("/contacts/$entity")
    stale = graph.patch(_by_id(created["id"]), {"jobTitle": "x"}, headers={"If-Match": 'W/"stale"'})
    assert stale.status_code == 412
    updated = graph.patch(_by_id(created["id"]), {"jobTitle": "Owner"}, headers={"If-Match": created["@odata.etag"]})
    assert updated.status_code == 200
    assert updated.json()["parentFolderId"] == folder
    assert graph.get(graph.contact_path(folder, created["id"])).json()["jobTitle"] == "Owner"
    assert graph.delete(_by_id(created["id"])).status_code == 204
    assert graph.get(graph.contact_path(folder, created["id"])).status_code == 404
    gone = graph.get(_by_id(created["id"]))
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"


def test_a_contact_of_another_mailbox_is_not_found_by_id(graph):
    created = graph.contact(graph.folder())
    mailbox_add("bob@cronus.example")
    response = graph.get(f"/users/bob@cronus.example/contacts/{quote(created['id'], safe='')}")
    assert response.status_code == 404


def test_the_default_folder_has_its_own_delta(graph):
    first = graph.post(CONTACTS, {"surname": "First"}).json()
    graph.contact(graph.folder(), surname="Elsewhere")
    body = graph.get(f"{CONTACTS}/delta").json()
    assert [c["id"] for c in body["value"]] == [first["id"]]
    graph.delete(_by_id(first["id"]))
    second = graph.post(CONTACTS, {"surname": "Second"}).json()
    changes = graph.get(body["@odata.deltaLink"]).json()["value"]
    assert {c["id"]: "@removed" in c for c in changes} == {first["id"]: True, second["id"]: False}


def test_it_creates_and_lists_child_folders(graph):
    parent = graph.folder("Customers")
    path = f"{graph.folder_path(parent)}/childFolders"
    created = graph.post(path, {"displayName": "Europe"})
    assert created.status_code == 201, created.text
    child = created.json()
    assert child["parentFolderId"] == parent
    assert child["@odata.context"].endswith(f"/contactFolders('{quote(parent, safe='')}')/childFolders/$entity")
    listed = graph.get(path).json()
    assert [f["id"] for f in listed["value"]] == [child["id"]]
    top_level = graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"]
    assert [f["id"] for f in top_level] == [parent]  # child folders are not listed at the top
    contact = graph.contact(child["id"])
    assert contact["parentFolderId"] == child["id"]


def test_child_folder_names_are_unique_among_siblings_only(graph):
    parent = graph.folder("Customers")
    path = f"{graph.folder_path(parent)}/childFolders"
    assert graph.post(path, {"displayName": "Customers"}).status_code == 201  # another level
    again = graph.post(path, {"displayName": "customers"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ErrorFolderExists"


def test_deleting_a_folder_deletes_its_child_folders(graph):
    parent = graph.folder("Customers")
    child = graph.post(f"{graph.folder_path(parent)}/childFolders", {"displayName": "Europe"}).json()
    graph.delete(graph.folder_path(parent))
    assert graph.get(graph.folder_path(child["id"])).status_code == 404


def test_batch_members_reach_the_default_folder_and_contacts_by_id(graph):
    created = graph.contact(graph.folder())
    members = [
        {
            "id": "1",
            "method": "POST",
            "url": f"/users/{MAILBOX}/contacts",
            "headers": {"Content-Type": "application/json"},
            "body": {"surname": "Batched"},
        },
        {"id": "2", "method": "GET", "url": f"/users/{MAILBOX}/contacts/{quote(created['id'], safe='')}"},
        {"id": "3", "method": "GET", "url": f"/users/{MAILBOX}/contacts?$count=true", "dependsOn": ["1"]},
    ]
    answers = {r["id"]: r for r in graph.post("/$batch", {"requests": members}).json()["responses"]}
    assert answers["1"]["status"] == 201
    assert answers["2"]["body"]["id"] == created["id"]
    assert answers["3"]["body"]["@odata.count"] == 1


def test_a_child_folder_is_addressed_under_its_parent_too(graph):
    parent = graph.folder("Customers")
    child = graph.post(f"{graph.folder_path(parent)}/childFolders", {"displayName": "Europe"}).json()
    under_parent = f"{graph.folder_path(parent)}/childFolders/{quote(child['id'], safe='')}"
    assert graph.get(under_parent).json()["displayName"] == "Europe"
    created = graph.post(f"{under_parent}/contacts", {"surname": "Lee"})
    assert created.status_code == 201
    assert [c["surname"] for c in graph.get(f"{under_parent}/contacts").json()["value"]] == ["Lee"]
    assert graph.patch(under_parent, {"displayName": "EU"}).json()["displayName"] == "EU"
    elsewhere = graph.folder("Suppliers")
    not_its_child = f"{graph.folder_path(elsewhere)}/childFolders/{quote(child['id'], safe='')}"
    assert graph.get(not_its_child).status_code == 404
    assert graph.delete(under_parent).status_code == 204
    assert graph.get(graph.folder_path(child["id"])).status_code == 404
