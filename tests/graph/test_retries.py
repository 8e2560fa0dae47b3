"""Retries: Retry-After first, then capped exponential backoff; 4xx never retried."""

from __future__ import annotations

import socket

import pytest
import requests
import responses

from exchange_sync.graph import (
    GraphAuthError,
    GraphBadRequestError,
    GraphClient,
    GraphConflictError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
)
from exchange_sync.graph.retry import RetryPolicy
from tests.graph.conftest import BASE, CONTACTS_URL, FOLDER_ID, MAILBOX, RecordingTokenProvider, load

USER_URL = f"{BASE}/users/{MAILBOX}"
THROTTLED = {"status": 429, "json": load("error_too_many_requests.json")}
UNAVAILABLE = {"status": 503, "json": load("error_service_unavailable.json")}


def test_it_retries_429_after_retry_after(mocked, client, sleep):
    mocked.get(USER_URL, headers={"Retry-After": "5"}, **THROTTLED)
    mocked.get(USER_URL, json=load("user.json"))

    assert client.get_user(MAILBOX)["mail"] == MAILBOX

    assert sleep.calls == [5.0]
    assert len(mocked.calls) == 2


def test_it_retries_503_and_504_after_retry_after(mocked, client, sleep):
    mocked.get(USER_URL, headers={"Retry-After": "2"}, **UNAVAILABLE)
    mocked.get(USER_URL, status=504, headers={"Retry-After": "3"})
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert sleep.calls == [2.0, 3.0]


def test_without_retry_after_it_backs_off_exponentially(mocked, client, sleep):
    for _ in range(3):
        mocked.get(USER_URL, **UNAVAILABLE)
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    # The client fixture pins jitter to 0: half of 1, 2, 4 seconds.
    assert sleep.calls == [0.5, 1.0, 2.0]


def test_it_gives_up_on_429_after_the_attempts_and_says_when_to_come_back(mocked, client, sleep):
    mocked.get(USER_URL, headers={"Retry-After": "7"}, **THROTTLED)

    with pytest.raises(GraphThrottledError) as caught:
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 4  # max_attempts in the fixture
    assert sleep.calls == [7.0, 7.0, 7.0]
    assert caught.value.retry_after == 7.0
    assert caught.value.code == "TooManyRequests"


def test_after_giving_up_on_429_the_next_request_still_waits_as_graph_asked(mocked, client, sleep):
    mocked.get(USER_URL, headers={"Retry-After": "7"}, **THROTTLED)
    with pytest.raises(GraphThrottledError):
        client.get_user(MAILBOX)
    mocked.replace(responses.GET, USER_URL, json=load("user.json"))
    sleep.calls.clear()

    client.get_user(MAILBOX)

    assert sleep.calls == [7.0]  # the mailbox is throttled for whoever asks next
    client.get_user(MAILBOX)
    assert sleep.calls == [7.0]  # owed once, not forever


def test_it_honours_a_retry_after_longer_than_its_own_backoff_cap(mocked, client, sleep):
    # The fixture caps the client's own backoff at 30 s; Graph's word goes further.
    mocked.get(USER_URL, headers={"Retry-After": "120"}, **THROTTLED)
    mocked.get(USER_URL, json=load("user.json"))

    assert client.get_user(MAILBOX)["mail"] == MAILBOX

    assert sleep.calls == [120.0]


def test_it_does_not_sleep_through_a_retry_after_beyond_max_retry_after(mocked, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep, max_retry_after=300.0)
    mocked.get(USER_URL, headers={"Retry-After": "301"}, **THROTTLED)

    with pytest.raises(GraphThrottledError) as caught:
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 1
    assert sleep.calls == []
    assert caught.value.retry_after == 301.0  # the caller knows when to come back


