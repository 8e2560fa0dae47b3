"""Outlook -> Business Central in seconds, over real HTTP: the upkeep subscribes Ann's
folder at the Graph sandbox (which validates our endpoint, served by live_server), an
edit made in Outlook is notified to our endpoint, which asks for a live run; the run
brings the value into Business Central."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string

from contacts.models import Contact
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.live import live_runs_dispatch, subscriptions
from exchange_sync.live.modes import live_mode
from exchange_sync.live.subscriptions import subscriptions_maintain
from exchange_sync.models import ExchangeSyncSetup, LiveSubscription, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.tasks import sync_run_task
from tests.factories import make_person
from tests.live.conftest import forget_requests, make_setup, requested

MAILBOX = "ann@cronus.example"


def wait_until(condition, what: str, seconds: float = 30) -> None:
    """The bound only ends a test that failed anyway (delivery takes about a second)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def test_an_outlook_edit_reaches_business_central_by_a_notification(
    live_server, settings, monkeypatch, transactional_db
):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    settings.GRAPH_NOTIFICATION_URL = live_server.url
    monkeypatch.setattr(subscriptions, "_last_scan", None)
    queued: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args)))
    mailbox_add(MAILBOX)
    setup = make_setup("ann", {"city": "London"}, keep_outlook_edits=True)
    person = make_person(first_name="Ada", surname="Lovelace", city="London", email="ada@example.com")
    client = graph_client_from_settings()

    def worker_runs_what_is_due() -> list[SyncRun]:
        live_runs_dispatch(timezone.now() + timedelta(seconds=settings.LIVE_SYNC_MAX_DELAY_SECONDS))
        runs = []
        for _func, args in [item for item in queued if item[0] == "exchange_sync.tasks.sync_run_task"]:
            sync_run_task(*args)
            runs.append(SyncRun.objects.get(pk=args[0]))
        queued.clear()
        return runs

    try:
        [first] = worker_runs_what_is_due() or [None]  # the person's creation asked for a run
        assert first is not None and first.status == SyncRun.Status.SUCCEEDED, first and first.error
        setup.refresh_from_db()

        # The tick's upkeep: the sandbox validates our endpoint over HTTP and subscribes.
        queued.clear()
        subscriptions_maintain(timezone.now())
        [(func, args)] = queued
        queued.clear()
        assert import_string(func)(*args) == "created"  # the worker's task
        assert live_mode(ExchangeSyncSetup.objects.select_related("live_subscription").get(pk=setup.pk)).name == "live"
        # One poll at once (for changes made before the subscription), then a quarter of an hour.
        assert LiveSubscription.objects.get(setup=setup).poll_at <= timezone.now()

        # A person edits the contact in Outlook.
        [contact] = [item for page in client.iter_contacts(MAILBOX, setup.folder_id) for item in page]
        client.update_contact(MAILBOX, setup.folder_id, contact["id"], {"jobTitle": "Analyst"})

        wait_until(lambda: requested() == {"ann"}, "the notification's live request")
        [run] = worker_runs_what_is_due()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        person.refresh_from_db()
        assert person.job_title == "Analyst"
        assert LiveSubscription.objects.get(setup=setup).last_notification_at is not None
    finally:
        client.close()
    assert Contact.objects.count() == 1


def test_a_subscription_outlook_removed_is_recreated_and_notifies_again(
    live_server, settings, monkeypatch, transactional_db
):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    settings.GRAPH_NOTIFICATION_URL = live_server.url
    monkeypatch.setattr(subscriptions, "_last_scan", None)
    queued: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args)))
    mailbox_add(MAILBOX)
    setup = make_setup("ann", {"city": "London"}, keep_outlook_edits=True)
    person = make_person(first_name="Ada", surname="Lovelace", city="London", email="ada@example.com")
    live_runs_dispatch(timezone.now() + timedelta(seconds=settings.LIVE_SYNC_MAX_DELAY_SECONDS))
    [(func, args)] = queued
    sync_run_task(*args)
    setup.refresh_from_db()

    def upkeep() -> str:
        queued.clear()
        subscriptions_maintain(timezone.now())
        [(func, args)] = [item for item in queued if item[0] == "exchange_sync.tasks.live_subscription_upkeep_task"]
        return import_string(func)(*args)

    assert upkeep() == "created"
    old = LiveSubscription.objects.get(setup=setup).graph_id

    # Outlook removes it: the sandbox sends subscriptionRemoved to our lifecycle endpoint.
    call_command("sandbox_mailbox", "subscription", old, "remove", stdout=StringIO())
    wait_until(
        lambda: LiveSubscription.objects.get(setup=setup).status == LiveSubscription.Status.REMOVED,
        "the lifecycle notification",
    )
    assert requested() == {"ann"}  # a catch-up run
    forget_requests()
    assert upkeep() == "created"
    assert LiveSubscription.objects.get(setup=setup).graph_id != old

    client = graph_client_from_settings()
    try:
        [contact] = [item for page in client.iter_contacts(MAILBOX, setup.folder_id) for item in page]
        client.update_contact(MAILBOX, setup.folder_id, contact["id"], {"jobTitle": "Engineer"})
    finally:
        client.close()
    wait_until(lambda: requested() == {"ann"}, "the new subscription's notification")
    queued.clear()
    live_runs_dispatch(timezone.now() + timedelta(seconds=settings.LIVE_SYNC_MAX_DELAY_SECONDS))
    [(func, args)] = queued
    sync_run_task(*args)
    person.refresh_from_db()
    assert person.job_title == "Engineer"
