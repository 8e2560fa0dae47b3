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


def _throttle_wait(response: requests.Response) -> float:
    """The Retry-After of a 429 answer, or of 429 members of a batch answer."""
    waits = []
    if response.status_code == 429:
        waits.append(float(response.headers.get("Retry-After", 0)))
    elif response.request.url.endswith("/$batch") and response.ok:
        for member in json.loads(response.content)["responses"]:
            if member["status"] == 429:
                headers = {k.lower(): v for k, v in (member.get("headers") or {}).items()}
                waits.append(float(headers.get("retry-after", 0)))
    return max(waits, default=0.0)


# The window throttle fires when the run is fast enough; the random 429s fire however
# loaded the machine is, so every run of this test meets the throttle.
@override_settings(
    GRAPH_SANDBOX_THROTTLE_LIMIT=100, GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS=2, GRAPH_SANDBOX_THROTTLE_ERROR_RATE=0.02
)
def test_a_500_contact_full_sync_converges_under_throttling_and_transient_errors(live_server, setup, outlook):
    people = [make_person() for _ in range(500)]
    mailbox_configure(MAILBOX, throttle=True, transient_rate=0.2)
    session = RecordingSession()
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0", session=session)
    try:
        run = sync_setup(setup, client=client, kind=SyncRun.Kind.FULL)
    finally:
        client.close()
    mailbox_configure(MAILBOX, throttle=False, transient_rate=0.0)

    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
    in_outlook = outlook.by_stamp()  # fails on a duplicate
    assert set(in_outlook) == {p.no for p in people}
    for person in Contact.objects.filter(pk__in=[p.pk for p in people]):
        assert outlook_values(in_outlook[person.no]) == contact_values(person), person.no  # both sides equal
    throttled = [(answered, _throttle_wait(r)) for _sent, answered, r in session.log if _throttle_wait(r)]
    assert throttled, "the throttle never fired: the test proves nothing"
    sends = [sent for sent, _answered, _r in session.log]
    for answered, wait in throttled:
        following = [sent for sent in sends if sent > answered]
        if following:
            assert following[0] - answered >= wait - 0.05