def test_a_retry_after_beyond_max_retry_after_is_not_owed_to_the_next_request(mocked, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep, max_retry_after=300.0)
    mocked.get(USER_URL, headers={"Retry-After": "900"}, **THROTTLED)
    with pytest.raises(GraphThrottledError):
        client.get_user(MAILBOX)
    mocked.replace(responses.GET, USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert sleep.calls == []  # the caller was told to stop; nobody sleeps 15 minutes


def test_by_default_it_waits_up_to_outlooks_ten_minute_window(mocked, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep)
    mocked.get(USER_URL, headers={"Retry-After": "600"}, **THROTTLED)
    mocked.get(USER_URL, json=load("user.json"))
    client.get_user(MAILBOX)
    assert sleep.calls == [600.0]

    mocked.replace(responses.GET, USER_URL, headers={"Retry-After": "601"}, **THROTTLED)
    with pytest.raises(GraphThrottledError):
        client.get_user(MAILBOX)
    assert sleep.calls == [600.0]


def test_a_503_with_a_retry_after_beyond_max_retry_after_is_transient_and_keeps_it(mocked, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep, max_retry_after=60.0)
    mocked.get(USER_URL, headers={"Retry-After": "90"}, **UNAVAILABLE)

    with pytest.raises(GraphTransientError) as caught:
        client.get_user(MAILBOX)

    assert sleep.calls == []
    assert caught.value.retry_after == 90.0


def test_it_gives_up_on_503_as_transient_after_the_attempts(mocked, client, sleep):
    mocked.get(USER_URL, **UNAVAILABLE)

    with pytest.raises(GraphTransientError) as caught:
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 4
    assert caught.value.status == 503
    assert caught.value.code == "ServiceUnavailable"


@pytest.mark.parametrize("status", [500, 502])
def test_other_server_errors_are_transient_but_not_retried(mocked, client, sleep, status):
    mocked.get(USER_URL, status=status, body="oops")

    with pytest.raises(GraphTransientError):
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 1
    assert sleep.calls == []


@pytest.mark.parametrize(
    ("status", "recorded", "expected"),
    [
        (400, "error_id_malformed.json", GraphBadRequestError),
        (403, "error_access_denied.json", GraphAuthError),
        (404, "error_item_not_found.json", GraphNotFoundError),
        (409, "error_folder_exists.json", GraphConflictError),
    ],
)
def test_it_never_retries_other_4xx(mocked, client, sleep, status, recorded, expected):
    mocked.get(USER_URL, status=status, json=load(recorded), headers={"Retry-After": "1"})

    with pytest.raises(expected):
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 1
    assert sleep.calls == []


def test_it_retries_connection_errors(mocked, client, sleep):
    mocked.get(USER_URL, body=requests.ConnectionError("connection reset"))
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert sleep.calls == [0.5]


def test_it_retries_timeouts_passing_its_timeout_to_requests(mocked, tokens, sleep):
    client = GraphClient(BASE, tokens, sleep=sleep, timeout=(3.0, 20.0))
    mocked.get(USER_URL, body=requests.ReadTimeout("read timed out"))
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert len(sleep.calls) == 1
    assert [call.request.req_kwargs["timeout"] for call in mocked.calls] == [(3.0, 20.0), (3.0, 20.0)]


CREATE = {"givenName": "Person"}


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection aborted: RemoteDisconnected")},
        {"status": 503, "json": load("error_service_unavailable.json")},
        {"status": 504, "body": ""},
    ],
    ids=["read timeout", "connection lost", "503", "504"],
)
def test_it_never_resends_a_contact_create_that_may_have_run(mocked, client, sleep, failure):
    mocked.post(CONTACTS_URL, **failure)

    with pytest.raises(GraphTransientError) as caught:
        client.create_contact(MAILBOX, FOLDER_ID, CREATE, stamp="CT000001")

    # The caller looks the stamp up (find_contacts_by_stamp) before creating again.
    assert len(mocked.calls) == 1
    assert sleep.calls == []
    assert caught.value.request_id


def test_a_create_answered_503_still_makes_the_next_request_wait_its_retry_after(mocked, client, sleep):
    mocked.post(CONTACTS_URL, headers={"Retry-After": "4"}, **UNAVAILABLE)
    with pytest.raises(GraphTransientError) as caught:
        client.create_contact(MAILBOX, FOLDER_ID, CREATE, stamp="CT000001")
    assert caught.value.retry_after == 4.0
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert sleep.calls == [4.0]


def test_it_resends_a_contact_create_that_graph_refused_before_running(mocked, client, sleep):
    mocked.post(CONTACTS_URL, headers={"Retry-After": "2"}, **THROTTLED)
    mocked.post(CONTACTS_URL, status=401, json=load("error_invalid_token.json"))
    mocked.post(CONTACTS_URL, body=requests.ConnectTimeout("connect timed out"))
    mocked.post(CONTACTS_URL, status=201, json=load("contact.json"))

    client.create_contact(MAILBOX, FOLDER_ID, CREATE, stamp="CT000001")

    assert len(mocked.calls) == 4
    assert sleep.calls == [2.0, 1.0]  # Retry-After, then backoff after the second failure


def test_it_resends_a_contact_create_whose_connection_could_not_be_opened(sleep):
    # A real refused connection: the port is the OS's pick, kept bound by this test
    # without listening for the whole test, so nothing else can listen there.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        local = GraphClient(f"http://127.0.0.1:{port}/v1.0", RecordingTokenProvider(), sleep=sleep, max_attempts=2)

        with pytest.raises(GraphTransientError) as caught:
            local.create_contact(MAILBOX, FOLDER_ID, CREATE, stamp="CT000001")

    assert local.request_count == 2
    assert "after 2 attempts" in str(caught.value)


