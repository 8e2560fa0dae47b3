"""Contacts a person made in Outlook, without a sandbox: linked to the one Person with
their email, or created in Business Central; one that cannot be copied is skipped and
named, so the person can find it (README, "Outlook contacts that come in"). End to end
over the sandbox: test_pull.py, test_outlook_copies.py."""

from __future__ import annotations

from django.db import DataError

from contacts.models import Contact
from exchange_sync.mapping import outlook_values
from exchange_sync.models import AdoptedFolderContact, ContactLink, SyncIssue
from exchange_sync.patch import outlook_lists
from exchange_sync.sync.seen import Seen
from tests.factories import make_company, make_person
from tests.sync.fast_engine import synced


def made_in_outlook(graph_id: str = "AAMk-new", **properties) -> dict:
    return {"id": graph_id, "changeKey": "ck1", **properties}


def pull(engine, *items: dict) -> Seen:
    seen = Seen()
    for item in items:
        engine._pull_new(item, seen)
    return seen


def test_each_contact_made_in_outlook_is_created_as_a_person_and_linked(offline_engine):
    engine = offline_engine
    pull(
        engine,
        made_in_outlook("AAMk-1", displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]),
        made_in_outlook("AAMk-2", displayName="Cy Dahl", emailAddresses=[{"address": "cy@x.example"}]),
    )
    created = Contact.objects.get(email="bo@x.example")
    assert (created.name, created.type) == ("Bo Berg", Contact.Type.PERSON)
    assert engine.counts["created_in_bc"] == 2
    assert ContactLink.objects.get(contact=created).graph_id == "AAMk-1"
    # Had the stamp write not been confirmed, the next try still waits for Outlook's
    # version of the contact ("keep Outlook edits"): a person's edit since is never overwritten.
    engine.outbox.ops.clear()
    engine._push_one(created, ContactLink.objects.get(contact=created))
    (op,) = engine.outbox.ops
    assert op.if_match == 'W/"ck1"'


def test_an_outlook_contact_with_the_email_of_a_company_is_created_as_a_person(offline_engine):
    engine = offline_engine
    company = make_company(email="sales@x.example")
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "sales@x.example"}]))
    person = Contact.objects.get(email="sales@x.example", type=Contact.Type.PERSON)
    assert person.pk != company.pk
    assert ContactLink.objects.get(graph_id="AAMk-new").contact == person


def test_an_outlook_contact_whose_email_two_people_share_is_not_linked(offline_engine):
    engine = offline_engine
    make_person(email="bo@x.example")
    make_person(email="BO@x.example")
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]))
    assert not ContactLink.objects.filter(graph_id="AAMk-new").exists()
    (issue,) = engine.issues
    assert (issue.kind, issue.outlook_name) == (SyncIssue.Kind.SKIPPED, "Bo Berg")
    assert "more than one contact" in issue.reason


def test_an_outlook_contact_it_cannot_copy_is_named_by_its_name_its_email_or_as_having_none(offline_engine):
    engine = offline_engine
    pull(
        engine,
        made_in_outlook("AAMk-1", emailAddresses=[{"address": "bo@x.example"}]),
        made_in_outlook("AAMk-2", jobTitle="Buyer"),
        made_in_outlook("AAMk-3", displayName="Cy Dahl"),
    )
    assert [issue.outlook_name for issue in engine.issues] == ["bo@x.example", "(no name)", "Cy Dahl"]
    assert {(issue.kind, issue.direction) for issue in engine.issues} == {
        (SyncIssue.Kind.SKIPPED, SyncIssue.Direction.TO_BC)
    }
    assert not Contact.objects.exists()


def test_every_value_that_does_not_fit_is_named(offline_engine):
    engine = offline_engine
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "bo@x"}], jobTitle="J" * 31))
    (issue,) = engine.issues
    # both problems, one after the other, each in full
    assert "longer than 30 characters; E-mail 'bo@x' is not a valid email address" in issue.reason


def test_a_name_too_long_to_copy_is_cut_to_what_the_run_page_stores(offline_engine):
    engine = offline_engine
    name = "B" * 150 + " " + "C" * 99
    pull(engine, made_in_outlook(displayName=name, emailAddresses=[{"address": "bo@x.example"}]))
    (issue,) = engine.issues
    assert issue.outlook_name == name[:200]
    issue.full_clean(exclude=["run"])  # it fits the column: PostgreSQL stores it


def test_an_outlook_contact_the_database_refuses_is_named_without_a_contact_number(offline_engine, monkeypatch):
    engine = offline_engine
    monkeypatch.setattr("exchange_sync.sync.inbound.value_problems", lambda values: {})
    pull(engine, made_in_outlook(displayName="Bo \ud800 Berg", emailAddresses=[{"address": "bo@x.example"}]))
    (issue,) = engine.issues
    assert (issue.kind, issue.contact, issue.contact_no) == (SyncIssue.Kind.FAILED, None, "")
    assert issue.outlook_name == "Bo \ud800 Berg"
    assert "encode" in issue.reason  # the driver's own words: it cannot encode a lone surrogate
    assert not Contact.objects.exists()


def test_a_persons_own_contact_in_an_adopted_folder_is_left_alone(offline_engine):
    engine = offline_engine
    engine.folder_id = engine.setup.adopted_folder_id = "AAMk-folder"
    AdoptedFolderContact.objects.create(setup=engine.setup, graph_id="AAMk-own")
    pull(engine, made_in_outlook("AAMk-own", displayName="Bo Berg"))
    assert engine.issues == []
    assert engine.counts["skipped"] == 0


def test_each_outlook_copy_of_a_linked_contact_is_reported_and_counted_not_linked(offline_engine):
    engine = offline_engine
    contact = make_person(email="bo@x.example")
    synced(engine, contact)
    pull(
        engine,
        made_in_outlook("AAMk-new", displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]),
        made_in_outlook("AAMk-2nd", displayName="B. Berg", emailAddresses=[{"address": "BO@x.example"}]),
    )
    assert [(i.contact, i.outlook_id, i.outlook_name) for i in engine.issues] == [
        (contact, "AAMk-new", "Bo Berg"),
        (contact, "AAMk-2nd", "B. Berg"),
    ]
    assert engine.counts["skipped"] == 2
    assert not ContactLink.objects.filter(graph_id__in=["AAMk-new", "AAMk-2nd"]).exists()


def test_an_outlook_contact_with_the_email_of_an_excluded_person_says_why_it_is_not_linked(offline_engine):
    engine = offline_engine
    engine.setup.contact_filter = {"city": "Leeds|York"}
    blocked = make_person(email="bo@x.example", city="Leeds", privacy_blocked=True)
    elsewhere = make_person(email="cy@x.example", city="Hull")
    pull(
        engine,
        made_in_outlook("AAMk-1", displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]),
        made_in_outlook("AAMk-2", displayName="Cy Dahl", emailAddresses=[{"address": "cy@x.example"}]),
    )
    privacy, scope = (issue.reason for issue in engine.issues)
    assert blocked.no in privacy and "privacy" in privacy.lower()
    assert elsewhere.no in scope and "does not match this setup's filter" in scope
    assert not ContactLink.objects.exists()


def test_a_contact_made_in_outlook_outside_the_filter_is_created_and_reported_not_synchronized(offline_engine):
    engine = offline_engine
    engine.setup.contact_filter = {"city": "Leeds|York"}  # no single value to fill in
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]))
    created = Contact.objects.get(email="bo@x.example")
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.contact) == (SyncIssue.Kind.SKIPPED, SyncIssue.Direction.TO_BC, created)
    assert "does not match this setup's filter" in issue.reason
    assert not ContactLink.objects.exists()


def test_an_outlook_contact_linked_to_a_known_person_is_unsynchronized_until_its_stamp_is_written(offline_engine):
    # The person's earlier link (their copy deleted in Outlook, retried in vain) is reused:
    # it starts afresh, with no hash, so a run that stops before Outlook confirms the
    # stamp counts the contact as not yet synchronized and repeats it.
    engine = offline_engine
    person = make_person(email="bo@x.example")
    ContactLink.objects.create(
        setup=engine.setup,
        contact=person,
        contact_no=person.no,
        graph_id=None,
        state=ContactLink.State.STOPPED,
        fields_hash="f" * 64,
        failure_count=3,
    )
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]))
    link = ContactLink.objects.get(contact=person)
    assert (link.graph_id, link.state) == ("AAMk-new", ContactLink.State.LINKED)
    assert (link.fields_hash, link.failure_count) == ("", 0)
    assert engine.counts["linked_in_bc"] == 1


def test_a_link_the_database_refuses_is_named_with_the_contact_and_the_databases_words(offline_engine, monkeypatch):
    engine = offline_engine
    person = make_person(email="bo@x.example")

    def refuse(**fields):
        raise DataError("value too long for type character varying(400)\nDETAIL: the value")

    monkeypatch.setattr(ContactLink.objects, "update_or_create", refuse)
    pull(engine, made_in_outlook(displayName="Bo Berg", emailAddresses=[{"address": "bo@x.example"}]))
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.outlook_name) == (
        SyncIssue.Kind.FAILED,
        SyncIssue.Direction.TO_BC,
        "Bo Berg",
    )
    assert issue.reason == (
        f"Not linked to {person.no}: the database refused the link (value too long for type character varying(400))."
    )
    assert (engine.counts["failed"], engine.counts["linked_in_bc"]) == (1, 0)
    assert engine.delta_incomplete  # the next run meets the Outlook contact again
    assert engine.outbox.ops == []  # nothing stamped in Outlook for a link never saved


def test_the_stamp_write_of_a_linked_outlook_contact_knows_what_outlook_holds_and_is_sent_once(offline_engine):
    """Linked to the Person with its email, the Outlook contact gets its stamp and
    Business Central's values in one PATCH: one that names only what differs from the
    item just read and merges into its lists as read (no second read of the contact),
    and the push of the same run leaves the contact to it."""
    engine = offline_engine
    person = make_person(first_name="Bo", surname="Berg", email="bo@x.example", job_title="Buyer")
    emails = [{"address": "bo@x.example", "name": "Bo"}, {"address": "bo@home.example", "name": "Home"}]
    item = made_in_outlook(displayName="Bo Berg", givenName="Bo", surname="Berg", emailAddresses=emails)

    seen = pull(engine, item)

    (op,) = engine.outbox.ops
    assert op.kind == "update"
    assert op.base == outlook_values(item)
    assert op.lists == outlook_lists(item)
    assert seen.handled_contacts == {person.pk}
