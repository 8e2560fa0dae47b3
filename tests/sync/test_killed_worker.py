"""A worker killed after Outlook carried out its creates, before it saved what Outlook
answered: the next run links those contacts by their stamp and creates none again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exchange_sync.graph.client import GraphClient
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.services import STALE_RUN_AFTER
from tests.factories import make_person


def test_a_worker_killed_between_its_creates_and_saving_them_leaves_no_duplicate(sync, outlook, setup, monkeypatch):
    people = [make_person() for _ in range(25)]  # one flush: two $batch envelopes, all answered, none saved
    send = GraphClient.batch

    def killed_once_the_creates_are_answered(client, requests_):
        answers = send(client, requests_)
        if any(request.method == "POST" for request in requests_):
            raise SystemExit("killed")  # the process dies here: nothing after this line runs
        return answers

    monkeypatch.setattr(GraphClient, "batch", killed_once_the_creates_are_answered)
    with pytest.raises(SystemExit):
        sync()
    monkeypatch.undo()
    # A killed process runs no clean-up: its run still holds the setup, with a heartbeat
    # that stopped (the `finally` blocks Python ran on SystemExit are undone here).
    killed = SyncRun.objects.get(setup=setup)
    SyncRun.objects.filter(pk=killed.pk).update(
        status=SyncRun.Status.RUNNING,
        finished_at=None,
        heartbeat_at=timezone.now() - STALE_RUN_AFTER - timedelta(minutes=1),
    )
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(running_run=killed)
    assert len(outlook.contacts()) == 25  # Outlook did create them
    assert not setup.links.filter(graph_id__isnull=False).exists()  # and the worker saved none of it

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 0
    assert set(outlook.by_stamp()) == {p.no for p in people}
    assert outlook.most_copies() == {p.no.upper(): 1 for p in people}  # never two at any moment