@pytest.mark.parametrize("failure", [{"body": requests.ReadTimeout("read timed out")}, UNAVAILABLE])
def test_it_resends_a_folder_create_because_a_second_run_is_refused_as_existing(mocked, client, sleep, failure):
    folders_url = f"{BASE}/users/{MAILBOX}/contactFolders"
    mocked.post(folders_url, **failure)
    mocked.post(folders_url, status=409, json=load("error_folder_exists.json"))

    # The caller (sync/folder.py) adopts the folder of that name on this conflict.
    with pytest.raises(GraphConflictError):
        client.create_contact_folder(MAILBOX, "Business Central")

    assert len(mocked.calls) == 2


def test_it_reports_connection_errors_outlasting_the_retries_as_transient(mocked, client, sleep):
    mocked.get(USER_URL, body=requests.ConnectionError("connection refused"))

    with pytest.raises(GraphTransientError) as caught:
        client.get_user(MAILBOX)

    assert len(mocked.calls) == 4
    assert caught.value.status is None
    assert caught.value.code == "ConnectionError"
    assert caught.value.request_id == mocked.calls[-1].request.headers["client-request-id"]


def test_each_attempt_carries_its_own_client_request_id(mocked, client, sleep):
    mocked.get(USER_URL, **UNAVAILABLE)
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    ids = {call.request.headers["client-request-id"] for call in mocked.calls}
    assert len(ids) == 2


def test_a_refused_token_is_refreshed_once_without_using_up_a_retry(mocked, client, tokens, sleep):
    mocked.get(USER_URL, status=401, json=load("error_invalid_token.json"))
    mocked.get(USER_URL, json=load("user.json"))

    client.get_user(MAILBOX)

    assert [call.request.headers["Authorization"] for call in mocked.calls] == ["Bearer token-1", "Bearer token-2"]
    assert tokens.invalidations == 1
    assert sleep.calls == []


def test_a_token_refused_twice_raises_an_auth_error(mocked, client, tokens):
    mocked.get(USER_URL, status=401, json=load("error_invalid_token.json"))

    with pytest.raises(GraphAuthError) as caught:
        client.get_user(MAILBOX)

    assert caught.value.reason == "token"
    assert caught.value.code == "InvalidAuthenticationToken"
    assert len(mocked.calls) == 2


def test_a_transient_token_failure_is_retried(mocked, tokens, sleep):
    class FlakyTokens:
        def __init__(self):
            self.calls = 0

        def get_token(self) -> str:
            self.calls += 1
            if self.calls == 1:
                raise GraphTransientError("identity service unreachable")
            return "token"

        def invalidate(self) -> None:
            pass

    mocked.get(USER_URL, json=load("user.json"))

    GraphClient(BASE, FlakyTokens(), sleep=sleep, jitter=lambda: 0.0).get_user(MAILBOX)

    assert sleep.calls == [0.5]


def test_a_token_failure_outlasting_the_retries_raises_it(tokens, sleep):
    class DownTokens:
        def get_token(self) -> str:
            raise GraphTransientError("identity service unreachable")

        def invalidate(self) -> None:
            pass

    with pytest.raises(GraphTransientError, match="identity service unreachable"):
        GraphClient(BASE, DownTokens(), sleep=sleep, max_attempts=2).get_user(MAILBOX)

    assert len(sleep.calls) == 1


def test_an_auth_error_from_the_token_provider_is_not_retried(sleep):
    class BadSecret:
        def get_token(self) -> str:
            raise GraphAuthError("The client secret is wrong or expired.", reason="invalid_client")

        def invalidate(self) -> None:
            pass

    with pytest.raises(GraphAuthError):
        GraphClient(BASE, BadSecret(), sleep=sleep).get_user(MAILBOX)

    assert sleep.calls == []


def test_backoff_is_capped_and_jittered_within_its_upper_half():
    low = RetryPolicy(max_backoff=30.0, random=lambda: 0.0)
    high = RetryPolicy(max_backoff=30.0, random=lambda: 0.999)

    assert [low.backoff(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert 29.9 < high.backoff(10) < 30.0


def test_the_policy_caps_retry_after_separately_from_its_backoff():
    policy = RetryPolicy(max_backoff=30.0, max_retry_after=120.0, random=lambda: 0.0)

    assert policy.delay(1, 90.0) == 90.0
    assert policy.delay(1, 120.0) == 120.0
    assert policy.delay(1, 121.0) is None
    assert policy.backoff(20) == 15.0


def test_the_policy_stops_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, random=lambda: 0.0)

    assert policy.delay(1, None) == 0.5
    assert policy.delay(2, 4.0) == 4.0
    assert policy.delay(3, None) is None


def test_the_policy_refuses_fewer_than_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
