"""Ids are standard base64 and may contain `+`, `/` and `=` (graph-notes.md): the
sandbox takes them percent-encoded in paths, refuses them unencoded, and refuses any id
that is not strict base64 of its own shape with 400 ErrorInvalidIdMalformed (ids it
issued in the URL-safe alphabet before are still its own)."""

from __future__ import annotations

import base64
import random
from urllib.parse import quote

import pytest

from exchange_sync.sandbox import ids
from exchange_sync.sandbox.models import Contact, Folder
from tests.sandbox.conftest import MAILBOX


def _id_with_plus_and_slash(kind: bytes, seed: int) -> str:
    """A well-formed sandbox id of `kind` that contains both `+` and `/`."""
    rng = random.Random(seed)
    while True:
        value = base64.b64encode(ids._MARKER + kind + rng.randbytes(31)).decode()
        if "+" in value and "/" in value:
            return value


@pytest.fixture
def awkward(graph) -> tuple[str, str]:
    """A folder and a contact in it whose ids contain `+` and `/`."""
    folder = graph.folder()
    contact = graph.contact(folder)
    folder_id, contact_id = _id_with_plus_and_slash(ids.FOLDER, 1), _id_with_plus_and_slash(ids.CONTACT, 2)
    Folder.objects.filter(graph_id=folder).update(graph_id=folder_id)
    Contact.objects.filter(graph_id=contact["id"]).update(graph_id=contact_id)
    return folder_id, contact_id


def test_new_ids_use_the_standard_base64_alphabet():
    made = [ids.new_id(ids.CONTACT) for _ in range(300)]
    assert all(ids.check_id(value) == ids.CONTACT for value in made)
    assert not any("-" in value or "_" in value for value in made)
    # About three in four ids contain "+" or "/": all 300 missing them is not going to happen.
    assert any("+" in value for value in made)
    assert any("/" in value for value in made)


def test_it_serves_a_folder_whose_id_has_plus_and_slash_when_encoded(graph, awkward):
    folder_id, _ = awkward
    assert graph.get(graph.folder_path(folder_id)).json()["id"] == folder_id
    assert graph.patch(graph.folder_path(folder_id), {"displayName": "BC"}).json()["displayName"] == "BC"
    listed = graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"]
    assert [f["id"] for f in listed] == [folder_id]
    assert graph.delete(graph.folder_path(folder_id)).status_code == 204
    assert graph.get(graph.folder_path(folder_id)).status_code == 404


def test_it_serves_a_contact_whose_ids_have_plus_and_slash_when_encoded(graph, awkward):
    folder_id, contact_id = awkward
    path = graph.contact_path(folder_id, contact_id)
    fetched = graph.get(path).json()
    assert (fetched["id"], fetched["parentFolderId"]) == (contact_id, folder_id)
    assert quote(folder_id, safe="") in fetched["@odata.context"]
    assert graph.patch(path, {"jobTitle": "Owner"}).json()["jobTitle"] == "Owner"
    graph.contact(folder_id, surname="Second")
    page = graph.get(graph.contacts_path(folder_id), params={"$top": "1"}).json()
    assert [c["id"] for c in page["value"]] == [contact_id]
    assert [c["surname"] for c in graph.get(page["@odata.nextLink"]).json()["value"]] == ["Second"]
    assert graph.delete(path).status_code == 204
    assert graph.get(path).status_code == 404


def test_delta_links_of_a_folder_with_plus_and_slash_in_its_id_work(graph, awkward):
    folder_id, contact_id = awkward
    graph.contact(folder_id, surname="Second")
    first = graph.get(f"{graph.contacts_path(folder_id)}/delta", headers={"Prefer": "odata.maxpagesize=1"}).json()
    assert quote(folder_id, safe="") in first["@odata.nextLink"]
    last = graph.get(first["@odata.nextLink"]).json()
    assert [c["id"] for c in first["value"] + last["value"]][0] == contact_id
    assert graph.get(last["@odata.deltaLink"]).json()["value"] == []


def test_batch_members_address_encoded_ids(graph, awkward):
    folder_id, contact_id = awkward
    member = {"id": "1", "method": "GET", "url": graph.contact_path(folder_id, contact_id)}
    answer = graph.post("/$batch", {"requests": [member]}).json()["responses"][0]
    assert (answer["status"], answer["body"]["id"]) == (200, contact_id)
    unencoded = {**member, "url": f"/users/{MAILBOX}/contactFolders/{folder_id}/contacts/{contact_id}"}
    assert graph.post("/$batch", {"requests": [unencoded]}).json()["responses"][0]["status"] == 400


def test_it_refuses_ids_left_unencoded_in_the_path(graph, awkward):
    folder_id, contact_id = awkward
    for path in (
        f"/users/{MAILBOX}/contactFolders/{folder_id}",
        f"/users/{MAILBOX}/contactFolders/{folder_id}/contacts",
        f"{graph.contacts_path(folder_id)}/{contact_id}",
    ):
        response = graph.get(path)
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] in ("ErrorInvalidIdMalformed", "BadRequest")


def test_ids_it_issued_in_the_url_safe_alphabet_before_still_work(graph, awkward):
    # A demo database made before the sandbox used the standard alphabet keeps its ids.
    folder_id, _contact_id = awkward
    legacy = folder_id.replace("+", "-").replace("/", "_")
    Folder.objects.filter(graph_id=folder_id).update(graph_id=legacy)
    assert graph.get(graph.folder_path(legacy)).status_code == 200
    unknown = graph.get(graph.folder_path(folder_id))  # well-formed, no longer there
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "ErrorItemNotFound")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda value: value[:20] + "!" + value[20:],  # a stray character (lenient base64 would skip it)
        lambda value: value[:-1],  # padding lost
        lambda value: value + "AAAA",  # longer than a sandbox id
    ],
)
def test_it_answers_an_id_that_is_not_strict_base64_with_malformed(graph, awkward, spoil):
    folder_id, contact_id = awkward
    for path in (graph.folder_path(spoil(folder_id)), graph.contact_path(folder_id, spoil(contact_id))):
        response = graph.get(path)
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "ErrorInvalidIdMalformed"
