"""Sync runs and sync issues, read-only: the run page with live progress, counts per
direction, issues and, for "needs confirmation", the planned deletions and Confirm."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from exchange_sync.admin.common import can_run_sync, owns, sees_all
from exchange_sync.connection import graph_client_for_setup
from exchange_sync.graph.errors import GraphError
from exchange_sync.models import SyncIssue, SyncRun
from exchange_sync.outlook_copies import OutlookCopyError, outlook_copy_link, outlook_copy_remove
from exchange_sync.services import sync_run_confirm, sync_run_is_confirmable

logger = logging.getLogger(__name__)

ISSUES_PER_PAGE = 50
SETUP_CHANGE_PERMISSION = "exchange_sync.change_exchangesyncsetup"

# The run page's actions on a copy a person made in Outlook (SyncIssue.is_outlook_copy).
COPY_ACTIONS = {"link-copy": outlook_copy_link, "remove-copy": outlook_copy_remove}


def _progress(run: SyncRun) -> dict:
    return {
        "status": run.status,
        "status_display": run.get_status_display(),
        "done": run.progress_done,
        "total": run.progress_total,
        "is_finished": run.is_finished,
    }


def _counts(run: SyncRun) -> list[tuple[str, list[tuple[str, int]]]]:
    """The run's counters grouped as a person reads them."""
    return [
        (
            "To Outlook",
            [
                ("Created", run.created_in_outlook),
                ("Updated", run.updated_in_outlook),
                ("Deleted", run.deleted_in_outlook),
            ],
        ),
        (
            "To Business Central",
            [("Created", run.created_in_bc), ("Linked", run.linked_in_bc), ("Updated", run.updated_in_bc)],
        ),
        (
            "Other",
            [
                ("Unchanged", run.unchanged),
                ("Excluded", run.excluded),
                ("Skipped", run.skipped),
                ("Failed", run.failed),
                ("Conflicts", run.conflicts),
                ("Graph requests", run.graph_requests),
            ],
        ),
    ]


def _may_act_on_copies(request: HttpRequest, run: SyncRun) -> bool:
    """The Outlook-copy actions change the setup's links and its Outlook folder: they need
    the run permission and the permission to change that (own) setup."""
    return (
        run.setup is not None
        and can_run_sync(request)
        and request.user.has_perm(SETUP_CHANGE_PERMISSION)
        and owns(request, run.setup.user_id)
    )


