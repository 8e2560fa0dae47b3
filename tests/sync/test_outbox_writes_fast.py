"""The outbox's writes, with Outlook's answers given directly (a stand-in client): a
create whose answer was lost is looked up by its stamp and linked, never sent twice
("No duplicates"); a create still missing is sent again a bounded number of times; an
update of a contact whose lists are unknown reads them first, so the person's own list
entries stay ("Nothing lost"); what a write leaves on the link. README, "What a sync
guarantees". Fast, so `make mutate` reaches them; the same over the sandbox:
test_guarantees.py, test_recovery.py."""

from __future__ import annotations

import pytest

from exchange_sync.mapping import contact_values, graph_body, values_hash
from exchange_sync.models import ContactLink, ExchangeSyncSetup
from exchange_sync.outbox import FLUSH_AT, MAX_CREATE_ATTEMPTS, Op, Outbox
from exchange_sync.patch import lists_after, outlook_lists
from exchange_sync.sync.engine import COUNTERS
from tests.factories import make_person, make_user
from tests.sync.graph_standin import StandInGraph as Outlook

pytestmark = pytest.mark.django_db

MAILBOX, FOLDER = "ann@cronus.example", "folder-1"
UNAVAILABLE = {"error": {"code": "ServiceUnavailable", "message": "Try again later."}}
NOT_FOUND = {"error": {"code": "ErrorItemNotFound", "message": "The object was not found."}}


@pytest.fixture
def setup():
    return ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox=MAILBOX))


def pending(setup) -> ContactLink:
    contact = make_person()
    return ContactLink.objects.create(setup=setup, contact=contact, contact_no=contact.no)


def send(outlook: Outlook, *ops: Op, issues: list | None = None) -> dict[str, int]:
    counts = dict.fromkeys(COUNTERS, 0)
    issues = [] if issues is None else issues
    outbox = Outbox(outlook, MAILBOX, FOLDER, counts=counts, issues=issues, on_flushed=lambda: None)
    for op in ops:
        outbox.add(op)
    outbox.flush()
    return counts


def create(link: ContactLink) -> Op:
    return Op("create", link, contact_values(link.contact), counter="created_in_outlook")


# --- creates whose answer was lost -----------------------------------------------------


def test_a_create_whose_answer_was_lost_is_linked_to_the_copy_found_by_its_stamp_never_sent_twice(setup):
    found, missing = pending(setup), pending(setup)
    created = {"id": "AAMk-new", "changeKey": "ck1"}

    def answer(kind, args):
        if kind == "create":
            # The first try of each is lost (Outlook may or may not have made it).
            return (201, created) if len(outlook.rounds) > 2 else (503, UNAVAILABLE)
        stamp = args[-1]
        return 200, {"value": [{"id": "AAMk-found"}, {"id": "AAMk-later"}] if stamp == found.contact_no else []}

    outlook = Outlook(answer)
    counts = send(outlook, create(found), create(missing))

    assert outlook.kinds() == [["create", "create"], ["find", "find"], ["create"]]
    lookups = outlook.rounds[1]
    assert [request[1:] for request in lookups] == [
        ("0", MAILBOX, FOLDER, found.contact_no),
        ("1", MAILBOX, FOLDER, missing.contact_no),
    ]
    assert outlook.rounds[2][0][4] == missing.contact_no  # only the one Outlook does not have
    assert counts["created_in_outlook"] == 2
    link = ContactLink.objects.get(pk=found.pk)
    values = contact_values(found.contact)
    assert (link.graph_id, link.change_key, link.state) == ("AAMk-found", "", ContactLink.State.LINKED)
    assert link.snapshot == values
    assert link.fields_hash == values_hash(values)
    assert link.outlook_lists == lists_after(graph_body(values), None)
    assert link.synced_at is not None
    assert ContactLink.objects.get(pk=missing.pk).graph_id == "AAMk-new"


def test_a_lookup_outlook_does_not_answer_sends_the_create_again(setup):
    link = pending(setup)

    def answer(kind, args):
        if kind == "find":
            return 503, UNAVAILABLE
        return (201, {"id": "AAMk-new", "changeKey": "ck1"}) if len(outlook.rounds) > 2 else (503, UNAVAILABLE)

    outlook = Outlook(answer)
    counts = send(outlook, create(link))

    assert outlook.kinds() == [["create"], ["find"], ["create"]]
    assert counts["created_in_outlook"] == 1
    assert ContactLink.objects.get(pk=link.pk).graph_id == "AAMk-new"


