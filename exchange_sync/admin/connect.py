"""The setup page's "Microsoft 365 sign-in": how the setup's runs sign in, and the
Connect / Reconnect / Disconnect buttons of per-user (delegated) sign-in.

Connect (POST) starts msal's authorization code flow with PKCE, keeps the flow in the
person's session and sends the browser to Microsoft's sign-in page; Microsoft sends it
back to `connect/done/` (the redirect URI registered in Entra ID), which completes the
flow once: the flow leaves the session at the first answer, so a replayed answer finds
nothing. Only the setup's owner may connect it, and only as their own mailbox.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from exchange_sync.connection import delegated_sign_in
from exchange_sync.graph import GraphError
from exchange_sync.mailbox_connection import (
    ConnectRefused,
    mailbox_connection_finish,
    mailbox_connection_remove,
    mailbox_connection_start,
)
from exchange_sync.models import ExchangeSyncSetup, MailboxConnection

logger = logging.getLogger(__name__)

SESSION_KEY = "exchange_sync_m365_connect"
CONNECT_DONE = "admin:exchange_sync_exchangesyncsetup_connect_done"


def sign_in_mode_html(setup: ExchangeSyncSetup, *, viewer_is_owner: bool) -> str:
    """The "Microsoft 365 sign-in" field: the mode, and the buttons the viewer may press."""
    app_text = "App permission: bcsync opens this mailbox with the app registration's Contacts.ReadWrite permission."
    if not settings.M365_DELEGATED_SIGN_IN:
        return app_text
    connection = MailboxConnection.objects.filter(setup_id=setup.pk).first()
    if not viewer_is_owner:
        if connection is None:
            return format_html("{} Only {} can connect their own mailbox.", app_text, setup.user)
        return format_html("Connected as {}.", connection.username)
    if connection is None:
        return format_html(
            '<span id="es-sign-in-mode">{}</span> {}',
            app_text,
            _button("connect-form", "Connect my Microsoft 365 mailbox", "Sign in to your own mailbox instead."),
        )
    if connection.needs_reconnect:
        return format_html(
            '<span id="es-sign-in-mode" class="es-attention">Connected as {}, but the sign-in no longer works. {}'
            "</span> {} {}",
            connection.username,
            connection.problem,
            _button("connect-form", "Reconnect", "Sign in to your mailbox again."),
            _button("disconnect-form", "Disconnect", "Delete your Microsoft 365 tokens from bcsync."),
        )
    return format_html(
        '<span id="es-sign-in-mode">Connected as {} (since {}): runs use your own sign-in.</span> {}',
        connection.username,
        f"{connection.connected_at:%Y-%m-%d %H:%M}",
        _button("disconnect-form", "Disconnect", "Delete your Microsoft 365 tokens from bcsync."),
    )


def _button(form_id: str, caption: str, title: str) -> str:
    return format_html('<button type="submit" class="button" form="{}" title="{}">{}</button>', form_id, title, caption)


def _back(setup: ExchangeSyncSetup) -> HttpResponse:
    return redirect("admin:exchange_sync_exchangesyncsetup_change", setup.pk)


def connect_view(model_admin, request: HttpRequest, setup: ExchangeSyncSetup) -> HttpResponse:
    """Connect / Reconnect (POST): off to Microsoft's sign-in page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not settings.M365_DELEGATED_SIGN_IN:
        model_admin.message_user(
            request, "Per-user sign-in is not enabled on this site (M365_DELEGATED_SIGN_IN).", level=messages.ERROR
        )
        return _back(setup)
    if request.user.pk != setup.user_id:
        model_admin.message_user(request, "You can connect only your own mailbox.", level=messages.ERROR)
        return _back(setup)
    try:
        flow = mailbox_connection_start(setup, delegated_sign_in(), request.build_absolute_uri(reverse(CONNECT_DONE)))
    except ConnectRefused as exc:
        model_admin.message_user(request, str(exc), level=messages.ERROR)
        return _back(setup)
    except GraphError as exc:
        model_admin.message_user(
            request, f"Microsoft 365 sign-in could not be started ({exc}). Try again later.", level=messages.ERROR
        )
        return _back(setup)
    request.session[SESSION_KEY] = {"setup": setup.pk, "flow": flow}
    return redirect(flow["auth_uri"])


def connect_done_view(model_admin, request: HttpRequest) -> HttpResponse:
    """Where Microsoft's sign-in page sends the browser back (GET with `code` and `state`,
    or `error`): complete the sign-in once, then back to the setup."""
    pending = request.session.pop(SESSION_KEY, None)
    setup = None
    if pending:
        setup = ExchangeSyncSetup.objects.select_related("user__m365_identity").filter(pk=pending["setup"]).first()
    if setup is None or setup.user_id != request.user.pk:
        model_admin.message_user(
            request,
            "This Microsoft 365 sign-in answer does not belong to a sign-in started here, or it was already used. "
            "Nothing was stored. Press Connect on your setup to sign in again.",
            level=messages.ERROR,
        )
        return redirect("admin:exchange_sync_exchangesyncsetup_changelist")
    try:
        connection = mailbox_connection_finish(setup, delegated_sign_in(), pending["flow"], request.GET.dict())
    except ConnectRefused as exc:
        model_admin.message_user(request, str(exc), level=messages.ERROR)
    except GraphError as exc:
        model_admin.message_user(
            request,
            f"Microsoft 365 could not be reached to finish the sign-in ({exc}). Nothing was stored.",
            level=messages.ERROR,
        )
    else:
        model_admin.message_user(
            request,
            f"Connected as {connection.username}. Runs of this setup now use your own Microsoft 365 sign-in.",
            level=messages.SUCCESS,
        )
    return _back(setup)


def disconnect_view(model_admin, request: HttpRequest, setup: ExchangeSyncSetup) -> HttpResponse:
    """Disconnect (POST): delete the person's tokens; runs use the app permission again."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.user.pk != setup.user_id:
        model_admin.message_user(request, "You can disconnect only your own mailbox.", level=messages.ERROR)
        return _back(setup)
    if mailbox_connection_remove(setup):
        model_admin.message_user(
            request,
            "Disconnected: your Microsoft 365 tokens were deleted from bcsync. Runs of this setup use the app "
            "permission again.",
            level=messages.SUCCESS,
        )
    return _back(setup)
