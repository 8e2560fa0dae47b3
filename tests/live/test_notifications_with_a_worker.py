"""Outlook -> Business Central as production runs it, nothing mocked: a real `manage.py
qcluster` whose own ticker subscribes the setup's folder (its worker creates the
subscription; the sandbox validates our endpoint served by live_server), an edit made
in Outlook is notified to that endpoint, the ticker queues the live run and the worker
brings the value into Business Central."""

from __future__ import annotations

import time

import pytest

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import LiveSubscription, LiveSyncRequest, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.services import sync_run_queue
from exchange_sync.tasks import sync_run_task
from tests.browser.conftest import sandbox_site, worker  # noqa: F401 (fixtures: live sandbox, real qcluster)
from tests.factories import make_person
from tests.live.conftest import make_setup

MAILBOX = "ann@cronus.example"


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    """Poll until `condition` holds; the bound only ends a test that failed anyway."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.3)


@pytest.fixture
def synced(sandbox_site, settings, monkeypatch):  # noqa: F811
    """Ann's setup synchronized once, before the cluster starts; notifications go to this site."""
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", sandbox_site.url)  # for the cluster
    settings.GRAPH_NOTIFICATION_URL = sandbox_site.url
    mailbox_add(MAILBOX)
    setup = make_setup("ann", {"city": "London"}, keep_outlook_edits=True)
    person = make_person(first_name="Ada", surname="Lovelace", city="London", email="ada@example.com")
    with monkeypatch.context() as patch:
        patch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
        run, _ = sync_run_queue(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON)
    sync_run_task(run.pk)
    LiveSyncRequest.objects.all().delete()
    setup.refresh_from_db()
    assert setup.folder_id
    return setup, person


@pytest.mark.django_db(transaction=True)
def test_an_outlook_edit_comes_back_through_a_real_clusters_subscription(synced, worker):  # noqa: F811
    setup, person = synced
    _wait_for(
        lambda: LiveSubscription.objects.filter(setup=setup, status=LiveSubscription.Status.ACTIVE).exists(),
        "the cluster's subscription",
    )

    client = graph_client_from_settings()
    edited_at = time.monotonic()
    try:
        [contact] = [item for page in client.iter_contacts(MAILBOX, setup.folder_id) for item in page]
        client.update_contact(MAILBOX, setup.folder_id, contact["id"], {"jobTitle": "Analyst"})  # in Outlook
    finally:
        client.close()

    def value_in_business_central() -> str:
        person.refresh_from_db()
        return person.job_title

    _wait_for(lambda: value_in_business_central() == "Analyst", "the Outlook edit in Business Central")
    print(f"Outlook edit -> Business Central through a real cluster: {time.monotonic() - edited_at:.1f} s")  # a figure
    # Notified (a subscribed setup polls only at subscription and every quarter of an hour).
    row = LiveSubscription.objects.get(setup=setup)
    assert row.last_notification_at is not None
    # The value is in Business Central while its run is still finishing: wait for the run's end.
    live_runs = SyncRun.objects.filter(trigger=SyncRun.Trigger.LIVE)
    _wait_for(lambda: not live_runs.exclude(status__in=SyncRun.FINISHED).exists(), "the live run's end")
    assert list(live_runs.values_list("status", flat=True)) == [SyncRun.Status.SUCCEEDED]
