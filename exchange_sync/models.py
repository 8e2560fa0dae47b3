"""Microsoft 365 identity of users and (later) their sync setups, links and runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class M365Identity(models.Model):
    """The Microsoft 365 mailbox a user synchronizes: Business Central's
    "Microsoft 365 Authentication" section of the user card."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="m365_identity")
    authentication_email = models.EmailField(
        "Authentication Email",
        unique=True,
        help_text="The Microsoft 365 mailbox whose Outlook contacts are synchronized.",
    )

    class Meta:
        verbose_name = "Microsoft 365 Authentication"
        verbose_name_plural = "Microsoft 365 Authentication"

    def __str__(self) -> str:
        return self.authentication_email

    def save(self, *args, **kwargs) -> None:
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Mailbox addresses are case-insensitive: store one spelling, so the uniqueness
        # check (which runs after clean) also catches "Ann@x" against "ann@x".
        self.authentication_email = self.authentication_email.strip().lower()


class ExchangeSyncSetup(models.Model):
    """A user's Exchange Sync. Setup and Contact Sync. Setup: where and what to sync."""

    class OnOutlookDelete(models.TextChoices):
        RECREATE = "recreate", "Recreate the contact in Outlook"
        STOP_SYNCING = "stop", "Stop syncing that contact"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_sync_setup")
    is_enabled = models.BooleanField(
        "Background sync enabled",
        default=True,
        help_text="Scheduled Job Queue Entries (Codeunit 6700) synchronize this setup.",
    )
    is_live_sync_enabled = models.BooleanField(
        "Live sync",
        default=True,
        help_text=(
            "A contact saved in Business Central reaches Outlook within seconds, without waiting for the "
            "scheduled sync. Works while background sync is enabled."
        ),
    )
    folder_name = models.CharField(
        "Outlook folder",
        max_length=100,
        default="Business Central",
        help_text="The Outlook contact folder that holds the synchronized contacts.",
    )
    folder_id = models.CharField(max_length=400, blank=True, editable=False)
    folder_name_in_outlook = models.CharField(max_length=100, blank=True, editable=False)
    # The Outlook folder of the chosen name that bcsync did not create and a person chose
    # to adopt on the setup page. Any other such folder is never used (sync/folder.py).
    adopted_folder_id = models.CharField(max_length=400, blank=True, editable=False)
    imports_existing_contacts = models.BooleanField(
        "Import its other contacts",
        default=False,
        help_text=(
            "For an adopted folder: its contacts that match no synchronized contact by email are copied into "
            "the contact list. Unticked, they are left alone in Outlook."
        ),
    )
    contact_filter = models.JSONField(
        "Contact filter",
        default=dict,
        blank=True,
        help_text="Only contacts matching every condition are synchronized.",
    )
    keep_outlook_edits = models.BooleanField(
        "Keep Outlook edits",
        default=False,
        help_text=(
            "Fields changed only in Outlook are copied into Business Central. When both sides "
            "changed the same field, Business Central's value wins and the other is recorded."
        ),
    )
    on_outlook_delete = models.CharField(
        "When deleted in Outlook",
        max_length=10,
        choices=OnOutlookDelete.choices,
        default=OnOutlookDelete.RECREATE,
    )
    delta_link = models.TextField(blank=True, editable=False)
    # Runs in a row that kept the old delta link because an Outlook contact could not
    # be read; after a few the link moves on anyway, so one bad item cannot freeze it.
    delta_link_kept_runs = models.PositiveSmallIntegerField(default=0, editable=False)
    # Contacts modified at or after this moment are candidates for the next push: the
    # start of the last run that pushed everything it planned to.
    changes_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField("Last sync", null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField("Last successful sync", null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    needs_attention = models.BooleanField(default=False, editable=False)
    # The claim that keeps two runs of one setup apart (see services.sync_run_claim).
    running_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        verbose_name = "Exchange Sync. Setup"
        verbose_name_plural = "Exchange Sync. Setups"
        permissions = [
            ("run_contact_sync", "Can start contact synchronization"),
            # Without it a user sees only their own setup, runs and issues (admin/common.py).
            ("view_all_sync_setups", "Can see every user's sync setups, runs and issues"),
        ]

    def __str__(self) -> str:
        return f"Exchange Sync. Setup of {self.user}"

    @property
    def mailbox(self) -> str:
        identity = getattr(self.user, "m365_identity", None)
        return identity.authentication_email if identity else ""


class LiveSyncRequest(models.Model):
    """A setup's pending live run: contacts in its scope changed, and a run is due.

    One row per setup at most (exchange_sync/live/): every change that touches the setup
    moves `due_at` a few seconds on (debounce), never past a cap counted from
    `first_requested_at`, so a steady stream of edits still syncs. The dispatcher queues
    the run and removes the row."""

    setup = models.OneToOneField(ExchangeSyncSetup, on_delete=models.CASCADE, related_name="live_request")
    first_requested_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "Live sync request"

    def __str__(self) -> str:
        return f"Live sync of setup {self.setup_id} due {self.due_at:%H:%M:%S}"


class LiveSubscription(models.Model):
    """How Outlook's changes of a live setup's folder reach bcsync: a Graph change
    subscription (notifications within seconds) or, while there is none, polling.

    One row per live setup (exchange_sync/live/subscriptions.py). `upkeep_at` is when the
    ticker next looks at it (create, renew, recreate, reauthorize, retry after a failure);
    `poll_at` is the next poll of the folder's delta: every minute while the setup polls,
    every quarter of an hour while it is subscribed (a notification may be lost). A
    row whose setup was deleted keeps its Graph id until the subscription is deleted there.
    """

    class Status(models.TextChoices):
        POLLING = "polling", "Polling (no subscription)"
        ACTIVE = "active", "Subscribed"
        REMOVED = "removed", "Removed by Outlook, to be recreated"
        REAUTHORIZE = "reauthorize", "Reauthorization required"
        DROPPING = "dropping", "Live sync switched off, to be deleted"

    setup = models.OneToOneField(
        ExchangeSyncSetup, null=True, on_delete=models.SET_NULL, related_name="live_subscription"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.POLLING)
    graph_id = models.CharField("Subscription id", max_length=200, blank=True)
    # The folder subscribed to: when the setup's folder is recreated (a new id), the
    # subscription on the old one is dropped and a new one made.
    folder_id = models.CharField(max_length=400, blank=True)
    # The secret Graph sends back in every notification (compared in constant time).
    client_state = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    upkeep_at = models.DateTimeField(null=True, blank=True, db_index=True)
    poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_notification_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Outlook change subscription"

    def __str__(self) -> str:
        return f"{self.get_status_display()} (setup {self.setup_id})"


class ContactLink(models.Model):
    """The link between a contact and its copy in one setup's Outlook folder."""

    class State(models.TextChoices):
        PENDING_CREATE = "pending_create", "Pending create"
        LINKED = "linked", "Linked"
        STOPPED = "stopped", "Stopped (deleted in Outlook)"

    setup = models.ForeignKey(ExchangeSyncSetup, on_delete=models.CASCADE, related_name="links")
    # Kept when the contact is deleted, so the sync can remove its Outlook copy.
    contact = models.ForeignKey("contacts.Contact", null=True, on_delete=models.SET_NULL, related_name="+")
    contact_no = models.CharField(max_length=20)
    graph_id = models.CharField(max_length=400, null=True, blank=True)
    change_key = models.CharField(max_length=200, blank=True)
    fields_hash = models.CharField(max_length=64, blank=True)
    snapshot = models.JSONField(default=dict, blank=True)
    # Outlook's emailAddresses, businessPhones and categories as last seen (read or
    # written), so an update merges bcsync's slots into them without reading the
    # contact first; empty for links made before they were kept (see exchange_sync/patch.py).
    outlook_lists = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING_CREATE)
    failure_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["setup", "contact"], name="contactlink_unique_setup_contact"),
            models.UniqueConstraint(fields=["setup", "graph_id"], name="contactlink_unique_setup_graph_id"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_no} -> {self.graph_id or '(not created)'}"


