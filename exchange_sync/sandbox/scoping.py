"""Mailbox scoping: Exchange Online keeping an app out of some mailboxes.

An administrator can limit an app's application permission to some mailboxes (RBAC for
Applications, or the older application access policies). Graph then answers every request
of that app on another mailbox with 403 `ErrorAccessDenied`, "Access to OData is
disabled." (https://learn.microsoft.com/graph/auth-limit-mailbox-access, "Handling API
errors"), lately followed by ": [RAOP] : Blocked by tenant configured AppOnly
AccessPolicy settings." [observed]. That differs from an app without consent, which
gets "Access is denied. Check credentials and try again." on every mailbox (the
mailbox's `is_access_denied` knob).

The app is the `appid` of the request's token: `views_graph` notes it for the request
(`request_app_set`), and `graph.dispatch` asks `mailbox_scope_check` for every mailbox
route, batch members included.

A delegated token (one with `scp`, issued for a signed-in user, see `delegated`) reaches
only that user's own mailbox: `/me/...` is theirs, and any other mailbox answers 403
`ErrorAccessDenied` as Graph does for a user without shared access to it
(https://learn.microsoft.com/graph/permissions-overview, delegated access). Exchange's
app scoping applies to application permissions only, so it is not asked then.

Denials are rows (`MailboxScopeDenial`), shared by every process like the other knobs;
tests and the `sandbox_app` command set them.
"""

from __future__ import annotations

import contextvars

from .errors import GraphError
from .models import Mailbox, MailboxScopeDenial

OUT_OF_SCOPE_MESSAGE = (
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
)
# Graph's answer to a delegated token on another user's mailbox [observed].
DELEGATED_OTHER_MAILBOX_MESSAGE = "Access is denied. Check credentials and try again."


class _RequestApp:
    """The app of the request being served, and what it was told about each mailbox: a
    `$batch` of 20 members on one mailbox asks the database once."""

    def __init__(self, client_id: str, user_id: str = "") -> None:
        self.client_id = client_id
        self.user_id = user_id  # the signed-in user's oid, for a delegated token
        self.denied: dict[int, bool] = {}


_request_app: contextvars.ContextVar[_RequestApp | None] = contextvars.ContextVar(
    "graph_sandbox_request_app", default=None
)


def request_app_set(client_id: str, user_id: str = "") -> None:
    """Note the app (token `appid`) of the request being served, and for a delegated
    token the signed-in user (`oid`)."""
    _request_app.set(_RequestApp(client_id, user_id) if client_id else None)


def signed_in_user() -> str:
    """The `oid` of the request's signed-in user; "" for an app-only token."""
    app = _request_app.get()
    return app.user_id if app else ""


def mailbox_scope_check(mailbox: Mailbox) -> None:
    """Raise Graph's 403 when the request's app is kept out of `mailbox`."""
    app = _request_app.get()
    if app is None:
        return
    if app.user_id:
        if str(mailbox.user_id) != app.user_id:
            raise GraphError(403, "ErrorAccessDenied", DELEGATED_OTHER_MAILBOX_MESSAGE)
        return
    if mailbox.pk not in app.denied:
        app.denied[mailbox.pk] = MailboxScopeDenial.objects.filter(client_id=app.client_id, mailbox=mailbox).exists()
    if app.denied[mailbox.pk]:
        raise GraphError(403, "ErrorAccessDenied", OUT_OF_SCOPE_MESSAGE)


def mailbox_scope_deny(client_id: str, email: str) -> None:
    """Keep the app out of the mailbox (idempotent). Mailbox.DoesNotExist for an unknown address."""
    mailbox = Mailbox.objects.get(email=email.strip().lower())
    MailboxScopeDenial.objects.get_or_create(client_id=client_id, mailbox=mailbox)


def mailbox_scope_allow(client_id: str, email: str) -> None:
    """Let the app open the mailbox again."""
    MailboxScopeDenial.objects.filter(client_id=client_id, mailbox__email=email.strip().lower()).delete()


def mailbox_scope_denials() -> list[tuple[str, str]]:
    """(client id, mailbox address) of every denial."""
    return list(
        MailboxScopeDenial.objects.order_by("client_id", "mailbox__email").values_list("client_id", "mailbox__email")
    )
