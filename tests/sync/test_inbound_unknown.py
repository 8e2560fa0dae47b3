"""Outlook contacts whose ids the setup does not know, without a sandbox: the copy of a
create whose answer was lost is linked by its stamp, never created again ("No
duplicates"); a second stamped copy of a linked contact is removed; a stamped contact
deleted in Business Central is not copied back; one Outlook cannot read is counted,
named and read again next time; an unstamped one is a contact made in Outlook. End to
end over the sandbox: test_guarantees.py, test_recovery.py, test_outlook_copies.py."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from exchange_sync.graph.batch import BatchResponse
from exchange_sync.graph.stamp import EXTENDED_PROPERTIES, stamp_property
from exchange_sync.mapping import contact_values, values_hash
from exchange_sync.models import ContactLink, SyncIssue
from exchange_sync.sync.seen import Seen
from tests.factories import make_person
from tests.sync.fast_engine import outlook_copy

FOLDER = "AAMkFolder="


class Folder:
    """Stands in for the Graph client's batched reads of one folder's contacts: each
    contact by its id, its stamp only when asked to expand it (as Graph does); an id
    it does not hold answers 404, one in `failing` the status given."""

    def __init__(self, *items: dict, failing: dict[str, int] | None = None) -> None:
        self.items = {item["id"]: item for item in items}
        self.failing = failing or {}
        self.reads: list[str] = []

    def batch_request_get_contact(self, id, mailbox, folder_id, contact_id, *, expand_stamp=False):
        assert folder_id == FOLDER
        return (id, contact_id, expand_stamp)

    def batch(self, requests) -> list[BatchResponse]:
        answers = []
        for id, contact_id, expand_stamp in requests:
            self.reads.append(contact_id)
            if contact_id in self.failing:
                error = {"error": {"code": "ErrorInternalServerError", "message": "Try again."}}
                answers.append(BatchResponse(id, self.failing[contact_id], {}, error))
            elif contact_id not in self.items:
                error = {"error": {"code": "ErrorItemNotFound", "message": "The object was not found."}}
                answers.append(BatchResponse(id, 404, {}, error))
            else:
                item = dict(self.items[contact_id])
                if not expand_stamp:
                    item.pop(EXTENDED_PROPERTIES, None)
                answers.append(BatchResponse(id, 200, {}, item))
        return answers


def stamped(contact: Contact, graph_id: str, stamp: str | None = None, **outlook_only) -> dict:
    """The Outlook contact bcsync wrote for `contact`, stamped with its number."""
    return {**outlook_copy(contact, graph_id, **outlook_only), **stamp_property(stamp or contact.no)}


def pull_unknown(engine, folder: Folder) -> Seen:
    engine.client, engine.folder_id = folder, FOLDER
    seen = Seen()
    engine._pull_unknown(list(folder.items) + list(folder.failing), seen)
    return seen


def test_the_copy_of_a_create_whose_answer_was_lost_is_linked_by_its_stamp_not_created_again(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    pending = ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)
    copy = stamped(person, "AAMk-lost", changeKey="ck7")

    seen = pull_unknown(engine, Folder(copy))

    link = ContactLink.objects.get(pk=pending.pk)
    assert (link.graph_id, link.change_key, link.state) == ("AAMk-lost", "ck7", ContactLink.State.LINKED)
    assert link.fields_hash == values_hash(contact_values(person))  # synchronized: not sent again
    assert seen.handled_contacts == {person.pk}
    assert seen.duplicates == []
    assert Contact.objects.count() == 1  # not copied back as a new contact either
    assert ContactLink.objects.count() == 1
    assert engine.outbox.ops == []  # Outlook already holds Business Central's values
    assert engine.counts["created_in_bc"] == 0


def test_a_stamp_is_read_whatever_its_case_and_only_when_expanded(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    pending = ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)

    pull_unknown(engine, Folder(stamped(person, "AAMk-lost", stamp=person.no.lower())))

    assert ContactLink.objects.get(pk=pending.pk).graph_id == "AAMk-lost"


def test_a_second_stamped_copy_of_a_linked_contact_is_removed_and_the_linked_one_kept(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    linked = ContactLink.objects.create(
        setup=engine.setup,
        contact=person,
        contact_no=person.no,
        graph_id="AAMk-first",
        state=ContactLink.State.LINKED,
        fields_hash="h",
    )

    seen = pull_unknown(engine, Folder(stamped(person, "AAMk-second")))

    (duplicate,) = seen.duplicates
    assert (duplicate.graph_id, duplicate.contact, duplicate.contact_no) == ("AAMk-second", person, person.no)
    assert ContactLink.objects.get(pk=linked.pk).graph_id == "AAMk-first"
    assert ContactLink.objects.count() == 1
    assert Contact.objects.count() == 1


def test_a_stamped_contact_of_a_folder_it_never_linked_is_linked_to_its_contact_with_one_insert(
    offline_engine, django_assert_max_num_queries
):
    # An adopted folder, or a setup reset: bcsync's stamp, but no link in this setup.
    engine = offline_engine
    people = [make_person(email=f"p{n}@x.example") for n in range(3)]
    folder = Folder(*(stamped(person, f"AAMk-{n}") for n, person in enumerate(people)))

    seen = pull_unknown(engine, folder)

    links = {link.contact_id: link for link in ContactLink.objects.all()}
    assert set(links) == {person.pk for person in people}
    assert {link.graph_id for link in links.values()} == {"AAMk-0", "AAMk-1", "AAMk-2"}
    assert {(link.state, link.contact_no) for link in links.values()} == {
        (ContactLink.State.LINKED, person.no) for person in people
    }
    assert all(link.setup_id == engine.setup.pk for link in links.values())
    assert seen.handled_contacts == {person.pk for person in people}
    assert Contact.objects.count() == 3


def test_a_stamped_contact_deleted_in_business_central_is_not_copied_back(offline_engine):
    engine = offline_engine
    gone = make_person(email="gone@x.example")
    item = stamped(gone, "AAMk-gone")
    number = gone.no
    gone.delete()

    seen = pull_unknown(engine, Folder(item))

    # Linked with no contact: the guarded out-of-scope step removes it from Outlook.
    (link,) = ContactLink.objects.all()
    assert (link.contact, link.contact_no, link.graph_id) == (None, number, "AAMk-gone")
    assert not Contact.objects.exists()
    assert seen.handled_contacts == set()
    assert engine.counts["created_in_bc"] == 0


def test_a_stamped_contact_of_a_stopped_link_is_left_alone(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    stopped = ContactLink.objects.create(
        setup=engine.setup, contact=person, contact_no=person.no, state=ContactLink.State.STOPPED
    )

    seen = pull_unknown(engine, Folder(stamped(person, "AAMk-again")))

    stopped.refresh_from_db()
    assert (stopped.state, stopped.graph_id) == (ContactLink.State.STOPPED, None)
    assert seen.handled_contacts == set()
    assert engine.outbox.ops == []


def test_a_stamped_contact_out_of_scope_is_linked_but_not_compared(offline_engine):
    engine = offline_engine
    engine.setup.contact_filter = {"city": "London"}
    engine.setup.save()
    person = make_person(email="bo@x.example", city="Paris")
    item = stamped(person, "AAMk-paris", jobTitle="Changed in Outlook")

    pull_unknown(engine, Folder(item))

    assert ContactLink.objects.get(contact=person).graph_id == "AAMk-paris"
    assert engine.outbox.ops == []  # removed later by the out-of-scope step, not updated
    person.refresh_from_db()
    assert person.job_title != "Changed in Outlook"


def test_an_outlook_contact_deleted_since_the_delta_page_is_passed_over(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    pending = ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)
    folder = Folder(stamped(person, "AAMk-kept"))

    engine.client, engine.folder_id = folder, FOLDER
    engine._pull_unknown(["AAMk-deleted", "AAMk-kept"], Seen())  # the first answers 404

    assert folder.reads == ["AAMk-deleted", "AAMk-kept"]
    assert ContactLink.objects.get(pk=pending.pk).graph_id == "AAMk-kept"  # the rest still handled
    assert engine.issues == []
    assert engine.counts["failed"] == 0
    assert not engine.delta_incomplete


def test_each_outlook_contact_that_cannot_be_read_is_counted_named_and_read_again_next_time(offline_engine):
    engine = offline_engine
    person = make_person(email="bo@x.example")
    pending = ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)
    unreadable = {"AAMk-0123456789abcdefghijklmnopqrstuvwxyz": 500, "AAMk-second-unreadable": 503}

    pull_unknown(engine, Folder(stamped(person, "AAMk-kept"), failing=unreadable))

    assert engine.counts["failed"] == 2
    assert engine.delta_incomplete is True  # the run keeps its old delta link
    assert [(issue.kind, issue.direction) for issue in engine.issues] == [
        (SyncIssue.Kind.FAILED, SyncIssue.Direction.TO_BC)
    ] * 2
    first = engine.issues[0]
    assert first.outlook_name == "Outlook contact AAMk-0123456789abcdefghi..."  # its first 24 characters
    assert first.reason.startswith("Could not be read from Outlook (500 ErrorInternalServerError: Try again.")
    assert first.reason.endswith("; it is read again on the next sync.")
    assert ContactLink.objects.get(pk=pending.pk).graph_id == "AAMk-kept"  # the readable one is still linked


def test_an_unstamped_outlook_contact_is_one_made_in_outlook(offline_engine):
    engine = offline_engine
    item = {"id": "AAMk-new", "changeKey": "ck1", "displayName": "Cy Dahl", "emailAddresses": [{"address": "cy@x"}]}
    item["emailAddresses"] = [{"address": "cy@x.example"}]

    pull_unknown(engine, Folder(item))

    created = Contact.objects.get(email="cy@x.example")
    assert ContactLink.objects.get(contact=created).graph_id == "AAMk-new"
    assert engine.counts["created_in_bc"] == 1


def test_a_stamp_that_cannot_be_a_contact_number_is_treated_as_made_in_outlook(offline_engine):
    engine = offline_engine
    too_long = {**outlook_copy(make_person(email="a@x.example"), "AAMk-long"), **stamp_property("C" * 21)}
    unprintable = {**outlook_copy(make_person(email="b@x.example"), "AAMk-tab"), **stamp_property("C\t01")}

    pull_unknown(engine, Folder(too_long, unprintable))

    # Matched by email, as a contact made in Outlook is, never taken for a lost create.
    assert set(ContactLink.objects.values_list("graph_id", "contact_no")) == {
        ("AAMk-long", Contact.objects.get(email="a@x.example").no),
        ("AAMk-tab", Contact.objects.get(email="b@x.example").no),
    }
    assert engine.counts["linked_in_bc"] == 2


def test_contacts_linked_by_stamp_are_saved_before_new_ones_are_matched_by_email(offline_engine):
    # A lost create's copy and an unstamped copy the person made of the same contact,
    # in one page: the stamped one is linked first, so the other is a second copy
    # (reported, left alone), not a second link to the same contact.
    engine = offline_engine
    person = make_person(email="bo@x.example", first_name="Bo", surname="Berg")
    ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)
    made = {"id": "AAMk-made", "displayName": "Bo Berg", "emailAddresses": [{"address": "bo@x.example"}]}

    pull_unknown(engine, Folder(made, stamped(person, "AAMk-lost")))

    assert list(ContactLink.objects.values_list("graph_id", flat=True)) == ["AAMk-lost"]
    (issue,) = [issue for issue in engine.issues if issue.outlook_name == "Bo Berg"]
    assert issue.kind == SyncIssue.Kind.SKIPPED


def test_linking_a_page_of_lost_creates_by_their_stamps_costs_the_same_queries_for_more_contacts(offline_engine):
    """A page of up to a hundred contacts is linked in a fixed number of queries: their
    links and contacts are read together, not one by one."""

    def queries_to_link(count: int) -> int:
        people = [make_person(email=f"p{count}-{n}@x.example") for n in range(count)]
        for person in people:
            ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=person.no)
        folder = Folder(*(stamped(person, f"AAMk-{count}-{n}") for n, person in enumerate(people)))
        with CaptureQueriesContext(connection) as queries:
            pull_unknown(engine, folder)
        assert ContactLink.objects.filter(graph_id__startswith=f"AAMk-{count}-").count() == count
        return len(queries)

    engine = offline_engine
    assert queries_to_link(1) == queries_to_link(5)


def test_a_stamp_as_long_as_a_contact_number_can_be_one(offline_engine):
    engine = offline_engine
    person = make_person(email="c@x.example")
    longest = "C" * 20  # Contact.no holds 20 characters
    Contact.objects.filter(pk=person.pk).update(no=longest)
    pending = ContactLink.objects.create(setup=engine.setup, contact=person, contact_no=longest)

    # Its email changed in Outlook since: only the stamp can tell it is ours.
    copy = stamped(person, "AAMk-longest", stamp=longest, emailAddresses=[{"address": "new@x.example"}])
    pull_unknown(engine, Folder(copy))

    assert ContactLink.objects.get(pk=pending.pk).graph_id == "AAMk-longest"
    assert not Contact.objects.filter(email="new@x.example").exists()
