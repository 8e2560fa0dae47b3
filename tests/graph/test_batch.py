"""JSON batching: chunks of 20, answers matched by id, throttled members retried on their own."""

from __future__ import annotations

import pytest
import requests

from exchange_sync.graph import (
    STAMP_PROPERTY_ID,
    BatchRequest,
    BatchResponse,
    GraphBadRequestError,
    GraphClient,
    GraphNotFoundError,
    GraphThrottledError,
    error_from_batch_response,
)
from tests.graph.conftest import BASE, CONTACT_ID, FOLDER_ID, MAILBOX, FakeBatchEndpoint, load

BATCH_URL = f"{BASE}/$batch"
CONTACTS_PATH = f"/users/{MAILBOX}/contactFolders/AAMkAGI2TG93AAA%3D/contacts"


def throttled(retry_after: str | None = "3") -> dict:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return {"status": 429, "headers": headers, "body": load("error_too_many_requests.json")}


def ok(body: dict | None = None) -> dict:
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": body or {"ok": True}}


def gets(n: int) -> list[BatchRequest]:
    return [BatchRequest(str(i), "GET", f"/users/{MAILBOX}/contacts/{i}") for i in range(n)]


@pytest.fixture
def endpoint(mocked):
    def install(**kwargs) -> FakeBatchEndpoint:
        fake = FakeBatchEndpoint(**kwargs)
        mocked.add_callback("POST", BATCH_URL, callback=fake)
        return fake

    return install


def test_it_sends_members_as_graph_expects_and_returns_answers_in_request_order(endpoint, client):
    fake = endpoint()
    requests_ = [
        BatchRequest("a", "get", "/users/x/contacts/1"),
        BatchRequest("b", "PATCH", "/users/x/contacts/2", body={"givenName": "B"}, headers={"If-Match": 'W/"k"'}),
    ]

    answers = client.batch(requests_)

    assert [a.id for a in answers] == ["a", "b"]  # Graph answered b first
    assert all(isinstance(a, BatchResponse) and a.ok for a in answers)
    assert fake.envelopes == [
        [
            {"id": "a", "method": "GET", "url": "/users/x/contacts/1"},
            {
                "id": "b",
                "method": "PATCH",
                "url": "/users/x/contacts/2",
                "headers": {"If-Match": 'W/"k"', "Content-Type": "application/json"},
                "body": {"givenName": "B"},
            },
        ]
    ]


def test_it_splits_requests_into_batches_of_at_most_20(endpoint, client):
    fake = endpoint()

    answers = client.batch(gets(45))

    assert [len(envelope) for envelope in fake.envelopes] == [20, 20, 5]
    assert [a.id for a in answers] == [str(i) for i in range(45)]


def test_it_sends_nothing_for_no_requests(mocked, client):
    assert client.batch([]) == []


def test_it_refuses_duplicate_ids_before_sending(mocked, client):
    with pytest.raises(ValueError, match="Duplicate"):
        client.batch([BatchRequest("1", "GET", "/a"), BatchRequest("1", "GET", "/b")])


def test_it_retries_throttled_members_on_their_own_after_retry_after(endpoint, client, sleep):
    fake = endpoint(script={"1": [throttled("3"), ok({"id": "c1"})], "2": [throttled("5"), ok()]})

    answers = client.batch(gets(4))

    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert answers[1].body == {"id": "c1"}
    assert [[m["id"] for m in envelope] for envelope in fake.envelopes] == [["0", "1", "2", "3"], ["1", "2"]]
    assert sleep.calls == [5.0]  # the longest Retry-After of the round


@pytest.mark.parametrize("status", [503, 504])
def test_it_retries_unavailable_members_with_backoff(endpoint, client, sleep, status):
    fake = endpoint(script={"0": [{"status": status, "headers": {}, "body": None}, ok()]})

    answers = client.batch(gets(2))

    assert [a.status for a in answers] == [200, 200]
    assert len(fake.envelopes) == 2
    assert sleep.calls == [0.5]