def test_a_create_outlook_never_confirms_is_tried_a_bounded_number_of_times_then_fails(setup):
    link = pending(setup)
    outlook = Outlook(lambda kind, args: (503, UNAVAILABLE) if kind == "create" else (200, {"value": []}))

    counts = send(outlook, create(link))

    assert [kinds for kinds in outlook.kinds() if kinds == ["create"]] == [["create"]] * MAX_CREATE_ATTEMPTS
    assert outlook.kinds().count(["find"]) == MAX_CREATE_ATTEMPTS - 1
    assert (counts["created_in_outlook"], counts["failed"]) == (0, 1)
    link.refresh_from_db()
    assert (link.graph_id, link.failure_count) == (None, 1)


def test_a_copy_found_by_its_stamp_that_cannot_be_recorded_fails_that_contact_only(setup):
    """Outlook names an id another link holds (the database refuses a second): that
    contact is counted failed and named; the run goes on."""
    holder = pending(setup)
    ContactLink.objects.filter(pk=holder.pk).update(graph_id="AAMk-taken", state=ContactLink.State.LINKED)
    link = pending(setup)

    def answer(kind, args):
        return (503, UNAVAILABLE) if kind == "create" else (200, {"value": [{"id": "AAMk-taken"}]})

    counts = send(Outlook(answer), create(link))

    assert (counts["failed"], counts["created_in_outlook"]) == (1, 1)
    assert ContactLink.objects.get(pk=link.pk).graph_id is None


# --- what a write leaves on the link -----------------------------------------------------


def test_a_confirmed_create_records_outlooks_id_change_key_and_lists(setup):
    link = pending(setup)
    values = contact_values(link.contact)
    answered = {**graph_body(values), "id": "AAMk-new", "changeKey": "ck1", "categories": ["Business Central", "VIP"]}
    outlook = Outlook(lambda kind, args: (201, answered))

    send(outlook, create(link))

    link.refresh_from_db()
    assert (link.graph_id, link.change_key, link.state) == ("AAMk-new", "ck1", ContactLink.State.LINKED)
    assert (link.snapshot, link.fields_hash) == (values, values_hash(values))
    assert link.outlook_lists == outlook_lists(answered)  # Outlook's answer, whole
    assert (link.failure_count, link.last_error) == (0, "")
    assert link.synced_at is not None


def test_an_answer_without_the_contact_leaves_what_was_sent_as_outlooks_lists(setup):
    link = pending(setup)
    ContactLink.objects.filter(pk=link.pk).update(failure_count=2, last_error="Outlook refused the create")
    link.refresh_from_db()
    outlook = Outlook(lambda kind, args: (201, {"id": "AAMk-new"}))

    send(outlook, create(link))

    link.refresh_from_db()
    assert (link.graph_id, link.change_key) == ("AAMk-new", "")
    assert link.outlook_lists == lists_after(graph_body(contact_values(link.contact)), None)
    assert (link.failure_count, link.last_error) == (0, "")


def test_a_confirmed_delete_removes_the_link(setup):
    contact = make_person()
    link = ContactLink.objects.create(
        setup=setup, contact=contact, contact_no=contact.no, graph_id="AAMk-1", state=ContactLink.State.LINKED
    )
    outlook = Outlook(lambda kind, args: (204, None))

    counts = send(outlook, Op("delete", link, counter="deleted_in_outlook"))

    assert outlook.rounds[0][0][1:] == ("0", MAILBOX, FOLDER, "AAMk-1")
    assert not ContactLink.objects.filter(pk=link.pk).exists()
    assert counts["deleted_in_outlook"] == 1


def test_a_delete_of_a_contact_already_gone_from_outlook_counts_as_done(setup):
    contact = make_person()
    link = ContactLink.objects.create(
        setup=setup, contact=contact, contact_no=contact.no, graph_id="AAMk-1", state=ContactLink.State.LINKED
    )

    counts = send(Outlook(lambda kind, args: (404, NOT_FOUND)), Op("delete", link, counter="deleted_in_outlook"))

    assert not ContactLink.objects.filter(pk=link.pk).exists()
    assert (counts["deleted_in_outlook"], counts["failed"]) == (1, 0)


