"""A contact a person made twice in Outlook: reported (never deleted) on every run until a
person chooses "link this one instead" or "remove the Outlook copy"; against the
sandbox over HTTP."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from exchange_sync.models import SyncIssue
from exchange_sync.outlook_copies import OutlookCopyError, outlook_copy_link, outlook_copy_remove
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


@pytest.fixture
def eva(sync, setup):
    person = make_person(first_name="Eva", surname="Holm", email="eva@holm.example", phone="+44 20 1234")
    sync()
    return person


@pytest.fixture
def copy(outlook, eva):
    """Eva made again by hand in Outlook: her email, a job title and a mobile number
    Business Central does not have, and notes bcsync does not map."""
    return outlook.create(
        givenName="Eva",
        surname="Holm",
        displayName="Eva H.",
        emailAddresses=[{"address": "EVA@holm.example"}],
        jobTitle="Buyer",
        mobilePhone="+44 7700 900123",
        personalNotes="Met at the Leeds fair",
    )


def _copy_issue(run) -> SyncIssue:
    return run.issues.get(outlook_id__gt="")


def test_a_copy_made_in_outlook_is_reported_on_every_full_run_and_never_deleted(sync, graph, outlook, eva, copy):
    before = graph.get_contact(MAILBOX, outlook.folder_id, copy["id"])
    for _ in range(2):
        run = sync(full=True)
        issue = _copy_issue(run)
        assert (issue.contact, issue.outlook_id, issue.kind) == (eva, copy["id"], SyncIssue.Kind.SKIPPED)
        assert "already in the folder" in issue.reason
        # What the run page shows: one contact skipped, which one, and the copy's name.
        assert run.skipped == 1
        assert (issue.direction, issue.contact_no, issue.outlook_name) == (SyncIssue.Direction.TO_BC, eva.no, "Eva H.")
    # Neither deleted nor overwritten: the person's copy reads as they wrote it.
    assert graph.get_contact(MAILBOX, outlook.folder_id, copy["id"]) == before


def test_link_this_one_instead_makes_the_copy_evas_outlook_contact_and_deletes_bcsyncs(
    sync, graph, setup, outlook, eva, copy
):
    ours = outlook.by_stamp()[eva.no]["id"]
    issue = _copy_issue(sync(full=True))

    done = outlook_copy_link(issue, client=graph, user=None)

    assert "bcsync's earlier copy was deleted" in done
    assert [item["id"] for item in outlook.contacts()] == [copy["id"]]
    issue.refresh_from_db()
    assert issue.resolution == SyncIssue.Resolution.LINKED
    # The next run stamps it and writes Business Central's values; the notes stay.
    run = sync()
    assert not run.issues.filter(outlook_id__gt="").exists()
    item = outlook.by_stamp()[eva.no]
    assert (item["id"], item["displayName"], item["businessPhones"]) == (copy["id"], "Eva Holm", ["+44 20 1234"])
    assert graph.get_contact(MAILBOX, setup.folder_id, copy["id"])["personalNotes"] == "Met at the Leeds fair"
    assert ours not in {item["id"] for item in outlook.contacts()}
    # Resolved: a full run reports nothing about it any more, and the folder holds Eva once.
    run = sync(full=True)
    assert not run.issues.filter(reason__contains="already in the folder").exists()
    assert len(outlook.contacts()) == 1


def test_remove_the_outlook_copy_first_merges_what_business_central_lacks_when_keeping_outlook_edits(
    sync, graph, setup, outlook, eva, copy
):
    setup.keep_outlook_edits = True
    setup.save()
    issue = _copy_issue(sync(full=True))

    done = outlook_copy_remove(issue, client=graph, user=None)

    assert "was deleted" in done and "Job Title, Mobile Phone No." in done
    eva.refresh_from_db()
    # Fields empty in Business Central are filled; the name it has stays.
    assert (eva.job_title, eva.mobile_phone, eva.name) == ("Buyer", "+44 7700 900123", "Eva Holm")
    assert copy["id"] not in {item["id"] for item in outlook.contacts()}
    run = sync(full=True)
    assert not run.issues.filter(reason__contains="already in the folder").exists()
    ours = outlook.by_stamp()[eva.no]
    assert (ours["jobTitle"], ours["mobilePhone"]) == ("Buyer", "+44 7700 900123")


def test_link_this_one_instead_first_merges_what_business_central_lacks_when_keeping_outlook_edits(
    sync, graph, setup, outlook, eva, copy
):
    setup.keep_outlook_edits = True
    setup.save()
    issue = _copy_issue(sync(full=True))

    done = outlook_copy_link(issue, client=graph, user=None)

    assert "Job Title, Mobile Phone No." in done
    eva.refresh_from_db()
    # Fields empty in Business Central are filled; the name and phone it has stay.
    assert (eva.job_title, eva.mobile_phone, eva.name, eva.phone) == (
        "Buyer",
        "+44 7700 900123",
        "Eva Holm",
        "+44 20 1234",
    )
    sync()
    item = graph.get_contact(MAILBOX, setup.folder_id, copy["id"])
    assert (item["jobTitle"], item["mobilePhone"], item["displayName"]) == ("Buyer", "+44 7700 900123", "Eva Holm")


def test_remove_the_outlook_copy_copies_nothing_when_outlook_edits_are_not_kept(sync, graph, outlook, eva, copy):
    issue = _copy_issue(sync(full=True))

    outlook_copy_remove(issue, client=graph, user=None)

    eva.refresh_from_db()
    assert (eva.job_title, eva.mobile_phone) == ("", "")
    assert [item["stamp"] for item in outlook.contacts()] == [eva.no]


def test_a_copy_already_gone_from_outlook_is_said_so_and_nothing_changes(sync, graph, outlook, eva, copy):
    issue = _copy_issue(sync(full=True))
    outlook.delete(copy["id"])

    with pytest.raises(OutlookCopyError, match="no longer in the folder"):
        outlook_copy_link(issue, client=graph, user=None)

    assert [item["stamp"] for item in outlook.contacts()] == [eva.no]  # bcsync's copy kept
    issue.refresh_from_db()
    assert issue.resolution == SyncIssue.Resolution.GONE


def test_a_copy_already_dealt_with_is_refused_and_nothing_changes(sync, graph, outlook, eva, copy):
    first = _copy_issue(sync(full=True))
    second = _copy_issue(sync(full=True))  # the same copy, reported again
    outlook_copy_remove(second, client=graph, user=None)

    for issue in (first, second):
        issue.refresh_from_db()
        with pytest.raises(OutlookCopyError, match="already dealt with"):
            outlook_copy_link(issue, client=graph, user=None)
    assert [item["stamp"] for item in outlook.contacts()] == [eva.no]


def test_a_copy_whose_email_was_changed_since_is_not_deleted(sync, graph, outlook, eva, copy):
    issue = _copy_issue(sync(full=True))
    outlook.update(copy["id"], emailAddresses=[{"address": "eva.private@holm.example"}])

    with pytest.raises(OutlookCopyError, match="no longer has the email"):
        outlook_copy_remove(issue, client=graph, user=None)

    assert copy["id"] in {item["id"] for item in outlook.contacts()}
    assert Contact.objects.filter(email="eva.private@holm.example").count() == 0
