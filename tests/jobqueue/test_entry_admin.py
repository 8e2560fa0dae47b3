"""The Job Queue Entries list and card: Business Central's columns, actions and rules."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.jobqueue.objects_for_tests import FAIL, SUCCEED

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # a Wednesday

Status = JobQueueEntry.Status
CHANGELIST = reverse("admin:jobqueue_jobqueueentry_changelist")

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss_client(admin_client_for, superuser):
    return admin_client_for(superuser)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, action: str, *entries: JobQueueEntry):
    data = {"action": action, "_selected_action": [e.pk for e in entries]}
    return client.post(CHANGELIST, data, follow=True)


def test_the_list_shows_business_central_columns_without_n_plus_1(
    boss_client, make_entry, django_assert_max_num_queries
):
    for _ in range(5):
        make_entry(description="Sync", category_code="SYNC")
    with django_assert_max_num_queries(8):
        response = boss_client.get(CHANGELIST)
    content = response.content.decode()
    for label in ["Status", "Object Type to Run", "Object ID to Run", "Object Caption to Run", "User ID"]:
        assert label in content
    assert "Earliest Start Date/Time" in content and "Job Queue Category Code" in content
    assert "Test Succeed" in content


def test_the_list_query_count_does_not_grow_with_rows(boss_client, make_entry, django_assert_num_queries):
    make_entry()
    with CaptureQueriesContext(connection) as few:
        boss_client.get(CHANGELIST)
    for _ in range(5):
        make_entry()
    with django_assert_num_queries(len(few.captured_queries)):
        boss_client.get(CHANGELIST)


def test_an_unknown_object_is_a_form_error_naming_the_valid_objects(boss_client, superuser):
    data = {
        "object_type_to_run": "Codeunit",
        "object_id_to_run": "9999",
        "user": superuser.pk,
        "priority": 1000,
        "maximum_attempts": 3,
        "rerun_delay_seconds": 60,
        "minutes_between_runs": 0,
    }
    response = boss_client.post(reverse("admin:jobqueue_jobqueueentry_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["object_id_to_run"]
    assert "There is no Codeunit 9999 to run." in errors[0]
    assert "Codeunit 6700 Exchange Contact Sync." in errors[0]
    assert not JobQueueEntry.objects.exists()


def test_a_report_with_a_codeunit_number_is_unknown(make_entry):
    entry = make_entry(6700, object_type_to_run="Report")
    with pytest.raises(ValidationError, match="There is no Report 6700"):
        entry.full_clean()


def test_a_new_entry_saved_in_the_admin_starts_on_hold(boss_client, superuser):
    data = {
        "object_type_to_run": "Codeunit",
        "object_id_to_run": str(SUCCEED),
        "user": superuser.pk,
        "priority": 1000,
        "maximum_attempts": 3,
        "rerun_delay_seconds": 60,
        "minutes_between_runs": 0,
    }
    response = boss_client.post(reverse("admin:jobqueue_jobqueueentry_add"), data)
    assert response.status_code == 302
    assert JobQueueEntry.objects.get().status == Status.ON_HOLD


def test_set_status_to_ready_resets_attempts_and_error_and_computes_the_first_run(boss_client, make_entry):
    entry = make_entry()
    JobQueueEntry.objects.filter(pk=entry.pk).update(status=Status.ERROR, attempts=3, error_message="Boom")
    with time_machine.travel(NOW, tick=False):
        response = act(boss_client, "set_ready", entry)
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.error_message) == (Status.READY, 0, "")
    assert entry.earliest_start_at == NOW  # no start time or recurrence: it may run at once
    assert any(": Ready, earliest start" in m for m in messages_of(response))


def test_set_on_hold_and_restart(boss_client, make_entry):
    entry = services.job_queue_entry_set_ready(make_entry())
    act(boss_client, "set_on_hold", entry)
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.ON_HOLD
    act(boss_client, "restart", entry)
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.READY


def test_set_status_to_ready_is_refused_for_an_entry_in_process(boss_client, make_entry):
    entry = make_entry()
    JobQueueEntry.objects.filter(pk=entry.pk).update(status=Status.IN_PROCESS)
    response = act(boss_client, "set_ready", entry)
    assert any("is In Process" in m for m in messages_of(response))
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.IN_PROCESS


def test_run_once_foreground_runs_now_as_the_requesting_user_and_logs_it(boss_client, make_entry, test_objects, runner):
    entry = make_entry(user=runner, category_code="SYNC", expires_at=timezone.now() - timedelta(days=1))
    response = act(boss_client, "run_once_foreground", entry)
    assert test_objects == [("", "boss")]
    assert any("ran. Ran for boss" in m for m in messages_of(response))
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert (log.status, log.is_foreground, log.user.username) == ("Success", True, "boss")
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.ON_HOLD


def test_run_once_foreground_shows_a_failure_as_a_message_not_a_stack_trace(boss_client, make_entry):
    entry = make_entry(FAIL)
    response = act(boss_client, "run_once_foreground", entry)
    assert response.status_code == 200
    assert any("failed: Mailbox not found" in m for m in messages_of(response))
    assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == "Error"


def test_show_error_shows_the_entry_error(boss_client, make_entry):
    entry = make_entry()
    JobQueueEntry.objects.filter(pk=entry.pk).update(status=Status.ERROR, error_message="Mailbox not found")
    response = act(boss_client, "show_error", entry)
    assert any(m.endswith(": Mailbox not found") for m in messages_of(response))


def test_card_buttons_post_the_same_actions(boss_client, make_entry):
    entry = make_entry()
    card = boss_client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).content.decode()
    url = reverse("admin:jobqueue_jobqueueentry_card_action", args=[entry.pk, "set_ready"])
    assert url in card and "Run Once (Foreground)" in card
    assert boss_client.get(url).status_code == 405
    response = boss_client.post(url)
    assert response.url == reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.READY


def test_the_card_is_read_only_unless_on_hold(boss_client, make_entry):
    entry = services.job_queue_entry_set_ready(make_entry())
    card = boss_client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).content.decode()
    assert 'name="parameter_string"' not in card
    services.job_queue_entry_set_on_hold(entry)
    card = boss_client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).content.decode()
    assert 'name="parameter_string"' in card


def test_an_entry_in_process_cannot_be_deleted(boss_client, make_entry):
    running, idle = make_entry(), make_entry()
    JobQueueEntry.objects.filter(pk=running.pk).update(status=Status.IN_PROCESS)
    assert boss_client.get(reverse("admin:jobqueue_jobqueueentry_delete", args=[running.pk])).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [running.pk, idle.pk], "post": "yes"}
    boss_client.post(CHANGELIST, bulk)
    assert JobQueueEntry.objects.count() == 2
    boss_client.post(CHANGELIST, {**bulk, "_selected_action": [idle.pk]})
    assert list(JobQueueEntry.objects.values_list("pk", flat=True)) == [running.pk]
    running.refresh_from_db()
    with pytest.raises(ValidationError, match="In Process cannot be deleted"):
        running.delete()


def recurring_form(superuser, **times) -> dict:
    return {
        "object_type_to_run": "Codeunit",
        "object_id_to_run": str(SUCCEED),
        "user": superuser.pk,
        "priority": 1000,
        "maximum_attempts": 3,
        "rerun_delay_seconds": 60,
        "minutes_between_runs": 30,
        "run_on_mondays": "on",
        **times,
    }


def test_an_ending_time_of_midnight_without_a_starting_time_is_a_form_error(boss_client, superuser):
    response = boss_client.post(
        reverse("admin:jobqueue_jobqueueentry_add"), recurring_form(superuser, ending_time="00:00")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["ending_time"]
    assert "Ending Time 00:00 equals the Starting Time (empty, which means 00:00)" in errors[0]
    assert "Leave Ending Time empty to run until midnight" in errors[0]
    assert not JobQueueEntry.objects.exists()


@pytest.mark.parametrize("same", ["00:00", "08:00", "23:30"])
def test_a_window_whose_starting_and_ending_times_are_equal_is_refused(boss_client, superuser, same):
    form = recurring_form(superuser, starting_time=same, ending_time=same)
    response = boss_client.post(reverse("admin:jobqueue_jobqueueentry_add"), form)
    assert response.status_code == 200
    assert "would have no time to run in" in response.context["adminform"].form.errors["ending_time"][0]
    assert not JobQueueEntry.objects.exists()


@pytest.mark.parametrize(("starting", "ending"), [("", "08:00"), ("08:00", ""), ("22:00", "06:00"), ("", "")])
def test_a_window_with_time_in_it_is_accepted(boss_client, superuser, starting, ending):
    form = recurring_form(superuser, starting_time=starting, ending_time=ending)
    assert boss_client.post(reverse("admin:jobqueue_jobqueueentry_add"), form).status_code == 302


@pytest.mark.parametrize("field", ["earliest_start_at", "expires_at"])
def test_a_date_at_the_end_of_the_calendar_is_a_form_error_not_a_server_error(boss_client, make_entry, field):
    entry = make_entry(run_on_mondays=True, minutes_between_runs=30)
    url = reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])
    data = {
        "object_type_to_run": entry.object_type_to_run,
        "object_id_to_run": str(entry.object_id_to_run),
        "user": entry.user_id,
        "priority": 1000,
        "maximum_attempts": 3,
        "rerun_delay_seconds": 60,
        "minutes_between_runs": 30,
        "run_on_mondays": "on",
        f"{field}_0": "9999-12-31",
        f"{field}_1": "23:00:00",
    }

    response = boss_client.post(url, data)

    assert response.status_code == 200
    assert "must be before 01 December 9999" in response.content.decode()


def test_set_status_to_ready_refuses_an_earliest_start_at_the_end_of_the_calendar(boss_client, make_entry):
    entry = make_entry(run_on_mondays=True, minutes_between_runs=30)
    JobQueueEntry.objects.filter(pk=entry.pk).update(earliest_start_at=timezone.now().replace(year=9999, month=12))

    response = act(boss_client, "set_ready", entry)

    assert response.status_code == 200
    assert any("must be before 01 December 9999" in m for m in messages_of(response))
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD
