"""Deleting a user with sync history: it works, the runs and their issues stay for audit
with the user shown as deleted, their Job Queue Entries go with them (they cannot run as
nobody) and their Job Queue Log Entries stay."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.services import sync_run_create
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.admin.conftest import grant_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def anns_history(ann, ann_setup):
    run = sync_run_create(ann_setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON, requested_by=ann)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())
    SyncIssue.objects.create(run=run, kind="failed", direction="to_outlook", contact_no="CT1", reason="Bad email")
    entry = JobQueueEntry.objects.create(object_id_to_run=6700, user=ann)
    JobQueueLogEntry.objects.create(
        entry_id=entry.pk, user=ann, started_at=timezone.now(), object_type_to_run="Codeunit", object_id_to_run=6700
    )
    return run


def test_a_run_remembers_its_users_name_and_mailbox(anns_history):
    assert (anns_history.user_name, anns_history.mailbox) == ("ann", "ann@cronus.example")


def test_a_superuser_deletes_a_user_with_sync_history_and_the_runs_stay(as_user, superuser, ann, anns_history):
    client = as_user(superuser)
    delete = reverse("admin:auth_user_delete", args=[ann.pk])
    confirmation = client.get(delete).content.decode()
    assert "Cannot delete" not in confirmation
    response = client.post(delete, {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(username="ann").exists()
    assert not ExchangeSyncSetup.objects.exists()
    assert not JobQueueEntry.objects.exists()  # it ran as ann; it cannot run as nobody

    run = SyncRun.objects.get(pk=anns_history.pk)
    assert run.setup is None and run.requested_by is None
    assert run.issues.get().reason == "Bad email"
    log = JobQueueLogEntry.objects.get()
    assert log.user is None

    runs = client.get(reverse("admin:exchange_sync_syncrun_changelist")).content.decode()
    assert "ann (deleted)" in runs
    page = client.get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).content.decode()
    assert "ann (deleted) (ann@cronus.example)" in page
    assert "deleted with its user; the run is kept for audit" in page
    issues = client.get(reverse("admin:exchange_sync_syncissue_changelist")).content.decode()
    assert "Bad email" in issues
    logs = client.get(reverse("admin:jobqueue_jobqueuelogentry_changelist")).content.decode()
    assert "(deleted user)" in logs


def test_a_deleted_users_runs_are_seen_by_administrators_only(as_user, ann, anns_history):
    ann.delete()
    someone = grant_sync(get_user_model().objects.create_user("someone", is_staff=True))
    runs = as_user(someone).get(reverse("admin:exchange_sync_syncrun_changelist")).content.decode()
    assert "ann (deleted)" not in runs
    page = reverse("admin:exchange_sync_syncrun_change", args=[anns_history.pk])
    assert as_user(someone).get(page).status_code == 404
