"""Typed Microsoft Graph errors, grouped by what the caller does next.

Graph answers errors as ``{"error": {"code", "message", "innerError": {"request-id"}}}``
(https://learn.microsoft.com/graph/errors). :func:`error_from_response` is the one pure
function that turns a status, a body and headers into one of the classes below; callers
branch on the class (and on ``code`` where needed), never on ``message``.

====================  ============================================  =========================
class                 when                                          the caller
====================  ============================================  =========================
GraphAuthError        401/403, bad credentials, missing consent     stops; an admin must act
GraphThrottledError   429 still answered after the retries          tries later
GraphTransientError   5xx, timeouts, connection errors              tries later
GraphNotFoundError    404 (ErrorItemNotFound, ErrorInvalidUser)     handles the missing item
GraphDeltaExpiredError 410, syncStateNotFound, resyncRequired       runs a full reconciliation
GraphBadRequestError  any other 4xx                                 records the item as failed
GraphConflictError    409 ErrorFolderExists, 412 stale change key   re-reads, then decides
====================  ============================================  =========================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

DELTA_EXPIRED_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})


class GraphError(Exception):
    """A failed Graph (or identity) call.

    ``status`` is the HTTP status (``None`` when no response arrived), ``code`` and
    ``message`` are Graph's, ``request_id`` is Graph's ``request-id`` (or the
    ``client-request-id`` we sent, so support can find the call either way).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [f"{self.status}" if self.status is not None else "no response"]
        if self.code:
            parts.append(self.code)
        text = f"{' '.join(parts)}: {self.message}"
        if self.request_id:
            text += f" (request-id {self.request_id})"
        return text


class GraphAuthError(GraphError):
    """Credentials, tenant, consent or token trouble: an administrator has to act.

    ``reason`` says what to fix: ``"invalid_client"`` (wrong or expired secret),
    ``"unknown_tenant"``, ``"unknown_client"`` (no such application id in the tenant),
    ``"consent"`` (permission not granted), ``"mailbox_scope"`` (signed in, but Exchange
    Online keeps the app out of this mailbox: outside the app's management scope or
    application access policy), ``"certificate"`` (the certificate cannot be used, or
    Entra ID refused its signed assertion), ``"reconnect"`` (a person's delegated sign-in
    no longer works: they must sign in again; the message says why) or ``"token"`` (the
    token was refused or could not be obtained otherwise).
    """

    REASONS = (
        "invalid_client",
        "unknown_tenant",
        "unknown_client",
        "consent",
        "mailbox_scope",
        "certificate",
        "reconnect",
        "token",
    )

    def __init__(self, message: str, *, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class GraphThrottledError(GraphError):
    """Still throttled (429) after the client's retries. ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GraphTransientError(GraphError):
    """A 5xx, a timeout or a connection error that outlasted the retries: try later."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GraphNotFoundError(GraphError):
    """404: the item, folder or mailbox does not exist (``code`` tells which kind)."""


class GraphDeltaExpiredError(GraphError):
    """The delta link is no longer valid: drop it and reconcile fully.

    ``location`` is the fresh-start URL Graph may send with a 410; callers may ignore it
    and simply start a delta round without a link.
    """

    def __init__(self, message: str, *, location: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class GraphBadRequestError(GraphError):
    """Any other 4xx: the request itself is wrong for this item; retrying will not help."""


class GraphConflictError(GraphBadRequestError):
    """409 (e.g. ``ErrorFolderExists``) or 412 (``ErrorIrresolvableConflict``, stale change key)."""


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header, or ``None`` when absent or not a number.

    Graph sends whole seconds (https://learn.microsoft.com/graph/throttling); the HTTP
    date form is not used by Graph and is treated as absent.
    """
    if not headers:
        return None
    value = _header(headers, "Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return max(seconds, 0.0)


def error_from_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> GraphError:
    """Map a failed Graph answer to the typed exception the caller acts on. Pure.

    ``body`` may be the decoded JSON, its text, bytes or ``None``; ``headers`` any
    mapping (looked up case-insensitively).
    """
    headers = headers or {}
    error = _error_object(body)
    code = str(error.get("code") or "")
    message = str(error.get("message") or "") or f"HTTP {status}"
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = str(
        (inner.get("request-id") if isinstance(inner, dict) else "")
        or _header(headers, "request-id")
        or _header(headers, "client-request-id")
        or ""
    )
    common: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}

    if status == 410 or code.lower() in DELTA_EXPIRED_CODES:
        return GraphDeltaExpiredError(message, location=_header(headers, "Location") or "", **common)
    if status == 401:
        return GraphAuthError(message, reason="token", **common)
    if status == 403:
        return GraphAuthError(message, reason=_forbidden_reason(code, message), **common)
    if status == 404:
        return GraphNotFoundError(message, **common)
    if status == 429:
        return GraphThrottledError(message, retry_after=parse_retry_after(headers), **common)
    if status in (409, 412):
        return GraphConflictError(message, **common)
    if 400 <= status < 500:
        return GraphBadRequestError(message, **common)
    if status >= 500:
        return GraphTransientError(message, retry_after=parse_retry_after(headers), **common)
    return GraphError(message, **common)


def _forbidden_reason(code: str, message: str) -> str:
    """What a 403 asks an administrator to fix.

    The one place that reads a message: Graph answers both a missing consent and a
    mailbox outside the app's scope (RBAC for Applications, application access policy)
    with the code ``ErrorAccessDenied``; only the scope refusal says "Access to OData is
    disabled" (https://learn.microsoft.com/graph/auth-limit-mailbox-access, "Handling
    API errors"; lately followed by "[RAOP] : Blocked by tenant configured AppOnly
    AccessPolicy settings." [observed]).
    """
    if code == "ErrorAccessDenied" and message.lower().startswith("access to odata is disabled"):
        return "mailbox_scope"
    return "consent"


def _error_object(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {"message": body[:500]} if body.strip() else {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
