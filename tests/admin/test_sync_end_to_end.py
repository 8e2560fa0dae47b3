"""From the button to the run page: a queued run carried out against the Graph sandbox
(as a worker would) shows its counts and exclusions on its page."""

from __future__ import annotations

from django.urls import reverse

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_run_execute
from tests.factories import make_company, make_person


def test_a_button_run_carried_out_by_a_worker_shows_counts_and_exclusions(
    live_server, settings, as_user, ann, ann_setup
):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    mailbox_add("ann@cronus.example")
    make_person(first_name="Ada", surname="Lovelace")
    make_person(first_name="Alan", surname="Turing")
    make_person(first_name="No", surname="Mail", email="")
    make_company(name="Cronus Ltd")
    client = as_user(ann)

    response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_full_sync"))
    run = SyncRun.objects.get()
    assert response.url == reverse("admin:exchange_sync_syncrun_change", args=[run.pk])
    assert "Queued" in client.get(response.url).content.decode()

    graph = graph_client_from_settings()
    try:
        sync_run_execute(run, client=graph)
    finally:
        graph.close()

    page = client.get(response.url).content.decode()
    assert "Succeeded" in page
    assert "Created: <strong>2</strong>" in page
    assert "without email" in page and "of type Company" in page
    setup_page = client.get(reverse("admin:exchange_sync_exchangesyncsetup_change", args=[ann_setup.pk]))
    assert "2 in sync" in setup_page.content.decode()
    assert "In sync. Nothing needs your attention." in setup_page.content.decode()
