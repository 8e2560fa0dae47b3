"""Concurrent requests do not corrupt the sandbox's state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests


def test_it_keeps_every_contact_created_by_parallel_clients(graph):
    folder = graph.folder()
    url = f"{graph.base}{graph.contacts_path(folder)}"

    def create(i: int) -> requests.Response:
        return requests.post(url, json={"surname": f"Lee {i}"}, headers=graph.session.headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(40)))
    assert {a.status_code for a in answers} == {201}
    created = {a.json()["id"] for a in answers}
    assert len(created) == 40
    delta = graph.get(f"{graph.contacts_path(folder)}/delta", headers={"Prefer": "odata.maxpagesize=1000"}).json()
    assert {c["id"] for c in delta["value"]} == created


def test_it_lets_exactly_one_of_parallel_conditional_updates_win(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    url = f"{graph.base}{graph.contact_path(folder, contact['id'])}"
    headers = {**graph.session.headers, "If-Match": contact["@odata.etag"]}

    def update(i: int) -> int:
        return requests.patch(url, json={"jobTitle": f"T{i}"}, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(update, range(6)))
    assert statuses == [200] + [412] * 5


def test_it_reports_each_parallel_change_once_in_the_next_delta_round(graph):
    folder = graph.folder()
    contacts = [graph.contact(folder, surname=str(i)) for i in range(10)]
    delta_link = graph.get(f"{graph.contacts_path(folder)}/delta").json()
    while "@odata.deltaLink" not in delta_link:
        delta_link = graph.get(delta_link["@odata.nextLink"]).json()

    def touch(contact: dict) -> int:
        url = f"{graph.base}{graph.contact_path(folder, contact['id'])}"
        return requests.patch(url, json={"jobTitle": "x"}, headers=graph.session.headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert set(pool.map(touch, contacts)) == {200}
    seen, url = [], delta_link["@odata.deltaLink"]
    while url:
        body = graph.get(url).json()
        seen += [c["id"] for c in body["value"]]
        url = body.get("@odata.nextLink")
    assert sorted(seen) == sorted(c["id"] for c in contacts)