class _OwnRowsMixin:
    """Read-only, and each user sees only the rows of their own setup (unless they may
    see everyone's). View and delete follow the model permissions; a run or an issue is
    written by the sync only, so nobody adds or changes one here."""

    owner_field = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        return queryset if sees_all(request) else queryset.filter(**{self.owner_field: request.user})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(_OwnRowsMixin, admin.ModelAdmin):
    owner_field = "setup__user"
    list_display = ["__str__", "user", "status", "trigger", "created_at", "finished_at", "progress", "summary"]
    list_select_related = ["requested_by"]
    list_filter = ["status", "kind", "trigger"]
    search_fields = ["user_name", "mailbox", "error"]
    date_hierarchy = "created_at"

    @admin.display(description="User", ordering="user_name")
    def user(self, obj: SyncRun) -> str:
        return obj.user_display

    @admin.display(description="Progress")
    def progress(self, obj: SyncRun) -> str:
        return f"{obj.progress_done} / {obj.progress_total}"

    @admin.display(description="Result")
    def summary(self, obj: SyncRun) -> str:
        if obj.error and obj.status in (SyncRun.Status.FAILED, SyncRun.Status.REFUSED, SyncRun.Status.INTERRUPTED):
            return obj.error
        if not obj.is_finished:
            return ""
        return (
            f"To Outlook {obj.created_in_outlook}/{obj.updated_in_outlook}/{obj.deleted_in_outlook}, "
            f"to Business Central {obj.created_in_bc}/{obj.linked_in_bc}/{obj.updated_in_bc}, "
            f"{obj.failed} failed"
        )

    def has_delete_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        # A run still going is its worker's until it finishes (as an entry In Process).
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_finished)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="exchange_sync_syncrun_progress"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="exchange_sync_syncrun_confirm"),
            path(
                "<int:pk>/issues/<int:issue_pk>/<slug:action>/",
                view(self.copy_action_view),
                name="exchange_sync_syncrun_copy_action",
            ),
            *super().get_urls(),
        ]

    def _run(self, request: HttpRequest, pk: object) -> SyncRun:
        run = self.get_queryset(request).filter(pk=pk).first() if str(pk).isdigit() else None
        if run is None:
            raise Http404("No such sync run.")
        return run

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """The run's page: progress, counts per direction, issues, planned deletions."""
        run = self._run(request, object_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        issues = Paginator(run.issues.select_related("resolved_by"), ISSUES_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{run.get_kind_display()} #{run.pk}",
            "subtitle": None,
            "opts": self.model._meta,
            "run": run,
            "progress": _progress(run),
            "counts": _counts(run),
            "issues": issues,
            "issues_url": f"{reverse('admin:exchange_sync_syncissue_changelist')}?run__id__exact={run.pk}",
            "progress_url": reverse("admin:exchange_sync_syncrun_progress", args=[run.pk]),
            "confirm_url": reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk]),
            "setup_url": (
                reverse("admin:exchange_sync_exchangesyncsetup_change", args=[run.setup_id]) if run.setup_id else ""
            ),
            "can_confirm": sync_run_is_confirmable(run) and can_run_sync(request),
            "can_act_on_copies": _may_act_on_copies(request, run),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/exchange_sync/syncrun/run.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """The run's progress as JSON, polled by the run page while it is going."""
        run = self._run(request, pk)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(_progress(run))

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Confirm a run that stopped as "needs confirmation": POST queues its repeat."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run(request, pk)
        if not (can_run_sync(request) and self.has_view_permission(request, run)):
            raise PermissionDenied
        try:
            new_run, created = sync_run_confirm(run, requested_by=request.user)
        except ValueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return redirect("admin:exchange_sync_syncrun_change", run.pk)
        except Exception as exc:
            logger.exception("Confirming run %s failed", run.pk)
            self.message_user(request, f"Confirming the synchronization failed: {exc}", level=messages.ERROR)
            return redirect("admin:exchange_sync_syncrun_change", run.pk)
        if created:
            self.message_user(
                request,
                f"Confirmed. {new_run.get_kind_display()} #{new_run.pk} has been queued and will carry out "
                "the deletions.",
                level=messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"A synchronization is already running (#{new_run.pk}). Here it is; confirm again when it "
                "has finished if it is still needed.",
                level=messages.INFO,
            )
        return redirect("admin:exchange_sync_syncrun_change", new_run.pk)

    def copy_action_view(self, request: HttpRequest, pk: int, issue_pk: int, action: str) -> HttpResponse:
        """ "Link this one instead" / "Remove the Outlook copy" on a copy made in Outlook:
        POST carries it out (outlook_copies.py) and reports on the run's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run(request, pk)  # another user's run is not found
        if not _may_act_on_copies(request, run):
            raise PermissionDenied
        issue = run.issues.select_related("run__setup__user__m365_identity", "contact").filter(pk=issue_pk).first()
        if issue is None or action not in COPY_ACTIONS:
            raise Http404("No such issue or action.")
        client = graph_client_for_setup(run.setup)
        try:
            done = COPY_ACTIONS[action](issue, client=client, user=request.user)
        except OutlookCopyError as exc:
            self.message_user(request, str(exc), level=messages.WARNING)
        except GraphError as exc:
            self.message_user(
                request, f"Outlook could not be reached or refused ({exc}). Nothing was changed.", level=messages.ERROR
            )
        else:
            self.message_user(request, done, level=messages.SUCCESS)
        finally:
            client.close()
        return redirect("admin:exchange_sync_syncrun_change", run.pk)


@admin.register(SyncIssue)
class SyncIssueAdmin(_OwnRowsMixin, admin.ModelAdmin):
    owner_field = "run__setup__user"
    list_display = ["run_link", "kind", "direction", "contact_link", "outlook_name", "reason", "created_at"]
    list_select_related = ["run"]
    list_filter = ["kind", "direction"]
    search_fields = ["contact_no", "outlook_name", "reason"]
    list_per_page = 100

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        if self.get_object(request, object_id) is None:
            raise Http404("No such sync issue.")  # or another user's
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Run", ordering="run")
    def run_link(self, obj: SyncIssue) -> str:
        url = reverse("admin:exchange_sync_syncrun_change", args=[obj.run_id])
        return format_html('<a href="{}">{}</a>', url, obj.run)

    @admin.display(description="Contact", ordering="contact_no")
    def contact_link(self, obj: SyncIssue) -> str:
        if obj.contact_id:
            url = reverse("admin:contacts_contact_change", args=[obj.contact_id])
            return format_html('<a href="{}">{}</a>', url, obj.contact_no or obj.contact_id)
        return obj.contact_no or "-"
