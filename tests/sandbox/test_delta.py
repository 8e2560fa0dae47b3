"""Delta query on a folder's contacts: rounds, pages, changes only, deletions, expiry."""

from __future__ import annotations

from urllib.parse import quote

from tests.sandbox.conftest import MAILBOX


def _round(graph, url: str, **kw) -> tuple[list[dict], str, int]:
    """Follow nextLinks to the deltaLink; return (items, deltaLink, pages)."""
    items, pages = [], 0
    while True:
        response = graph.get(url, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@odata.context"] == f"{graph.base}/$metadata#Collection(contact)"
        items += body["value"]
        pages += 1
        kw.pop("params", None)
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]


def _delta(graph, folder: str) -> str:
    return f"{graph.contacts_path(folder)}/delta"


def test_it_lists_the_whole_folder_in_pages_then_gives_a_delta_link(graph):
    folder = graph.folder()
    made = {graph.contact(folder, surname=str(i))["id"] for i in range(5)}
    items, delta_link, pages = _round(graph, _delta(graph, folder), headers={"Prefer": "odata.maxpagesize=2"})
    assert {i["id"] for i in items} == made
    assert pages == 3
    assert "$deltatoken=" in delta_link


def test_it_returns_only_changes_in_the_next_round(graph):
    folder = graph.folder()
    kept, changed, deleted = (graph.contact(folder, surname=s) for s in ("Kept", "Changed", "Deleted"))
    _, delta_link, _ = _round(graph, _delta(graph, folder))
    graph.patch(f"{graph.contact_path(folder, changed['id'])}", {"jobTitle": "Owner"})
    graph.delete(f"{graph.contact_path(folder, deleted['id'])}")
    added = graph.contact(folder, surname="Added")
    items, next_link, _ = _round(graph, delta_link)
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {changed["id"], deleted["id"], added["id"]}
    assert by_id[changed["id"]]["jobTitle"] == "Owner"
    assert by_id[deleted["id"]] == {
        "@odata.type": "#microsoft.graph.contact",
        "id": deleted["id"],
        "@removed": {"reason": "deleted"},
    }
    assert kept["id"] not in by_id
    assert _round(graph, next_link)[0] == []


def test_it_carries_select_and_page_size_in_its_links(graph):
    folder = graph.folder()
    for i in range(3):
        graph.contact(folder, surname=str(i))
    first = graph.get(_delta(graph, folder), params={"$select": "surname"}, headers={"Prefer": "odata.maxpagesize=2"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
    body = first.json()
    assert len(body["value"]) == 2
    assert all(set(c) == {"@odata.etag", "id", "surname"} for c in body["value"])
    second = graph.get(body["@odata.nextLink"]).json()
    assert [set(c) for c in second["value"]] == [{"@odata.etag", "id", "surname"}]
    assert "@odata.deltaLink" in second


def test_it_reports_a_change_made_during_a_round_in_the_next_one(graph):
    folder = graph.folder()
    first, second = graph.contact(folder, surname="A"), graph.contact(folder, surname="B")
    page = graph.get(_delta(graph, folder), headers={"Prefer": "odata.maxpagesize=1"}).json()
    assert [c["id"] for c in page["value"]] == [first["id"]]
    graph.patch(f"{graph.contact_path(folder, first['id'])}", {"jobTitle": "Late"})
    rest, delta_link, _ = _round(graph, page["@odata.nextLink"])
    assert [c["id"] for c in rest] == [second["id"]]
    later, _, _ = _round(graph, delta_link)
    assert [(c["id"], c["jobTitle"]) for c in later] == [(first["id"], "Late")]


def test_it_refuses_expand_on_delta_like_outlook(graph):
    folder = graph.folder()
    response = graph.get(_delta(graph, folder), params={"$expand": "singleValueExtendedProperties"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "ErrorInternalServerError"


def test_it_refuses_a_forged_delta_token(graph):
    folder = graph.folder()
    response = graph.get(_delta(graph, folder), params={"$deltatoken": "forged"})
    assert response.status_code == 400


def test_it_answers_delta_on_a_deleted_folder_with_not_found(graph):
    folder = graph.folder()
    _, delta_link, _ = _round(graph, _delta(graph, folder))
    graph.delete(f"/users/{MAILBOX}/contactFolders/{quote(folder, safe='')}")
    assert graph.get(delta_link).status_code == 404
