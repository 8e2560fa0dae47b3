"""An edit in Business Central reaches Outlook by itself: saved, dispatched, run by the
worker's task, and readable in the Graph sandbox (over HTTP)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.live import live_runs_dispatch
from exchange_sync.mapping import GRAPH_SELECT
from exchange_sync.models import SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.tasks import sync_run_task
from tests.factories import make_person
from tests.live.conftest import make_setup


def test_an_edit_reaches_outlook_through_a_live_run(live_server, settings, monkeypatch, transactional_db):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    mailbox_add("ann@cronus.example")
    mailbox_add("bob@cronus.example")
    setup = make_setup("ann", {"city": "London"})
    bob = make_setup("bob", {"city": "Paris"})
    queued: list[tuple] = []
    # The worker: what async_task hands it is carried out here, as a qcluster would.
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args)))

    def worker_runs_what_is_due() -> list[SyncRun]:
        live_runs_dispatch(timezone.now() + timedelta(seconds=settings.LIVE_SYNC_MAX_DELAY_SECONDS))
        runs = []
        while queued:
            func, args = queued.pop(0)
            assert func == "exchange_sync.tasks.sync_run_task"
            sync_run_task(*args)
            runs.append(SyncRun.objects.get(pk=args[0]))
        return runs

    def in_outlook(no: str) -> dict:
        setup.refresh_from_db()
        graph = graph_client_from_settings()
        try:
            items = [
                item
                for page in graph.iter_contacts(
                    "ann@cronus.example", setup.folder_id, select=GRAPH_SELECT, expand_stamp=True
                )
                for item in page
            ]
        finally:
            graph.close()
        return {stamp_value(item): item for item in items}.get(no, {})

    person = make_person(first_name="Ada", surname="Lovelace", city="London", phone="+44 1")
    make_person(city="Paris")
    runs = worker_runs_what_is_due()
    assert {(run.setup_id, run.trigger, run.status) for run in runs} == {
        (setup.pk, SyncRun.Trigger.LIVE, SyncRun.Status.SUCCEEDED),
        (bob.pk, SyncRun.Trigger.LIVE, SyncRun.Status.SUCCEEDED),
    }
    assert in_outlook(person.no)["businessPhones"] == ["+44 1"]

    person.phone = "+44 20 7946 0018"
    person.save()
    [run] = worker_runs_what_is_due()  # Ann's only: Bob's scope is untouched
    assert (run.setup_id, run.status) == (setup.pk, SyncRun.Status.SUCCEEDED), run.error
    assert run.updated_in_outlook == 1
    assert in_outlook(person.no)["businessPhones"] == ["+44 20 7946 0018"]

    person.city = "Berlin"  # leaves Ann's scope: removed from her folder
    person.save()
    [run] = worker_runs_what_is_due()
    assert run.deleted_in_outlook == 1
    assert in_outlook(person.no) == {}
    assert worker_runs_what_is_due() == []  # nothing pending once synchronized