# --- updates of contacts whose lists are unknown -------------------------------------------


def linked_without_lists(setup, **fields) -> ContactLink:
    contact = make_person(**fields)
    return ContactLink.objects.create(
        setup=setup,
        contact=contact,
        contact_no=contact.no,
        graph_id="AAMk-1",
        change_key="ck1",
        state=ContactLink.State.LINKED,
        snapshot=contact_values(contact),
        fields_hash=values_hash(contact_values(contact)),
    )


def email_update(link: ContactLink, email: str) -> Op:
    values = {**contact_values(link.contact), "email": email}
    return Op("update", link, values, counter="updated_in_outlook", base=contact_values(link.contact))


def test_an_email_update_of_a_contact_whose_lists_are_unknown_reads_them_first_and_keeps_the_persons_own(setup):
    link = linked_without_lists(setup, email="ann@cronus.example")
    theirs = {"address": "ann@home.example", "name": "Home"}
    held = {"emailAddresses": [{"address": "ann@cronus.example", "name": "Ann"}, {}, theirs], "businessPhones": []}

    def answer(kind, args):
        return (200, {"id": "AAMk-1", "changeKey": "ck1", **held, "categories": []}) if kind == "get" else (200, {})

    outlook = Outlook(answer)
    send(outlook, email_update(link, "ann.lee@cronus.example"))

    assert outlook.kinds() == [["get"], ["update"]]
    assert outlook.rounds[0][0][1:] == ("0", MAILBOX, FOLDER, "AAMk-1")
    sent = outlook.rounds[1][0][-1]
    assert sent["emailAddresses"][0]["address"] == "ann.lee@cronus.example"
    assert theirs in sent["emailAddresses"]


def test_an_update_whose_lists_could_not_be_read_is_not_sent_and_is_tried_again_next_run(setup):
    link = linked_without_lists(setup, email="ann@cronus.example")
    outlook = Outlook(lambda kind, args: (503, UNAVAILABLE))
    issues = []

    counts = send(outlook, email_update(link, "ann.lee@cronus.example"), issues=issues)

    assert outlook.kinds() == [["get"]]
    assert counts["failed"] == 1
    (issue,) = issues
    assert "Try again later." in issue.reason  # Outlook's own words
    assert ContactLink.objects.get(pk=link.pk).failure_count == 1


def test_an_update_of_a_contact_gone_from_outlook_is_sent_and_creates_it_again(setup):
    link = linked_without_lists(setup, email="ann@cronus.example")
    outlook = Outlook(lambda kind, args: (404, NOT_FOUND) if kind != "create" else (201, {"id": "AAMk-2"}))

    send(outlook, email_update(link, "ann.lee@cronus.example"))

    assert outlook.kinds() == [["get"], ["update"], ["create"]]
    assert ContactLink.objects.get(pk=link.pk).graph_id == "AAMk-2"


def test_a_contact_gone_from_outlook_that_cannot_be_created_again_keeps_no_outlook_id(setup):
    link = linked_without_lists(setup, email="ann@cronus.example")
    refused = {"error": {"code": "ErrorInvalidRequest", "message": "Refused."}}
    outlook = Outlook(lambda kind, args: (404, NOT_FOUND) if kind != "create" else (400, refused))

    counts = send(outlook, email_update(link, "ann.lee@cronus.example"))

    link.refresh_from_db()
    assert (link.graph_id, link.change_key, counts["failed"]) == (None, "", 1)


def test_a_contact_created_again_counts_as_created(setup):
    link = linked_without_lists(setup, job_title="Buyer")
    values = {**contact_values(link.contact), "job_title": "Head buyer"}
    outlook = Outlook(lambda kind, args: (404, NOT_FOUND) if kind == "update" else (201, {"id": "AAMk-2"}))

    counts = send(outlook, Op("update", link, values, counter="updated_in_outlook", base=link.snapshot))

    assert (counts["created_in_outlook"], counts["updated_in_outlook"]) == (1, 0)


def linked(setup, *, own_emails: list[dict] = (), **fields) -> ContactLink:
    """A contact whose lists are known: Outlook holds what bcsync wrote, plus the
    person's own email entries after it."""
    link = linked_without_lists(setup, **fields)
    lists = lists_after(graph_body(link.snapshot), None)
    lists["emailAddresses"] += list(own_emails)
    link.outlook_lists = lists
    link.save(update_fields=["outlook_lists"])
    return link


