"""Next-run computation: weekdays, windows (crossing midnight), intervals, daylight saving."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from jobqueue.recurrence import Recurrence, first_run_at, fit_into_schedule, next_run_at

CPH = ZoneInfo("Europe/Copenhagen")
NY = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def cph(*args) -> datetime:
    return datetime(*args, tzinfo=CPH)


def test_it_runs_minutes_after_completion_inside_the_window():
    rec = Recurrence(EVERY_DAY, time(8), time(17), minutes_between_runs=30)
    assert next_run_at(rec, cph(2025, 3, 4, 9, 10), CPH) == cph(2025, 3, 4, 9, 40)


def test_it_moves_a_run_past_the_ending_time_to_the_next_starting_time():
    rec = Recurrence(EVERY_DAY, time(8), time(17), minutes_between_runs=30)
    assert next_run_at(rec, cph(2025, 3, 4, 16, 45), CPH) == cph(2025, 3, 5, 8, 0)


def test_it_skips_weekdays_that_are_not_ticked():
    rec = Recurrence(WEEKDAYS, time(8), time(17), minutes_between_runs=30)
    # Friday 16:45 -> Monday 08:00
    assert next_run_at(rec, cph(2025, 3, 7, 16, 45), CPH) == cph(2025, 3, 10, 8, 0)


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts():
    rec = Recurrence(frozenset({0}), time(22), time(2), minutes_between_runs=60)  # Mondays 22:00-02:00
    # Monday 23:30 + 60 min = Tuesday 00:30, still Monday's window.
    assert next_run_at(rec, cph(2025, 3, 3, 23, 30), CPH) == cph(2025, 3, 4, 0, 30)
    # Tuesday 01:30 + 60 min = 02:30, past the window: next Monday 22:00.
    assert next_run_at(rec, cph(2025, 3, 4, 1, 30), CPH) == cph(2025, 3, 10, 22, 0)
    # Tuesday 23:00 is not in a window: Tuesday is not ticked.
    assert fit_into_schedule(rec, cph(2025, 3, 4, 23, 0), CPH) == cph(2025, 3, 10, 22, 0)


def test_without_minutes_between_runs_it_runs_once_a_day_at_the_starting_time():
    rec = Recurrence(EVERY_DAY, starting_time=time(6, 15))
    assert next_run_at(rec, cph(2025, 3, 4, 6, 16), CPH) == cph(2025, 3, 5, 6, 15)


def test_a_daily_run_keeps_its_wall_clock_time_across_spring_forward():
    rec = Recurrence(EVERY_DAY, starting_time=time(8))
    # Copenhagen switches to summer time on Sunday 30 March 2025.
    run = next_run_at(rec, cph(2025, 3, 29, 8, 5), CPH)
    assert run == datetime(2025, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 CEST, the day before 08:00 was 07:00 UTC
    assert run.astimezone(CPH).strftime("%H:%M %Z") == "08:00 CEST"


def test_an_interval_counts_elapsed_time_over_the_spring_forward_gap():
    rec = Recurrence(EVERY_DAY, minutes_between_runs=60)
    # 01:30 CET + 60 minutes is 03:30 CEST: 02:30 does not exist that night.
    run = next_run_at(rec, cph(2025, 3, 30, 1, 30), CPH)
    assert run == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert run.astimezone(CPH).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_starting_time_in_the_spring_forward_gap_runs_just_after_the_switch():
    rec = Recurrence(EVERY_DAY, starting_time=time(2, 30))
    run = next_run_at(rec, cph(2025, 3, 29, 2, 30), CPH)
    assert run == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert run.astimezone(CPH).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_starting_time_repeated_at_fall_back_runs_at_its_first_occurrence():
    rec = Recurrence(EVERY_DAY, starting_time=time(1, 30))
    # New York falls back on Sunday 2 November 2025: 01:30 happens twice.
    run = next_run_at(rec, datetime(2025, 11, 1, 1, 30, tzinfo=NY), NY)
    assert run == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    assert run.astimezone(NY).strftime("%H:%M %Z") == "01:30 EDT"


def test_the_first_run_of_a_one_off_entry_is_now_or_its_earliest_start():
    rec = Recurrence(frozenset())
    now = cph(2025, 3, 4, 9, 0)
    assert first_run_at(rec, now, None, CPH) == now
    assert first_run_at(rec, now, cph(2025, 3, 5, 7, 0), CPH) == cph(2025, 3, 5, 7, 0)


def test_the_first_run_of_a_recurring_entry_waits_for_its_window():
    rec = Recurrence(WEEKDAYS, time(8), time(17), minutes_between_runs=30)
    assert first_run_at(rec, cph(2025, 3, 8, 12, 0), None, CPH) == cph(2025, 3, 10, 8, 0)  # Saturday -> Monday


def test_it_refuses_a_schedule_without_weekdays():
    with pytest.raises(ValueError, match="weekday"):
        fit_into_schedule(Recurrence(frozenset()), cph(2025, 3, 4, 9, 0), CPH)
