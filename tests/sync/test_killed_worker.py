"""A worker killed after Outlook carried out its creates, before it saved what Outlook
answered: each create was recorded as pending before it was sent, that record outlives
the worker, and the next run links the copy Outlook made to it by its stamp, creating
none again (README, "What a sync guarantees": No duplicates)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncRun
from exchange_sync.services import STALE_RUN_AFTER
from tests.factories import make_person


def test_a_worker_killed_between_its_creates_and_saving_them_leaves_no_duplicate(sync, outlook, setup, monkeypatch):
    people = [make_person() for _ in range(25)]  # one flush: two $batch envelopes, all answered, none saved
    send = GraphClient.batch
    # What the database held for each contact at the moment its create went out.
    recorded_when_sent: dict[str, list[tuple]] = {}

    def killed_once_the_creates_are_answered(client, requests_):
        for request in requests_:
            if request.method == "POST":
                number = stamp_value(request.body)
                links = ContactLink.objects.filter(setup=setup, contact_no=number)
                recorded_when_sent[number] = list(links.values_list("pk", "state", "graph_id"))
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
    # Every create was on record as pending before it was sent, and the record survived.
    pending = dict(setup.links.values_list("contact_no", "pk"))
    assert recorded_when_sent == {p.no: [(pending.get(p.no), ContactLink.State.PENDING_CREATE, None)] for p in people}

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 0
    assert set(outlook.by_stamp()) == {p.no for p in people}
    assert outlook.most_copies() == {p.no.upper(): 1 for p in people}  # never two at any moment
    # The records made before the creates went out are the ones now linked to Outlook's copies.
    linked = setup.links.filter(state=ContactLink.State.LINKED, graph_id__isnull=False)
    assert dict(linked.values_list("contact_no", "pk")) == pending
