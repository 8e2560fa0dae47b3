"""Users and contact folders over HTTP."""

from __future__ import annotations

from urllib.parse import quote

from exchange_sync.sandbox.models import Contact, ContactEmail, ExtendedProperty
from tests.sandbox.conftest import MAILBOX


def test_it_answers_a_provisioned_user(graph):
    response = graph.get(f"/users/{MAILBOX}")
    body = response.json()
    assert response.status_code == 200
    assert body["@odata.context"] == f"{graph.base}/$metadata#users/$entity"
    assert body["userPrincipalName"] == MAILBOX
    assert body["displayName"] == "Alice Example"
    assert graph.get(f"/users/{body['id']}").json()["mail"] == MAILBOX


def test_it_answers_an_unknown_user_with_graphs_404(graph):
    response = graph.get("/users/nobody@cronus.example/contactFolders")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorInvalidUser"
    assert response.json()["error"]["message"] == "The requested user 'nobody@cronus.example' is invalid."


def test_it_creates_gets_renames_and_deletes_a_folder(graph):
    created = graph.post(f"/users/{MAILBOX}/contactFolders", {"displayName": "Business Central"})
    assert created.status_code == 201
    folder = created.json()
    assert folder["displayName"] == "Business Central"
    assert folder["parentFolderId"]
    path = f"/users/{MAILBOX}/contactFolders/{quote(folder['id'], safe='')}"
    assert graph.get(path).json()["id"] == folder["id"]
    renamed = graph.patch(path, {"displayName": "BC"})
    assert renamed.status_code == 200
    assert renamed.json()["displayName"] == "BC"
    assert graph.delete(path).status_code == 204
    gone = graph.get(path)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"


def test_it_refuses_a_second_folder_with_the_same_name(graph):
    graph.folder("Business Central")
    response = graph.post(f"/users/{MAILBOX}/contactFolders", {"displayName": "business central"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ErrorFolderExists"


def test_it_refuses_to_rename_a_folder_onto_another_name(graph):
    graph.folder("One")
    second = graph.folder("Two")
    response = graph.patch(f"{graph.folder_path(second)}", {"displayName": "One"})
    assert response.status_code == 409


def test_it_filters_folders_by_display_name_with_doubled_quotes(graph):
    wanted = graph.folder("O'Brien's")
    graph.folder("Other")
    response = graph.get(f"/users/{MAILBOX}/contactFolders", params={"$filter": "displayName eq 'O''Brien''s'"})
    assert [f["id"] for f in response.json()["value"]] == [wanted]


def test_it_pages_folders_with_top_and_next_links(graph):
    made = [graph.folder(f"Folder {i}") for i in range(5)]
    seen, url = [], f"/users/{MAILBOX}/contactFolders?$top=2"
    pages = 0
    while url:
        body = graph.get(url).json()
        seen += [f["id"] for f in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert seen == made
    assert pages == 3


def test_it_deletes_a_folders_contacts_with_it(graph):
    folder = graph.folder()
    other = graph.folder("Other")
    stamp = [{"id": "String {0ecadc8a-1c4b-4a4b-9c25-0a9f1b2c3d4e} Name BcContactNo", "value": "CT000001"}]
    contact = graph.contact(folder, emailAddresses=[{"address": "ann@x.example"}], singleValueExtendedProperties=stamp)
    graph.delete(graph.contact_path(folder, graph.contact(folder, surname="Gone")["id"]))  # a tombstone too
    kept = graph.contact(other)
    rows = Contact.objects.filter(folder__graph_id=folder)
    assert rows.count() == 2
    assert graph.delete(graph.folder_path(folder)).status_code == 204
    assert not Contact.objects.filter(graph_id=contact["id"]).exists()
    assert not Contact.objects.filter(mailbox__email=MAILBOX).exclude(graph_id=kept["id"]).exists()
    assert not ExtendedProperty.objects.exists()
    assert not ContactEmail.objects.exists()
    assert graph.get(graph.contact_path(other, kept["id"])).status_code == 200


# --- extended properties on folders (singlevaluelegacyextendedproperty-post / -get) -----

FOLDER_PROPERTY = "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name BcSyncFolder"


def _expand(property_id: str = FOLDER_PROPERTY) -> dict[str, str]:
    return {"$expand": f"singleValueExtendedProperties($filter=id eq '{property_id}')"}


def test_it_keeps_a_folders_extended_property_set_on_create_and_returns_it_only_when_expanded(graph):
    created = graph.post(
        f"/users/{MAILBOX}/contactFolders",
        {"displayName": "Business Central", "singleValueExtendedProperties": [{"id": FOLDER_PROPERTY, "value": "x"}]},
    )
    assert created.status_code == 201
    assert "singleValueExtendedProperties" not in created.json()  # not echoed, as documented
    path = graph.folder_path(created.json()["id"])
    assert "singleValueExtendedProperties" not in graph.get(path).json()
    # The GUID in another case names the same property.
    expanded = graph.get(path, params=_expand(FOLDER_PROPERTY.replace("0f45d569", "0F45D569"))).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": FOLDER_PROPERTY, "value": "x"}]


def test_it_sets_a_folders_extended_property_with_patch_and_keeps_its_name(graph):
    path = graph.folder_path(graph.folder("Family"))
    assert "singleValueExtendedProperties" not in graph.get(path, params=_expand()).json()

    patched = graph.patch(path, {"singleValueExtendedProperties": [{"id": FOLDER_PROPERTY, "value": "x"}]})

    assert patched.status_code == 200
    folder = graph.get(path, params=_expand()).json()
    assert folder["displayName"] == "Family"
    assert folder["singleValueExtendedProperties"] == [{"id": FOLDER_PROPERTY, "value": "x"}]
    other = "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name Other"
    assert "singleValueExtendedProperties" not in graph.get(path, params=_expand(other)).json()


def test_it_refuses_a_malformed_folder_extended_property(graph):
    response = graph.post(
        f"/users/{MAILBOX}/contactFolders", {"displayName": "Bad", "singleValueExtendedProperties": [{"value": "x"}]}
    )
    assert response.status_code == 400
    assert graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"] == []


def test_a_folder_patch_refused_for_its_name_sets_no_extended_property_either(graph):
    graph.folder("Family")
    path = graph.folder_path(graph.folder("Business Central"))

    response = graph.patch(
        path, {"displayName": "Family", "singleValueExtendedProperties": [{"id": FOLDER_PROPERTY, "value": "x"}]}
    )

    assert response.status_code == 409
    folder = graph.get(path, params=_expand()).json()
    assert folder["displayName"] == "Business Central"
    assert "singleValueExtendedProperties" not in folder
