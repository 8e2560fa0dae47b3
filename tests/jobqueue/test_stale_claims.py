"""A worker killed while an entry runs: the lease expires, the sweeper retries or errors."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
Status = JobQueueEntry.Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_runs(monkeypatch):
    """Runs handed to a worker that dies before finishing them."""
    queued = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: queued.append(args))
    return queued


@pytest.fixture
def short_lease(settings):
    settings.JOBQUEUE_LEASE_SECONDS = 600


def test_an_entry_whose_worker_died_is_retried_after_its_lease_and_the_log_says_so(
    make_entry, lost_runs, short_lease, test_objects
):
    with time_machine.travel(NOW, tick=False) as clock:
        entry = services.job_queue_entry_set_ready(make_entry(maximum_attempts=3))
        services.job_queue_dispatch()
        entry.refresh_from_db()
        assert entry.status == Status.IN_PROCESS
        assert entry.lease_expires_at == NOW + timedelta(seconds=600)

        clock.move_to(NOW + timedelta(seconds=599))
        assert services.job_queue_dispatch().swept == 0

        clock.move_to(NOW + timedelta(seconds=601))
        report = services.job_queue_dispatch()

    assert report.swept == 1
    assert report.claimed == [entry.pk]  # rerun delay 0: claimed again at once
    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert log.status == JobQueueLogEntry.Status.ERROR
    assert "did not finish: its worker (not started) stopped" in log.error_message
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (Status.IN_PROCESS, 2)


def test_a_stale_entry_without_attempts_left_is_set_to_error(make_entry, lost_runs, short_lease):
    with time_machine.travel(NOW, tick=False) as clock:
        entry = services.job_queue_entry_set_ready(make_entry(maximum_attempts=1))
        services.job_queue_dispatch()
        clock.move_to(NOW + timedelta(hours=1))
        services.job_queue_dispatch()
    entry.refresh_from_db()
    assert entry.status == Status.ERROR
    assert "did not finish" in entry.error_message


def test_a_run_killed_after_it_started_gets_its_in_process_log_closed(make_entry, lost_runs, short_lease, monkeypatch):
    with time_machine.travel(NOW, tick=False) as clock:
        entry = services.job_queue_entry_set_ready(make_entry(maximum_attempts=1))
        services.job_queue_dispatch()

        def killed(parameter_string, user):
            raise SystemExit("SIGKILL")  # stands in for the process dying mid-run

        monkeypatch.setattr("tests.jobqueue.objects_for_tests.succeed", killed)
        entry_id, token, user_id = lost_runs[0]
        with pytest.raises(SystemExit):
            services.job_queue_entry_run(entry_id, token, user_id)
        assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == JobQueueLogEntry.Status.IN_PROCESS

        clock.move_to(NOW + timedelta(hours=1))
        services.job_queue_dispatch()

    log = JobQueueLogEntry.objects.get(entry_id=entry.pk)
    assert log.status == JobQueueLogEntry.Status.ERROR
    assert "did not finish: its worker (" in log.error_message
    assert "not started" not in log.error_message
    # The late delivery of the same task (ORM broker, at least once) no longer holds the claim.
    assert services.job_queue_entry_run(entry_id, token, user_id) is None


def test_a_django_q_timeout_is_recorded_and_re_raised(make_entry, lost_runs, monkeypatch):
    from django_q.exceptions import TimeoutException

    entry = services.job_queue_entry_set_ready(make_entry(maximum_attempts=1))
    services.job_queue_dispatch()

    def too_slow(parameter_string, user):
        raise TimeoutException("timed out")

    monkeypatch.setattr("tests.jobqueue.objects_for_tests.succeed", too_slow)
    with pytest.raises(TimeoutException):
        services.job_queue_entry_run(*lost_runs[0])
    entry.refresh_from_db()
    assert entry.status == Status.ERROR
    assert "worker timeout" in entry.error_message
    assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == JobQueueLogEntry.Status.ERROR
