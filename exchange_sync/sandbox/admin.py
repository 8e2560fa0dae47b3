"""The sandbox in the admin: its mailboxes with their knobs, the way to the Outlook page,
and the change-notification subscriptions apps made (read only: apps make them over Graph).

The app shows in the admin index as "Outlook (sandbox)"; the mailbox list links to
the Outlook page for each mailbox.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from . import delegated
from .models import Mailbox, Subscription


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ["email", "display_name", "latency_ms", "is_throttled", "is_access_denied", "outlook_link"]
    search_fields = ["email", "display_name"]
    fields = [
        "email",
        "display_name",
        "latency_ms",
        "is_throttled",
        "transient_error_rate",
        "lost_create_rate",
        "delta_expiry",
        "is_access_denied",
        "notification_drop_rate",
        "notification_duplicate_rate",
        "notification_delay_seconds",
        "is_notification_reordered",
        "is_sign_in_blocked",
        "tokens_valid_from",
    ]
    actions = ["revoke_consents", "expire_refresh_tokens", "reset_password"]
    change_list_template = "graph_sandbox/mailbox_change_list.html"

    # The tables stay when the sandbox is off, but nothing serves them (no Outlook page,
    # no Graph): the admin hides them rather than link to pages that do not exist.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return settings.GRAPH_SANDBOX and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Mailbox | None = None) -> bool:
        return settings.GRAPH_SANDBOX and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Mailbox | None = None) -> bool:
        return settings.GRAPH_SANDBOX and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Mailbox | None = None) -> bool:
        return settings.GRAPH_SANDBOX and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Mailbox | None = None) -> list[str]:
        # Mailboxes are provisioned with `manage.py sandbox_mailbox add`; only knobs are edited here.
        return ["email"] if obj else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Mailbox, form, change: bool) -> None:
        # Changed knobs start a fresh throttle window and random sequence in the
        # serving process, as `sandbox_mailbox set` does.
        if form.changed_data:
            obj.knobs_version = uuid.uuid4()
        super().save_model(request, obj, form, change)

    # What a user or tenant administrator does in Entra ID to delegated sign-ins
    # (exchange_sync/sandbox/delegated.py); "account disabled" is a field of the mailbox.

    @admin.action(description="Revoke app consents (delegated sign-in)", permissions=["change"])
    def revoke_consents(self, request: HttpRequest, queryset) -> None:
        removed = sum(delegated.consent_revoke(None, mailbox.email) for mailbox in queryset)
        self.message_user(
            request, f"Removed {removed} app consent(s): their refresh tokens now fail.", messages.SUCCESS
        )

    @admin.action(description="Expire refresh tokens (as after 90 days unused)", permissions=["change"])
    def expire_refresh_tokens(self, request: HttpRequest, queryset) -> None:
        for mailbox in queryset:
            delegated.refresh_tokens_expire(mailbox.email)
        self.message_user(request, "Refresh tokens expired.", messages.SUCCESS)

    @admin.action(description="Reset password (refresh tokens issued before fail)", permissions=["change"])
    def reset_password(self, request: HttpRequest, queryset) -> None:
        for mailbox in queryset:
            delegated.password_reset(mailbox.email)
        self.message_user(request, "Password reset: earlier refresh tokens now fail.", messages.SUCCESS)

    @admin.display(description="Outlook")
    def outlook_link(self, mailbox: Mailbox) -> str:
        url = f"{reverse('graph_sandbox:outlook')}?{urlencode({'mailbox': mailbox.email})}"
        return format_html('<a href="{}">Open in Outlook (sandbox)</a>', url)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """What apps subscribed to; removing or expiring one as Outlook would is
    `manage.py sandbox_mailbox subscription ID remove|expire` (it sends the lifecycle event)."""

    list_display = ["graph_id", "mailbox", "resource", "change_type", "expires_at", "notification_url"]
    list_filter = ["mailbox"]
    readonly_fields = [f.name for f in Subscription._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return settings.GRAPH_SANDBOX and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return settings.GRAPH_SANDBOX and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False
