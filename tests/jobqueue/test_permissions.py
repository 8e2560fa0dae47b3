"""Who sees and runs what in the job queue: a user sees only their own entries and log
entries, runs entries only as themselves, and Codeunit 6700 run as anyone but a
superuser synchronizes only that user's own setup, and only with the sync permission."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.factories import make_user
from tests.jobqueue.conftest import JOB_QUEUE_CLERK_PERMISSIONS, grant

pytestmark = pytest.mark.django_db
ENTRIES = reverse("admin:jobqueue_jobqueueentry_changelist")
LOGS = reverse("admin:jobqueue_jobqueuelogentry_changelist")
ADD = reverse("admin:jobqueue_jobqueueentry_add")
Status = JobQueueEntry.Status


def with_setup(user, *, enabled: bool = True):
    ExchangeSyncSetup.objects.create(user=user, is_enabled=enabled)
    return user


@pytest.fixture
def clerk():
    """Staff who may manage job queue entries and start synchronizations."""
    user = make_user("clerk", mailbox="clerk@cronus.example")
    return with_setup(grant(user, *JOB_QUEUE_CLERK_PERMISSIONS, "run_contact_sync"))


@pytest.fixture
def bob():
    return with_setup(grant(make_user("bob", mailbox="bob@cronus.example"), "run_contact_sync"))


@pytest.fixture
def clerk_client(admin_client_for, clerk):
    return admin_client_for(clerk)


def sync_entry(user, parameter_string: str = "") -> JobQueueEntry:
    return JobQueueEntry.objects.create(
        user=user, object_id_to_run=6700, parameter_string=parameter_string, rerun_delay_seconds=0
    )


def log_of(user, entry_id: int = 1, message: str = "") -> JobQueueLogEntry:
    return JobQueueLogEntry.objects.create(
        entry_id=entry_id,
        user=user,
        started_at=timezone.now(),
        object_type_to_run="Codeunit",
        object_id_to_run=6700,
        message=message,
    )


def run_once(client, entry: JobQueueEntry):
    data = {"action": "run_once_foreground", "_selected_action": [entry.pk]}
    response = client.post(ENTRIES, data, follow=True)
    return [str(m) for m in get_messages(response.wsgi_request)]


def entry_form(user_id: int) -> dict:
    return {
        "object_type_to_run": "Codeunit",
        "object_id_to_run": "6700",
        "user": user_id,
        "priority": 1000,
        "maximum_attempts": 3,
        "rerun_delay_seconds": 60,
        "minutes_between_runs": 0,
    }


# --- Seeing ------------------------------------------------------------------------


def test_a_user_sees_only_their_own_entries(clerk_client, clerk, bob):
    own, others = sync_entry(clerk), sync_entry(bob)
    response = clerk_client.get(ENTRIES)
    assert list(response.context["cl"].result_list) == [own]
    assert clerk_client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[others.pk])).status_code == 302
    card_action = reverse("admin:jobqueue_jobqueueentry_card_action", args=[others.pk, "set_ready"])
    assert clerk_client.post(card_action).status_code == 404
    assert JobQueueEntry.objects.get(pk=others.pk).status == Status.ON_HOLD


def test_a_user_cannot_act_on_another_users_entry_from_the_list(clerk_client, bob):
    others = sync_entry(bob)
    clerk_client.post(ENTRIES, {"action": "set_ready", "_selected_action": [others.pk]})
    assert JobQueueEntry.objects.get(pk=others.pk).status == Status.ON_HOLD


def test_a_user_sees_only_their_own_log_entries(clerk_client, clerk, bob):
    own = log_of(clerk)
    log_of(bob, message="Queued 1 mailbox(es): bob@cronus.example (run #1).")
    response = clerk_client.get(LOGS)
    assert list(response.context["cl"].result_list) == [own]
    assert "bob@cronus.example" not in response.content.decode()


def test_a_superuser_sees_everyones_entries_and_log_entries(admin_client_for, superuser, clerk, bob):
    sync_entry(clerk), sync_entry(bob)
    log_of(clerk), log_of(bob)
    client = admin_client_for(superuser)
    assert client.get(ENTRIES).context["cl"].result_count == 2
    assert client.get(LOGS).context["cl"].result_count == 2


# --- Run as ------------------------------------------------------------------------


def test_a_user_can_only_make_entries_that_run_as_themselves(clerk_client, clerk, bob):
    form = clerk_client.get(ADD).context["adminform"].form
    assert list(form.fields["user"].queryset) == [clerk]
    response = clerk_client.post(ADD, entry_form(bob.pk))
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not JobQueueEntry.objects.exists()
    assert clerk_client.post(ADD, entry_form(clerk.pk)).status_code == 302
    assert JobQueueEntry.objects.get().user == clerk


def test_a_user_cannot_move_their_entry_to_another_user(clerk_client, clerk, bob):
    entry = sync_entry(clerk)
    clerk_client.post(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk]), entry_form(bob.pk))
    assert JobQueueEntry.objects.get(pk=entry.pk).user == clerk


def test_a_superuser_can_make_an_entry_that_runs_as_anyone(admin_client_for, superuser, bob):
    client = admin_client_for(superuser)
    assert client.post(ADD, entry_form(bob.pk)).status_code == 302
    assert JobQueueEntry.objects.get().user == bob


# --- Codeunit 6700 as a non-superuser -----------------------------------------------


def test_run_once_of_an_entry_naming_another_mailbox_is_refused_with_a_clear_log(clerk_client, clerk, bob):
    entry = sync_entry(clerk, "USER=bob@cronus.example")
    texts = run_once(clerk_client, entry)
    assert not SyncRun.objects.exists()
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert log.status == JobQueueLogEntry.Status.ERROR
    assert "clerk may synchronize only their own mailbox (clerk@cronus.example), not bob@cronus.example" in (
        log.error_message
    )
    assert any("failed: User clerk may synchronize only their own mailbox" in text for text in texts)


def test_run_once_without_a_parameter_syncs_only_the_users_own_setup(clerk_client, clerk, bob):
    entry = sync_entry(clerk)
    run_once(clerk_client, entry)
    assert [run.setup.user for run in SyncRun.objects.all()] == [clerk]
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert log.status == JobQueueLogEntry.Status.SUCCESS
    assert "bob@" not in log.message


def test_run_once_naming_the_users_own_mailbox_syncs_it(clerk_client, clerk, bob):
    run_once(clerk_client, sync_entry(clerk, "USER=Clerk@cronus.example;FULL"))
    assert [(run.setup.user, run.kind) for run in SyncRun.objects.all()] == [(clerk, SyncRun.Kind.FULL)]


def test_run_once_without_the_sync_permission_is_refused(admin_client_for, bob):
    staff = with_setup(grant(make_user("staff", mailbox="staff@cronus.example"), *JOB_QUEUE_CLERK_PERMISSIONS))
    entry = sync_entry(staff)
    texts = run_once(admin_client_for(staff), entry)
    assert not SyncRun.objects.exists()
    assert "may not start contact synchronizations" in JobQueueLogEntry.objects.get(entry_id=entry.pk).error_message
    assert any("Can start contact synchronization" in text for text in texts)


def test_a_users_own_setup_with_background_sync_off_is_a_clear_error(clerk_client, clerk):
    ExchangeSyncSetup.objects.filter(user=clerk).update(is_enabled=False)
    entry = sync_entry(clerk)
    run_once(clerk_client, entry)
    assert "no Exchange Sync. Setup with background sync enabled" in (
        JobQueueLogEntry.objects.get(entry_id=entry.pk).error_message
    )


def test_a_scheduled_run_as_a_user_without_the_sync_permission_fails_with_the_reason(q_sync, bob):
    staff = with_setup(make_user("staff", mailbox="staff@cronus.example"))
    entry = services.job_queue_entry_set_ready(
        JobQueueEntry.objects.create(user=staff, object_id_to_run=6700, maximum_attempts=1)
    )
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert entry.status == Status.ERROR
    assert "User staff may not start contact synchronizations" in entry.error_message
    assert not SyncRun.objects.exists()


# --- Codeunit 6700 as a superuser ---------------------------------------------------


def test_a_superuser_run_syncs_every_enabled_setup(admin_client_for, superuser, clerk, bob):
    with_setup(make_user("off", mailbox="off@cronus.example"), enabled=False)
    run_once(admin_client_for(superuser), sync_entry(superuser))
    assert {run.setup.user for run in SyncRun.objects.all()} == {clerk, bob}


def test_a_superuser_run_may_name_any_mailbox(admin_client_for, superuser, clerk, bob):
    run_once(admin_client_for(superuser), sync_entry(superuser, "USER=bob@cronus.example"))
    assert [run.setup.user for run in SyncRun.objects.all()] == [bob]


def test_delete_entries_older_than_7_days_deletes_only_a_users_own(admin_client_for, clerk, bob):
    old_own, old_others = log_of(clerk), log_of(bob)
    JobQueueLogEntry.objects.update(started_at=timezone.now() - timedelta(days=8))
    assert admin_client_for(clerk).post(reverse("admin:jobqueue_jobqueuelogentry_delete_older")).status_code == 302
    assert list(JobQueueLogEntry.objects.values_list("pk", flat=True)) == [old_others.pk]
    assert not JobQueueLogEntry.objects.filter(pk=old_own.pk).exists()
