"""Simulated conditions: throttle, concurrency, latency, transient errors, lost creates,
delta expiry, access denied; global defaults from settings, per mailbox at run time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
import requests
from django.test import override_settings

from exchange_sync.sandbox import clock, throttle, views_graph
from exchange_sync.sandbox.services import mailbox_add, mailbox_configure
from tests.sandbox.conftest import MAILBOX

STAMP = "String {0ecadc8a-1c4b-4a4b-9c25-0a9f1b2c3d4e} Name BcContactNo"


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=5)
def test_it_throttles_a_mailbox_over_its_request_limit(graph):
    mailbox_configure(MAILBOX, throttle=True)
    statuses = [graph.get(f"/users/{MAILBOX}").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    response = graph.get(f"/users/{MAILBOX}")
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert 1 <= int(response.headers["Retry-After"]) <= 600


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=2, GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS=60)
def test_it_keeps_counting_requests_refused_while_throttled(graph, fake_clock):
    mailbox_configure(MAILBOX, throttle=True)
    assert [graph.get(f"/users/{MAILBOX}").status_code for _ in range(2)] == [200, 200]
    fake_clock.advance(40)
    refused = [graph.get(f"/users/{MAILBOX}") for _ in range(2)]
    assert [r.status_code for r in refused] == [429, 429]
    # Under the limit again when the oldest requests (t=0) leave the window at t=60.
    assert [r.headers["Retry-After"] for r in refused] == ["20", "20"]
    fake_clock.advance(30)
    # The two accepted requests left the window; the two refused ones (t=40) are still in it.
    response = graph.get(f"/users/{MAILBOX}")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    fake_clock.advance(31)
    assert graph.get(f"/users/{MAILBOX}").status_code == 200


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=3)
def test_it_throttles_each_mailbox_on_its_own(graph):
    mailbox_add("bob@cronus.example")
    mailbox_configure(MAILBOX, throttle=True)
    for _ in range(4):
        graph.get(f"/users/{MAILBOX}")
    assert graph.get(f"/users/{MAILBOX}").status_code == 429
    assert graph.get("/users/bob@cronus.example").status_code == 200


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=3)
def test_it_does_not_throttle_without_the_knob(graph):
    assert {graph.get(f"/users/{MAILBOX}").status_code for _ in range(5)} == {200}


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=3, GRAPH_SANDBOX_THROTTLE=True)
def test_it_takes_the_throttle_from_settings_unless_the_mailbox_says_otherwise(graph):
    assert [graph.get(f"/users/{MAILBOX}").status_code for _ in range(4)][-1] == 429
    mailbox_configure(MAILBOX, throttle=False)
    assert graph.get(f"/users/{MAILBOX}").status_code == 200


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=4)
def test_it_counts_batch_members_against_the_throttle(graph):
    mailbox_configure(MAILBOX, throttle=True)
    members = [{"id": str(i), "method": "GET", "url": f"/users/{MAILBOX}"} for i in range(6)]
    response = graph.post("/$batch", {"requests": members})
    assert response.status_code == 200
    answers = sorted(response.json()["responses"], key=lambda r: int(r["id"]))
    assert [a["status"] for a in answers] == [200] * 4 + [429] * 2
    assert int(answers[-1]["headers"]["Retry-After"]) >= 1
    assert answers[-1]["body"]["error"]["code"] == "TooManyRequests"


def _get_user(graph) -> requests.Response:
    """A GET on the mailbox from its own connection (for use in threads)."""
    return requests.get(graph.user, headers=graph.session.headers, timeout=60)


def test_it_refuses_a_fifth_concurrent_request_on_a_mailbox(graph, gate):
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(_get_user, graph) for _ in range(4)]
        gate.wait_until_held(4)
        refused = graph.get(f"/users/{MAILBOX}")
        gate.open()
        assert [f.result().status_code for f in running] == [200] * 4
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "ApplicationThrottled"
    assert refused.json()["error"]["message"] == "Application is over its MailboxConcurrency limit."
    assert refused.headers["Retry-After"] == "1"
    assert graph.get(f"/users/{MAILBOX}").status_code == 200  # the slots were given back


def _batch_of_gets(graph, count: int) -> requests.Response:
    members = [{"id": str(i), "method": "GET", "url": f"/users/{MAILBOX}"} for i in range(count)]
    return requests.post(f"{graph.base}/$batch", json={"requests": members}, headers=graph.session.headers, timeout=60)


def _statuses(batch: requests.Response) -> list[int]:
    return [r["status"] for r in sorted(batch.json()["responses"], key=lambda r: int(r["id"]))]


def test_a_running_batch_of_four_holds_every_slot_of_the_mailbox(graph, gate):
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(_batch_of_gets, graph, 4)
        gate.wait_until_held(1)
        single = graph.get(f"/users/{MAILBOX}")
        gate.open()
        assert _statuses(batch.result()) == [200] * 4
    assert single.status_code == 429
    assert single.json()["error"]["code"] == "ApplicationThrottled"


def test_a_batch_of_two_and_two_single_requests_fill_the_mailbox(graph, gate):
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        batch = pool.submit(_batch_of_gets, graph, 2)
        gate.wait_until_held(1)
        singles = [pool.submit(_get_user, graph) for _ in range(2)]
        gate.wait_until_held(3)
        refused = graph.get(f"/users/{MAILBOX}")
        gate.open()
        assert _statuses(batch.result()) == [200, 200]
        assert [f.result().status_code for f in singles] == [200, 200]
    assert refused.json()["error"]["code"] == "ApplicationThrottled"


@pytest.mark.parametrize(("busy", "expected"), [(3, [200, 429, 429, 429]), (4, [429, 429, 429, 429]), (0, [200] * 4)])
def test_a_batch_runs_only_in_the_slots_it_finds_free(graph, gate, busy, expected):
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=5) as pool:
        singles = [pool.submit(_get_user, graph) for _ in range(busy)]
        gate.wait_until_held(busy)
        batch = pool.submit(_batch_of_gets, graph, 4)
        gate.wait_until_held(busy + 1)  # the batch waits out its latency too
        gate.open()
        assert [f.result().status_code for f in singles] == [200] * busy
        answers = batch.result()
    assert _statuses(answers) == expected
    for refused in [r for r in answers.json()["responses"] if r["status"] == 429]:
        assert refused["body"]["error"]["code"] == "ApplicationThrottled"
        assert refused["headers"]["Retry-After"] == "1"


def test_a_lone_batch_of_twenty_is_never_throttled_by_its_own_members(graph, gate):
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(_batch_of_gets, graph, 20)
        gate.wait_until_held(1)
        gate.open()
        assert _statuses(batch.result()) == [200] * 20
    assert graph.get(f"/users/{MAILBOX}").status_code == 200  # its slots were given back


def test_it_waits_one_latency_per_request_and_per_four_batch_members(graph, fake_clock):
    mailbox_configure(MAILBOX, latency_ms=100)
    graph.get(f"/users/{MAILBOX}")
    assert fake_clock.waits == [0.1]
    members = [{"id": str(i), "method": "GET", "url": f"/users/{MAILBOX}"} for i in range(5)]
    assert graph.post("/$batch", {"requests": members}).status_code == 200
    assert fake_clock.waits == [0.1, 0.2]  # ceil(5/4) latencies for the batch, none per member


def test_a_latency_wait_counts_the_time_already_spent_working(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(clock, "time", SimpleNamespace(monotonic=lambda: 10.25, sleep=slept.append))
    clock.latency_wait(0.5, started=10.0)
    clock.latency_wait(0.2, started=10.0)  # already late: no wait
    assert slept == [0.25]


def test_it_fails_transiently_at_the_configured_rate_and_commits_nothing(graph):
    folder = graph.folder()
    mailbox_configure(MAILBOX, transient_rate=1.0)
    response = graph.post(graph.contacts_path(folder), {"surname": "Lee"})
    assert response.status_code in (503, 504)
    assert response.json()["error"]["code"] in ("ServiceUnavailable", "GatewayTimeout")
    mailbox_configure(MAILBOX, transient_rate=None)
    assert graph.get(graph.contacts_path(folder)).json()["value"] == []


@override_settings(GRAPH_SANDBOX_TRANSIENT_ERROR_RATE=0.5)
def test_it_fails_the_same_requests_after_a_reseed(graph):
    def run() -> list[int]:
        mailbox_configure(MAILBOX)
        return [graph.get(f"/users/{MAILBOX}").status_code for _ in range(12)]

    first = run()
    assert set(first) > {200}
    assert run() == first


def test_it_can_lose_the_answer_to_a_create_that_committed(graph):
    folder = graph.folder()
    mailbox_configure(MAILBOX, lost_create_rate=1.0)
    body = {"surname": "Lee", "singleValueExtendedProperties": [{"id": STAMP, "value": "CT000001"}]}
    response = graph.post(graph.contacts_path(folder), body)
    assert response.status_code == 504
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP}' and ep/value eq 'CT000001')"
    found = graph.get(graph.contacts_path(folder), params={"$filter": flt}).json()["value"]
    assert [c["surname"] for c in found] == ["Lee"]


@override_settings(GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS=1.0)
def test_a_lost_answer_can_stall_past_the_clients_timeout_with_the_create_done(graph, monkeypatch):
    # The stall lasts until the test ends it, so the client's timeout always runs out
    # first; the test reads the folder once the sandbox is in the stall (create done).
    stalled, released = threading.Event(), threading.Event()

    def stall(seconds: float) -> None:
        stalled.set()
        released.wait(120)

    monkeypatch.setattr(views_graph, "time", SimpleNamespace(sleep=stall))
    folder = graph.folder()
    mailbox_configure(MAILBOX, lost_create_rate=1.0)
    body = {"surname": "Lee", "singleValueExtendedProperties": [{"id": STAMP, "value": "CT000001"}]}
    try:
        with pytest.raises(requests.Timeout):
            graph.session.post(graph.url(graph.contacts_path(folder)), json=body, timeout=0.3)
        assert stalled.wait(60)
    finally:
        released.set()
    mailbox_configure(MAILBOX, lost_create_rate=0.0)
    assert [c["surname"] for c in graph.get(graph.contacts_path(folder)).json()["value"]] == ["Lee"]


@override_settings(GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS=0.2)
def test_in_a_batch_a_stalled_lost_answer_loses_the_whole_envelope(graph):
    folder = graph.folder()
    mailbox_configure(MAILBOX, lost_create_rate=1.0)
    path = graph.contacts_path(folder)
    json_header = {"Content-Type": "application/json"}
    members = [
        {"id": str(n), "method": "POST", "url": path, "headers": json_header, "body": {"surname": f"S{n}"}}
        for n in range(3)
    ]
    response = graph.post("/$batch", {"requests": members})
    assert response.status_code == 504  # no member answers come back
    mailbox_configure(MAILBOX, lost_create_rate=0.0)
    assert len(graph.get(path).json()["value"]) == 3  # yet all three were created


def _delta_link(graph, folder: str) -> str:
    body = graph.get(f"{graph.contacts_path(folder)}/delta").json()
    return body["@odata.deltaLink"]


def test_it_expires_delta_tokens_with_410_and_a_fresh_location(graph):
    folder = graph.folder()
    delta_link = _delta_link(graph, folder)
    mailbox_configure(MAILBOX, expire_delta="410")
    response = graph.get(delta_link)
    assert response.status_code == 410
    assert unquote(response.headers["Location"]) == unquote(f"{graph.base}{graph.contacts_path(folder)}/delta")
    assert response.json()["error"]["code"] == "resyncRequired"
    assert graph.get(response.headers["Location"]).status_code == 200


def test_it_expires_delta_tokens_with_sync_state_not_found(graph):
    folder = graph.folder()
    delta_link = _delta_link(graph, folder)
    mailbox_configure(MAILBOX, expire_delta="syncStateNotFound")
    response = graph.get(delta_link)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "syncStateNotFound"
    mailbox_configure(MAILBOX, expire_delta="off")
    assert graph.get(delta_link).status_code == 200


def test_it_keeps_serving_the_pages_of_a_round_while_tokens_expire(graph):
    folder = graph.folder()
    for _ in range(2):
        graph.contact(folder)
    first = graph.get(f"{graph.contacts_path(folder)}/delta", headers={"Prefer": "odata.maxpagesize=1"}).json()
    mailbox_configure(MAILBOX, expire_delta="410")
    last = graph.get(first["@odata.nextLink"])
    assert last.status_code == 200
    assert graph.get(last.json()["@odata.deltaLink"]).status_code == 410


@override_settings(GRAPH_SANDBOX_DELTA_EXPIRY="410")
def test_it_takes_delta_expiry_from_settings(graph):
    folder = graph.folder()
    assert graph.get(_delta_link(graph, folder)).status_code == 410


def test_it_denies_access_to_a_mailbox_without_consent(graph):
    folder = graph.folder()
    mailbox_configure(MAILBOX, access_denied=True)
    for response in (graph.get(f"/users/{MAILBOX}"), graph.get(graph.contacts_path(folder))):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "ErrorAccessDenied"
        assert response.json()["error"]["message"] == "Access is denied. Check credentials and try again."
    member = graph.post("/$batch", {"requests": [{"id": "1", "method": "GET", "url": f"/users/{MAILBOX}"}]})
    assert member.json()["responses"][0]["status"] == 403


def test_it_refuses_requests_with_429_at_the_configured_rate_and_commits_nothing(graph):
    folder = graph.folder()
    with override_settings(GRAPH_SANDBOX_THROTTLE_ERROR_RATE=1.0):
        response = graph.post(graph.contacts_path(folder), {"surname": "Lee"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert response.headers["Retry-After"] == "1"
    assert graph.get(graph.contacts_path(folder)).json()["value"] == []


def test_the_outlook_limits_are_the_defaults_when_settings_do_not_override_them(graph, fake_clock, gate, settings):
    for name in (
        "GRAPH_SANDBOX_THROTTLE_LIMIT",
        "GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS",
        "GRAPH_SANDBOX_CONCURRENCY_LIMIT",
    ):
        if hasattr(settings, name):
            delattr(settings, name)
    mailbox_configure(MAILBOX, throttle=True)
    assert graph.get(f"/users/{MAILBOX}").status_code == 200  # the server starts a fresh window here
    for _ in range(9_998):  # the window filled in-process: 10,000 HTTP requests would take too long
        throttle.count_request(MAILBOX)
    assert graph.get(f"/users/{MAILBOX}").status_code == 200  # the 10,000th
    refused = graph.get(f"/users/{MAILBOX}")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert refused.headers["Retry-After"] == "600"
    fake_clock.advance(599)
    assert graph.get(f"/users/{MAILBOX}").headers["Retry-After"] == "1"
    fake_clock.advance(1)  # everything counted at t=0 has left the 600 s window
    assert graph.get(f"/users/{MAILBOX}").status_code == 200
    # 4 concurrent requests per mailbox.
    mailbox_configure(MAILBOX, throttle=True, latency_ms=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(_get_user, graph) for _ in range(4)]
        gate.wait_until_held(4)
        fifth = graph.get(f"/users/{MAILBOX}")
        gate.open()
        assert [f.result().status_code for f in running] == [200] * 4
    assert fifth.json()["error"]["code"] == "ApplicationThrottled"


@override_settings(GRAPH_SANDBOX_LATENCY_MS=250)
def test_it_takes_latency_from_settings_unless_the_mailbox_says_otherwise(graph, fake_clock):
    graph.get(f"/users/{MAILBOX}")
    assert fake_clock.waits == [0.25]
    mailbox_configure(MAILBOX, latency_ms=0)
    graph.get(f"/users/{MAILBOX}")
    assert fake_clock.waits == [0.25]


@override_settings(GRAPH_SANDBOX_LOST_CREATE_RATE=1.0)
def test_it_takes_the_lost_create_rate_from_settings_unless_the_mailbox_says_otherwise(graph):
    created = graph.post(f"/users/{MAILBOX}/contactFolders", {"displayName": "Business Central"})
    assert created.status_code == 504
    mailbox_configure(MAILBOX, lost_create_rate=0.0)
    folder = graph.get(f"/users/{MAILBOX}/contactFolders").json()["value"][0]["id"]
    assert graph.post(graph.contacts_path(folder), {"surname": "Lee"}).status_code == 201


def test_it_can_lose_the_answer_to_a_folder_create_that_committed(graph):
    mailbox_configure(MAILBOX, lost_create_rate=1.0)
    response = graph.post(f"/users/{MAILBOX}/contactFolders", {"displayName": "Business Central"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "GatewayTimeout"
    mailbox_configure(MAILBOX, lost_create_rate=0.0)
    found = graph.get(f"/users/{MAILBOX}/contactFolders", params={"$filter": "displayName eq 'Business Central'"})
    assert [f["displayName"] for f in found.json()["value"]] == ["Business Central"]
    again = graph.post(f"/users/{MAILBOX}/contactFolders", {"displayName": "Business Central"})
    assert again.json()["error"]["code"] == "ErrorFolderExists"  # what a blind retry meets


def test_transient_errors_are_503_with_retry_after_or_504_without(graph):
    mailbox_configure(MAILBOX, transient_rate=1.0)
    answers = [graph.get(f"/users/{MAILBOX}") for _ in range(20)]
    unavailable = [a for a in answers if a.status_code == 503]
    timed_out = [a for a in answers if a.status_code == 504]
    assert unavailable  # the sequence is seeded: the same 20 answers every run
    assert timed_out
    assert len(unavailable) + len(timed_out) == 20
    for answer in unavailable:
        assert answer.json()["error"]["code"] == "ServiceUnavailable"
        assert answer.headers["Retry-After"] == "1"
    for answer in timed_out:
        assert answer.json()["error"]["code"] == "GatewayTimeout"
        assert "Retry-After" not in answer.headers
