"""The deletion guard at its limits: a run stops for confirmation when it would delete
(or finds deleted in Outlook) more than half of the synchronized contacts and more
than 10 of them; exactly half, or exactly 10, goes ahead. A folder emptied in Outlook
waits whatever its size (from two contacts up)."""

import pytest

from exchange_sync.models import SyncRun
from tests.factories import make_person

WAITS, GOES_AHEAD = SyncRun.Status.NEEDS_CONFIRMATION, SyncRun.Status.SUCCEEDED


@pytest.mark.parametrize(
    ("synchronized", "leaving", "expected"),
    [
        (19, 10, GOES_AHEAD),  # more than half, but only 10
        (20, 10, GOES_AHEAD),  # exactly half and exactly 10
        (21, 11, WAITS),  # more than half and more than 10: the smallest plan that waits
        (22, 11, GOES_AHEAD),  # more than 10, but exactly half
        (23, 12, WAITS),
    ],
)
def test_a_run_deleting_from_outlook_waits_only_past_both_limits(sync, outlook, setup, synchronized, leaving, expected):
    staying = [make_person(city="Lyon") for _ in range(synchronized - leaving)]
    [make_person(city="Paris") for _ in range(leaving)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    setup.contact_filter = {"city": "Lyon"}
    setup.save()

    run = sync()

    assert run.status == expected, run.error
    if expected == WAITS:
        assert run.planned_count == leaving
        assert len(outlook.contacts()) == synchronized
    else:
        assert run.deleted_in_outlook == leaving
        assert set(outlook.by_stamp()) == {p.no for p in staying}


@pytest.mark.parametrize(
    ("synchronized", "missing", "expected"),
    [
        (19, 10, GOES_AHEAD),
        (20, 10, GOES_AHEAD),
        (21, 11, WAITS),
        (22, 11, GOES_AHEAD),
        (2, 2, WAITS),  # emptied: waits however small
        (1, 1, GOES_AHEAD),  # one contact deleted in Outlook is not an emptied folder
    ],
)
def test_a_run_finding_contacts_deleted_in_outlook_waits_only_past_both_limits(
    sync, outlook, setup, synchronized, missing, expected
):
    people = [make_person() for _ in range(synchronized)]
    assert sync().status == SyncRun.Status.SUCCEEDED
    in_outlook = outlook.by_stamp()
    for person in people[:missing]:
        outlook.delete(in_outlook[person.no]["id"])

    run = sync()

    assert run.status == expected, run.error
    if expected == WAITS:
        assert (run.planned_reason, run.planned_count) == ("missing", missing)
        assert not setup.links.filter(state="stopped").exists()
    else:
        assert run.planned_count == 0
        assert run.created_in_outlook == missing  # recreated, as the setup says (the default)
        assert set(outlook.by_stamp()) == {p.no for p in people}
