"""Edits and decisions that must survive awkward timing: echoes of our own writes, runs
that stop half way, adopted folders, recreated folders, unreadable Outlook contacts."""

from datetime import timedelta

import pytest

from contacts.models import Contact
from exchange_sync.graph.errors import GraphNotFoundError
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.sync.engine import Engine
from tests.browser.conftest import wait_until
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


def test_an_edit_saved_before_a_run_started_but_committed_after_it_read_the_changes_is_pushed(sync, outlook):
    person = make_person(phone="+44 1")
    first = sync()
    # The edit's transaction was open while the run went: stamped before the run's
    # start, committed after its push had read the changed contacts.
    Contact.objects.filter(pk=person.pk).update(
        phone="+44 20 7946 0018", modified_at=first.started_at - timedelta(seconds=30)
    )

    run = sync()

    assert run.updated_in_outlook == 1
    assert outlook.by_stamp()[person.no]["businessPhones"] == ["+44 20 7946 0018"]


def test_a_business_central_edit_made_after_our_own_write_echoes_is_still_pushed(sync, outlook, monkeypatch):
    people = [make_person() for _ in range(3)]
    sync()
    victim = people[0]
    push = Engine._push

    def push_while_someone_edits_in_outlook(self, full, seen):
        # Seen by this run's catch-up round, repaired by a write whose echo only the
        # next run's delta shows.
        outlook.update(outlook.by_stamp()[victim.no]["id"], jobTitle="Edited in Outlook meanwhile")
        return push(self, full, seen)

    monkeypatch.setattr(Engine, "_push", push_while_someone_edits_in_outlook)
    people[1].job_title = "Something to write"
    people[1].save()
    assert sync().status == SyncRun.Status.SUCCEEDED
    monkeypatch.undo()
    victim.refresh_from_db()
    victim.job_title = "Edited in Business Central"
    victim.save()
    run = sync()
    assert run.updated_in_outlook == 1
    assert outlook.by_stamp()[victim.no]["jobTitle"] == "Edited in Business Central"


def test_an_outlook_contact_pulled_by_a_run_that_then_failed_is_stamped_by_the_next(sync, outlook, monkeypatch):
    existing = make_person(email="eva@holm.example", job_title="CEO")
    make_person()
    sync()
    outlook.delete(outlook.by_stamp()[existing.no]["id"])
    sync()  # recreated
    outlook.create(displayName="Pulled Once", emailAddresses=[{"address": "once@outlook.example"}])

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(Engine, "_push", crash)
    assert sync().status == SyncRun.Status.FAILED
    monkeypatch.undo()
    assert sync().status == SyncRun.Status.SUCCEEDED
    pulled = Contact.objects.get(email="once@outlook.example")
    assert outlook.by_stamp()[pulled.no]["displayName"] == "Pulled Once"  # stamped: never pulled twice
    assert sync(full=True).created_in_bc == 0


