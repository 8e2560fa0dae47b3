"""Outlook contacts stamped with a contact number bcsync syncs, but not (or not so)
linked, without a sandbox: the copy whose create answer was lost is linked to its
contact and compared once; a second copy of a linked contact is removed and named
(README, "What a sync guarantees": never a duplicate, never a lost contact). End to end
over the sandbox: test_recovery.py, test_outlook_copies.py."""

from __future__ import annotations

from contacts.models import Contact
from exchange_sync.models import ContactLink, SyncIssue
from exchange_sync.sync.seen import Seen
from tests.factories import make_person
from tests.sync.fast_engine import outlook_copy, synced


def lost_create(engine, contact: Contact) -> ContactLink:
    """The link of a create sent but whose answer never came: no Outlook id yet."""
    return ContactLink.objects.create(setup=engine.setup, contact=contact, contact_no=contact.no)


def adopt(engine, link: ContactLink, item: dict, *, in_scope: bool = True) -> Seen:
    seen = Seen()
    engine._adopt_stamped(link, item, seen, {link.contact_id} if in_scope else set())
    engine._save_refreshed()
    return seen


def test_a_second_outlook_copy_of_a_linked_contact_is_removed_and_named(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    seen = adopt(engine, link, outlook_copy(contact, graph_id="AAMk-second"))
    engine._remove_duplicates(seen.duplicates)
    (op,) = engine.outbox.ops
    assert (op.kind, op.link.graph_id) == ("delete", "AAMk-second")
    (issue,) = engine.issues
    assert (issue.kind, issue.contact, issue.contact_no) == (SyncIssue.Kind.SKIPPED, contact, contact.no)
    assert ContactLink.objects.get(pk=link.pk).graph_id == link.graph_id  # the linked copy stays


def test_a_second_copy_of_a_contact_deleted_in_business_central_is_named_by_its_number(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    number = contact.no
    contact.delete()
    link.refresh_from_db()
    seen = adopt(engine, link, outlook_copy(Contact(no=number, name="Ann", email="a@x.example"), "AAMk-second"))
    engine._remove_duplicates(seen.duplicates)
    (issue,) = engine.issues
    assert (issue.contact, issue.contact_no) == (None, number)
    engine.save_issues()  # it can be stored: the run page lists it


def test_a_copy_whose_create_answer_was_lost_is_linked_compared_and_sent_once(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = lost_create(engine, contact)
    item = outlook_copy(contact, graph_id="AAMk-lost")
    Contact.objects.filter(pk=contact.pk).update(job_title="Chief buyer")  # changed since the create
    seen = adopt(engine, ContactLink.objects.select_related("contact").get(pk=link.pk), item)
    stored = ContactLink.objects.get(pk=link.pk)
    assert (stored.graph_id, stored.state) == ("AAMk-lost", ContactLink.State.LINKED)
    engine._push(full=True, seen=seen)
    (op,) = engine.outbox.ops  # the compare sent Business Central's change; the push no second one
    assert (op.kind, op.values["job_title"]) == ("update", "Chief buyer")


def test_an_adopted_copy_that_agrees_is_counted_unchanged(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = lost_create(engine, contact)
    adopt(engine, ContactLink.objects.select_related("contact").get(pk=link.pk), outlook_copy(contact))
    assert engine.counts["unchanged"] == 1
    assert engine.outbox.ops == []


def test_an_update_to_a_copy_adopted_out_of_scope_waits_for_outlooks_version_of_it(offline_engine):
    """With "keep Outlook edits", an update carries the change key Outlook had when
    bcsync last read the contact: an Outlook edit made since is never overwritten."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = lost_create(engine, contact)
    item = {**outlook_copy(contact, graph_id="AAMk-lost"), "changeKey": "ck-adopted"}
    adopt(engine, link, item, in_scope=False)  # e.g. outside the filter then
    Contact.objects.filter(pk=contact.pk).update(job_title="Chief buyer")
    contact.refresh_from_db()
    engine._push_one(contact, ContactLink.objects.get(pk=link.pk))
    (op,) = engine.outbox.ops
    assert op.if_match == 'W/"ck-adopted"'


def test_the_persons_own_phone_on_an_adopted_copy_stays_theirs_to_change(offline_engine):
    """The stamp says the copy is ours, not which list entries are: a phone in the slot
    Business Central leaves empty is the person's, and their change to it later is an
    Outlook edit that comes to Business Central, not a conflict."""
    engine = offline_engine
    contact = make_person(phone="")
    link = lost_create(engine, contact)
    adopt(engine, link, outlook_copy(contact, businessPhones=["+44 1 111"]), in_scope=False)
    link = ContactLink.objects.select_related("contact").get(pk=link.pk)
    engine._compare_linked(link, {**outlook_copy(contact, businessPhones=["+44 2 222"]), "changeKey": "ck2"})
    assert Contact.objects.get(pk=contact.pk).phone == "+44 2 222"
    assert engine.counts["conflicts"] == 0


def test_a_stopped_contact_is_not_taken_back_by_a_stamped_copy(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = lost_create(engine, contact)
    ContactLink.objects.filter(pk=link.pk).update(state=ContactLink.State.STOPPED)
    link.refresh_from_db()
    seen = adopt(engine, link, outlook_copy(contact))
    stored = ContactLink.objects.get(pk=link.pk)
    assert (stored.graph_id, stored.state) == (None, ContactLink.State.STOPPED)
    assert seen.handled_contacts == set() and engine.outbox.ops == []
