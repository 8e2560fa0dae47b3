"""JSON batching: limits, dependsOn, per-member answers."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.sandbox.conftest import MAILBOX


def _create(member_id: str, folder: str, surname: str, **extra) -> dict:
    return {
        "id": member_id,
        "method": "POST",
        "url": f"/users/{MAILBOX}/contactFolders/{quote(folder, safe='')}/contacts",
        "headers": {"Content-Type": "application/json"},
        "body": {"givenName": "Ann", "surname": surname},
        **extra,
    }


def test_it_runs_members_and_answers_each_by_id(graph):
    folder = graph.folder()
    requests_ = [
        _create("1", folder, "Lee"),
        {"id": "2", "method": "GET", "url": f"{graph.folder_path(folder)}"},
    ]
    response = graph.post("/$batch", {"requests": requests_})
    assert response.status_code == 200
    answers = {r["id"]: r for r in response.json()["responses"]}
    assert answers["1"]["status"] == 201
    assert answers["1"]["body"]["surname"] == "Lee"
    assert answers["1"]["headers"]["Content-Type"].startswith("application/json")
    assert answers["2"]["status"] == 200
    assert answers["2"]["body"]["id"] == folder


def test_it_answers_failed_members_with_their_own_status(graph):
    folder = graph.folder()
    requests_ = [
        _create("ok", folder, "Lee"),
        {"id": "missing", "method": "GET", "url": "/users/nobody@cronus.example/contactFolders"},
        {"id": "malformed", "method": "GET", "url": f"/users/{MAILBOX}/contactFolders/not-an-id"},
    ]
    answers = {r["id"]: r for r in graph.post("/$batch", {"requests": requests_}).json()["responses"]}
    assert answers["ok"]["status"] == 201
    assert answers["missing"]["status"] == 404
    assert answers["missing"]["body"]["error"]["code"] == "ErrorInvalidUser"
    assert answers["malformed"]["status"] == 400
    assert answers["malformed"]["body"]["error"]["code"] == "ErrorInvalidIdMalformed"


def test_it_runs_dependencies_first_and_fails_dependants_of_a_failure_with_424(graph):
    folder = graph.folder()
    requests_ = [
        _create("second", folder, "Second", dependsOn=["first"]),
        _create("first", folder, "First"),
        {"id": "bad", "method": "GET", "url": f"/users/{MAILBOX}/contactFolders/not-an-id"},
        _create("after-bad", folder, "Never", dependsOn=["bad"]),
    ]
    answers = {r["id"]: r for r in graph.post("/$batch", {"requests": requests_}).json()["responses"]}
    assert answers["first"]["status"] == answers["second"]["status"] == 201
    assert answers["after-bad"]["status"] == 424
    listed = graph.get(graph.contacts_path(folder)).json()["value"]
    assert [c["surname"] for c in listed] == ["First", "Second"]


def test_it_refuses_more_than_twenty_requests(graph):
    folder = graph.folder()
    response = graph.post("/$batch", {"requests": [_create(str(i), folder, "X") for i in range(21)]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert graph.get(graph.contacts_path(folder)).json()["value"] == []


def test_it_accepts_twenty_requests(graph):
    folder = graph.folder()
    response = graph.post("/$batch", {"requests": [_create(str(i), folder, "X") for i in range(20)]})
    assert [r["status"] for r in response.json()["responses"]] == [201] * 20


def test_it_refuses_duplicate_ids(graph):
    folder = graph.folder()
    response = graph.post("/$batch", {"requests": [_create("1", folder, "A"), _create("1", folder, "B")]})
    assert response.status_code == 400


def test_it_refuses_a_body_without_content_type(graph):
    folder = graph.folder()
    member = _create("1", folder, "A")
    del member["headers"]
    assert graph.post("/$batch", {"requests": [member]}).status_code == 400


def test_it_refuses_an_unknown_dependency(graph):
    folder = graph.folder()
    response = graph.post("/$batch", {"requests": [_create("1", folder, "A", dependsOn=["9"])]})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"headers": "Content-Type: application/json"},
        {"headers": ["Content-Type", "application/json"]},
        {"headers": {"Content-Type": 1}},
        {"id": 1},
        {"id": ""},
        {"method": None},
        {"url": 5},
        {"dependsOn": "0"},
        {"dependsOn": [0]},
    ],
)
def test_it_refuses_a_member_with_fields_of_the_wrong_type_as_a_whole(graph, change):
    folder = graph.folder()
    valid = {**_create("0", folder, "Lee"), "headers": {"Content-Type": "application/json"}}
    response = graph.post("/$batch", {"requests": [valid, {**_create("1", folder, "Kim"), **change}]})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "BadRequest"
    assert response.json()["error"]["message"].startswith("Invalid batch payload format")
    assert graph.get(graph.contacts_path(folder)).json()["value"] == []  # nothing ran


@pytest.mark.parametrize("member", ["not an object", ["id", "1"], None])
def test_it_refuses_a_member_that_is_not_an_object(graph, member):
    response = graph.post("/$batch", {"requests": [member]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_members_after_one_that_renames_or_deletes_a_folder_see_the_change(graph):
    """A batch reads each folder once for its members, and reads it again after a
    member changed one: a rename shows in the next read, a delete makes the folder
    (and creating in it) not found."""
    folder = graph.folder()
    path = graph.folder_path(folder)
    requests_ = [
        _create("before", folder, "Before"),
        {
            "id": "rename",
            "method": "PATCH",
            "url": path,
            "headers": {"Content-Type": "application/json"},
            "body": {"displayName": "Renamed"},
            "dependsOn": ["before"],
        },
        {"id": "read", "method": "GET", "url": path, "dependsOn": ["rename"]},
        {"id": "delete", "method": "DELETE", "url": path, "dependsOn": ["read"]},
        _create("after", folder, "After", dependsOn=["delete"]),
    ]
    answers = {r["id"]: r for r in graph.post("/$batch", {"requests": requests_}).json()["responses"]}
    assert answers["before"]["status"] == 201
    assert answers["read"]["body"]["displayName"] == "Renamed"
    assert answers["delete"]["status"] == 204
    assert answers["after"]["status"] == 404
    assert answers["after"]["body"]["error"]["code"] == "ErrorItemNotFound"
