"""The run page (live progress, counts, issues, confirmation) and the read-only lists of
sync runs and sync issues, each user seeing only their own."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from exchange_sync.models import SyncIssue, SyncRun
from tests.admin.conftest import grant_view
from tests.factories import make_person, make_user

pytestmark = pytest.mark.django_db
RUNS = reverse("admin:exchange_sync_syncrun_changelist")
ISSUES = reverse("admin:exchange_sync_syncissue_changelist")


def run_page(run: SyncRun) -> str:
    return reverse("admin:exchange_sync_syncrun_change", args=[run.pk])


def make_run(setup, **fields) -> SyncRun:
    fields.setdefault("kind", SyncRun.Kind.INCREMENTAL)
    fields.setdefault("trigger", SyncRun.Trigger.BUTTON)
    return SyncRun.objects.create(setup=setup, **fields)


def finished_run(setup, **fields) -> SyncRun:
    now = timezone.now()
    fields.setdefault("status", SyncRun.Status.PARTIAL)
    return make_run(setup, started_at=now, finished_at=now, **fields)


def test_a_running_run_shows_its_progress_and_polls_for_more(as_user, ann, ann_setup):
    run = make_run(ann_setup, status=SyncRun.Status.RUNNING, progress_done=40, progress_total=120)
    page = as_user(ann).get(run_page(run)).content.decode()
    assert "Running" in page
    assert "40 / 120" in page
    assert 'max="120" value="40"' in page
    assert reverse("admin:exchange_sync_syncrun_progress", args=[run.pk]) in page
    assert "exchange_sync/run.js" in page


def test_the_progress_endpoint_answers_done_total_and_status(as_user, ann, ann_setup):
    run = make_run(ann_setup, status=SyncRun.Status.RUNNING, progress_done=3, progress_total=9)
    url = reverse("admin:exchange_sync_syncrun_progress", args=[run.pk])
    assert as_user(ann).get(url).json() == {
        "status": "running",
        "status_display": "Running",
        "done": 3,
        "total": 9,
        "is_finished": False,
    }


def test_a_finished_run_shows_counts_per_direction_and_every_issue(as_user, ann, ann_setup):
    contact = make_person()
    run = finished_run(
        ann_setup,
        created_in_outlook=5,
        updated_in_outlook=4,
        deleted_in_outlook=3,
        created_in_bc=2,
        linked_in_bc=1,
        updated_in_bc=6,
        failed=1,
        excluded=1,
        graph_requests=17,
        progress_done=12,
        progress_total=12,
    )
    SyncIssue.objects.create(
        run=run,
        kind=SyncIssue.Kind.FAILED,
        direction=SyncIssue.Direction.TO_OUTLOOK,
        contact=contact,
        contact_no=contact.no,
        reason="Graph refused the email address.",
    )
    SyncIssue.objects.create(
        run=run,
        kind=SyncIssue.Kind.SKIPPED,
        direction=SyncIssue.Direction.TO_BC,
        outlook_name="Nameless",
        reason="An Outlook contact without a name or email is skipped.",
    )
    page = as_user(ann).get(run_page(run)).content.decode()
    assert "Finished with issues" in page
    assert "To Outlook" in page and "To Business Central" in page
    for words in ["Created: <strong>5</strong>", "Deleted: <strong>3</strong>", "Linked: <strong>1</strong>"]:
        assert words in page
    assert "Graph requests: <strong>17</strong>" in page
    assert "Issues (2)" in page
    assert "Graph refused the email address." in page
    assert reverse("admin:contacts_contact_change", args=[contact.pk]) in page
    assert "Nameless" in page and "An Outlook contact without a name or email is skipped." in page
    assert "exchange_sync/run.js" not in page


def test_issues_are_paginated_on_the_run_page(as_user, ann, ann_setup):
    run = finished_run(ann_setup)
    SyncIssue.objects.bulk_create(
        SyncIssue(run=run, kind="excluded", direction="to_outlook", contact_no=f"CT{n:06}", reason="without email")
        for n in range(60)
    )
    page = as_user(ann).get(run_page(run)).content.decode()
    assert "Issues (60)" in page and "Page 1 of 2" in page
    assert "CT000049" in page and "CT000050" not in page
    assert "CT000050" in as_user(ann).get(run_page(run), {"page": 2}).content.decode()


def needs_confirmation(setup) -> SyncRun:
    return finished_run(
        setup,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.NEEDS_CONFIRMATION,
        error="This run would delete 8 of 10 linked Outlook contacts.",
        planned_deletions=[{"no": "CT000007", "name": "Ada Lovelace"}, {"no": "CT000008", "name": "Alan Turing"}],
    )


def test_a_run_that_needs_confirmation_lists_what_would_be_deleted_and_offers_confirm(as_user, ann, ann_setup):
    run = needs_confirmation(ann_setup)
    page = as_user(ann).get(run_page(run)).content.decode()
    assert "Needs confirmation" in page
    assert "This run would delete 8 of 10 linked Outlook contacts." in page
    assert "CT000007" in page and "Ada Lovelace" in page and "Alan Turing" in page
    assert reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk]) in page
    assert 'value="Confirm"' in page


def test_confirm_queues_the_confirmed_run_and_opens_it(as_user, ann, ann_setup):
    run = needs_confirmation(ann_setup)
    response = as_user(ann).post(reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk]))
    new = SyncRun.objects.exclude(pk=run.pk).get()
    assert (new.confirms, new.kind, new.status, new.requested_by) == (run, SyncRun.Kind.FULL, "queued", ann)
    assert response.url == run_page(new)
    assert "Confirmed." in str(list(get_messages(response.wsgi_request))[0])


def test_confirming_a_run_that_needs_no_confirmation_says_so(as_user, ann, ann_setup):
    run = finished_run(ann_setup)
    response = as_user(ann).post(reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk]))
    assert response.url == run_page(run)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Only a run that needs confirmation can be confirmed."
    ]
    assert SyncRun.objects.count() == 1


def test_staff_without_the_sync_permission_can_look_but_not_confirm(as_user, ann_setup):
    viewer = grant_view(make_user("viewer"))
    ann_setup.user = viewer
    ann_setup.save()
    run = needs_confirmation(ann_setup)
    client = as_user(viewer)
    page = client.get(run_page(run)).content.decode()
    assert "Ada Lovelace" in page and 'value="Confirm"' not in page
    assert client.post(reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk])).status_code == 403
    assert SyncRun.objects.count() == 1


def test_nobody_sees_another_users_runs_or_issues(as_user, ann, ann_setup, bob_setup):
    bobs = needs_confirmation(bob_setup)
    SyncIssue.objects.create(run=bobs, kind="failed", direction="to_outlook", contact_no="CT9", reason="Bob's secret")
    mine = finished_run(ann_setup)
    client = as_user(ann)
    assert client.get(run_page(bobs)).status_code == 404
    assert client.get(reverse("admin:exchange_sync_syncrun_progress", args=[bobs.pk])).status_code == 404
    assert client.post(reverse("admin:exchange_sync_syncrun_confirm", args=[bobs.pk])).status_code == 404
    runs = client.get(RUNS).content.decode()
    assert run_page(mine) in runs and run_page(bobs) not in runs
    assert "Bob&#x27;s secret" not in client.get(ISSUES).content.decode()
    issue = SyncIssue.objects.get()
    assert client.get(reverse("admin:exchange_sync_syncissue_change", args=[issue.pk])).status_code == 404
    assert SyncRun.objects.count() == 2


def test_a_superuser_sees_everyones_runs_and_issues(as_user, superuser, ann_setup, bob_setup):
    run = finished_run(bob_setup)
    SyncIssue.objects.create(run=run, kind="failed", direction="to_outlook", contact_no="CT9", reason="Bad email")
    client = as_user(superuser)
    assert client.get(run_page(run)).status_code == 200
    assert run_page(run) in client.get(RUNS).content.decode()
    assert "Bad email" in client.get(ISSUES).content.decode()


def test_runs_and_issues_are_read_only(as_user, superuser, ann, ann_setup):
    run = finished_run(ann_setup)
    issue = SyncIssue.objects.create(run=run, kind="failed", direction="to_outlook", reason="x")
    # Deleting a run needs its delete permission, which no role holds (they are the audit trail).
    assert as_user(ann).post(reverse("admin:exchange_sync_syncrun_delete", args=[run.pk])).status_code == 403
    client = as_user(superuser)
    assert client.get(reverse("admin:exchange_sync_syncrun_add")).status_code == 403
    assert client.get(reverse("admin:exchange_sync_syncissue_add")).status_code == 403
    page = client.get(reverse("admin:exchange_sync_syncissue_change", args=[issue.pk])).content.decode()
    assert "x" in page and 'name="_save"' not in page


def test_the_run_list_costs_the_same_queries_for_few_or_many_runs(as_user, superuser, ann_setup, bob_setup):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user(superuser)
    finished_run(ann_setup, requested_by=superuser)
    client.get(RUNS)
    with CaptureQueriesContext(connection) as few:
        client.get(RUNS)
    for _ in range(5):
        finished_run(bob_setup, requested_by=superuser)
    with CaptureQueriesContext(connection) as many:
        client.get(RUNS)
    assert len(many) == len(few)
