"""Business Central's Job Queue Entry (table 472) and Job Queue Log Entry (table 474)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from jobqueue.objects import ObjectType, object_get, object_list_text
from jobqueue.recurrence import Recurrence

# Dates end in the year 9999; scheduling looks up to a week ahead of a moment, so a job
# cannot be scheduled in the last weeks of the calendar.
LAST_SCHEDULABLE = datetime(9999, 12, 1, tzinfo=UTC)

WEEKDAY_FIELDS = (
    "run_on_mondays",
    "run_on_tuesdays",
    "run_on_wednesdays",
    "run_on_thursdays",
    "run_on_fridays",
    "run_on_saturdays",
    "run_on_sundays",
)


class JobQueueEntry(models.Model):
    """What to run, as whom, and when. Every new entry starts On Hold.

    The claim fields (``claim_token``, ``claimed_at``, ``lease_expires_at``,
    ``worker_id``) belong to the dispatcher: an entry In Process is owned by the run
    holding its claim token until the lease expires; see ``jobqueue.services``.
    """

    class Status(models.TextChoices):
        ON_HOLD = "On Hold", "On Hold"
        READY = "Ready", "Ready"
        IN_PROCESS = "In Process", "In Process"
        ERROR = "Error", "Error"
        FINISHED = "Finished", "Finished"
        WAITING = "Waiting", "Waiting"

    class Priority(models.IntegerChoices):
        HIGH = 0, "High"
        NORMAL = 1000, "Normal"
        LOW = 2000, "Low"

    object_type_to_run = models.CharField(
        "Object Type to Run", max_length=20, choices=ObjectType.choices, default=ObjectType.CODEUNIT
    )
    object_id_to_run = models.PositiveIntegerField("Object ID to Run")
    description = models.CharField("Description", max_length=250, blank=True)
    parameter_string = models.CharField(
        "Parameter String",
        max_length=250,
        blank=True,
        help_text="Options for the object, e.g. USER=ann@cronus.example or FULL for Codeunit 6700.",
    )
    # An entry runs as its user and cannot run as nobody: it goes with the user. Its log
    # entries stay (JobQueueLogEntry.user is emptied).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="User ID",
        on_delete=models.CASCADE,
        related_name="job_queue_entries",
        help_text="The object runs as this user.",
    )
    status = models.CharField("Status", max_length=20, choices=Status.choices, default=Status.ON_HOLD)
    earliest_start_at = models.DateTimeField(
        "Earliest Start Date/Time", null=True, blank=True, help_text="The next run; empty means as soon as possible."
    )
    expires_at = models.DateTimeField(
        "Expiration Date/Time", null=True, blank=True, help_text="After this moment the entry no longer runs."
    )

    run_on_mondays = models.BooleanField("Run on Mondays", default=False)
    run_on_tuesdays = models.BooleanField("Run on Tuesdays", default=False)
    run_on_wednesdays = models.BooleanField("Run on Wednesdays", default=False)
    run_on_thursdays = models.BooleanField("Run on Thursdays", default=False)
    run_on_fridays = models.BooleanField("Run on Fridays", default=False)
    run_on_saturdays = models.BooleanField("Run on Saturdays", default=False)
    run_on_sundays = models.BooleanField("Run on Sundays", default=False)
    starting_time = models.TimeField("Starting Time", null=True, blank=True)
    ending_time = models.TimeField(
        "Ending Time",
        null=True,
        blank=True,
        help_text="May be before the starting time: the window then crosses midnight.",
    )
    minutes_between_runs = models.PositiveIntegerField(
        "No. of Minutes between Runs", default=0, help_text="0 runs once a day at the starting time."
    )

    maximum_attempts = models.PositiveSmallIntegerField(
        "Maximum No. of Attempts to Run", default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    attempts = models.PositiveSmallIntegerField("No. of Attempts to Run", default=0, editable=False)
    rerun_delay_seconds = models.PositiveIntegerField(
        "Rerun Delay (sec.)", default=60, validators=[MaxValueValidator(3600)]
    )
    category_code = models.CharField(
        "Job Queue Category Code",
        max_length=10,
        blank=True,
        help_text="Entries of one category never run at the same time; the others wait.",
    )
    priority = models.IntegerField("Priority", choices=Priority.choices, default=Priority.NORMAL)
    error_message = models.TextField("Error Message", blank=True, editable=False)

    status_after_run = models.CharField(
        "Status After This Run",
        max_length=20,
        blank=True,
        editable=False,
        choices=[(Status.ON_HOLD, "On Hold"), (Status.READY, "Ready")],
        help_text=(
            "Set On Hold or Restart pressed while the entry was In Process: the status it takes when the run ends."
        ),
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField("Claimed At", null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField("Lease Expires At", null=True, blank=True, editable=False)
    worker_id = models.CharField("Worker", max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Job Queue Entry"
        verbose_name_plural = "Job Queue Entries"
        ordering = ["priority", "id"]
        # Without it a user sees and runs only their own entries and log entries.
        permissions = [("manage_all_entries", "Can see and manage every user's Job Queue Entries")]
        indexes = [models.Index(fields=["status", "earliest_start_at"])]
        constraints = [
            # The database itself keeps one entry of a category In Process at a time, so
            # two dispatchers claiming different entries of one category cannot both win.
            models.UniqueConstraint(
                fields=["category_code"],
                condition=models.Q(status="In Process") & ~models.Q(category_code=""),
                name="jobqueue_one_in_process_per_category",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type_to_run} {self.object_id_to_run} {self.object_caption_to_run}".strip()

    @property
    def object_caption_to_run(self) -> str:
        """Business Central's "Object Caption to Run", derived from the object registry."""
        obj = object_get(self.object_type_to_run, self.object_id_to_run)
        return obj.caption if obj else ""

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(
            weekdays=frozenset(day for day, field in enumerate(WEEKDAY_FIELDS) if getattr(self, field)),
            starting_time=self.starting_time,
            ending_time=self.ending_time,
            minutes_between_runs=self.minutes_between_runs,
        )

    @property
    def is_recurring(self) -> bool:
        """Business Central's "Recurring Job": true when any weekday is ticked."""
        return self.recurrence.is_recurring

    def clean(self) -> None:
        """The object must be one the job queue can run; times must make a window."""
        if self.object_id_to_run is not None and object_get(self.object_type_to_run, self.object_id_to_run) is None:
            raise ValidationError(
                {
                    "object_id_to_run": (
                        f"There is no {self.object_type_to_run} {self.object_id_to_run} to run. "
                        f"Objects that can run: {object_list_text()}."
                    )
                }
            )
        # An empty Starting Time means midnight, so Ending Time 00:00 alone (or equal to the
        # Starting Time) leaves a window of no time at all, in which the entry could never run.
        # Business Central's table does not check this; we refuse it rather than guess whether
        # "always" or "never" was meant.
        if self.ending_time is not None and self.ending_time == (self.starting_time or time(0)):
            starting = f"{self.starting_time:%H:%M}" if self.starting_time else "empty, which means 00:00"
            raise ValidationError(
                {
                    "ending_time": (
                        f"Ending Time {self.ending_time:%H:%M} equals the Starting Time ({starting}), so the "
                        "entry would have no time to run in. Leave Ending Time empty to run until midnight, "
                        "or enter a different time."
                    )
                }
            )
        for name in ("earliest_start_at", "expires_at"):
            moment = getattr(self, name)
            if moment is not None and moment >= LAST_SCHEDULABLE:
                label = self._meta.get_field(name).verbose_name
                raise ValidationError(
                    {name: f"{label} must be before {LAST_SCHEDULABLE:%d %B %Y}: no run can be scheduled later."}
                )
        if (self.starting_time or self.ending_time or self.minutes_between_runs) and not self.is_recurring:
            raise ValidationError("Tick at least one weekday (Run on Mondays ... Sundays) to make the entry recurring.")

    def delete(self, *args, **kwargs):
        """An entry In Process cannot be deleted (Business Central's rule)."""
        if self.status == self.Status.IN_PROCESS:
            raise ValidationError("An entry that is In Process cannot be deleted.")
        return super().delete(*args, **kwargs)


