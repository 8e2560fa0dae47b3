"""When a Job Queue Entry runs next: pure functions of its recurrence and a moment.

Business Central's rules: a recurring entry runs on the ticked weekdays, inside its
starting / ending time window, every N minutes (counted from the completion of the last
run) or, with no minutes between runs, once a day at the starting time. A window whose
ending time is before its starting time crosses midnight and belongs to the weekday on
which it starts. Windows are half open, [starting time, ending time).

Weekdays and window times are wall-clock times in the given time zone (settings.TIME_ZONE
in production), so an entry at 08:00 stays at 08:00 across a daylight saving change.
A starting time that does not exist on the day clocks spring forward is taken as the same
instant's moment after the switch (02:30 becomes 03:30); on the day clocks fall back the
first of the two 02:30s is used. Intervals are elapsed time: 60 minutes after 01:30 on
the spring-forward night is 03:30.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True)
class Recurrence:
    """A recurring entry's rules. ``weekdays`` uses Python's numbering: Monday is 0."""

    weekdays: frozenset[int]
    starting_time: time | None = None
    ending_time: time | None = None
    minutes_between_runs: int = 0

    @property
    def is_recurring(self) -> bool:
        return bool(self.weekdays)


def _at(day: date, wall: time, tz: tzinfo) -> datetime:
    """The instant (in UTC) of a wall-clock time on a day; a non-existent time (spring
    forward) lands on the real instant after the gap."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _window(rec: Recurrence, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The window that starts on ``day``: [start, end)."""
    start = _at(day, rec.starting_time or time(0), tz)
    if rec.ending_time is None:
        end_day, end_time = day + timedelta(days=1), time(0)
    elif rec.starting_time is not None and rec.ending_time <= rec.starting_time:
        end_day, end_time = day + timedelta(days=1), rec.ending_time
    else:
        end_day, end_time = day, rec.ending_time
    return start, _at(end_day, end_time, tz)


def fit_into_schedule(rec: Recurrence, candidate: datetime, tz: tzinfo) -> datetime:
    """The earliest moment at or after ``candidate`` on an allowed weekday and inside the
    window. ``candidate`` must be aware; the result is in UTC (Python compares and adds
    aware datetimes of one zone by wall clock, so all arithmetic here is in UTC)."""
    if not rec.weekdays:
        raise ValueError("A recurrence needs at least one weekday.")
    moment = candidate.astimezone(UTC)
    # Start a day early: yesterday's window may cross midnight into today.
    for offset in range(-1, 9):
        day = moment.astimezone(tz).date() + timedelta(days=offset)
        if day.weekday() not in rec.weekdays:
            continue
        start, end = _window(rec, day, tz)
        if moment < end:
            return max(moment, start)
    raise AssertionError("unreachable: a weekday recurs within a week")  # pragma: no cover


def next_run_at(rec: Recurrence, completed_at: datetime, tz: tzinfo) -> datetime:
    """When (in UTC) a recurring entry runs again after a run completed at ``completed_at``."""
    if rec.minutes_between_runs > 0:
        candidate = completed_at.astimezone(UTC) + timedelta(minutes=rec.minutes_between_runs)
    else:
        # Once a day: the next day's starting time (or midnight).
        next_day = completed_at.astimezone(tz).date() + timedelta(days=1)
        candidate = _at(next_day, rec.starting_time or time(0), tz)
    return fit_into_schedule(rec, candidate, tz)


def first_run_at(rec: Recurrence, now: datetime, earliest: datetime | None, tz: tzinfo) -> datetime:
    """When an entry set to Ready runs first: not before ``earliest`` (its Earliest Start
    Date/Time, if in the future) and, for recurring entries, inside its schedule."""
    candidate = max(now, earliest) if earliest else now
    if rec.is_recurring:
        return fit_into_schedule(rec, candidate, tz)
    return candidate.astimezone(UTC)