@pytest.mark.parametrize("status", [503, 504])
def test_it_never_resends_a_create_that_may_have_run(endpoint, client, sleep, status):
    create = BatchRequest("0", "POST", CONTACTS_PATH, body={"givenName": "A"})
    fake = endpoint(script={"0": [{"status": status, "headers": {}, "body": None}, ok()]})

    answers = client.batch([create])

    assert answers[0].status == status  # the caller looks it up by its stamp instead
    assert len(fake.envelopes) == 1
    assert sleep.calls == []


@pytest.mark.parametrize("lost", ["timeout", "503"])
def test_a_lost_envelope_carrying_a_create_is_never_resent_whole(mocked, client, sleep, lost):
    create = BatchRequest("0", "POST", CONTACTS_PATH, body={"givenName": "A"})
    read = BatchRequest("1", "GET", f"/users/{MAILBOX}/contacts/{CONTACT_ID}")
    if lost == "timeout":
        mocked.add("POST", BATCH_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    else:
        mocked.add("POST", BATCH_URL, status=503, json=load("error_service_unavailable.json"))
    fake = FakeBatchEndpoint()
    mocked.add_callback("POST", BATCH_URL, callback=fake)

    answers = client.batch([create, read])

    # The create comes back unanswered, for the caller to look up by its stamp; the
    # read is sent again on its own.
    assert (answers[0].status, answers[0].body["error"]["code"]) == (504, "BatchUnanswered")
    assert answers[1].ok
    assert [[m["id"] for m in envelope] for envelope in fake.envelopes] == [["1"]]


def test_a_lost_envelope_of_reads_only_is_resent(mocked, client, sleep):
    mocked.add("POST", BATCH_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    fake = FakeBatchEndpoint()
    mocked.add_callback("POST", BATCH_URL, callback=fake)

    answers = client.batch(gets(2))

    assert [a.status for a in answers] == [200, 200]
    assert [[m["id"] for m in envelope] for envelope in fake.envelopes] == [["0", "1"]]


def test_it_resends_a_throttled_create_because_graph_refused_it_before_running(endpoint, client, sleep):
    create = BatchRequest("0", "POST", CONTACTS_PATH, body={"givenName": "A"})
    fake = endpoint(script={"0": [throttled("1"), {"status": 201, "headers": {}, "body": {"id": "new"}}]})

    answers = client.batch([create])

    assert answers[0].status == 201
    assert len(fake.envelopes) == 2


def test_after_a_throttled_member_it_waits_before_sending_the_next_envelope(endpoint, client, sleep):
    fake = endpoint(script={"0": [throttled("4"), ok()]})

    answers = client.batch(gets(45))

    assert all(a.status == 200 for a in answers)
    assert sleep.calls == [4.0]
    # The throttled member goes first in the next envelope, which was sent after the wait.
    assert [m["id"] for m in fake.envelopes[1]][:2] == ["0", "20"]
    assert len(fake.envelopes) == 3


def test_it_returns_the_final_throttled_answer_after_the_attempts_instead_of_raising(endpoint, client, sleep):
    fake = endpoint(script={"1": [throttled("2")]})

    answers = client.batch(gets(2))

    assert [a.status for a in answers] == [200, 429]
    assert len(fake.envelopes) == 4  # max_attempts in the fixture
    error = error_from_batch_response(answers[1])
    assert isinstance(error, GraphThrottledError)
    assert error.retry_after == 2.0
    assert error.code == "TooManyRequests"


def test_after_giving_up_on_a_throttled_member_the_next_envelope_still_waits(endpoint, client, sleep):
    fake = endpoint(script={"1": [throttled("2")]})
    client.batch(gets(2))
    sleep.calls.clear()
    fake.script.clear()

    client.batch(gets(1))

    assert sleep.calls == [2.0]
    assert len(fake.envelopes) == 5


def test_it_stops_retrying_members_whose_retry_after_is_too_long(endpoint, client, sleep):
    fake = endpoint(script={"0": [throttled("900")]})

    answers = client.batch(gets(1))

    assert answers[0].status == 429
    assert len(fake.envelopes) == 1
    assert sleep.calls == []


def test_a_member_asking_too_long_a_wait_does_not_stop_the_others_being_retried(endpoint, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep, jitter=lambda: 0.0, max_attempts=4, max_retry_after=300.0)
    fake = endpoint(script={"0": [throttled("900")], "1": [throttled("3"), ok()], "2": [throttled("5"), ok()]})

    answers = client.batch(gets(4))

    assert [a.status for a in answers] == [429, 200, 200, 200]
    assert error_from_batch_response(answers[0]).retry_after == 900.0
    assert [[m["id"] for m in envelope] for envelope in fake.envelopes] == [["0", "1", "2", "3"], ["1", "2"]]
    assert sleep.calls == [5.0]  # the longest Retry-After among the retried, not the refused 900


def test_a_member_out_of_attempts_does_not_stop_fresher_members_being_retried(endpoint, client, sleep):
    # 25 requests: "0" is throttled from the first envelope, "24" from the second, so in
    # the fourth envelope "0" has used up the fixture's 4 attempts while "24" has one left.
    fake = endpoint(script={"0": [throttled("2")], "24": [throttled("1"), throttled("1"), throttled("1"), ok()]})

    answers = client.batch(gets(25))

    assert answers[0].status == 429  # its final answer
    assert [a.status for a in answers[1:]] == [200] * 24
    sent = [[m["id"] for m in envelope] for envelope in fake.envelopes]
    assert [envelope for envelope in sent if len(envelope) <= 2] == [["0", "24"], ["0", "24"], ["24"]]
    # The last retry still waits the Retry-After "0" was given up with (2 s, not 1 s):
    # the mailbox is as throttled for "24" as it was for "0".
    assert sleep.calls == [2.0, 2.0, 2.0, 2.0]


def test_it_never_retries_members_failing_with_other_4xx(endpoint, client, sleep):
    fake = endpoint(script={"0": [{"status": 404, "headers": {}, "body": load("error_item_not_found.json")}]})

    answers = client.batch(gets(2))

    assert len(fake.envelopes) == 1
    error = error_from_batch_response(answers[0])
    assert isinstance(error, GraphNotFoundError)
    assert error.request_id == "3a1f0c4e-0000-4000-8000-000000000404"
    assert error_from_batch_response(answers[1]) is None


def test_a_member_graph_left_out_is_retried_then_reported(endpoint, client, sleep):
    fake = endpoint(omit={"1"})

    answers = client.batch(gets(2))

    assert len(fake.envelopes) == 4
    assert answers[1].status == 503
    assert error_from_batch_response(answers[1]).code == "MissingBatchResponse"


def test_a_throttled_envelope_is_retried_like_any_request(mocked, client, sleep):
    mocked.post(BATCH_URL, status=429, headers={"Retry-After": "4"}, json=load("error_too_many_requests.json"))
    mocked.add_callback("POST", BATCH_URL, callback=FakeBatchEndpoint())

    answers = client.batch(gets(1))

    assert answers[0].ok
    assert sleep.calls == [4.0]


def test_a_refused_envelope_raises(mocked, client):
    body = {"error": {"code": "BadRequest", "message": "Invalid batch payload format."}}
    mocked.post(BATCH_URL, status=400, json=body)

    with pytest.raises(GraphBadRequestError):
        client.batch(gets(1))


def test_it_builds_a_stamped_create_member(client):
    request = client.batch_request_create_contact("c1", MAILBOX, FOLDER_ID, {"givenName": "A"}, "CT000001")

    assert request.to_json() == {
        "id": "c1",
        "method": "POST",
        "url": CONTACTS_PATH,
        "headers": {"Prefer": 'IdType="ImmutableId"', "Content-Type": "application/json"},
        "body": {"givenName": "A", "singleValueExtendedProperties": [{"id": STAMP_PROPERTY_ID, "value": "CT000001"}]},
    }


def test_it_builds_an_update_member_with_if_match(client):
    request = client.batch_request_update_contact(
        "u1", MAILBOX, FOLDER_ID, CONTACT_ID, {"givenName": "A"}, if_match='W/"k"'
    )

    assert request.method == "PATCH"
    assert request.url == f"{CONTACTS_PATH}/AAMkAGI2Contact1%2B%2FA%3D"
    assert request.headers == {"Prefer": 'IdType="ImmutableId"', "If-Match": 'W/"k"'}
    assert request.body == {"givenName": "A"}


def test_it_builds_a_delete_member(client):
    request = client.batch_request_delete_contact("d1", MAILBOX, FOLDER_ID, CONTACT_ID)

    assert request.to_json() == {
        "id": "d1",
        "method": "DELETE",
        "url": f"{CONTACTS_PATH}/AAMkAGI2Contact1%2B%2FA%3D",
        "headers": {"Prefer": 'IdType="ImmutableId"'},
    }


def test_it_builds_a_get_member_that_expands_the_stamp(client):
    request = client.batch_request_get_contact("g1", MAILBOX, FOLDER_ID, CONTACT_ID, expand_stamp=True)

    assert request.method == "GET"
    assert request.url.startswith(f"{CONTACTS_PATH}/AAMkAGI2Contact1%2B%2FA%3D?%24expand=singleValueExtendedProperties")
    assert client.batch_request_get_contact("g2", MAILBOX, FOLDER_ID, CONTACT_ID).url.endswith("%3D")


def test_it_builds_a_member_that_finds_contacts_by_stamp(client):
    member = client.batch_request_find_contacts_by_stamp("7", MAILBOX, FOLDER_ID, "CT000123").to_json()
    assert member["method"] == "GET"
    assert member["url"].startswith(f"/users/{MAILBOX}/contactFolders/")
    assert "%24filter=singleValueExtendedProperties%2FAny" in member["url"]
    assert "CT000123" in member["url"]
    assert "%24select=id" in member["url"]


@pytest.mark.parametrize("status", [503, 504])
def test_a_create_not_resent_after_a_503_or_504_still_makes_the_next_request_wait_its_retry_after(
    endpoint, client, sleep, status
):
    unavailable = {"status": status, "headers": {"Retry-After": "3"}, "body": load("error_too_many_requests.json")}
    fake = endpoint(script={"0": [unavailable]})
    create = BatchRequest("0", "POST", CONTACTS_PATH, body={"givenName": "A"})

    answers = client.batch([create])
    assert answers[0].status == status  # returned for a look-up by stamp, never sent again blindly
    assert sleep.calls == []
    client.batch([BatchRequest("look-up", "GET", f"{CONTACTS_PATH}?$select=id")])

    assert len(fake.envelopes) == 2
    assert sleep.calls == [3.0]


def test_it_builds_a_member_that_finds_a_contact_in_any_folder_by_its_immutable_id(client):
    request = client.batch_request_locate_contact("l1", MAILBOX, CONTACT_ID, select=["surname", "parentFolderId"])

    assert request.to_json() == {
        "id": "l1",
        "method": "GET",
        "url": f"/users/{MAILBOX}/contacts/AAMkAGI2Contact1%2B%2FA%3D?%24select=surname%2CparentFolderId",
        "headers": {"Prefer": 'IdType="ImmutableId"'},
    }


def test_it_builds_a_member_that_reads_a_folder_by_id_or_well_known_name(client):
    assert client.batch_request_get_contact_folder("f1", MAILBOX, "deleteditems").to_json() == {
        "id": "f1",
        "method": "GET",
        "url": f"/users/{MAILBOX}/contactFolders/deleteditems",
    }