class JobQueueLogEntry(models.Model):
    """One run of a Job Queue Entry. Keeps the entry's number, not a link: logs outlive
    deleted entries, as in Business Central."""

    class Status(models.TextChoices):
        IN_PROCESS = "In Process", "In Process"
        SUCCESS = "Success", "Success"
        ERROR = "Error", "Error"

    entry_id = models.BigIntegerField("Entry No.", db_index=True)
    claim_token = models.UUIDField(null=True, blank=True, db_index=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="User ID",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField("Start Date/Time")
    ended_at = models.DateTimeField("End Date/Time", null=True, blank=True)
    object_type_to_run = models.CharField("Object Type to Run", max_length=20, choices=ObjectType.choices)
    object_id_to_run = models.PositiveIntegerField("Object ID to Run")
    object_caption_to_run = models.CharField("Object Caption to Run", max_length=250, blank=True)
    description = models.CharField("Description", max_length=250, blank=True)
    parameter_string = models.CharField("Parameter String", max_length=250, blank=True)
    status = models.CharField("Status", max_length=20, choices=Status.choices, default=Status.IN_PROCESS)
    message = models.TextField("Message", blank=True)
    error_message = models.TextField("Error Message", blank=True)
    is_foreground = models.BooleanField("Run Once (Foreground)", default=False)

    class Meta:
        verbose_name = "Job Queue Log Entry"
        verbose_name_plural = "Job Queue Log Entries"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.object_type_to_run} {self.object_id_to_run} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class ClusterHeartbeat(models.Model):
    """One `manage.py qcluster` process, alive as of its last tick (jobqueue.ticker).

    Its ticker writes ``last_tick_at`` after every completed tick, in the cluster's main
    process, whatever its workers are doing: `/health/` reads the newest one. A row per
    process start; rows of clusters gone for a week are removed when a cluster starts.
    """

    cluster_name = models.CharField(max_length=100)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_tick_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "Job Queue Cluster Heartbeat"

    def __str__(self) -> str:
        return f"{self.cluster_name} on {self.host} (pid {self.pid})"