class AdoptedFolderContact(models.Model):
    """An Outlook contact that was already in a folder when a person adopted it for a
    setup. Unless the person asked to import them, such contacts are linked only to an
    in-scope contact with their email, and otherwise left alone (sync/adoption.py)."""

    setup = models.ForeignKey(ExchangeSyncSetup, on_delete=models.CASCADE, related_name="adopted_contacts")
    graph_id = models.CharField(max_length=400)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["setup", "graph_id"], name="adoptedfoldercontact_unique_setup_graph_id")
        ]

    def __str__(self) -> str:
        return self.graph_id


class SyncRun(models.Model):
    """One synchronization of one setup: the audit trail the admin shows."""

    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Sync with Microsoft 365"
        FULL = "full", "Full Sync with Microsoft 365"

    class Trigger(models.TextChoices):
        BUTTON = "button", "Button"
        JOB = "job", "Job Queue"
        COMMAND = "command", "Command"
        LIVE = "live", "Live sync"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with issues"
        FAILED = "failed", "Failed"
        NEEDS_CONFIRMATION = "needs_confirmation", "Needs confirmation"
        REFUSED = "refused", "Refused (another run was going)"
        INTERRUPTED = "interrupted", "Interrupted (the worker stopped; the next sync carries on)"

    class PlannedReason(models.TextChoices):
        """Which guard stopped the run: a confirmation covers that one only."""

        MISSING = "missing", "Missing from the Outlook folder"
        LEAVING = "leaving", "Leaving the scope"

    FINISHED = (
        Status.SUCCEEDED,
        Status.PARTIAL,
        Status.FAILED,
        Status.NEEDS_CONFIRMATION,
        Status.REFUSED,
        Status.INTERRUPTED,
    )

    # A run outlives its setup (deleted with its user): kept for audit, with the user's
    # name and mailbox as they were when the run was created.
    setup = models.ForeignKey(ExchangeSyncSetup, null=True, on_delete=models.SET_NULL, related_name="runs")
    user_name = models.CharField("User", max_length=150, blank=True, editable=False)
    mailbox = models.CharField("Microsoft 365 email", max_length=254, blank=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirms = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The run it confirms."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When its worker task was last sent (queued runs only): a task lost with its worker
    # (Redis hands a task over once) is sent again by the job queue's tick.
    task_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    created_in_outlook = models.PositiveIntegerField("Created in Outlook", default=0)
    updated_in_outlook = models.PositiveIntegerField("Updated in Outlook", default=0)
    deleted_in_outlook = models.PositiveIntegerField("Deleted from Outlook", default=0)
    created_in_bc = models.PositiveIntegerField("Created in Business Central", default=0)
    linked_in_bc = models.PositiveIntegerField("Linked to existing contacts", default=0)
    updated_in_bc = models.PositiveIntegerField("Updated in Business Central", default=0)
    unchanged = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    graph_requests = models.PositiveIntegerField("Graph requests", default=0)
    error = models.TextField(blank=True)
    # For "needs confirmation": what the run would delete, as [{"no", "name"}] (the
    # first 1,000), and how many in all: a confirmation allows no more than that.
    planned_deletions = models.JSONField(default=list, blank=True)
    planned_count = models.PositiveIntegerField("Planned deletions", default=0)
    planned_reason = models.CharField(max_length=10, choices=PlannedReason.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Sync run"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def user_display(self) -> str:
        """Whose run it was; "(deleted)" once the user and their setup are gone."""
        return self.user_name if self.setup_id else f"{self.user_name or 'unknown user'} (deleted)"


class SyncIssue(models.Model):
    """Why one item of a run was excluded, skipped, failed or lost a conflict."""

    class Kind(models.TextChoices):
        EXCLUDED = "excluded", "Excluded"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Conflict"

    class Direction(models.TextChoices):
        TO_OUTLOOK = "to_outlook", "To Outlook"
        TO_BC = "to_bc", "To Business Central"

    class Resolution(models.TextChoices):
        """What a person did about a copy made in Outlook (outlook_copies.py)."""

        LINKED = "linked", "This Outlook copy was linked instead"
        REMOVED = "removed", "The Outlook copy was removed"
        GONE = "gone", "The Outlook copy was already gone"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="issues")
    kind = models.CharField(max_length=10, choices=Kind.choices, db_index=True)
    direction = models.CharField(max_length=12, choices=Direction.choices)
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_no = models.CharField(max_length=20, blank=True)
    outlook_name = models.CharField(max_length=200, blank=True)
    # The Outlook contact (Graph id) of a copy a person made of `contact` in the folder:
    # set only on those issues, for the run page's "link this one instead" and "remove
    # the Outlook copy".
    outlook_id = models.CharField(max_length=400, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.contact_no or self.outlook_name}: {self.reason}"

    @property
    def is_outlook_copy(self) -> bool:
        """An unresolved copy a person made in Outlook: the run page offers its actions."""
        return bool(self.outlook_id and self.contact_id and not self.resolved_at)


class MailboxConnection(models.Model):
    """A person's own sign-in to their mailbox (delegated), used by their setup's runs
    instead of the app permission (exchange_sync/delegated_connection.py).

    The msal token cache (refresh and access tokens) is stored encrypted with the keys of
    M365_TOKEN_CACHE_KEYS, never in clear. `problem` is set when Microsoft 365 refused to
    renew the sign-in (consent revoked, password reset, account disabled, expired): the
    setup then shows "Reconnect" with it."""

    setup = models.OneToOneField(ExchangeSyncSetup, on_delete=models.CASCADE, related_name="mailbox_connection")
    username = models.EmailField(help_text="The Microsoft 365 account that signed in.")
    token_cache_encrypted = models.TextField(editable=False)
    connected_at = models.DateTimeField()
    problem = models.TextField(blank=True, editable=False)
    problem_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.setup} connected as {self.username}"

    @property
    def needs_reconnect(self) -> bool:
        return bool(self.problem)
