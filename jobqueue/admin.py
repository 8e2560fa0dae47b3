"""Job Queue Entries and Log Entries in the admin, in Business Central's words."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from jobqueue import contact_sync, services
from jobqueue.models import WEEKDAY_FIELDS, JobQueueEntry, JobQueueLogEntry

CARD_ACTIONS: dict[str, str] = {
    "set_ready": "Set Status to Ready",
    "set_on_hold": "Set On Hold",
    "run_once_foreground": "Run Once (Foreground)",
    "show_error": "Show Error",
    "restart": "Restart",
}

_ALWAYS_READ_ONLY = [
    "status",
    "object_caption_to_run",
    "attempts",
    "error_message",
    "claimed_at",
    "lease_expires_at",
    "worker_id",
    "status_after_run",
    "log_entries",
]


# Declared on JobQueueEntry.Meta; held by the Contact Sync Administrator role (and superusers).
MANAGE_ALL_PERMISSION = "jobqueue.manage_all_entries"


def _sees_everything(request: HttpRequest) -> bool:
    """Who holds the "every user's entries" permission sees and runs everyone's entries
    and logs; anyone else only their own."""
    return request.user.has_perm(MANAGE_ALL_PERMISSION)


def _owns(request: HttpRequest, obj) -> bool:
    return obj is None or _sees_everything(request) or obj.user_id == request.user.pk


def _log_entries_url(entry_id: int) -> str:
    return f"{reverse('admin:jobqueue_jobqueuelogentry_changelist')}?entry_id={entry_id}"


@admin.register(JobQueueEntry)
class JobQueueEntryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "object_type_to_run",
        "object_id_to_run",
        "object_caption_to_run",
        "description",
        "user",
        "earliest_start_at",
        "category_code",
        "log_entries",
    ]
    list_display_links = ["id", "status"]
    list_select_related = ["user"]
    list_filter = ["status", "object_type_to_run", "category_code"]
    search_fields = ["description", "parameter_string", "user__username"]
    actions = ["set_ready", "set_on_hold", "run_once_foreground", "show_error", "restart"]
    fieldsets = [
        (
            "General",
            {
                "fields": [
                    "object_type_to_run",
                    "object_id_to_run",
                    "object_caption_to_run",
                    "description",
                    "parameter_string",
                    "user",
                    "status",
                    "category_code",
                    "priority",
                    "maximum_attempts",
                    "attempts",
                    "rerun_delay_seconds",
                    "error_message",
                    "log_entries",
                ]
            },
        ),
        ("Date and Time", {"fields": ["earliest_start_at", "expires_at"]}),
        ("Recurrence", {"fields": [*WEEKDAY_FIELDS, "starting_time", "ending_time", "minutes_between_runs"]}),
        (
            "Run",
            {"classes": ["collapse"], "fields": ["claimed_at", "lease_expires_at", "worker_id", "status_after_run"]},
        ),
    ]

    @admin.display(description="Object Caption to Run")
    def object_caption_to_run(self, obj: JobQueueEntry) -> str:
        return obj.object_caption_to_run

    @admin.display(description="Log Entries")
    def log_entries(self, obj: JobQueueEntry) -> str:
        if obj.pk is None:
            return ""
        return format_html('<a href="{}">Log Entries</a>', _log_entries_url(obj.pk))

    def get_readonly_fields(self, request: HttpRequest, obj: JobQueueEntry | None = None) -> list[str]:
        """The card is edited while On Hold, as in Business Central."""
        if obj is not None and obj.status != JobQueueEntry.Status.ON_HOLD:
            return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]
        return _ALWAYS_READ_ONLY

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    # --- who sees what: an entry runs as its user, so only who manages all choose another ---

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        return queryset if _sees_everything(request) else queryset.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user" and not _sees_everything(request):
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(pk=request.user.pk)
            kwargs["empty_label"] = None
            kwargs["help_text"] = (
                "The object runs as this user. Only a job queue administrator can choose another user."
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: JobQueueEntry, form, change: bool) -> None:
        if not _sees_everything(request):
            obj.user = request.user  # the form already offers no one else; never trust the POST
        super().save_model(request, obj, form, change)

    def has_view_permission(self, request: HttpRequest, obj: JobQueueEntry | None = None) -> bool:
        return super().has_view_permission(request, obj) and _owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: JobQueueEntry | None = None) -> bool:
        return super().has_change_permission(request, obj) and _owns(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: JobQueueEntry | None = None) -> bool:
        if obj is not None and obj.status == JobQueueEntry.Status.IN_PROCESS:
            return False
        return super().has_delete_permission(request, obj) and _owns(request, obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "card_actions": CARD_ACTIONS.items()}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- Actions (list rows and card buttons call the same code) ----------------------

    def _each(self, request: HttpRequest, queryset, action: Callable[[JobQueueEntry], str]) -> None:
        """Apply ``action`` to each entry, reporting its text or its refusal as a message."""
        for entry in queryset:
            try:
                self.message_user(request, action(entry), level=messages.SUCCESS)
            except (services.JobQueueError, ValidationError) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{entry}: {text}", level=messages.ERROR)

    @admin.action(description="Set Status to Ready", permissions=["change"])
    def set_ready(self, request: HttpRequest, queryset) -> None:
        def act(entry: JobQueueEntry) -> str:
            entry = services.job_queue_entry_set_ready(entry)
            return f"{entry}: Ready, earliest start {entry.earliest_start_at:%Y-%m-%d %H:%M %Z}."

        self._each(request, queryset, act)

    @admin.action(description="Set On Hold", permissions=["change"])
    def set_on_hold(self, request: HttpRequest, queryset) -> None:
        def act(entry: JobQueueEntry) -> str:
            entry = services.job_queue_entry_set_on_hold(entry)
            if entry.status == JobQueueEntry.Status.IN_PROCESS:
                return f"{entry}: running now; it is not stopped and goes On Hold when this run ends."
            return f"{entry}: On Hold."

        self._each(request, queryset, act)

    @admin.action(description="Restart", permissions=["change"])
    def restart(self, request: HttpRequest, queryset) -> None:
        def act(entry: JobQueueEntry) -> str:
            entry = services.job_queue_entry_restart(entry)
            if entry.status == JobQueueEntry.Status.IN_PROCESS:
                return f"{entry}: running now; it is set to Ready again when this run ends."
            return f"{entry}: restarted, Ready."

        self._each(request, queryset, act)

    @admin.action(description="Run Once (Foreground)", permissions=["change"])
    def run_once_foreground(self, request: HttpRequest, queryset) -> None:
        for entry in queryset:
            try:
                log = services.job_queue_entry_run_foreground(entry, request.user)
            except services.JobQueueError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                continue
            if log.status == JobQueueLogEntry.Status.SUCCESS:
                self.message_user(request, f"{entry} ran. {log.message}".strip(), level=messages.SUCCESS)
            else:
                self.message_user(request, f"{entry} failed: {log.error_message}", level=messages.ERROR)

    @admin.action(description="Show Error", permissions=["view"])
    def show_error(self, request: HttpRequest, queryset) -> None:
        for entry in queryset:
            if entry.error_message:
                self.message_user(request, f"{entry}: {entry.error_message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{entry}: there is no error.", level=messages.INFO)

    # --- Custom URLs ------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "contact-sync/",
                self.admin_site.admin_view(self.contact_sync_view),
                name="jobqueue_jobqueueentry_contact_sync",
            ),
            path(
                "<int:pk>/card-action/<str:action>/",
                self.admin_site.admin_view(self.card_action_view),
                name="jobqueue_jobqueueentry_card_action",
            ),
            *super().get_urls(),
        ]

    def card_action_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        """A card button: POST runs the action of that name on this entry."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        entry = get_object_or_404(self.get_queryset(request), pk=pk)
        if action not in CARD_ACTIONS or not self.has_change_permission(request, entry):
            raise PermissionDenied
        getattr(self, action)(request, self.get_queryset(request).filter(pk=pk))
        return redirect("admin:jobqueue_jobqueueentry_change", pk)

    def contact_sync_view(self, request: HttpRequest) -> HttpResponse:
        """ "Set up job queue entry" (Contact Sync Setup page): POST creates or opens the
        recurring Codeunit 6700 entry of the posted ``user`` (the setup's owner; the
        requesting user when absent) and redirects to its card. Only who may manage every
        user's entries may post another user."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        owner_id = request.POST.get("user", "")
        if not owner_id or owner_id == str(request.user.pk):
            owner = request.user
        elif _sees_everything(request) and owner_id.isdigit():
            owner = get_object_or_404(get_user_model(), pk=owner_id)
        else:
            raise PermissionDenied
        try:
            result = contact_sync.job_queue_entry_contact_sync_ensure(owner)
        except services.JobQueueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            back = request.headers.get("referer", "")
            if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
                return HttpResponseRedirect(back)
            return redirect("admin:jobqueue_jobqueueentry_changelist")
        entry = result.entry
        whose = "Your" if owner == request.user else f"{owner.get_username()}'s"
        if result.created:
            text = (
                f"Job queue entry created: {entry} runs as {owner.get_username()} every "
                f"{entry.minutes_between_runs} minutes, first at {entry.earliest_start_at:%Y-%m-%d %H:%M %Z}."
            )
        else:
            text = f"{whose} job queue entry for {entry} already exists (status {entry.status})."
        if result.background_sync_switched_on:
            text += (
                " Background sync was off on the Exchange Sync. Setup and has been switched on, "
                "because the entry synchronizes only setups with background sync enabled."
            )
        self.message_user(request, text, level=messages.SUCCESS)
        return redirect("admin:jobqueue_jobqueueentry_change", entry.pk)


@admin.register(JobQueueLogEntry)
class JobQueueLogEntryAdmin(admin.ModelAdmin):
    list_display = [
        "entry_id",
        "status",
        "started_at",
        "ended_at",
        "object_type_to_run",
        "object_id_to_run",
        "object_caption_to_run",
        "description",
        "user_display",
        "error_message",
    ]
    list_select_related = ["user"]
    list_filter = ["status", "object_type_to_run", "is_foreground"]
    search_fields = ["entry_id", "description", "error_message", "parameter_string"]
    date_hierarchy = "started_at"

    @admin.display(description="User ID", ordering="user__username")
    def user_display(self, obj: JobQueueLogEntry) -> str:
        # A deleted user's entries went with them; their log entries stay, for audit.
        return obj.user.get_username() if obj.user else "(deleted user)"

    def get_queryset(self, request: HttpRequest):
        """Only job queue administrators see everyone's log entries (their messages name mailboxes)."""
        queryset = super().get_queryset(request)
        return queryset if _sees_everything(request) else queryset.filter(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: JobQueueLogEntry | None = None) -> bool:
        return super().has_view_permission(request, obj) and _owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: JobQueueLogEntry | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "can_delete_older": self.has_delete_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "delete-older/",
                self.admin_site.admin_view(self.delete_older_view),
                name="jobqueue_jobqueuelogentry_delete_older",
            ),
            *super().get_urls(),
        ]

    def delete_older_view(self, request: HttpRequest) -> HttpResponse:
        """ "Delete Entries Older Than 7 Days" (POST)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_delete_permission(request):
            raise PermissionDenied
        deleted = services.job_queue_log_entries_delete_older_than(
            user=None if _sees_everything(request) else request.user
        )
        self.message_user(request, f"{deleted} log entries older than 7 days deleted.", level=messages.SUCCESS)
        return redirect("admin:jobqueue_jobqueuelogentry_changelist")
