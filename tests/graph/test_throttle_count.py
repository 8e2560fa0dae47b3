"""The client counts Graph's 429 answers (standalone and batch members), so every run can
report how often it was throttled."""

from __future__ import annotations

from exchange_sync.graph import BatchRequest
from tests.graph.conftest import BASE, MAILBOX, FakeBatchEndpoint, load

USER_URL = f"{BASE}/users/{MAILBOX}"


def test_it_counts_each_429_of_a_request_and_of_batch_members(mocked, client):
    too_many = load("error_too_many_requests.json")
    mocked.get(USER_URL, status=429, json=too_many, headers={"Retry-After": "1"})
    mocked.get(USER_URL, status=503, json={"error": {"code": "ServiceUnavailable", "message": "x"}})
    mocked.get(USER_URL, json={"id": "u1"})
    throttled = {"status": 429, "headers": {"Retry-After": "2"}, "body": too_many}
    ok = {"status": 200, "headers": {}, "body": {"ok": True}}
    mocked.add_callback(
        "POST",
        f"{BASE}/$batch",
        callback=FakeBatchEndpoint(script={"0": [throttled, ok], "1": [throttled, throttled, ok]}),
    )

    client.get_user(MAILBOX)
    client.batch([BatchRequest(str(i), "GET", f"/users/{MAILBOX}/contacts/{i}") for i in range(3)])

    assert client.throttled_count == 1 + 3  # the 503 is not throttling
