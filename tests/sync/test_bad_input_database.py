"""Bad input the database itself refuses: one bad contact never stops a run, on any database.

Values the sync's own checks let through (or, here, are made to let through with
monkeypatch) reach the database for real: a value longer than its column (PostgreSQL
refuses it, SQLite stores it), a lone UTF-16 surrogate from a JSON "\\ud800" escape (both
drivers refuse it), a NUL (PostgreSQL refuses it), a broken unique constraint (both
refuse it). Each case: the run finishes, the other contacts of the run are synchronized,
and the bad one is an issue on that contact. Run on SQLite and on PostgreSQL
(DATABASE_URL=postgres://...).

Graph cannot be made to store a lone surrogate or a NUL in the sandbox on PostgreSQL
(its own jsonb refuses them), so those arrive the way Graph would send them: as JSON
escapes in the HTTP answer, put there by a response hook on the client's session.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.db import connection

from contacts.models import Contact, NumberSeries
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import ContactLink, SyncIssue, SyncRun
from tests.factories import make_person
from tests.sync.conftest import MAILBOX

# Markers a test puts in an Outlook value; the answer Graph gives carries, in their
# place, the JSON escape of a character the databases cannot store.
SURROGATE = "QQSURROGATEQQ"
NUL = "QQNULQQ"
# A contact whose create answer (only) comes back with a change key no driver can store.
# (Too long would not do: bulk_update casts to varchar(n), which PostgreSQL truncates.)
LONG_ANSWER = "Longanswer"


def _graph_sends_broken_text(response: requests.Response, *args, **kwargs) -> requests.Response:
    """Turn the markers into JSON escapes, as Graph's own answer would carry them."""
    content = response.content
    if SURROGATE.encode() in content or NUL.encode() in content:
        response._content = content.replace(SURROGATE.encode(), b"\\ud800").replace(NUL.encode(), b"\\u0000")
    if LONG_ANSWER.encode() in content and b'"responses"' in content:
        answer = json.loads(content)
        for member in answer["responses"]:
            body = member.get("body") or {}
            if member.get("status") == 201 and isinstance(body, dict) and body.get("givenName") == LONG_ANSWER:
                body["changeKey"] = "Key\ud800"  # sent on as the JSON escape
        response._content = json.dumps(answer).encode()
    return response


@pytest.fixture
def graph(live_server):
    session = requests.Session()
    session.hooks["response"].append(_graph_sends_broken_text)
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0", session=session)
    yield client
    client.close()


@pytest.fixture
def synced(sync, setup):
    """Three contacts in Business Central and in Outlook."""
    people = [make_person(first_name=f"Good{i}", surname="Person") for i in range(3)]
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return people


@pytest.fixture
def no_validation(monkeypatch):
    """Let every Outlook value through the sync's checks, so the database decides."""
    monkeypatch.setattr("exchange_sync.sync.inbound.value_problems", lambda values: {})


def _refuses(value_kind: str) -> bool:
    """Whether this database refuses a value of this kind."""
    return value_kind == "surrogate" or connection.vendor == "postgresql"


BAD_VALUES = {
    # value kind -> (Outlook job title, the same as Business Central would store it)
    "too-long": ("J" * 31, "J" * 31),
    "surrogate": (f"Buyer{SURROGATE}", "Buyer\ud800"),
    "nul": (f"Buyer{NUL}", "Buyer\x00"),
}


def _new_outlook_contact(outlook, n: int, **body) -> dict:
    fields = {"givenName": f"New{n}", "surname": "Outlook", "emailAddresses": [{"address": f"new{n}@bad-db.example"}]}
    return outlook.create(**{**fields, **body})


def _assert_the_run_went_on(run: SyncRun) -> None:
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
    assert not run.error


@pytest.mark.parametrize("value_kind", list(BAD_VALUES))
def test_a_new_outlook_contact_the_database_refuses_is_an_issue_and_the_others_sync(
    value_kind, sync, outlook, synced, no_validation
):
    job_title, stored = BAD_VALUES[value_kind]
    _new_outlook_contact(outlook, 1)
    _new_outlook_contact(outlook, 2, jobTitle=job_title)
    _new_outlook_contact(outlook, 3)
    Contact.objects.filter(pk=synced[0].pk).update(city="Leeds")  # a Business Central edit to push

    run = sync()

    _assert_the_run_went_on(run)
    assert set(
        Contact.objects.filter(email__in=["new1@bad-db.example", "new3@bad-db.example"]).values_list("email", flat=True)
    ) == {"new1@bad-db.example", "new3@bad-db.example"}
    assert outlook.by_stamp()[synced[0].no]["businessAddress"]["city"] == "Leeds"
    bad = Contact.objects.filter(email="new2@bad-db.example").first()
    if _refuses(value_kind):
        assert bad is None
        issue = run.issues.get(kind=SyncIssue.Kind.FAILED)
        assert issue.outlook_name == "New2 Outlook"
        assert "refused" in issue.reason
        assert run.failed == 1
    else:  # SQLite stores what PostgreSQL refuses: then it is simply synchronized
        assert bad.job_title == stored
    # The next run is not stopped by it either.
    _assert_the_run_went_on(sync())


