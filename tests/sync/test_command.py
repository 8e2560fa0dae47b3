import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.services import mailbox_configure
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


@pytest.fixture
def sandbox_settings(live_server):
    with override_settings(GRAPH_BASE_URL=f"{live_server.url}/graph-sandbox/v1.0"):
        yield


def test_sync_contacts_runs_a_sync_and_prints_its_counts(sandbox_settings, setup, outlook, capsys):
    people = [make_person() for _ in range(3)]
    call_command("sync_contacts", "--user", MAILBOX.upper())
    out = capsys.readouterr()
    assert "Succeeded" in out.out
    assert "Created in Outlook: 3" in out.out
    assert "Graph requests:" in out.out
    assert "3/3" in out.err and "contact" in out.err  # the progress bar reached its end
    assert set(outlook.by_stamp()) == {p.no for p in people}
    run = SyncRun.objects.get()
    assert (run.kind, run.trigger, run.progress_done, run.progress_total) == ("incremental", "command", 3, 3)


def test_sync_contacts_full_repairs_what_the_change_log_does_not_show(sandbox_settings, setup, outlook, graph):
    person = make_person(job_title="Buyer")
    call_command("sync_contacts", "--user", MAILBOX)
    outlook.update(outlook.by_stamp()[person.no]["id"], jobTitle="Changed behind our back")
    # Move the stored delta link past that change, as if a run had seen it and lost it.
    setup.refresh_from_db()
    latest = setup.delta_link
    for page in graph.iter_contacts_delta(MAILBOX, setup.folder_id, delta_link=setup.delta_link):
        latest = page.delta_link or latest
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(delta_link=latest)

    call_command("sync_contacts", "--user", MAILBOX, "--full")

    run = SyncRun.objects.latest("pk")
    assert (run.kind, run.status, run.updated_in_outlook) == (SyncRun.Kind.FULL, SyncRun.Status.SUCCEEDED, 1)
    assert outlook.by_stamp()[person.no]["jobTitle"] == "Buyer"


def test_sync_contacts_exits_non_zero_when_the_run_fails(sandbox_settings, setup):
    mailbox_configure(MAILBOX, access_denied=True)
    with pytest.raises(CommandError, match="failed: The application has no access"):
        call_command("sync_contacts", "--user", MAILBOX)


def test_sync_contacts_names_an_unknown_user(transactional_db):
    with pytest.raises(CommandError, match="No user has the Microsoft 365 email nobody@x.example"):
        call_command("sync_contacts", "--user", "nobody@x.example")


def test_sync_contacts_confirm_carries_out_a_run_waiting_for_confirmation(sandbox_settings, setup, outlook):
    people = [make_person(city="Paris") for _ in range(12)]
    call_command("sync_contacts", "--user", MAILBOX)
    setup.contact_filter = {"city": "Lyon"}
    setup.save(update_fields=["contact_filter"])
    with pytest.raises(CommandError, match="needs confirmation"):
        call_command("sync_contacts", "--user", MAILBOX)
    assert len(outlook.contacts()) == len(people)
    call_command("sync_contacts", "--user", MAILBOX, "--confirm")
    assert outlook.contacts() == []