def update_of(link: ContactLink, **changes) -> Op:
    values = {**link.snapshot, **changes}
    return Op(
        "update",
        link,
        values,
        if_match='W/"ck1"',
        counter="updated_in_outlook",
        base=link.snapshot,
        lists=link.outlook_lists,
    )


def sent_update(setup, op: Op) -> tuple:
    outlook = Outlook(lambda kind, args: (200, {}))
    send(outlook, op)
    assert outlook.kinds() == [["update"]]  # Outlook's lists known: nothing read first
    return outlook.rounds[0][0]


def test_an_update_carries_the_stamp_its_condition_and_only_what_changed_keeping_the_persons_own_email(setup):
    theirs = {"address": "ann@home.example", "name": "Home"}
    link = linked(setup, email="ann@cronus.example", job_title="Buyer", own_emails=[theirs])

    kind, _, mailbox, folder, graph_id, stamp, if_match, body = sent_update(
        setup, update_of(link, email="ann.lee@cronus.example")
    )

    assert (mailbox, folder, graph_id, stamp, if_match) == (MAILBOX, FOLDER, "AAMk-1", link.contact_no, 'W/"ck1"')
    assert [entry["address"] for entry in body["emailAddresses"]] == ["ann.lee@cronus.example", "ann@home.example"]
    assert "jobTitle" not in body


def test_an_update_clearing_the_second_email_bcsync_wrote_takes_it_out_of_outlook(setup):
    link = linked(setup, email="ann@cronus.example", email_2="ann.lee@cronus.example")

    body = sent_update(setup, update_of(link, email_2=""))[-1]

    assert [entry["address"] for entry in body["emailAddresses"]] == ["ann@cronus.example"]


def test_after_a_write_never_confirmed_no_email_in_outlook_is_taken_for_bcsyncs(setup):
    """Without a confirmed write (no hash), what bcsync meant to write tells nothing:
    an entry equal to it may be the person's own, and stays."""
    link = linked(setup, email="ann@cronus.example", email_2="ann@home.example")
    ContactLink.objects.filter(pk=link.pk).update(fields_hash="")
    link.refresh_from_db()

    body = sent_update(setup, update_of(link, email_2=""))[-1]

    assert "ann@home.example" in [entry["address"] for entry in body.get("emailAddresses", [])] or (
        "emailAddresses" not in body
    )


def test_an_update_that_changes_no_list_slot_needs_no_read(setup):
    link = linked_without_lists(setup, job_title="Buyer")
    values = {**contact_values(link.contact), "job_title": "Head buyer"}
    outlook = Outlook(lambda kind, args: (200, {}))

    send(outlook, Op("update", link, values, base=contact_values(link.contact)))

    assert outlook.kinds() == [["update"]]


# --- batching -------------------------------------------------------------------------


def test_writes_go_out_in_batches_of_flush_at(setup):
    # Deletes of second Outlook copies: links never saved, so nothing to record.
    ops = [Op("delete", ContactLink(setup=setup, graph_id=f"AAMk-{n}")) for n in range(FLUSH_AT + 1)]
    outlook = Outlook(lambda kind, args: (204, None))
    outbox = Outbox(outlook, MAILBOX, FOLDER, counts=dict.fromkeys(COUNTERS, 0), issues=[], on_flushed=lambda: None)

    for op in ops[:FLUSH_AT]:
        outbox.add(op)
    assert [len(round_) for round_ in outlook.rounds] == [FLUSH_AT]
    outbox.add(ops[-1])
    outbox.flush()

    assert [len(round_) for round_ in outlook.rounds] == [FLUSH_AT, 1]
    assert outbox.sent == FLUSH_AT + 1


def test_an_update_answered_without_the_contact_records_outlooks_lists_as_the_write_left_them(setup):
    theirs = {"address": "ann@home.example", "name": "Home"}
    link = linked(setup, email="ann@cronus.example", own_emails=[theirs])
    outlook = Outlook(lambda kind, args: (200, {"id": "AAMk-1", "changeKey": "ck2"}))

    send(outlook, update_of(link, email="ann.lee@cronus.example"))

    link.refresh_from_db()
    assert [entry["address"] for entry in link.outlook_lists["emailAddresses"]] == [
        "ann.lee@cronus.example",
        "ann@home.example",
    ]
    assert link.change_key == "ck2"
