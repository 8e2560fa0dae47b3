"""The sandbox's answers have the property names and JSON types of Graph's documented examples."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.sandbox.conftest import MAILBOX

DATA = Path(__file__).resolve().parent.parent / "data" / "sandbox"
STAMP = "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name Color"


def documented(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _kind(value: object) -> str:
    return type(value).__name__


def assert_same_shape(actual: dict, example: dict) -> None:
    """Same keys; same JSON type wherever both sides have a value (null means "any")."""
    assert set(actual) == set(example)
    for key, value in example.items():
        if value is not None and actual[key] is not None:
            assert _kind(actual[key]) == _kind(value), key


def test_a_contact_looks_like_the_documented_one(graph):
    folder = graph.folder()
    created = graph.contact(folder, businessPhones=["+1 732 555 0102"], emailAddresses=[{"address": "p@x.example"}])
    example = documented("contact.json")
    assert_same_shape(created, example)
    fetched = graph.get(f"{graph.contact_path(folder, created['id'])}").json()
    assert_same_shape(fetched, example)
    assert_same_shape(fetched["emailAddresses"][0], example["emailAddresses"][0])


def test_an_expanded_contact_carries_the_documented_property_list(graph):
    folder = graph.folder()
    created = graph.contact(folder, singleValueExtendedProperties=[{"id": STAMP, "value": "Green"}])
    body = graph.get(
        f"{graph.contact_path(folder, created['id'])}",
        params={"$select": "id", "$expand": f"singleValueExtendedProperties($filter=id eq '{STAMP}')"},
    ).json()
    example = documented("contact_with_extended_property.json")
    assert_same_shape(body, example)
    assert body["singleValueExtendedProperties"] == example["singleValueExtendedProperties"]


def test_a_folder_looks_like_the_documented_one(graph):
    folder = graph.folder()
    assert_same_shape(graph.get(f"{graph.folder_path(folder)}").json(), documented("contact_folder.json"))


def test_a_user_looks_like_the_documented_one(graph):
    assert_same_shape(graph.get(f"/users/{MAILBOX}").json(), documented("user.json"))


def test_a_delta_page_looks_like_the_documented_one(graph):
    folder = graph.folder()
    for _ in range(2):
        graph.contact(folder)
    page = graph.get(f"{graph.contacts_path(folder)}/delta", headers={"Prefer": "odata.maxpagesize=1"}).json()
    example = documented("contacts_delta_page.json")
    assert_same_shape(page, example)
    assert_same_shape(page["value"][0], example["value"][0])
    assert "$skiptoken=" in page["@odata.nextLink"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/users/{mailbox}/contactFolders/AAMkAGI2AAEOAAA=", 400),
        ("/users/nobody@cronus.example", 404),
        ("/users/{mailbox}/contactFolders/{missing}", 404),
        ("/users/{mailbox}/contactFolders/{folder}/contacts/{missing_contact}", 404),
        ("/users/{mailbox}/contactFolders/{folder}/contacts/AAMkAGI2THk0AAA=", 400),
        ("/users/{mailbox}/calendars", 400),
    ],
)
def test_errors_look_like_the_documented_one(graph, path, status):
    folder = graph.folder()
    gone = graph.folder("Gone")
    graph.delete(f"{graph.folder_path(gone)}")
    contact = graph.contact(folder)
    graph.delete(f"{graph.contact_path(folder, contact['id'])}")
    ids = {"folder": folder, "missing": gone, "missing_contact": contact["id"]}
    url = path.format(mailbox=MAILBOX, **{name: quote(value, safe="") for name, value in ids.items()})
    response = graph.get(url, headers={"client-request-id": "f0e1d2c3-0000-0000-0000-000000000000"})
    assert response.status_code == status
    example = documented("error.json")
    body = response.json()
    assert_same_shape(body["error"], example["error"])
    assert_same_shape(body["error"]["innerError"], example["error"]["innerError"])
    assert response.headers["client-request-id"] == "f0e1d2c3-0000-0000-0000-000000000000"
    assert response.headers["request-id"]


def test_malformed_ids_are_graphs_400(graph):
    response = graph.get(f"/users/{MAILBOX}/contactFolders/AAMkAGI2AAEOAAA=")
    assert response.json()["error"]["code"] == "ErrorInvalidIdMalformed"


def test_a_batch_answer_looks_like_the_documented_one(graph):
    members = [{"id": "1", "method": "GET", "url": f"/users/{MAILBOX}"}]
    body = graph.post("/$batch", {"requests": members}).json()
    example = documented("batch_response.json")
    assert_same_shape(body, example)
    assert_same_shape(body["responses"][0], example["responses"][0])


def test_ids_are_long_standard_base64_with_padding(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    for value in (folder, contact["id"]):
        assert len(value) >= 52
        assert value.endswith("=")
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    truncated = graph.get(graph.contact_path(folder, contact["id"][:-4]))
    assert truncated.json()["error"]["code"] == "ErrorInvalidIdMalformed"
