"""Exchange Sync. Setup and Contact Sync. Setup: one page per user, with Validate Exchange
Connection, the contact filter and its live preview, the sync buttons and health."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join

from exchange_sync.admin.common import can_run_sync, owns, redirect_back, sees_all
from exchange_sync.admin.connect import connect_done_view, connect_view, disconnect_view, sign_in_mode_html
from exchange_sync.connection_check import exchange_connection_validate
from exchange_sync.contact_filter import FILTER_FIELDS, contact_filter_text, contact_filter_validate
from exchange_sync.forms import ExchangeSyncSetupForm, contact_filter_from_data, filter_form_field
from exchange_sync.health import excluded_text, scope_previews, setup_health, setups_with_health
from exchange_sync.live.modes import live_mode
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.selectors import scope_preview
from exchange_sync.services import exchange_sync_setup_get_or_create, sync_run_queue

logger = logging.getLogger(__name__)

SETUP_LIST = "admin:exchange_sync_exchangesyncsetup_changelist"
JOB_QUEUE_ADD_PERMISSION = "jobqueue.add_jobqueueentry"
CONTACT_VIEW_PERMISSION = "contacts.view_contact"


def _button(form_id: str, caption: str, *, title: str = "") -> str:
    # The button submits a small form outside the setup form (forms cannot nest), so
    # Enter in a setup field still saves the setup.
    return format_html('<button type="submit" class="button" form="{}" title="{}">{}</button>', form_id, title, caption)


@admin.register(ExchangeSyncSetup)
class ExchangeSyncSetupAdmin(admin.ModelAdmin):
    form = ExchangeSyncSetupForm
    change_form_template = "admin/exchange_sync/exchangesyncsetup/change_form.html"
    list_display = [
        "user",
        "mailbox_email",
        "is_enabled",
        "folder_name",
        "last_success_at",
        "in_sync",
        "excluded",
        "failing",
        "health",
        "live_mode",
    ]
    list_display_links = ["user"]
    list_select_related = ["user__m365_identity", "live_subscription"]
    list_filter = ["is_enabled", "needs_attention"]
    search_fields = ["user__username", "user__m365_identity__authentication_email"]
    readonly_fields = [
        "mailbox_link",
        "sign_in_mode",
        "validate_button",
        "filter_text",
        "filter_preview",
        "sync_buttons",
        "last_success_at",
        "last_sync_at",
        "health_counts",
        "health",
        "live_mode",
        "recent_runs",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: ExchangeSyncSetup | None = None):
        return [
            (
                "Exchange Sync. Setup",
                {"fields": ["mailbox_link", "sign_in_mode", "is_enabled", "is_live_sync_enabled", "validate_button"]},
            ),
            (
                "Contact Sync. Setup",
                {
                    "fields": [
                        "folder_name",
                        ("adopt_existing_folder", "imports_existing_contacts"),
                        *(filter_form_field(field) for field in FILTER_FIELDS),
                        "filter_text",
                        "filter_preview",
                        "keep_outlook_edits",
                        "on_outlook_delete",
                        "sync_buttons",
                    ],
                    "description": "Which contacts go to which Outlook folder, and what happens to edits there.",
                },
            ),
            (
                "Health",
                {"fields": ["health", "live_mode", "last_success_at", "last_sync_at", "health_counts", "recent_runs"]},
            ),
        ]

    def get_form(self, request: HttpRequest, obj: ExchangeSyncSetup | None = None, change: bool = False, **kwargs):
        # The filter boxes are added by the form itself (one per allow-listed field).
        kwargs["fields"] = ExchangeSyncSetupForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: ExchangeSyncSetup, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # What the form's folder check found (it ran before the save; see forms.py).
        if form.folder_adopted:
            self.message_user(request, form.folder_adopted, level=messages.INFO)
        if form.folder_warning:
            self.message_user(request, form.folder_warning, level=messages.WARNING)

    # --- who sees what ------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExchangeSyncSetup]:
        queryset = setups_with_health(
            super().get_queryset(request).select_related("user__m365_identity", "live_subscription")
        )
        return queryset if sees_all(request) else queryset.filter(user=request.user)

    # Model permissions as granted (roles: the Contact Sync User and Administrator
    # groups), and on top of them: only one's own setup unless one may see everyone's.

    def has_view_permission(self, request: HttpRequest, obj: ExchangeSyncSetup | None = None) -> bool:
        return super().has_view_permission(request, obj) and (obj is None or owns(request, obj.user_id))

    def has_change_permission(self, request: HttpRequest, obj: ExchangeSyncSetup | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or owns(request, obj.user_id))

    def has_delete_permission(self, request: HttpRequest, obj: ExchangeSyncSetup | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or owns(request, obj.user_id))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """The list; a user who sees only their own setup goes straight to it. Nothing is
        created here: a user without a setup gets the "Create my setup" button (a POST)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        own = ExchangeSyncSetup.objects.filter(user=request.user).values_list("pk", flat=True).first()
        if not sees_all(request) and own is not None:
            return redirect("admin:exchange_sync_exchangesyncsetup_change", own)
        extra_context = {
            **(extra_context or {}),
            "create_own_url": reverse(f"admin:{_name('add')}")
            if own is None and self.has_add_permission(request)
            else "",
        }
        return super().changelist_view(request, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """ "Create my setup": POST creates the requesting user's own setup with the
        defaults and opens it. A setup is always its owner's, so there is no form to fill."""
        if request.method != "POST":
            return redirect(SETUP_LIST)  # the list offers the button; a GET never writes
        if not self.has_add_permission(request):
            raise PermissionDenied
        setup = exchange_sync_setup_get_or_create(request.user)
        self.message_user(
            request,
            "Your Exchange Sync. Setup is ready. Check the Outlook folder and the filter, then press "
            "Validate Exchange Connection.",
            level=messages.SUCCESS,
        )
        return redirect("admin:exchange_sync_exchangesyncsetup_change", setup.pk)

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # evaluated once; the template reuses these rows
        previews = scope_previews(rows)
        for setup in rows:
            setup.scope = previews[setup.pk]
        return changelist

    # --- columns and read-only fields ---------------------------------------------------

    @admin.display(description="Microsoft 365 email", ordering="user__m365_identity__authentication_email")
    def mailbox_email(self, obj: ExchangeSyncSetup) -> str:
        return obj.mailbox or "-"

    @admin.display(description="In sync")
    def in_sync(self, obj: ExchangeSyncSetup) -> int:
        return obj.in_sync_count

    @admin.display(description="Excluded")
    def excluded(self, obj: ExchangeSyncSetup) -> str:
        return excluded_text(self._scope(obj))

    @admin.display(description="Failing")
    def failing(self, obj: ExchangeSyncSetup) -> int:
        return obj.failing_count

    @admin.display(description="Health")
    def health(self, obj: ExchangeSyncSetup) -> str:
        status = setup_health(obj, scope=self._scope(obj))
        css = "es-attention" if status.needs_attention else "es-ok"
        return format_html('<span class="{}">{}</span>', css, status.message)

    @admin.display(description="Outlook changes")
    def live_mode(self, obj: ExchangeSyncSetup) -> str:
        """How Outlook edits come back: Live (with the subscription's expiry), polling, or scheduled only."""
        mode = live_mode(obj)
        return format_html('<span class="es-live-mode es-live-mode-{}">{}</span>', mode.name, mode.text)

    @admin.display(description="Microsoft 365 email")
    def mailbox_link(self, obj: ExchangeSyncSetup) -> str:
        user_url = reverse("admin:auth_user_change", args=[obj.user_id])
        if not obj.mailbox:
            return format_html(
                'The user {} has no Microsoft 365 email. <a href="{}">Enter it on the user card</a> '
                "(Microsoft 365 Authentication section).",
                obj.user,
                user_url,
            )
        return format_html('{} (<a href="{}">user card of {}</a>)', obj.mailbox, user_url, obj.user)

    @admin.display(description="Microsoft 365 sign-in")
    def sign_in_mode(self, obj: ExchangeSyncSetup) -> str:
        return sign_in_mode_html(obj, viewer_is_owner=getattr(obj, "viewer_is_owner", False))

    @admin.display(description="Connection")
    def validate_button(self, obj: ExchangeSyncSetup) -> str:
        if not getattr(obj, "viewer_may_change", False):  # set by get_object
            return "Validating the connection needs the permission to change this setup."
        return _button(
            "validate-form",
            "Validate Exchange Connection",
            title="Sign in to Microsoft 365, find the mailbox and its Outlook folder.",
        )

    @admin.display(description="Saved filter")
    def filter_text(self, obj: ExchangeSyncSetup) -> str:
        try:
            return contact_filter_text(obj.contact_filter)
        except ValidationError as exc:
            return f"The saved filter is not valid: {' '.join(exc.messages)}"

    @admin.display(description="Preview")
    def filter_preview(self, obj: ExchangeSyncSetup) -> str:
        if not getattr(obj, "viewer_may_view_contacts", False):  # set by get_object
            return "Counting the contacts needs the permission to view contacts."
        return format_html(
            '<span id="es-scope-preview" data-url="{}" aria-live="polite">{}</span>',
            reverse("admin:exchange_sync_exchangesyncsetup_preview", args=[obj.pk]),
            str(self._scope(obj)),
        )

    @admin.display(description="Synchronize")
    def sync_buttons(self, obj: ExchangeSyncSetup) -> str:
        buttons = []
        if getattr(obj, "viewer_may_run", False):  # set by get_object
            buttons += [
                _button("sync-form", "Sync with Microsoft 365", title="Changes since the last sync, both ways."),
                _button("full-sync-form", "Full Sync with Microsoft 365", title="Everything, both ways."),
            ]
        if getattr(obj, "job_queue_url", ""):  # set by get_object: the viewer may add entries
            buttons.append(
                _button("job-queue-form", "Set up job queue entry", title="Synchronize on a schedule (Codeunit 6700).")
            )
        if not buttons:
            return "Starting a synchronization needs the permission 'Can start contact synchronization'."
        return format_html_join(" ", "{}", ((b,) for b in buttons))

    @admin.display(description="Contacts")
    def health_counts(self, obj: ExchangeSyncSetup) -> str:
        status = setup_health(obj, scope=self._scope(obj))
        if not getattr(obj, "viewer_may_view_contacts", False):  # the excluded count counts contacts
            return format_html("{} in sync, {} failing.", status.in_sync, status.failing)
        return format_html(
            "{} in sync, {} excluded, {} failing.", status.in_sync, excluded_text(status.scope), status.failing
        )

    @admin.display(description="Recent runs")
    def recent_runs(self, obj: ExchangeSyncSetup) -> str:
        runs = list(obj.runs.all()[:5])
        if not runs:
            return "No synchronization has run yet."
        rows = format_html_join(
            "",
            '<li><a href="{}">{} #{}</a>: {}, {}</li>',
            (
                (
                    reverse("admin:exchange_sync_syncrun_change", args=[run.pk]),
                    run.get_kind_display(),
                    run.pk,
                    run.get_status_display(),
                    f"{run.created_at:%Y-%m-%d %H:%M}",
                )
                for run in runs
            ),
        )
        all_url = f"{reverse('admin:exchange_sync_syncrun_changelist')}?setup__id__exact={obj.pk}"
        return format_html('<ul class="es-runs">{}</ul><a href="{}">All runs</a>', rows, all_url)

    def _scope(self, obj: ExchangeSyncSetup):
        if getattr(obj, "scope", None) is None:
            obj.scope = scope_previews([obj])[obj.pk]
        return obj.scope

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        setup = super().get_object(request, object_id, from_field)
        if setup is not None:
            # "Set up job queue entry" only for those who may add Job Queue Entries
            # (the read-only field that draws the button has no request).
            setup.job_queue_url = _job_queue_url() if request.user.has_perm(JOB_QUEUE_ADD_PERMISSION) else ""
            setup.viewer_may_run = can_run_sync(request)
            setup.viewer_may_change = self.has_change_permission(request, setup)
            setup.viewer_is_owner = request.user.pk == setup.user_id
            setup.viewer_may_view_contacts = request.user.has_perm(CONTACT_VIEW_PERMISSION)
        return setup

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        setup = self.get_object(request, object_id)
        if setup is None:
            raise Http404("No such Exchange Sync. Setup.")  # or another user's
        extra_context = {
            **(extra_context or {}),
            "setup_id": object_id,
            "validate_url": reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[object_id]),
            "connect_url": reverse("admin:exchange_sync_exchangesyncsetup_connect", args=[object_id]),
            "disconnect_url": reverse("admin:exchange_sync_exchangesyncsetup_disconnect", args=[object_id]),
            "sync_url": reverse("admin:exchange_sync_exchangesyncsetup_sync"),
            "full_sync_url": reverse("admin:exchange_sync_exchangesyncsetup_full_sync"),
            # The entry runs as the setup's owner, whoever presses the button.
            "job_queue_url": setup.job_queue_url,
            "setup_user_id": setup.user_id,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- custom views -------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("sync/", view(self.sync_view), {"kind": SyncRun.Kind.INCREMENTAL}, name=_name("sync")),
            path("full-sync/", view(self.sync_view), {"kind": SyncRun.Kind.FULL}, name=_name("full_sync")),
            path("<path:object_id>/preview/", view(self.preview_view), name=_name("preview")),
            path("<path:object_id>/validate/", view(self.validate_view), name=_name("validate")),
            path("connect/done/", view(self.connect_done_view), name=_name("connect_done")),
            path("<path:object_id>/connect/", view(self.connect_view), name=_name("connect")),
            path("<path:object_id>/disconnect/", view(self.disconnect_view), name=_name("disconnect")),
            *super().get_urls(),
        ]

    def sync_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        """Sync / Full Sync with Microsoft 365 (contact list and setup page): POST queues a
        run of the user's setup (or of the posted `setup`) and opens the run's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_run_sync(request):
            raise PermissionDenied
        setup_id = request.POST.get("setup")
        if setup_id:
            setup = self.get_queryset(request).filter(pk=setup_id).first() if setup_id.isdigit() else None
            if setup is None:
                raise Http404("No such Exchange Sync. Setup.")
        else:
            setup = ExchangeSyncSetup.objects.select_related("user__m365_identity").filter(user=request.user).first()
        setup_url = reverse(SETUP_LIST)
        if setup is not None and not self.has_view_permission(request, setup):
            raise PermissionDenied
        if setup is None:
            self.message_user(
                request,
                format_html(
                    'You have no Exchange Sync. Setup yet. <a href="{}">Open the Exchange Sync. Setup</a> '
                    "to set up contact synchronization, then sync again.",
                    setup_url,
                ),
                level=messages.WARNING,
            )
            return redirect_back(request, SETUP_LIST)
        if not setup.mailbox:
            self.message_user(
                request,
                format_html(
                    "The user {} has no Microsoft 365 email, so there is no mailbox to synchronize. "
                    '<a href="{}">Open the Exchange Sync. Setup</a> to enter it.',
                    setup.user,
                    reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk]),
                ),
                level=messages.WARNING,
            )
            return redirect_back(request, SETUP_LIST)
        try:
            run, created = sync_run_queue(setup, kind=kind, trigger=SyncRun.Trigger.BUTTON, requested_by=request.user)
        except Exception as exc:
            logger.exception("Queuing a sync of setup %s failed", setup.pk)
            self.message_user(request, f"Starting the synchronization failed: {exc}", level=messages.ERROR)
            return redirect_back(request, SETUP_LIST)
        if created:
            self.message_user(
                request,
                f"{run.get_kind_display()} has been queued. This page shows its progress.",
                level=messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"A synchronization is already running ({run.get_kind_display()} #{run.pk}, "
                f"{run.get_status_display().lower()}). Here it is; no other run was started.",
                level=messages.INFO,
            )
        return redirect("admin:exchange_sync_syncrun_change", run.pk)

    def preview_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """GET with the filter boxes' current values: what the filter of this setup would
        synchronize. Counting contacts needs the permission to view them, and the setup
        must be one the user may see (their own, unless they may see everyone's)."""
        if not request.user.has_perm(CONTACT_VIEW_PERMISSION):
            raise PermissionDenied
        setup = self.get_object(request, object_id)
        if setup is None or not self.has_view_permission(request, setup):
            raise Http404("No such Exchange Sync. Setup.")
        try:
            contact_filter = contact_filter_validate(contact_filter_from_data(request.GET))
        except ValidationError as exc:
            return JsonResponse({"error": " ".join(exc.messages)})
        preview = scope_preview(contact_filter)
        return JsonResponse(
            {
                "text": str(preview),
                "filter": contact_filter_text(contact_filter),
                "in_scope": preview.in_scope,
                "excluded": preview.excluded,
            }
        )

    def _own_setup(self, request: HttpRequest, object_id: str) -> ExchangeSyncSetup:
        setup = self.get_object(request, object_id)
        if setup is None:
            raise Http404("No such Exchange Sync. Setup.")
        return setup

    def connect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Connect my Microsoft 365 mailbox / Reconnect (POST; see admin/connect.py)."""
        return connect_view(self, request, self._own_setup(request, object_id))

    def connect_done_view(self, request: HttpRequest) -> HttpResponse:
        """The redirect URI of the sign-in (see admin/connect.py)."""
        return connect_done_view(self, request)

    def disconnect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Disconnect (POST): delete the person's tokens."""
        return disconnect_view(self, request, self._own_setup(request, object_id))

    def validate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Validate Exchange Connection: POST tries the connection and reports in words."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        setup = self.get_object(request, object_id)
        if setup is None:
            raise Http404("No such Exchange Sync. Setup.")
        if not self.has_change_permission(request, setup):
            raise PermissionDenied
        check = exchange_connection_validate(setup)
        if check.is_ok:
            self.message_user(request, f"The Exchange connection works. {check}", level=messages.SUCCESS)
        else:
            self.message_user(request, f"The Exchange connection does not work yet. {check}", level=messages.ERROR)
        return redirect("admin:exchange_sync_exchangesyncsetup_change", setup.pk)


def _name(action: str) -> str:
    return f"exchange_sync_exchangesyncsetup_{action}"


def _job_queue_url() -> str:
    # The job queue app offers the entry; we link to it by name and never import it.
    try:
        return reverse("admin:jobqueue_jobqueueentry_contact_sync")
    except NoReverseMatch:
        return ""
