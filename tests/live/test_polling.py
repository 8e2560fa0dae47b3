"""The polling fallback against the Graph sandbox over HTTP: an idle poll costs one
request (what the sandbox served), fewer than an idle incremental run; a poll that finds
an Outlook change asks for a live run; the polls of many setups are spread over the
interval and each setup polls once per interval."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.live.polling import live_poll, polls_due
from exchange_sync.models import LiveSubscription, SyncRun
from exchange_sync.sandbox.served import requests_served
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.services import sync_run_queue
from exchange_sync.tasks import sync_run_task
from tests.factories import make_person
from tests.live.conftest import make_setup, requested

MAILBOX = "ann@cronus.example"


@pytest.fixture
def tasks(monkeypatch):
    queued: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args)))
    return queued


def run_now(setup, tasks) -> SyncRun:
    """An incremental run of `setup`, carried out here as a worker would."""
    run, created = sync_run_queue(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.LIVE)
    assert created
    tasks.clear()
    sync_run_task(run.pk)
    return SyncRun.objects.get(pk=run.pk)


@pytest.fixture
def synced(live_server, settings, transactional_db, tasks):
    """Ann's setup, synchronized once with the sandbox (so it has its folder and delta link)."""
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    settings.GRAPH_NOTIFICATION_URL = ""
    mailbox_add(MAILBOX)
    make_person(first_name="Ada", surname="Lovelace", city="London", email="ada@example.com")
    setup = make_setup("ann", {"city": "London"})
    assert run_now(setup, tasks).status == SyncRun.Status.SUCCEEDED
    setup.refresh_from_db()
    return setup


def test_an_idle_poll_costs_one_request_and_asks_for_nothing(synced, tasks):
    LiveSubscription.objects.create(setup=synced, poll_at=timezone.now())
    idle_run_before = requests_served(MAILBOX)
    run = run_now(synced, tasks)
    idle_run_cost = requests_served(MAILBOX) - idle_run_before
    tasks.clear()
    assert polls_due(timezone.now()) == 1
    [(func, args)] = tasks
    before = requests_served(MAILBOX)
    assert import_string(func)(*args) == "unchanged"  # the worker's task
    poll_cost = requests_served(MAILBOX) - before

    # An idle incremental run costs more (printed for the README's figures) and adds a run
    # to the history; a poll costs one request and adds nothing.
    print(f"idle incremental run: {idle_run_cost} requests; idle poll: {poll_cost}")
    assert run.status == SyncRun.Status.SUCCEEDED
    assert poll_cost == 1
    assert idle_run_cost == 2  # the folder check and the delta
    assert requested() == set()
    assert SyncRun.objects.count() == 2  # the first sync and the idle run; none by the poll


def test_a_poll_that_finds_an_outlook_edit_asks_for_a_live_run(synced, tasks):
    row = LiveSubscription.objects.create(setup=synced, poll_at=timezone.now())
    client = graph_client_from_settings()
    try:
        [contact] = [item for page in client.iter_contacts(MAILBOX, synced.folder_id) for item in page]
        client.update_contact(MAILBOX, synced.folder_id, contact["id"], {"jobTitle": "Analyst"})  # in Outlook

        assert live_poll(row.pk, client, timezone.now()) == "changed: run asked for"
    finally:
        client.close()
    assert requested() == {"ann"}
    synced.refresh_from_db()
    assert synced.delta_link  # the poll left the link to the run, which reads the same change


def test_polls_of_many_setups_are_spread_and_each_polls_once_per_interval(db, tasks, settings):
    from exchange_sync.live.subscriptions import poll_phase

    settings.LIVE_POLL_SECONDS = 60
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    for n in range(20):
        setup = make_setup(f"user{n}")
        LiveSubscription.objects.create(setup=setup, poll_at=poll_phase(setup.pk, start))
    per_tick = []
    for tick in range(90):  # three minutes of ticks every 2 s
        tasks.clear()
        polls_due(start + timedelta(seconds=2 * tick))
        per_tick.append(len(tasks))
        assert all(func == "exchange_sync.tasks.live_poll_task" for func, _ in tasks)

    assert max(per_tick) <= 2  # never all in one tick
    polled = Counter()
    for tick in range(90, 120):  # the next minute: each setup once
        tasks.clear()
        polls_due(start + timedelta(seconds=2 * tick))
        polled.update(args[0] for _, args in tasks)
    assert polled == Counter({pk: 1 for pk in LiveSubscription.objects.values_list("pk", flat=True)})
