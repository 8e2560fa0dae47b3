"""Contacts a person moves out of the synchronized Outlook folder, deletes to Deleted
Items, deletes permanently, or moves back: the engine against the sandbox over HTTP.

The folder's delta reports all of these alike (`@removed`); bcsync reads each contact by
its immutable id to tell them apart (exchange_sync/sync/moves.py)."""

from __future__ import annotations

import math

import pytest
from django.db.models import Q
from django.forms.models import model_to_dict

from contacts.models import Contact
from exchange_sync.models import ContactLink, SyncIssue, SyncRun
from exchange_sync.sandbox import services as sandbox
from exchange_sync.sandbox.models import Contact as OutlookContact
from exchange_sync.sandbox.models import Folder
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


@pytest.fixture
def synced(sync, setup):
    people = [make_person() for _ in range(3)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    return people


def _linked_id(person: Contact) -> str:
    return ContactLink.objects.get(contact=person).graph_id


def _in_outlook(person: Contact) -> OutlookContact:
    """The person's Outlook contact, wherever it is in the mailbox: by the id its link
    holds (an immutable id, which the tests check bcsync keeps; found by the regular id
    too, so a link holding one fails on what the person sees, not here)."""
    linked = _linked_id(person)
    return OutlookContact.objects.select_related("folder").get(
        Q(immutable_id=linked) | Q(graph_id=linked), is_deleted=False
    )


def _suppliers() -> Folder:
    return sandbox.folder_create(sandbox.mailbox_get(MAILBOX), "Suppliers")


def _moves(person: Contact, folder: Folder) -> None:
    """A person moves the contact in Outlook."""
    sandbox.contact_move(_in_outlook(person).pk, folder)


def _stored(person: Contact) -> dict:
    return model_to_dict(Contact.objects.get(pk=person.pk))


@pytest.mark.parametrize("full", [False, True])
def test_a_contact_moved_to_another_folder_stops_syncing_with_an_issue_naming_it_and_is_not_copied(
    sync, outlook, setup, synced, full
):
    moved, suppliers = synced[0], _suppliers()
    before = _stored(moved)
    _moves(moved, suppliers)

    run = sync(full=full)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(outlook.by_stamp()) == {p.no for p in synced[1:]}  # no second copy in the folder
    assert _in_outlook(moved).folder == suppliers  # left where the person put it
    issue = run.issues.get(contact=moved)
    assert issue.kind == SyncIssue.Kind.SKIPPED
    assert "Moved in Outlook to the folder 'Suppliers'" in issue.reason
    assert ContactLink.objects.get(contact=moved).state == ContactLink.State.STOPPED
    assert _stored(moved) == before  # nothing changed in Business Central
    assert run.created_in_outlook == run.deleted_in_outlook == 0
    sync()
    sync(full=True)
    assert set(outlook.by_stamp()) == {p.no for p in synced[1:]}


def test_a_contact_moved_back_later_is_synchronized_again(sync, outlook, synced):
    moved, suppliers = synced[0], _suppliers()
    original = _in_outlook(moved)
    _moves(moved, suppliers)
    sync()
    in_suppliers = OutlookContact.objects.get(immutable_id=original.immutable_id, is_deleted=False)
    sandbox.contact_move(in_suppliers.pk, original.folder)
    moved.job_title = "Buyer"
    moved.save()

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    link = ContactLink.objects.get(contact=moved)
    assert (link.state, link.graph_id) == (ContactLink.State.LINKED, original.immutable_id)  # the person's own
    assert outlook.by_stamp()[moved.no]["jobTitle"] == "Buyer"
    assert len(outlook.contacts()) == 3


def test_a_contact_moved_away_and_back_between_two_runs_keeps_its_link(sync, outlook, synced):
    # With immutable ids Graph reports it removed and never added again (microsoft-graph-docs-contrib#72).
    back = synced[0]
    graph_id = _linked_id(back)
    immutable_id = _in_outlook(back).immutable_id
    for folder in (_suppliers(), Folder.objects.get(graph_id=outlook.folder_id)):
        sandbox.contact_move(OutlookContact.objects.get(immutable_id=immutable_id, is_deleted=False).pk, folder)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    link = ContactLink.objects.get(contact=back)
    assert (link.state, link.graph_id) == (ContactLink.State.LINKED, graph_id)
    assert len(outlook.contacts()) == 3
    assert set(outlook.by_stamp()) == {p.no for p in synced}
    assert not run.issues.exists()
    assert run.created_in_outlook == 0


def test_a_contact_deleted_to_deleted_items_is_recreated_by_default(sync, outlook, synced):
    deleted = synced[0]
    sandbox.contact_to_deleted_items(_in_outlook(deleted).pk)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 1
    assert set(outlook.by_stamp()) == {p.no for p in synced}
    assert Contact.objects.filter(pk=deleted.pk).exists()


def test_a_contact_deleted_to_deleted_items_stays_deleted_with_stop_syncing(sync, outlook, setup, synced):
    setup.on_outlook_delete = "stop"
    setup.save()
    deleted = synced[0]
    sandbox.contact_to_deleted_items(_in_outlook(deleted).pk)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert deleted.no not in outlook.by_stamp()
    assert ContactLink.objects.get(contact=deleted).state == ContactLink.State.STOPPED
    assert "Deleted in Outlook" in run.issues.get(contact=deleted).reason
    assert Contact.objects.filter(pk=deleted.pk).exists()


def test_a_contact_deleted_permanently_counts_as_deleted(sync, outlook, setup, synced):
    deleted = synced[0]
    sandbox.contact_to_deleted_items(_in_outlook(deleted).pk)
    sandbox.contact_delete(_in_outlook(deleted).pk)  # Deleted Items emptied

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 1
    assert set(outlook.by_stamp()) == {p.no for p in synced}


def test_the_deletion_guard_counts_only_contacts_really_deleted_not_those_moved_away(sync, outlook, setup):
    people = [make_person() for _ in range(14)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    suppliers = _suppliers()
    for person in people[:9]:
        _moves(person, suppliers)
    for person in people[9:12]:
        sandbox.contact_to_deleted_items(_in_outlook(person).pk)

    run = sync()  # 12 of 14 left the folder, but only 3 were deleted

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 3
    assert set(outlook.by_stamp()) == {p.no for p in people[9:]}
    assert run.issues.filter(reason__contains="'Suppliers'").count() == 9


def test_the_deletion_guard_still_stops_a_run_when_most_contacts_were_really_deleted(sync, outlook, setup):
    people = [make_person() for _ in range(14)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    _moves(people[0], _suppliers())
    for person in people[1:13]:
        sandbox.contact_to_deleted_items(_in_outlook(person).pk)

    run = sync()

    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION, run.error
    assert run.planned_count == 12  # the contact moved away is not in the plan
    assert ContactLink.objects.get(contact=people[0]).state == ContactLink.State.LINKED  # nothing applied yet


def test_telling_moves_from_deletes_takes_one_batch_round_for_all_of_them(sync, outlook, setup):
    people = [make_person() for _ in range(25)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    suppliers = _suppliers()
    for person in people:
        _moves(person, suppliers)

    run = sync()

    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.NEEDS_CONFIRMATION), run.error
    # The folder check and the delta round (a quiet run's 2), ceil(26 / 20) batches of
    # reads (25 contacts and Deleted Items' id), one batch naming the folders they are in.
    assert run.graph_requests == run.requests_served == 2 + math.ceil(26 / 20) + 1
    assert run.status == SyncRun.Status.SUCCEEDED
    assert not outlook.contacts()
    assert run.issues.filter(reason__contains="'Suppliers'").count() == 25
