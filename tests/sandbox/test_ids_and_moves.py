"""Outlook's two ids of a contact, and contacts that a person moves or deletes.

https://learn.microsoft.com/graph/outlook-immutable-id: the regular id changes when the
contact moves to another folder (Deleted Items included); the immutable id does not.
`Prefer: IdType="ImmutableId"` applies to the one request (or batch member) it comes with.
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import quote

from django.apps import apps

from exchange_sync.sandbox import services
from exchange_sync.sandbox.models import Contact, Folder
from tests.sandbox.conftest import MAILBOX

IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


def _row(contact_id: str) -> Contact:
    """The live row of a contact, by either of its ids."""
    rows = Contact.objects.filter(is_deleted=False)
    return (rows.filter(graph_id=contact_id) | rows.filter(immutable_id=contact_id)).get()


def _move(contact_id: str, folder_id: str) -> None:
    services.contact_move(_row(contact_id).pk, Folder.objects.get(graph_id=folder_id))


def _anywhere(graph, contact_id: str) -> str:
    return f"/users/{MAILBOX}/contacts/{quote(contact_id, safe='')}"


def _delta_round(graph, link: str, headers: dict | None = None) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        page = graph.get(link, headers=headers).json()
        items += page["value"]
        if "@odata.deltaLink" in page:
            return items, page["@odata.deltaLink"]
        link = page["@odata.nextLink"]


def test_a_contact_has_a_regular_and_an_immutable_id_and_each_request_gets_the_kind_it_asks_for(graph):
    folder = graph.folder()
    regular = graph.contact(folder)
    immutable = graph.post(graph.contacts_path(folder), {"surname": "Two"}, headers=IMMUTABLE)
    assert "Preference-Applied" not in graph.post(graph.contacts_path(folder), {"surname": "Three"}).headers
    assert immutable.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    row = _row(regular["id"])
    assert regular["id"] == row.graph_id != row.immutable_id
    assert immutable.json()["id"] == _row(immutable.json()["id"]).immutable_id

    listed = graph.get(graph.contacts_path(folder), headers=IMMUTABLE).json()["value"]
    assert {c["id"] for c in listed} == set(Contact.objects.values_list("immutable_id", flat=True))
    read = graph.get(graph.contact_path(folder, regular["id"]), headers=IMMUTABLE)
    assert read.json()["id"] == row.immutable_id
    assert read.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    by_immutable = graph.get(graph.contact_path(folder, row.immutable_id))  # both kinds address it
    assert by_immutable.json()["id"] == row.graph_id
    patched = graph.patch(_anywhere(graph, row.immutable_id), {"jobTitle": "Buyer"}, headers=IMMUTABLE)
    assert (patched.status_code, patched.json()["id"]) == (200, row.immutable_id)


def test_batch_members_and_delta_pages_render_ids_as_each_asks(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    row = _row(contact["id"])
    url = f"/users/{MAILBOX}/contactFolders/{quote(folder, safe='')}/contacts/{quote(contact['id'], safe='')}"
    members = [
        {"id": "plain", "method": "GET", "url": url},
        {"id": "immutable", "method": "GET", "url": url, "headers": IMMUTABLE},
    ]
    # The envelope's own Prefer header does not reach the members.
    answers = graph.post("/$batch", {"requests": members}, headers=IMMUTABLE).json()["responses"]
    ids = {a["id"]: a["body"]["id"] for a in answers}
    assert ids == {"plain": row.graph_id, "immutable": row.immutable_id}
    immutable_answer = next(a for a in answers if a["id"] == "immutable")
    assert immutable_answer["headers"]["Preference-Applied"] == 'IdType="ImmutableId"'

    delta = f"{graph.contacts_path(folder)}/delta"
    items, _ = _delta_round(graph, delta, IMMUTABLE)
    assert [i["id"] for i in items] == [row.immutable_id]
    items, _ = _delta_round(graph, delta)
    assert [i["id"] for i in items] == [row.graph_id]


def test_a_move_changes_the_regular_id_keeps_the_immutable_one_and_the_source_delta_reports_it_removed(graph):
    source, target = graph.folder("Business Central"), graph.folder("Suppliers")
    contact = graph.post(graph.contacts_path(source), {"surname": "Lee"}, headers=IMMUTABLE).json()
    old_regular = _row(contact["id"]).graph_id
    _, immutable_link = _delta_round(graph, f"{graph.contacts_path(source)}/delta", IMMUTABLE)
    _, regular_link = _delta_round(graph, f"{graph.contacts_path(source)}/delta")

    _move(contact["id"], target)

    moved = graph.get(_anywhere(graph, contact["id"]), headers=IMMUTABLE).json()
    assert (moved["id"], moved["parentFolderId"], moved["surname"]) == (contact["id"], target, "Lee")
    assert graph.get(_anywhere(graph, old_regular)).status_code == 404  # the old regular id is gone
    new_regular = graph.get(_anywhere(graph, contact["id"])).json()["id"]
    assert new_regular != old_regular
    assert graph.get(graph.contact_path(source, contact["id"])).status_code == 404
    assert [c["id"] for c in graph.get(graph.contacts_path(target), headers=IMMUTABLE).json()["value"]] == [
        contact["id"]
    ]
    removed = {"@odata.type": "#microsoft.graph.contact", "@removed": {"reason": "deleted"}}
    assert _delta_round(graph, immutable_link, IMMUTABLE)[0] == [{**removed, "id": contact["id"]}]
    assert _delta_round(graph, regular_link)[0] == [{**removed, "id": old_regular}]


def test_deleted_items_is_readable_as_a_folder_but_not_listed_among_contact_folders(graph):
    folder = graph.folder()
    contact = graph.post(graph.contacts_path(folder), {"surname": "Lee"}, headers=IMMUTABLE).json()
    services.contact_to_deleted_items(_row(contact["id"]).pk)

    parent = graph.get(_anywhere(graph, contact["id"]), headers=IMMUTABLE).json()["parentFolderId"]
    by_name = graph.get(f"/users/{MAILBOX}/contactFolders/deleteditems")
    by_id = graph.get(graph.folder_path(parent))
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json()["id"] == by_id.json()["id"] == parent
    assert by_id.json()["displayName"] == "Deleted Items"
    listed = graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"]
    assert [f["id"] for f in listed] == [folder]
    in_deleted_items = graph.get(f"{graph.folder_path(parent)}/contacts", headers=IMMUTABLE).json()["value"]
    assert [c["id"] for c in in_deleted_items] == [contact["id"]]
    refused = graph.delete(graph.folder_path(parent))
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "ErrorDeleteDistinguishedFolder")


def test_a_permanent_delete_makes_both_ids_unknown(graph):
    folder = graph.folder()
    contact = graph.post(graph.contacts_path(folder), {"surname": "Lee"}, headers=IMMUTABLE).json()
    regular = _row(contact["id"]).graph_id
    services.contact_to_deleted_items(_row(contact["id"]).pk)
    services.contact_delete(_row(contact["id"]).pk)  # emptied from Deleted Items
    for contact_id in (contact["id"], regular):
        gone = graph.get(_anywhere(graph, contact_id), headers=IMMUTABLE)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ErrorItemNotFound")


def test_a_contact_moved_out_and_back_in_one_round_is_reported_removed_and_not_added_again(graph):
    # Graph's documented trap with immutable ids (microsoft-graph-docs-contrib#72).
    source, target = graph.folder("Business Central"), graph.folder("Suppliers")
    contact = graph.post(graph.contacts_path(source), {"surname": "Lee"}, headers=IMMUTABLE).json()
    _, link = _delta_round(graph, f"{graph.contacts_path(source)}/delta", IMMUTABLE)
    _move(contact["id"], target)
    _move(contact["id"], source)

    items, _ = _delta_round(graph, link, IMMUTABLE)
    assert [(i["id"], "@removed" in i) for i in items] == [(contact["id"], True)]
    back = graph.get(_anywhere(graph, contact["id"]), headers=IMMUTABLE).json()
    assert back["parentFolderId"] == source


def test_a_contact_made_before_immutable_ids_keeps_its_id_as_its_immutable_id_through_a_move(graph):
    # Before migration 0006 the sandbox answered every request with the regular id, so
    # the links clients stored hold it: the migration makes it the immutable id too.
    fill = import_module("exchange_sync.sandbox.migrations.0006_immutable_ids")._immutable_ids_fill
    source, target = graph.folder("Business Central"), graph.folder("Suppliers")
    stored = graph.contact(source)["id"]
    _, link = _delta_round(graph, f"{graph.contacts_path(source)}/delta", IMMUTABLE)
    fill(apps, None)  # as on a row that was there before

    _move(stored, target)

    moved = graph.get(_anywhere(graph, stored), headers=IMMUTABLE).json()
    assert (moved["id"], moved["parentFolderId"]) == (stored, target)
    assert [i["id"] for i in _delta_round(graph, link, IMMUTABLE)[0]] == [stored]
