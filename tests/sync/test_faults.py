"""Under Outlook's throttle and transient errors the sync still converges, and waits as
long as every Retry-After asks."""

import json
import time

import requests
from django.test import override_settings

from contacts.models import Contact
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.mapping import contact_values, outlook_values
from exchange_sync.models import SyncRun
from exchange_sync.sandbox import graph as sandbox_graph
from exchange_sync.sandbox.errors import GraphError
from exchange_sync.sandbox.graph import transient_error as sandbox_transient_error
from exchange_sync.sandbox.served import requests_served
from exchange_sync.sandbox.services import mailbox_configure
from exchange_sync.sync import sync_setup
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


class RecordingSession(requests.Session):
    """Keeps (sent at, answered at, response) of every Graph request."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, float, requests.Response]] = []

    def send(self, request, **kwargs):
        sent = time.monotonic()
        response = super().send(request, **kwargs)
        self.log.append((sent, time.monotonic(), response))
        return response


def _retry_after(headers: dict) -> float | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    return float(value) if value is not None else None


def _asked_waits(response: requests.Response) -> list[tuple[int, tuple, float]]:
    """(status, what was asked, Retry-After) of every answer carrying a Retry-After:
    the response itself, or each member of a batch answer."""
    asked = []
    request = response.request
    if request.url.endswith("/$batch") and response.ok:
        sent = {m["id"]: m for m in json.loads(request.body)["requests"]}
        for member in json.loads(response.content)["responses"]:
            wait = _retry_after(member.get("headers"))
            if wait is not None:
                asked.append((member["status"], _member_key(sent[member["id"]]), wait))
    else:
        wait = _retry_after(response.headers)
        if wait is not None:
            asked.append((response.status_code, (request.method, request.url, request.body), wait))
    return asked


def _member_key(member: dict) -> tuple:
    return (member["method"], member["url"], json.dumps(member.get("body"), sort_keys=True))


def _sent_keys(response: requests.Response) -> set[tuple]:
    request = response.request
    if request.url.endswith("/$batch"):
        return {_member_key(m) for m in json.loads(request.body)["requests"]}
    return {(request.method, request.url, request.body)}


def _transient_error_with_retry_after(email: str) -> GraphError:
    """The sandbox's 503 or 504, both with a Retry-After (Graph may send one on either)."""
    error = sandbox_transient_error(email)
    return GraphError(error.status, error.code, error.message, headers={"Retry-After": "1"})


# The window throttle fires when the run is fast enough; the random 429s fire however
# loaded the machine is, so every run of this test meets the throttle.
@override_settings(
    GRAPH_SANDBOX_THROTTLE_LIMIT=100, GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS=2, GRAPH_SANDBOX_THROTTLE_ERROR_RATE=0.02
)
def test_a_500_contact_full_sync_converges_under_throttling_and_transient_errors(
    live_server, setup, outlook, monkeypatch
):
    people = [make_person() for _ in range(500)]
    monkeypatch.setattr(sandbox_graph, "transient_error", _transient_error_with_retry_after)
    mailbox_configure(MAILBOX, throttle=True, transient_rate=0.2)
    session = RecordingSession()
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0", session=session)
    served_before = requests_served(MAILBOX)
    try:
        run = sync_setup(setup, client=client, kind=SyncRun.Kind.FULL)
    finally:
        client.close()
    served = requests_served(MAILBOX) - served_before
    mailbox_configure(MAILBOX, throttle=False, transient_rate=0.0)

    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
    assert run.graph_requests == served == len(session.log)  # every attempt counted, as the server saw them
    in_outlook = outlook.by_stamp()  # fails on a duplicate
    assert set(in_outlook) == {p.no for p in people}
    for person in Contact.objects.filter(pk__in=[p.pk for p in people]):
        assert outlook_values(in_outlook[person.no]) == contact_values(person), person.no  # both sides equal
    retried_after_asked: set[int] = set()
    for index, (_sent, answered, response) in enumerate(session.log):
        later = session.log[index + 1 :]
        for status, key, wait in _asked_waits(response):
            if status == 429 and later:
                # A throttled mailbox refuses everything: nothing at all is sent before the wait.
                assert later[0][0] - answered >= wait - 0.05, (status, key)
            resent = next((sent for sent, _a, r in later if key in _sent_keys(r)), None)
            if resent is not None:
                assert resent - answered >= wait - 0.05, (status, key)
                retried_after_asked.add(status)
    # Every kind of answer that asks for a wait met the run and was retried after it.
    assert retried_after_asked == {429, 503, 504}, "the faults never fired: the test proves nothing"
