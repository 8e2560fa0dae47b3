"""The deletion guard at its limits: a run stops for a person to confirm when it would
delete (or finds missing in Outlook) more than half of the synchronized contacts and
more than 10, or finds the folder emptied; a confirmation covers exactly the plan it
showed. README, "What a sync guarantees": Nothing lost."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncRun
from exchange_sync.sync.guard import PLAN_SHOWN, NeedsConfirmation, deletions_guard
from tests.factories import make_person, make_user

pytestmark = pytest.mark.django_db

MISSING, LEAVING = SyncRun.PlannedReason.MISSING, SyncRun.PlannedReason.LEAVING


@pytest.fixture
def setup():
    user = make_user("ann", mailbox="ann@cronus.example")
    return ExchangeSyncSetup.objects.create(user=user, folder_name="Company contacts")


def _linked(setup: ExchangeSyncSetup, count: int) -> list[ContactLink]:
    """`count` contacts synchronized to Outlook, in primary key order."""
    links = []
    for _ in range(count):
        contact = make_person()
        links.append(
            ContactLink.objects.create(
                setup=setup,
                contact=contact,
                contact_no=contact.no,
                graph_id=f"id-{contact.no}",
                state=ContactLink.State.LINKED,
            )
        )
    return links


def _ids(links: list[ContactLink]) -> list[int]:
    return [link.pk for link in links]


def _leaving(links: list[ContactLink]):
    return ContactLink.objects.filter(pk__in=_ids(links))


def _guard(setup, *, missing=(), leaving=(), confirms=None) -> None:
    deletions_guard(setup, missing_link_ids=_ids(missing), leaving=_leaving(leaving), confirms=confirms)


def _plan(setup, reason: str, links: list[ContactLink], *, count: int | None = None) -> SyncRun:
    """A run that showed `links` (and counted `count`) and was confirmed."""
    return SyncRun.objects.create(
        setup=setup,
        kind=SyncRun.Kind.INCREMENTAL,
        trigger=SyncRun.Trigger.BUTTON,
        status=SyncRun.Status.NEEDS_CONFIRMATION,
        planned_reason=reason,
        planned_count=len(links) if count is None else count,
        planned_deletions=[{"no": link.contact_no, "name": "x"} for link in links],
    )


@pytest.mark.parametrize(
    ("linked", "gone", "stops"),
    [
        (21, 11, True),  # more than half, and 11
        (19, 10, False),  # more than half, but only 10
        (22, 11, False),  # 11, but exactly half
        (22, 12, True),
        (2, 2, True),  # the folder emptied: however few
        (1, 1, False),  # one contact gone is not a folder emptied
        (3, 2, False),
    ],
)
def test_it_stops_for_contacts_missing_in_outlook_only_past_both_limits(setup, linked, gone, stops):
    links = _linked(setup, linked)
    if stops:
        with pytest.raises(NeedsConfirmation) as raised:
            _guard(setup, missing=links[:gone])
        assert (raised.value.reason, raised.value.count) == (MISSING, gone)
    else:
        _guard(setup, missing=links[:gone])


@pytest.mark.parametrize(
    ("linked", "gone", "stops"),
    [(21, 11, True), (19, 10, False), (22, 11, False), (22, 12, True), (2, 2, False)],
)
def test_it_stops_before_deleting_from_outlook_only_past_both_limits(setup, linked, gone, stops):
    links = _linked(setup, linked)
    if stops:
        with pytest.raises(NeedsConfirmation) as raised:
            _guard(setup, leaving=links[:gone])
        assert (raised.value.reason, raised.value.count) == (LEAVING, gone)
    else:
        _guard(setup, leaving=links[:gone])


def test_only_contacts_linked_to_an_outlook_copy_count_as_synchronized(setup):
    links = _linked(setup, 21)
    # Neither a create not yet confirmed nor a contact no longer synced has a copy to lose.
    for contact in (make_person(), make_person()):
        ContactLink.objects.create(setup=setup, contact=contact, contact_no=contact.no)
    for link in _linked(setup, 20):
        ContactLink.objects.filter(pk=link.pk).update(state=ContactLink.State.STOPPED)
    # Nor one whose copy Outlook lost and whose create again failed (linked, no copy).
    for link in _linked(setup, 20):
        ContactLink.objects.filter(pk=link.pk).update(graph_id=None)
    with pytest.raises(NeedsConfirmation):
        _guard(setup, missing=links[:11])
    with pytest.raises(NeedsConfirmation):
        _guard(setup, leaving=links[:11])


def test_the_plan_names_each_contact_and_says_how_many_of_how_many(setup):
    links = _linked(setup, 12)
    with pytest.raises(NeedsConfirmation) as missing:
        _guard(setup, missing=links)
    assert str(missing.value) == (
        "12 of the 12 synchronized contacts are missing from the Outlook folder 'Company contacts' (emptied?). "
        "Confirm to handle them as deleted in Outlook."
    )
    assert missing.value.planned == [{"no": link.contact.no, "name": link.contact.name} for link in links]
    with pytest.raises(NeedsConfirmation) as leaving:
        _guard(setup, leaving=list(reversed(links)))
    assert str(leaving.value) == (
        "This sync would delete 12 of the 12 synchronized contacts from Outlook (deleted in Business Central "
        "or no longer matching the filter). Confirm to delete them."
    )
    assert leaving.value.planned == missing.value.planned  # in contact link order either way


def test_a_contact_deleted_in_business_central_is_named_as_deleted_in_the_plan(setup):
    links = _linked(setup, 12)
    links[0].contact.delete()
    with pytest.raises(NeedsConfirmation) as raised:
        _guard(setup, leaving=links)
    assert raised.value.planned[0] == {"no": links[0].contact_no, "name": "(deleted contact)"}


def test_a_plan_of_any_length_is_described_in_the_same_number_of_queries(setup):
    counted = []
    for more in (12, 30):
        _linked(setup, more)
        links = list(setup.links.all())
        with CaptureQueriesContext(connection) as queries, pytest.raises(NeedsConfirmation):
            _guard(setup, missing=links)
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_a_plan_lists_the_first_thousand_contacts_and_counts_them_all(setup):
    contacts = [make_person() for _ in range(PLAN_SHOWN + 1)]
    ContactLink.objects.bulk_create(
        ContactLink(setup=setup, contact=c, contact_no=c.no, graph_id=f"id-{c.no}", state=ContactLink.State.LINKED)
        for c in contacts
    )
    links = list(setup.links.order_by("pk"))
    for gone in ({"missing": links}, {"leaving": links}):
        with pytest.raises(NeedsConfirmation) as raised:
            _guard(setup, **gone)
        assert raised.value.count == PLAN_SHOWN + 1
        assert [row["no"] for row in raised.value.planned] == [link.contact_no for link in links[:PLAN_SHOWN]]


def test_a_confirmation_covers_the_plan_it_showed(setup):
    links = _linked(setup, 12)
    _guard(setup, missing=links, confirms=_plan(setup, MISSING, links))
    _guard(setup, leaving=links, confirms=_plan(setup, LEAVING, links))
    _guard(setup, missing=links[:11], confirms=_plan(setup, MISSING, links))  # fewer than shown


def test_a_confirmation_of_one_guard_never_covers_the_other(setup):
    links = _linked(setup, 12)
    with pytest.raises(NeedsConfirmation):
        _guard(setup, leaving=links, confirms=_plan(setup, MISSING, links))
    with pytest.raises(NeedsConfirmation):
        _guard(setup, missing=links, confirms=_plan(setup, LEAVING, links))


def test_a_confirmation_never_covers_more_contacts_than_it_counted(setup):
    links = _linked(setup, 13)
    with pytest.raises(NeedsConfirmation):
        _guard(setup, missing=links, confirms=_plan(setup, MISSING, links[:12]))


def test_a_confirmation_never_covers_contacts_it_did_not_list(setup):
    links = _linked(setup, 25)
    # As many as it showed, but others.
    with pytest.raises(NeedsConfirmation):
        _guard(setup, missing=links[12:], confirms=_plan(setup, MISSING, links[:13]))


def test_a_confirmation_too_long_to_list_whole_is_held_to_its_count(setup):
    links = _linked(setup, 14)
    # It listed 12 of the 13 it counted: any 13 (or fewer) are covered, no more.
    plan = _plan(setup, MISSING, links[:12], count=13)
    _guard(setup, missing=links[1:], confirms=plan)
    with pytest.raises(NeedsConfirmation):
        _guard(setup, missing=links, confirms=plan)