@pytest.mark.parametrize("value_kind", list(BAD_VALUES))
def test_an_outlook_edit_the_database_refuses_is_an_issue_and_the_other_edits_are_kept(
    value_kind, sync, setup, outlook, synced, no_validation
):
    setup.keep_outlook_edits = True
    setup.save()
    job_title, stored = BAD_VALUES[value_kind]
    copies = outlook.by_stamp()
    outlook.update(copies[synced[0].no]["id"], jobTitle="Buyer")
    outlook.update(copies[synced[1].no]["id"], jobTitle=job_title)
    outlook.update(copies[synced[2].no]["id"], jobTitle="Seller")

    run = sync()

    _assert_the_run_went_on(run)
    titles = dict(Contact.objects.filter(pk__in=[p.pk for p in synced]).values_list("no", "job_title"))
    assert titles[synced[0].no] == "Buyer"
    assert titles[synced[2].no] == "Seller"
    if _refuses(value_kind):
        assert titles[synced[1].no] == ""  # Business Central's value is kept
        issue = run.issues.get(kind=SyncIssue.Kind.FAILED)
        assert issue.contact_no == synced[1].no
        assert "could not be saved in Business Central" in issue.reason
        # Outlook's copy is left as the person wrote it, not overwritten.
        assert outlook.by_stamp()[synced[1].no]["jobTitle"] == job_title.replace(SURROGATE, "\ud800").replace(
            NUL, "\x00"
        )
    else:
        assert titles[synced[1].no] == stored
    _assert_the_run_went_on(sync(full=True))


def test_each_refused_outlook_edit_is_counted_named_and_tried_again_on_the_next_run(
    sync, setup, outlook, synced, no_validation
):
    setup.keep_outlook_edits = True
    setup.save()
    copies = outlook.by_stamp()
    for person in synced[:2]:
        outlook.update(copies[person.no]["id"], jobTitle=f"Buyer{SURROGATE}")

    for _ in range(2):  # the next run meets the refused edits again: none is forgotten
        run = sync()
        _assert_the_run_went_on(run)
        assert run.failed == 2
        issues = run.issues.filter(kind=SyncIssue.Kind.FAILED).order_by("contact_no")
        assert [(i.contact, i.contact_no, i.direction) for i in issues] == [
            (person, person.no, SyncIssue.Direction.TO_BC) for person in sorted(synced[:2], key=lambda p: p.no)
        ]


def test_a_broken_character_from_outlook_is_reported_without_the_databases_help(sync, outlook, synced):
    """With the sync's own checks on, a lone surrogate never reaches the database."""
    _new_outlook_contact(outlook, 1)
    _new_outlook_contact(outlook, 2, surname=f"Out{SURROGATE}look")

    run = sync()

    _assert_the_run_went_on(run)
    assert Contact.objects.filter(email="new1@bad-db.example").exists()
    assert not Contact.objects.filter(email="new2@bad-db.example").exists()
    issue = run.issues.get(outlook_name="New2 Out\ufffdlook")  # the issue quotes it, storably
    assert issue.kind == SyncIssue.Kind.SKIPPED
    assert "lone Unicode surrogate" in issue.reason


def test_a_contact_the_number_series_cannot_number_is_an_issue_and_the_others_sync(sync, outlook, synced):
    # The No. Series was set back by hand: its next number is one a contact already has,
    # so the insert breaks the unique constraint on the contact number, on every database.
    NumberSeries.objects.filter(code="CONT").update(last_no_used=0)
    _new_outlook_contact(outlook, 1)
    Contact.objects.filter(pk=synced[1].pk).update(city="York")

    run = sync()

    _assert_the_run_went_on(run)
    assert not Contact.objects.filter(email="new1@bad-db.example").exists()
    issue = run.issues.get(kind=SyncIssue.Kind.FAILED)
    assert issue.outlook_name == "New1 Outlook"
    assert "refused" in issue.reason
    assert outlook.by_stamp()[synced[1].no]["businessAddress"]["city"] == "York"
    # Fixed, the next full run brings the contact in.
    NumberSeries.objects.filter(code="CONT").update(last_no_used=100)
    run = sync(full=True)
    _assert_the_run_went_on(run)
    assert Contact.objects.filter(email="new1@bad-db.example").count() == 1


def test_a_stamp_that_cannot_be_a_contact_number_is_not_taken_for_ours(sync, graph, outlook, synced):
    # Another app (or a person) wrote our extended property with a value no contact
    # number can have: it is a contact made in Outlook, never "ours, deleted in
    # Business Central" (which would remove it from Outlook).
    made = graph.create_contact(
        MAILBOX,
        outlook.folder_id,
        {"givenName": "Odd", "surname": "Stamp", "emailAddresses": [{"address": "odd@bad-db.example"}]},
        stamp="X" * 30,
    )

    run = sync(full=True)

    _assert_the_run_went_on(run)
    assert made["id"] in {item["id"] for item in outlook.contacts()}
    contact = Contact.objects.get(email="odd@bad-db.example")
    assert ContactLink.objects.get(contact=contact).graph_id == made["id"]


def test_an_answer_from_outlook_the_database_refuses_fails_that_contact_only(sync, outlook, synced):
    make_person(first_name="Before", surname="Person")
    late = make_person(first_name=LONG_ANSWER, surname="Person")
    make_person(first_name="After", surname="Person")

    run = sync()

    _assert_the_run_went_on(run)
    assert run.created_in_outlook == 3  # Outlook did create all three
    issue = run.issues.get(kind=SyncIssue.Kind.FAILED)
    assert issue.contact_no == late.no
    assert "could not be recorded" in issue.reason
    # The others were recorded; the refused one was found by its stamp in the run's
    # closing delta round: one copy each, every link recorded.
    by_stamp = outlook.by_stamp()
    for link in ContactLink.objects.all():
        assert link.graph_id == by_stamp[link.contact_no]["id"]
    assert len(by_stamp) == 6
    _assert_the_run_went_on(sync(full=True))
