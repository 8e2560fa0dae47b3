"""The dispatcher: claims due entries, runs them as their user, logs, retries, categories."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.factories import make_user
from tests.jobqueue.objects_for_tests import FAIL

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday
Status = JobQueueEntry.Status
LogStatus = JobQueueLogEntry.Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("q_sync")]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ready(entry: JobQueueEntry) -> JobQueueEntry:
    return services.job_queue_entry_set_ready(entry)


def test_a_new_entry_starts_on_hold_and_is_not_run(make_entry, test_objects):
    entry = make_entry()
    assert entry.status == Status.ON_HOLD
    assert services.job_queue_dispatch().claimed == []
    assert test_objects == []


def test_it_runs_a_due_one_off_entry_as_its_user_logs_success_and_finishes_it(make_entry, test_objects):
    entry = ready(make_entry(parameter_string="FULL", description="Nightly"))
    report = services.job_queue_dispatch()
    assert report.claimed == [entry.pk]
    assert test_objects == [("FULL", "runner")]
    entry.refresh_from_db()
    assert entry.status == Status.FINISHED
    assert entry.claim_token is None
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert (log.status, log.message, log.user, log.description) == (
        LogStatus.SUCCESS,
        "Ran for runner",
        entry.user,
        "Nightly",
    )
    assert log.started_at == log.ended_at == NOW
    assert log.object_caption_to_run == "Test Succeed"


def test_it_does_not_run_an_entry_before_its_earliest_start(make_entry, test_objects, frozen_clock):
    entry = ready(make_entry(earliest_start_at=NOW + timedelta(minutes=10)))
    services.job_queue_dispatch()
    assert test_objects == []
    frozen_clock.move_to(NOW + timedelta(minutes=10))
    services.job_queue_dispatch()
    assert test_objects == [("", "runner")]
    entry.refresh_from_db()
    assert entry.status == Status.FINISHED


def test_a_recurring_entry_gets_its_next_run_and_returns_to_ready(make_entry, copenhagen):
    entry = ready(make_entry(run_on_tuesdays=True, minutes_between_runs=30))
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert entry.earliest_start_at == NOW + timedelta(minutes=30)
    assert entry.attempts == 0


def test_a_recurring_entry_moves_its_next_run_into_the_window_in_local_time(make_entry, copenhagen):
    # 09:00 UTC is 10:00 in Copenhagen; the window closes at 10:15, so next run is Wednesday 08:00 local.
    entry = ready(
        make_entry(
            run_on_tuesdays=True,
            run_on_wednesdays=True,
            starting_time=time(8),
            ending_time=time(10, 15),
            minutes_between_runs=30,
        )
    )
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert timezone.localtime(entry.earliest_start_at).strftime("%a %H:%M") == "Wed 08:00"


def test_a_failure_logs_the_error_and_retries_after_the_rerun_delay(make_entry, test_objects, frozen_clock):
    entry = ready(make_entry(FAIL, maximum_attempts=2, rerun_delay_seconds=120))
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.error_message) == (Status.READY, 1, "Mailbox not found")
    assert entry.earliest_start_at == NOW + timedelta(seconds=120)
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert (log.status, log.error_message) == (LogStatus.ERROR, "Mailbox not found")

    frozen_clock.move_to(NOW + timedelta(seconds=60))
    services.job_queue_dispatch()
    assert len(test_objects) == 1

    frozen_clock.move_to(NOW + timedelta(seconds=120))
    services.job_queue_dispatch()
    assert len(test_objects) == 2
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.error_message) == (Status.ERROR, 2, "Mailbox not found")
    assert JobQueueLogEntry.objects.filter(entry_id=entry.pk, status=LogStatus.ERROR).count() == 2


def test_an_unknown_object_at_run_time_is_an_error_not_a_crash(make_entry):
    entry = ready(make_entry(maximum_attempts=1))
    JobQueueEntry.objects.filter(pk=entry.pk).update(object_id_to_run=99999)
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert entry.status == Status.ERROR
    assert "Codeunit 99999 cannot be run" in entry.error_message


def test_entries_of_one_category_run_one_at_a_time_the_others_wait(make_entry, monkeypatch):
    first = ready(make_entry(category_code="SYNC"))
    second = ready(make_entry(category_code="SYNC"))
    other = ready(make_entry(category_code="OTHER"))
    queued = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: queued.append(args[0]))

    report = services.job_queue_dispatch()

    assert report.claimed == [first.pk, other.pk]
    assert queued == [first.pk, other.pk]
    assert JobQueueEntry.objects.get(pk=second.pk).status == Status.WAITING
    assert services.job_queue_dispatch().claimed == []  # still busy

    JobQueueEntry.objects.filter(pk=first.pk).update(status=Status.FINISHED)
    assert services.job_queue_dispatch().claimed == [second.pk]


def test_the_database_refuses_a_second_entry_of_a_category_in_process(make_entry):
    first = ready(make_entry(category_code="SYNC"))
    second = ready(make_entry(category_code="SYNC"))
    assert services._claim(first.pk, NOW) is not None
    # A concurrent dispatcher that did not see the first claim still cannot win.
    assert services._claim(second.pk, NOW) is None
    assert JobQueueEntry.objects.get(pk=second.pk).status == Status.READY


def test_higher_priority_runs_first_then_entry_number(make_entry, test_objects):
    normal = ready(make_entry(parameter_string="normal"))
    high = ready(make_entry(parameter_string="high", priority=JobQueueEntry.Priority.HIGH))
    later_normal = ready(make_entry(parameter_string="later"))
    report = services.job_queue_dispatch()
    assert report.claimed == [high.pk, normal.pk, later_normal.pk]
    assert [call[0] for call in test_objects] == ["high", "normal", "later"]


def test_an_expired_entry_is_not_run_and_is_set_to_error_with_a_log(make_entry, test_objects):
    entry = ready(make_entry(expires_at=NOW - timedelta(minutes=1)))
    report = services.job_queue_dispatch()
    assert report.expired == 1
    assert test_objects == []
    entry.refresh_from_db()
    assert entry.status == Status.ERROR
    assert entry.error_message.startswith("Expired at")
    assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == LogStatus.ERROR


def test_a_double_dispatch_runs_an_entry_once(make_entry, test_objects, monkeypatch):
    entry = ready(make_entry())
    queued = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: queued.append(args))
    services.job_queue_dispatch()
    services.job_queue_dispatch()
    assert len(queued) == 1
    # The task delivered twice (ORM broker, at least once): the second delivery does nothing.
    entry_id, token, user_id = queued[0]
    assert services.job_queue_entry_run(entry_id, token, user_id).status == LogStatus.SUCCESS
    assert services.job_queue_entry_run(entry_id, token, user_id) is None
    assert test_objects == [("", "runner")]
    assert JobQueueLogEntry.objects.filter(entry_id=entry.pk).count() == 1


def test_an_entry_set_on_hold_while_running_stays_on_hold_and_its_run_is_logged(make_entry, monkeypatch):
    entry = ready(make_entry())
    queued = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: queued.append(args))
    services.job_queue_dispatch()
    entry_id, token, user_id = queued[0]
    # Set On Hold after the run started: Business Central does not stop the run.
    monkeypatch.setattr(
        "tests.jobqueue.objects_for_tests.succeed",
        lambda parameter_string, user: services.job_queue_entry_set_on_hold(entry) and "done",
    )
    services.job_queue_entry_run(entry_id, token, user_id)
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD
    assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == LogStatus.SUCCESS


def test_a_broker_that_refuses_the_run_releases_the_claim(make_entry, monkeypatch):
    entry = ready(make_entry())

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(services, "async_task", broker_down)
    services.job_queue_dispatch()
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.claim_token) == (Status.READY, 0, None)


def test_it_runs_the_object_as_the_entry_user_not_the_one_who_set_it_ready(make_entry, test_objects):
    owner = make_user("owner")
    ready(make_entry(user=owner))
    services.job_queue_dispatch()
    assert test_objects == [("", "owner")]


def test_the_tick_reports_what_it_did(make_entry):
    from jobqueue.ticker import tick

    ready(make_entry())
    assert str(tick()) == "claimed 1, waiting 0, expired 0, swept 0"
