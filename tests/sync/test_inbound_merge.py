"""Keep Outlook edits, field by field, without a sandbox: the engine's three-way merge of
one Outlook contact against what Outlook held when bcsync last looked (README, "Keep
Outlook edits"). A field changed only in Outlook comes to Business Central, one changed
only in Business Central goes out, one changed on both keeps Business Central's value
and is a conflict; a list slot Business Central leaves empty holds the person's own
entry. Fast: an engine over a database test, with a stand-in outbox that records what
would be sent (the same merge, end to end over the sandbox, is in test_pull.py)."""

from __future__ import annotations

from contacts.models import Contact
from exchange_sync.mapping import graph_body
from exchange_sync.models import ContactLink, SyncIssue
from exchange_sync.sync.engine import Engine
from tests.factories import make_person
from tests.sync.fast_engine import synced


def outlook_item(link: ContactLink, **changes) -> dict:
    """The Outlook contact as it is now: what it held when last seen, with `changes`
    (Graph properties) made in Outlook."""
    item = {**graph_body(link.snapshot), **link.outlook_lists, "id": link.graph_id, "changeKey": "ck2"}
    return {**item, **changes}


def compare(engine: Engine, link: ContactLink, item: dict) -> Contact:
    engine._compare_linked(link, item)
    return Contact.objects.get(pk=link.contact_id)


def test_a_field_changed_only_in_outlook_comes_to_business_central(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer", city="Leeds")
    link = synced(engine, contact)
    stored = compare(engine, link, outlook_item(link, jobTitle="Head buyer"))
    assert (stored.job_title, stored.city) == ("Head buyer", "Leeds")
    assert engine.counts["updated_in_bc"] == 1
    assert engine.counts["conflicts"] == 0
    assert engine.issues == []
    other = make_person(job_title="Clerk")
    link = synced(engine, other)
    assert compare(engine, link, outlook_item(link, jobTitle="Head clerk")).job_title == "Head clerk"
    assert engine.counts["updated_in_bc"] == 2  # each contact updated from Outlook is counted


def test_a_field_changed_on_both_sides_keeps_business_centrals_value_sends_it_and_is_a_conflict(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    Contact.objects.filter(pk=contact.pk).update(job_title="Chief buyer")
    link.contact.refresh_from_db()
    stored = compare(engine, link, outlook_item(link, jobTitle="Head buyer"))
    assert stored.job_title == "Chief buyer"
    assert engine.outbox.sent(contact)["job_title"] == "Chief buyer"  # Outlook's copy is corrected
    assert engine.counts["conflicts"] == 1
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.contact, issue.contact_no) == (
        SyncIssue.Kind.CONFLICT,
        SyncIssue.Direction.TO_BC,
        contact,
        contact.no,
    )
    assert "'Chief buyer' was kept" in issue.reason and "'Head buyer'" in issue.reason


def test_each_field_changed_on_both_sides_is_a_conflict(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer", city="Leeds")
    link = synced(engine, contact)
    Contact.objects.filter(pk=contact.pk).update(job_title="Chief buyer", city="York")
    link.contact.refresh_from_db()
    item = outlook_item(link, jobTitle="Head buyer")
    item["businessAddress"] = {**item["businessAddress"], "city": "Hull"}
    stored = compare(engine, link, item)
    assert (stored.job_title, stored.city) == ("Chief buyer", "York")
    assert engine.counts["conflicts"] == 2


def test_an_email_changed_on_both_sides_keeps_business_centrals_email(offline_engine):
    engine = offline_engine
    contact = make_person(email="ann@old.example")
    link = synced(engine, contact)
    Contact.objects.filter(pk=contact.pk).update(email="ann@bc.example")
    link.contact.refresh_from_db()
    item = outlook_item(link, emailAddresses=[{"address": "ann@outlook.example", "name": contact.name}])
    stored = compare(engine, link, item)
    assert stored.email == "ann@bc.example"
    assert engine.counts["conflicts"] == 1


def test_a_second_email_cleared_in_business_central_and_changed_in_outlook_is_a_conflict(offline_engine):
    engine = offline_engine
    contact = make_person(email="ann@cronus.example", email_2="ann@old.example")
    link = synced(engine, contact)
    Contact.objects.filter(pk=contact.pk).update(email_2="")
    link.contact.refresh_from_db()
    emails = [{"address": "ann@cronus.example", "name": contact.name}, {"address": "ann@new.example", "name": "x"}]
    stored = compare(engine, link, outlook_item(link, emailAddresses=emails))
    assert stored.email_2 == ""
    assert engine.counts["conflicts"] == 1


def test_the_persons_own_entry_in_a_slot_business_central_leaves_empty_stays_out_of_business_central(offline_engine):
    engine = offline_engine
    contact = make_person(email="ann@cronus.example", job_title="Buyer")
    own = [{"address": "ann@cronus.example", "name": contact.name}, {"address": "ann@home.example", "name": "Ann"}]
    link = synced(engine, contact, emailAddresses=own)
    stored = compare(engine, link, outlook_item(link, jobTitle="Head buyer"))
    assert (stored.job_title, stored.email_2) == ("Head buyer", "")


def test_a_change_to_the_persons_own_entry_in_an_empty_slot_is_an_outlook_edit_not_a_conflict(offline_engine):
    engine = offline_engine
    contact = make_person(email="ann@cronus.example", phone="")
    link = synced(engine, contact, businessPhones=["+44 1 111"])
    stored = compare(engine, link, outlook_item(link, businessPhones=["+44 2 222"]))
    assert stored.phone == "+44 2 222"
    assert engine.counts["conflicts"] == 0
    assert engine.counts["updated_in_bc"] == 1


def test_a_field_a_links_record_predates_counts_as_empty_when_last_seen(offline_engine):
    engine = offline_engine
    """A link recorded before a field was mapped has no value for it in its snapshot:
    Outlook's value for it is an Outlook edit, not a conflict."""
    contact = make_person(county="")
    link = synced(engine, contact)
    del link.snapshot["county"]
    item = outlook_item(link)
    item["businessAddress"] = {**item["businessAddress"], "state": "Yorkshire"}
    stored = compare(engine, link, item)
    assert stored.county == "Yorkshire"
    assert engine.counts["conflicts"] == 0


def test_an_outlook_value_that_does_not_fit_is_reported_and_business_centrals_value_is_sent_back(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    stored = compare(engine, link, outlook_item(link, jobTitle="B" * 500))
    assert stored.job_title == "Buyer"
    assert engine.outbox.sent(contact)["job_title"] == "Buyer"
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.contact, issue.contact_no) == (
        SyncIssue.Kind.SKIPPED,
        SyncIssue.Direction.TO_BC,
        contact,
        contact.no,
    )
    assert "longer than" in issue.reason and "kept 'Buyer'" in issue.reason


def test_an_outlook_edit_the_database_refuses_names_the_databases_reason_and_leaves_outlook_alone(
    offline_engine, monkeypatch
):
    engine = offline_engine
    monkeypatch.setattr("exchange_sync.sync.inbound.value_problems", lambda values: {})
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    stored = compare(engine, link, outlook_item(link, jobTitle="Head \ud800 buyer"))
    assert stored.job_title == "Buyer"
    assert engine.outbox.ops == []
    (issue,) = engine.issues
    assert (issue.kind, issue.contact, issue.outlook_name) == (SyncIssue.Kind.FAILED, stored, "")
    assert "encode" in issue.reason  # the driver's own words: it cannot encode a lone surrogate
