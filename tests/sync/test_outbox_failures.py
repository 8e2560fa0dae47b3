"""A write Outlook refuses, or whose answer cannot be stored, is listed on the run with
its contact and what to expect, counted as failed, and kept on the contact's link for
the next run; the other writes of the batch go through. README, "What a sync
guarantees": Never silent, and One bad contact never stops a run.

Outlook's answers are given directly (a stand-in client), so each reason is reached."""

from __future__ import annotations

import pytest

from exchange_sync.graph.batch import BatchResponse
from exchange_sync.mapping import contact_values
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue
from exchange_sync.outbox import MAX_CREATE_ATTEMPTS, Op, Outbox
from exchange_sync.sync.engine import COUNTERS
from tests.factories import make_person, make_user
from tests.sync.graph_standin import StandInGraph

pytestmark = pytest.mark.django_db


def _error(status: int, code: str, message: str) -> BatchResponse:
    return BatchResponse(id="", status=status, body={"error": {"code": code, "message": message}})


@pytest.fixture
def setup():
    return ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox="ann@cronus.example"))


def _link(setup, *, graph_id: str | None = "AAMk-1", failure_count: int = 0) -> ContactLink:
    contact = make_person()
    return ContactLink.objects.create(
        setup=setup,
        contact=contact,
        contact_no=contact.no,
        graph_id=graph_id,
        state=ContactLink.State.LINKED if graph_id else ContactLink.State.PENDING_CREATE,
        failure_count=failure_count,
    )


def _send(client: StandInGraph, *ops: Op) -> tuple[dict[str, int], list[SyncIssue]]:
    counts, issues = dict.fromkeys(COUNTERS, 0), []
    outbox = Outbox(client, "ann@cronus.example", "folder-1", counts=counts, issues=issues, on_flushed=lambda: None)
    for op in ops:
        outbox.add(op)
    outbox.flush()
    return counts, issues


def _update(link: ContactLink) -> Op:
    values = contact_values(link.contact)
    # Outlook holds what was written last: no list to read before writing.
    return Op("update", link, values, counter="updated_in_outlook", base=dict(values), lists=None)


def test_a_refused_update_is_listed_with_outlooks_words_and_counted_on_its_link(setup):
    refused, fine = _link(setup, failure_count=1), _link(setup, graph_id="AAMk-2")
    client = StandInGraph.in_order(
        _error(400, "ErrorInvalidRequest", "bad phone"), BatchResponse(id="", status=200, body={})
    )
    counts, issues = _send(client, _update(refused), _update(fine))
    assert (counts["failed"], counts["updated_in_outlook"]) == (1, 1)
    (issue,) = issues
    reason = "Outlook refused the update: 400 ErrorInvalidRequest: bad phone"
    assert (issue.kind, issue.direction, issue.contact_id, issue.contact_no, issue.reason) == (
        SyncIssue.Kind.FAILED,
        SyncIssue.Direction.TO_OUTLOOK,
        refused.contact_id,
        refused.contact_no,
        reason,
    )
    refused.refresh_from_db()
    assert (refused.failure_count, refused.last_error) == (2, reason)  # tried again next run


def test_an_update_that_met_a_change_in_outlook_says_it_is_compared_again(setup):
    link = _link(setup)
    counts, issues = _send(StandInGraph.in_order(_error(412, "ErrorIrresolvableConflict", "changed")), _update(link))
    assert counts["failed"] == 1
    assert issues[0].reason == "Changed in Outlook while synchronizing; it will be compared again on the next sync."


def test_a_create_outlook_never_confirmed_says_it_is_looked_up_before_another_create(setup):
    link = _link(setup, graph_id=None)
    op = Op("create", link, contact_values(link.contact), counter="created_in_outlook", attempt=MAX_CREATE_ATTEMPTS)
    counts, issues = _send(StandInGraph.in_order(_error(503, "ServiceUnavailable", "busy")), op)
    assert counts["failed"] == 1
    assert issues[0].reason == (
        "Outlook did not confirm the create (503 ServiceUnavailable: busy); the sync finds it by its contact "
        "number before creating it again."
    )
    link.refresh_from_db()
    assert (link.graph_id, link.failure_count) == (None, 1)


def test_an_update_outlook_could_not_carry_out_is_refused_not_looked_up(setup):
    link = _link(setup)
    counts, issues = _send(StandInGraph.in_order(_error(503, "ServiceUnavailable", "busy")), _update(link))
    assert issues[0].reason == "Outlook refused the update: 503 ServiceUnavailable: busy"


def test_an_answer_that_cannot_be_stored_fails_that_contact_only(setup):
    taken = _link(setup, graph_id="AAMk-taken")
    new, other = _link(setup, graph_id=None), _link(setup, graph_id=None)
    # Outlook answers the first create with an id another link already holds.
    client = StandInGraph.in_order(
        BatchResponse(id="", status=201, body={"id": "AAMk-taken", "changeKey": "ck"}),
        BatchResponse(id="", status=201, body={"id": "AAMk-new", "changeKey": "ck"}),
    )
    ops = [Op("create", link, contact_values(link.contact), counter="created_in_outlook") for link in (new, other)]
    counts, issues = _send(client, *ops)
    assert (counts["failed"], counts["created_in_outlook"]) == (1, 2)
    (issue,) = issues
    assert (issue.kind, issue.direction, issue.contact_id, issue.contact_no) == (
        SyncIssue.Kind.FAILED,
        SyncIssue.Direction.TO_OUTLOOK,
        new.contact_id,
        new.contact_no,
    )
    assert issue.reason.startswith("Outlook's answer could not be recorded (")
    assert "unique" in issue.reason.lower()
    new.refresh_from_db()
    other.refresh_from_db()
    taken.refresh_from_db()
    assert (new.graph_id, other.graph_id, taken.graph_id) == (None, "AAMk-new", "AAMk-taken")


def test_each_refused_write_of_a_batch_is_counted(setup):
    links = [_link(setup, graph_id=f"AAMk-{n}") for n in range(3)]
    client = StandInGraph.in_order(*[_error(400, "ErrorInvalidRequest", "bad") for _ in links])
    counts, issues = _send(client, *[_update(link) for link in links])
    assert (counts["failed"], len(issues)) == (3, 3)
    assert [issue.contact_id for issue in issues] == [link.contact_id for link in links]


def test_each_answer_that_cannot_be_stored_is_counted(setup):
    taken = [_link(setup, graph_id=f"AAMk-taken-{n}") for n in range(2)]
    new = [_link(setup, graph_id=None) for _ in taken]
    client = StandInGraph.in_order(*[BatchResponse(id="", status=201, body={"id": link.graph_id}) for link in taken])
    counts, issues = _send(client, *[Op("create", link, contact_values(link.contact)) for link in new])
    assert (counts["failed"], [issue.contact_id for issue in issues]) == (2, [link.contact_id for link in new])
