"""Live sync as production runs it, nothing mocked: an edit, a real `manage.py qcluster`
on the configured broker (the database by default, Redis when REDIS_URL is set) whose
own ticker queues the live run once it is due and whose worker carries it out, the
value read back from the sandbox over HTTP."""

from __future__ import annotations

import time

import pytest

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.mapping import GRAPH_SELECT
from exchange_sync.models import LiveSyncRequest, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from tests.browser.conftest import sandbox_site, worker  # noqa: F401 (fixtures: live sandbox, real qcluster)
from tests.factories import make_person
from tests.live.conftest import make_setup


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    """Poll until `condition` holds; the bound only ends a test that failed anyway."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.3)


def _phone_in_outlook(setup, no: str) -> str | None:
    setup.refresh_from_db()
    client = graph_client_from_settings()
    try:
        for page in client.iter_contacts(setup.mailbox, setup.folder_id, select=GRAPH_SELECT, expand_stamp=True):
            for item in page:
                if stamp_value(item) == no:
                    return (item.get("businessPhones") or [None])[0]
    finally:
        client.close()
    return None


@pytest.mark.django_db(transaction=True)
def test_an_edit_is_synced_by_a_real_clusters_own_tick_and_worker(sandbox_site, worker):  # noqa: F811
    mailbox_add("ann@cronus.example")
    setup = make_setup("ann", {"city": "London"})
    person = make_person(city="London", phone="+44 1")

    # Nobody dispatches here: the cluster's ticker queues the run when it is due.
    _wait_for(lambda: SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).count() == 1, "the first live run")
    assert _phone_in_outlook(setup, person.no) == "+44 1"

    person.phone = "+44 20 7946 0018"
    person.save()
    assert LiveSyncRequest.objects.filter(setup=setup).exists()
    _wait_for(lambda: _phone_in_outlook(setup, person.no) == "+44 20 7946 0018", "the edit in Outlook")
    assert not LiveSyncRequest.objects.filter(setup=setup).exists()
    assert set(SyncRun.objects.values_list("trigger", flat=True)) == {SyncRun.Trigger.LIVE}
