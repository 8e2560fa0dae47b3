"""What comes back from Outlook: new contacts, edits, deletions."""

import pytest

from contacts.models import Contact
from exchange_sync.models import ContactLink, SyncIssue, SyncRun
from tests.factories import make_person


@pytest.fixture
def synced(sync, setup):
    people = [make_person(city="Lyon") for _ in range(3)]
    sync()
    return people


def test_it_pulls_a_new_outlook_contact_into_business_central(sync, outlook, synced):
    outlook.create(
        givenName="Nora",
        surname="Quist",
        displayName="Nora Quist",
        emailAddresses=[{"address": "nora@quist.example"}],
        jobTitle="Buyer",
    )
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_bc == 1
    nora = Contact.objects.get(email="nora@quist.example")
    assert (nora.type, nora.name, nora.first_name, nora.job_title) == ("person", "Nora Quist", "Nora", "Buyer")
    # It is stamped in Outlook now, so it is never pulled twice.
    assert outlook.by_stamp()[nora.no]["displayName"] == "Nora Quist"
    assert sync(full=True).created_in_bc == 0
    assert Contact.objects.filter(email="nora@quist.example").count() == 1


def test_it_links_an_outlook_contact_to_the_person_with_its_email_and_keeps_business_centrals_values(
    sync, outlook, synced
):
    existing = make_person(first_name="Eva", surname="Holm", email="eva@holm.example", job_title="CEO")
    sync()
    item = outlook.by_stamp()[existing.no]
    outlook.delete(item["id"])
    sync()  # recreated
    made_in_outlook = outlook.create(
        displayName="E. Holm", emailAddresses=[{"address": "EVA@holm.example"}], jobTitle="Intern"
    )
    run = sync(full=True)
    assert Contact.objects.filter(email__iexact="eva@holm.example").count() == 1
    assert run.created_in_bc == run.linked_in_bc == 0
    # Eva is already in the folder: the person's own entry is left alone and reported.
    assert "already in the folder" in run.issues.get(kind=SyncIssue.Kind.SKIPPED).reason
    ours = outlook.by_stamp()[existing.no]
    assert (ours["displayName"], ours["jobTitle"]) == ("Eva Holm", "CEO")
    assert made_in_outlook["id"] in {item["id"] for item in outlook.contacts()}
    existing.refresh_from_db()
    assert existing.job_title == "CEO"


def test_a_new_outlook_contact_matching_an_unlinked_person_is_linked_not_duplicated(sync, outlook, setup):
    setup.contact_filter = {"city": "Lyon"}
    setup.save()
    sync()
    person = make_person(first_name="Eva", surname="Holm", email="eva@holm.example", city="Lyon", job_title="CEO")
    # Made in Outlook before Business Central's copy was pushed.
    outlook.create(displayName="E. Holm", emailAddresses=[{"address": "eva@holm.example"}], jobTitle="Intern")
    run = sync()
    assert run.linked_in_bc == 1
    assert run.created_in_bc == 0
    assert run.created_in_outlook == 0
    assert Contact.objects.filter(email="eva@holm.example").count() == 1
    item = outlook.by_stamp()[person.no]
    assert (item["displayName"], item["jobTitle"]) == ("Eva Holm", "CEO")
    assert len(outlook.contacts()) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"displayName": "No Mail"}, "it has no email address"),
        ({"emailAddresses": [{"address": "nameless@x.example"}]}, "it has no name"),
        ({"displayName": "Bad Mail", "emailAddresses": [{"address": "not-an-email"}]}, "is not a valid email"),
        (
            {"displayName": "Long", "givenName": "x" * 40, "emailAddresses": [{"address": "l@x.example"}]},
            "longer than 30 characters",
        ),
    ],
)
def test_it_skips_outlook_contacts_it_cannot_copy_with_a_reason(sync, outlook, synced, body, reason):
    before = Contact.objects.count()
    outlook.create(**body)
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.skipped == 1
    assert Contact.objects.count() == before
    issue = run.issues.get(kind=SyncIssue.Kind.SKIPPED)
    assert reason in issue.reason
    assert len(outlook.contacts()) == 4  # left alone in Outlook