@pytest.mark.parametrize("change", ["deleted", "privacy_blocked"])
def test_an_adopted_folder_never_brings_back_a_contact_gone_from_business_central(sync, outlook, setup, change):
    people = [make_person(email=f"p{n}@example.com") for n in range(3)]
    sync()
    gone = people[0]
    if change == "deleted":
        gone.delete()
    else:
        gone.privacy_blocked = True
        gone.save()
    # The setup is reset: it finds its old folder by name and adopts it.
    setup.links.all().delete()
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_id="", delta_link="")
    before = Contact.objects.count()
    run = sync(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Contact.objects.count() == before
    assert Contact.objects.filter(email=gone.email).count() == (0 if change == "deleted" else 1)
    assert run.created_in_bc == run.linked_in_bc == 0
    assert set(outlook.by_stamp()) == {p.no for p in people[1:]}
    assert run.deleted_in_outlook == 1
    assert run.issues.filter(contact_no=gone.no, reason__startswith="Removed from Outlook").exists()


def test_a_second_outlook_copy_is_removed_in_a_batch_and_reported(sync, outlook, graph):
    people = [make_person() for _ in range(3)]
    sync()
    original = outlook.by_stamp()[people[0].no]
    # A copy carrying the same stamp, as Outlook's "copy contact" makes.
    graph.create_contact(MAILBOX, outlook.folder_id, {"displayName": original["displayName"]}, stamp=people[0].no)
    run = sync(full=True)
    assert run.deleted_in_outlook == 1
    assert "second Outlook copy" in run.issues.get(kind=SyncIssue.Kind.SKIPPED).reason
    assert outlook.by_stamp()[people[0].no]["id"] == original["id"]
    assert len(outlook.contacts()) == 3


def test_a_recreated_folder_keeps_contacts_a_person_stopped_syncing(sync, outlook, graph, setup):
    setup.on_outlook_delete = ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING
    setup.save()
    people = [make_person() for _ in range(4)]
    sync()
    outlook.delete(outlook.by_stamp()[people[0].no]["id"])
    sync()
    graph.delete_contact_folder(MAILBOX, outlook.folder_id)
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(outlook.by_stamp()) == {p.no for p in people[1:]}
    assert ContactLink.objects.get(contact=people[0]).state == ContactLink.State.STOPPED


def test_an_outlook_contact_that_cannot_be_read_is_reported_and_read_again_next_time(
    sync, outlook, graph, setup, monkeypatch
):
    make_person()
    sync()
    unreadable = outlook.create(displayName="Ida Unread", emailAddresses=[{"address": "ida@outlook.example"}])
    outlook.create(displayName="Rita Read", emailAddresses=[{"address": "rita@outlook.example"}])
    link_before = setup.delta_link
    request_get = graph.batch_request_get_contact

    def breaks_one(request_id, mailbox, folder_id, graph_id, **kwargs):
        if graph_id == unreadable["id"]:
            graph_id = "not-a-graph-id"  # Outlook answers this member with a 400
        return request_get(request_id, mailbox, folder_id, graph_id, **kwargs)

    monkeypatch.setattr(graph, "batch_request_get_contact", breaks_one)
    run = sync()
    monkeypatch.undo()
    assert run.status == SyncRun.Status.PARTIAL
    assert run.created_in_bc == 1 and run.failed == 1
    assert "read again on the next sync" in run.issues.get(kind=SyncIssue.Kind.FAILED).reason
    setup.refresh_from_db()
    assert setup.delta_link == link_before  # so the next run sees Ida again
    assert sync().created_in_bc == 1
    assert Contact.objects.filter(email__in=["ida@outlook.example", "rita@outlook.example"]).count() == 2


def test_something_missing_in_outlook_mid_run_fails_the_run_instead_of_leaving_it_running(sync, monkeypatch):
    make_person()

    def vanish(*args, **kwargs):
        raise GraphNotFoundError(
            "The specified object was not found in the store.", status=404, code="ErrorItemNotFound"
        )

    monkeypatch.setattr(Engine, "_push", vanish)
    run = sync()
    assert run.status == SyncRun.Status.FAILED
    assert "The next sync repairs it" in run.error
    assert run.finished_at is not None
    monkeypatch.undo()
    assert sync().status == SyncRun.Status.SUCCEEDED


def test_issues_are_written_as_the_run_goes_not_held_to_its_end(sync, monkeypatch):
    for _ in range(12):
        make_person(email="")
    make_person()
    written: list[int] = []
    from exchange_sync import services

    record = services.sync_issues_record

    def counting(issues):
        written.append(len(issues))
        record(issues)

    monkeypatch.setattr("exchange_sync.sync.engine.ISSUES_SAVED_AT", 5)
    monkeypatch.setattr(services, "sync_issues_record", counting)
    run = sync(full=True)
    assert run.excluded == 12
    assert run.issues.count() == 12
    assert max(written) <= 5


def test_touching_a_field_outlook_does_not_hold_sends_nothing(sync, outlook):
    people = [make_person() for _ in range(25)]
    sync()
    sync()
    Contact.objects.filter(pk__in=[p.pk for p in people]).update(salesperson_code="JO")
    run = sync()
    assert run.updated_in_outlook == 0
    assert run.graph_requests == run.requests_served <= 2


def test_full_sync_repairs_a_difference_the_change_log_no_longer_shows(sync, outlook, graph, setup):
    people = [make_person(job_title="Buyer") for _ in range(3)]
    sync()
    outlook.update(outlook.by_stamp()[people[0].no]["id"], jobTitle="Changed behind our back")
    # Move the stored delta link past that change, as if a run had seen it and lost it.
    latest = setup.delta_link
    for page in graph.iter_contacts_delta(MAILBOX, setup.folder_id, delta_link=setup.delta_link):
        latest = page.delta_link or latest
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(delta_link=latest)
    assert sync().updated_in_outlook == 0
    assert outlook.by_stamp()[people[0].no]["jobTitle"] == "Changed behind our back"
    run = sync(full=True)
    assert run.updated_in_outlook == 1
    assert outlook.by_stamp()[people[0].no]["jobTitle"] == "Buyer"


def test_an_outlook_contact_that_never_reads_cannot_freeze_the_change_log(sync, outlook, graph, setup, monkeypatch):
    make_person()
    sync()
    unreadable = outlook.create(displayName="Ida Unread", emailAddresses=[{"address": "ida@outlook.example"}])
    request_get = graph.batch_request_get_contact

    def breaks_one(request_id, mailbox, folder_id, graph_id, **kwargs):
        if graph_id == unreadable["id"]:
            graph_id = "not-a-graph-id"
        return request_get(request_id, mailbox, folder_id, graph_id, **kwargs)

    monkeypatch.setattr(graph, "batch_request_get_contact", breaks_one)
    link_before = setup.delta_link
    kept = [sync(), sync()]
    assert all(run.failed == 1 for run in kept)
    setup.refresh_from_db()
    assert setup.delta_link == link_before
    moved_on = sync()
    assert "could not be read in 3 runs in a row" in moved_on.error
    setup.refresh_from_db()
    assert setup.delta_link != link_before and setup.delta_link_kept_runs == 0
    monkeypatch.undo()
    assert sync().created_in_bc == 0  # behind the link now
    assert sync(full=True).created_in_bc == 1  # a Full Sync reads it
    assert Contact.objects.filter(email="ida@outlook.example").exists()


def test_a_run_shows_it_is_alive_while_it_waits(sync, monkeypatch):
    make_person()
    monkeypatch.setattr("exchange_sync.sync.run.PULSE_SECONDS", 0.05)
    push = Engine._push
    beats: list[bool] = []

    def wait_like_a_long_retry_after(self, full, seen):
        first = SyncRun.objects.get(pk=self.run.pk).heartbeat_at
        beats.append(bool(wait_until(lambda: SyncRun.objects.get(pk=self.run.pk).heartbeat_at != first)))
        return push(self, full, seen)

    monkeypatch.setattr(Engine, "_push", wait_like_a_long_retry_after)
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert beats == [True]
