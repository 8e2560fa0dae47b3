"""The dispatcher across the spring-forward night in Copenhagen (Sunday 30 March 2025,
02:00 CET becomes 03:00 CEST): Set Status to Ready, dispatch, run, next run, with the
wall clock of settings.TIME_ZONE deciding the times."""

from datetime import UTC, datetime, time

import pytest
import time_machine
from django.utils import timezone

from jobqueue import services
from jobqueue.models import WEEKDAY_FIELDS, JobQueueEntry

Status = JobQueueEntry.Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("q_sync", "copenhagen")]


def local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%a %d %b %H:%M %Z")


def test_a_daily_entry_at_eight_stays_at_eight_across_the_spring_forward_night(make_entry, test_objects):
    with time_machine.travel(datetime(2025, 3, 29, 9, 0, tzinfo=UTC), tick=False) as clock:  # Sat 10:00 CET
        entry = services.job_queue_entry_set_ready(
            make_entry(starting_time=time(8), **dict.fromkeys(WEEKDAY_FIELDS, True))
        )
        assert services.job_queue_dispatch().claimed == [entry.pk]
        entry.refresh_from_db()
        assert local(entry.earliest_start_at) == "Sun 30 Mar 08:00 CEST"
        assert entry.earliest_start_at == datetime(2025, 3, 30, 6, 0, tzinfo=UTC)

        # 07:59 summer time (a 24-hour or CET reckoning would already be due): nothing runs.
        clock.move_to(datetime(2025, 3, 30, 5, 59, tzinfo=UTC))
        assert services.job_queue_dispatch().claimed == []

        clock.move_to(datetime(2025, 3, 30, 6, 0, tzinfo=UTC))
        assert services.job_queue_dispatch().claimed == [entry.pk]
    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert local(entry.earliest_start_at) == "Mon 31 Mar 08:00 CEST"
    assert len(test_objects) == 2


def test_an_hourly_night_entry_counts_elapsed_time_across_the_missing_hour(make_entry, test_objects):
    entry = make_entry(run_on_sundays=True, starting_time=time(1), ending_time=time(5), minutes_between_runs=60)
    with time_machine.travel(datetime(2025, 3, 30, 0, 30, tzinfo=UTC), tick=False) as clock:  # Sun 01:30 CET
        entry = services.job_queue_entry_set_ready(entry)
        assert local(entry.earliest_start_at) == "Sun 30 Mar 01:30 CET"
        next_runs = []
        for _ in range(3):
            assert services.job_queue_dispatch().claimed == [entry.pk]
            entry.refresh_from_db()
            next_runs.append(local(entry.earliest_start_at))
            clock.move_to(entry.earliest_start_at)
    # 60 minutes after 01:30 CET is 03:30 CEST (02:30 does not exist that night); after
    # 04:30 the next hour would leave the 01:00-05:00 window: next Sunday at 01:00.
    assert next_runs == ["Sun 30 Mar 03:30 CEST", "Sun 30 Mar 04:30 CEST", "Sun 06 Apr 01:00 CEST"]
    assert len(test_objects) == 3
