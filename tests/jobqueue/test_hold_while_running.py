"""Set On Hold and Restart on an entry In Process: the run is not stopped and keeps its
claim (its category stays busy, no second run starts); when it ends the entry is On Hold
(Set On Hold) or Ready again (Restart)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from jobqueue import services
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.jobqueue import objects_for_tests
from tests.jobqueue.objects_for_tests import FAIL

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # a Tuesday
Status = JobQueueEntry.Status
LogStatus = JobQueueLogEntry.Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def queued(monkeypatch):
    """Runs handed to django-q2, run by the test when it chooses."""
    runs = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: runs.append(args))
    return runs


def during_the_run(monkeypatch, action, object_name: str = "succeed"):
    """Make the test object call ``action()`` while it runs, and record what it saw."""
    seen = {}
    original = getattr(objects_for_tests, object_name)

    def run(parameter_string, user):
        seen.update(action() or {})
        return original(parameter_string, user)

    monkeypatch.setattr(f"tests.jobqueue.objects_for_tests.{object_name}", run)
    return seen


def test_set_on_hold_while_running_keeps_the_claim_until_the_run_ends_then_holds(make_entry, queued, monkeypatch):
    entry = services.job_queue_entry_set_ready(make_entry(category_code="SYNC"))
    other = services.job_queue_entry_set_ready(make_entry(category_code="SYNC"))
    services.job_queue_dispatch()
    entry_id, token, user_id = queued[0]

    def hold_then_dispatch():
        held = services.job_queue_entry_set_on_hold(entry)
        return {
            "status": held.status,
            "claim": str(held.claim_token),
            "claimed": services.job_queue_dispatch().claimed,
            "other": JobQueueEntry.objects.get(pk=other.pk).status,
        }

    seen = during_the_run(monkeypatch, hold_then_dispatch)
    services.job_queue_entry_run(entry_id, token, user_id)

    assert seen == {"status": Status.IN_PROCESS, "claim": token, "claimed": [], "other": Status.WAITING}
    entry.refresh_from_db()
    assert (entry.status, entry.claim_token, entry.status_after_run) == (Status.ON_HOLD, None, "")
    assert JobQueueLogEntry.objects.get(entry_id=entry.pk).status == LogStatus.SUCCESS
    assert len(queued) == 1
    # The category is free once the run ended.
    assert services.job_queue_dispatch().claimed == [other.pk]


def test_restart_while_running_starts_no_second_run_and_ends_ready(make_entry, queued, monkeypatch, copenhagen):
    entry = services.job_queue_entry_set_ready(make_entry(run_on_tuesdays=True, minutes_between_runs=30))
    services.job_queue_dispatch()
    entry_id, token, user_id = queued[0]

    def restart_then_dispatch():
        restarted = services.job_queue_entry_restart(entry)
        return {"status": restarted.status, "claimed": services.job_queue_dispatch().claimed}

    seen = during_the_run(monkeypatch, restart_then_dispatch)
    services.job_queue_entry_run(entry_id, token, user_id)

    assert seen == {"status": Status.IN_PROCESS, "claimed": []}
    assert len(queued) == 1
    entry.refresh_from_db()
    # Restart computes the first run again (now, inside Tuesday), not the next after 30 minutes.
    assert (entry.status, entry.attempts, entry.earliest_start_at) == (Status.READY, 0, NOW)
    assert entry.claim_token is None


def test_a_failing_run_set_on_hold_meanwhile_ends_on_hold_with_its_error(make_entry, queued, monkeypatch):
    entry = services.job_queue_entry_set_ready(make_entry(FAIL, maximum_attempts=3))
    services.job_queue_dispatch()
    during_the_run(monkeypatch, lambda: services.job_queue_entry_set_on_hold(entry) and None, "fail")
    services.job_queue_entry_run(*queued[0])
    entry.refresh_from_db()
    assert (entry.status, entry.error_message) == (Status.ON_HOLD, "Mailbox not found")


def test_an_entry_set_on_hold_whose_worker_died_ends_on_hold_after_its_lease(
    make_entry, queued, settings, frozen_clock
):
    settings.JOBQUEUE_LEASE_SECONDS = 600
    entry = services.job_queue_entry_set_ready(make_entry(maximum_attempts=3))
    services.job_queue_dispatch()
    services.job_queue_entry_set_on_hold(entry)
    frozen_clock.move_to(NOW + timedelta(seconds=601))
    report = services.job_queue_dispatch()
    assert (report.swept, report.claimed) == (1, [])
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD
    assert "did not finish" in entry.error_message


def test_the_card_says_the_run_goes_on_and_when_the_entry_will_be_on_hold(
    admin_client_for, superuser, make_entry, queued
):
    entry = services.job_queue_entry_set_ready(make_entry())
    services.job_queue_dispatch()
    client = admin_client_for(superuser)
    response = client.post(reverse("admin:jobqueue_jobqueueentry_card_action", args=[entry.pk, "set_on_hold"]))
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("it is not stopped and goes On Hold when this run ends" in text for text in texts)
    card = client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).content.decode()
    assert "Status After This Run" in card
    assert JobQueueEntry.objects.get(pk=entry.pk).status == Status.IN_PROCESS
