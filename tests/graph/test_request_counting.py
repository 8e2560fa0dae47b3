"""The client counts what it sends: HTTP round trips and Graph operations (batch members each)."""

from __future__ import annotations

import requests

from exchange_sync.graph import BatchRequest
from tests.graph.conftest import BASE, CONTACTS_URL, FOLDER_ID, MAILBOX, FakeBatchEndpoint, load

USER_URL = f"{BASE}/users/{MAILBOX}"
BATCH_URL = f"{BASE}/$batch"


def test_a_new_client_has_sent_nothing(client):
    assert (client.request_count, client.operation_count) == (0, 0)


def test_it_counts_each_request_and_each_page(mocked, client):
    page_1 = load("contacts_page_1.json")
    mocked.get(page_1["@odata.nextLink"], json=load("contacts_page_2.json"))
    mocked.get(CONTACTS_URL, json=page_1)
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)
    list(client.iter_contacts(MAILBOX, FOLDER_ID))

    assert (client.request_count, client.operation_count) == (3, 3)


def test_it_counts_retries_refreshes_and_attempts_that_got_no_answer(mocked, client):
    mocked.get(USER_URL, status=429, headers={"Retry-After": "1"}, json=load("error_too_many_requests.json"))
    mocked.get(USER_URL, body=requests.ConnectionError("reset"))
    mocked.get(USER_URL, status=401, json=load("error_invalid_token.json"))
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert (client.request_count, client.operation_count) == (4, 4)


def test_a_batch_counts_one_round_trip_per_envelope_and_one_operation_per_member(mocked, client):
    mocked.add_callback(
        "POST",
        BATCH_URL,
        callback=FakeBatchEndpoint(script={"3": [{"status": 429, "headers": {"Retry-After": "1"}}, {"status": 200}]}),
    )

    client.batch([BatchRequest(str(i), "GET", f"/users/{MAILBOX}") for i in range(25)])

    # An envelope of 20, then the throttled member "3" resent with the 5 still waiting.
    assert client.request_count == 2
    assert client.operation_count == 26