def test_each_outlook_contact_it_cannot_copy_is_counted_and_named(sync, outlook, synced):
    outlook.create(displayName="No Mail")
    outlook.create(displayName="No Mail Either")
    run = sync()
    assert run.skipped == 2
    issues = run.issues.filter(kind=SyncIssue.Kind.SKIPPED)
    assert sorted(issues.values_list("outlook_name", flat=True)) == ["No Mail", "No Mail Either"]


def test_it_recreates_a_contact_deleted_in_outlook(sync, outlook, synced):
    victim = synced[0]
    outlook.delete(outlook.by_stamp()[victim.no]["id"])
    run = sync()
    assert run.created_in_outlook == 1
    assert victim.no in outlook.by_stamp()
    assert Contact.objects.filter(pk=victim.pk).exists()


def test_with_stop_syncing_a_contact_deleted_in_outlook_stays_deleted(sync, outlook, setup, synced):
    setup.on_outlook_delete = "stop"
    setup.save()
    victim = synced[0]
    outlook.delete(outlook.by_stamp()[victim.no]["id"])
    run = sync()
    assert victim.no not in outlook.by_stamp()
    assert ContactLink.objects.get(contact=victim).state == ContactLink.State.STOPPED
    assert "no longer synchronized" in run.issues.get().reason
    victim.job_title = "changed"
    victim.save()
    sync()
    sync(full=True)
    assert victim.no not in outlook.by_stamp()
    assert Contact.objects.filter(pk=victim.pk).exists()


def test_without_keep_outlook_edits_business_central_overwrites_outlook_edits(sync, outlook, synced):
    person = synced[0]
    outlook.update(outlook.by_stamp()[person.no]["id"], jobTitle="Changed in Outlook")
    sync()
    person.refresh_from_db()
    assert person.job_title != "Changed in Outlook"
    assert outlook.by_stamp()[person.no]["jobTitle"] == person.job_title


def test_with_keep_outlook_edits_fields_changed_only_in_outlook_come_back(sync, outlook, setup, synced):
    setup.keep_outlook_edits = True
    setup.save()
    person, other = synced[0], synced[1]
    outlook.update(outlook.by_stamp()[person.no]["id"], jobTitle="Head of Sales", mobilePhone="+45 1234")
    outlook.update(outlook.by_stamp()[other.no]["id"], jobTitle="Buyer")
    run = sync()
    assert run.updated_in_bc == 2
    person.refresh_from_db()
    assert (person.job_title, person.mobile_phone) == ("Head of Sales", "+45 1234")
    other.refresh_from_db()
    assert other.job_title == "Buyer"
    quiet = sync()
    assert quiet.graph_requests == quiet.requests_served <= 2


def test_with_keep_outlook_edits_a_same_field_conflict_keeps_business_centrals_value(sync, outlook, setup, synced):
    setup.keep_outlook_edits = True
    setup.save()
    person = synced[0]
    outlook.update(
        outlook.by_stamp()[person.no]["id"], jobTitle="Outlook title", companyName="Outlook Co", mobilePhone="+1 555"
    )
    person.job_title, person.company_name = "BC title", "BC Co"
    person.save()
    run = sync()
    person.refresh_from_db()
    assert (person.job_title, person.company_name) == ("BC title", "BC Co")
    assert person.mobile_phone == "+1 555"
    assert run.conflicts == 2  # one per field changed on both sides
    conflicts = run.issues.filter(kind=SyncIssue.Kind.CONFLICT)
    assert sorted(conflicts.values_list("contact_no", flat=True)) == [person.no, person.no]
    assert any("'Outlook title' was overwritten" in conflict.reason for conflict in conflicts)
    assert outlook.by_stamp()[person.no]["jobTitle"] == "BC title"
