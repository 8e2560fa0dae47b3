"""One Graph request through the sandbox, whether it came over HTTP or inside a `$batch`.

`dispatch` resolves the route and the mailbox, applies the mailbox's simulated conditions
(access denied, throttle, transient errors, latency) and calls the operation. Operations
raise `GraphError` for Graph's error answers. Batch members run through the same path,
so they count against the throttle like single requests; a running batch holds one
concurrency slot per member it runs at once (see `batch`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from . import clock
from .errors import GraphError, bad_request, invalid_user
from .knobs import Knobs, chance, knobs_for, process_state_sync
from .models import Folder, Mailbox
from .scoping import mailbox_scope_check, signed_in_user
from .throttle import concurrency_refused, concurrency_slot, count_request


@dataclass
class GraphRequest:
    """A request relative to `/v1.0`: `path` as sent, percent-escapes kept (like
    `/users/a@b/contactFolders/AAMk%2Fx%3D`: each route group is decoded on its own), decoded query."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: object
    base_url: str  # absolute URL of /v1.0, for @odata.context and links


@dataclass
class GraphResponse:
    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchReads:
    """Rows a `$batch` reads once for all its members: its mailboxes, by the
    `/users/{user}` segment that names them (no Graph request changes what the others
    read of a mailbox row), and its folders by (mailbox, id), forgotten whenever a
    member creates, changes or deletes a folder (`folders_changed`)."""

    mailboxes: dict[str, Mailbox | None] = field(default_factory=dict)
    folders: dict[tuple[int, str], Folder] = field(default_factory=dict)


@dataclass
class Call:
    """What an operation gets: the request, its mailbox, the route's ids and the knobs,
    and in a `$batch` the rows its members share."""

    request: GraphRequest
    mailbox: Mailbox
    args: tuple[str, ...]
    knobs: Knobs
    reads: BatchReads | None = None

    def folders_changed(self) -> None:
        if self.reads is not None:
            self.reads.folders.clear()


Operation = Callable[[Call], GraphResponse]
TenantOperation = Callable[[GraphRequest, tuple[str, ...]], GraphResponse]
_routes: list[tuple[re.Pattern, dict[str, Operation]]] = []
# Routes outside `/users/{u}` (`/subscriptions`): no mailbox, no mailbox knobs.
_tenant_routes: list[tuple[re.Pattern, dict[str, TenantOperation]]] = []
# Each route's path as one regex per segment, to name the segment Graph does not know.
_segment_patterns: list[list[re.Pattern]] = []
_SEGMENT_SLASH = re.compile(r"/(?![^\[]*\])")  # a `/` that is not inside a `[...]` class


def route(pattern: str, **methods: Operation) -> None:
    """Register the operations of a path pattern (groups after the user are passed as args)."""
    _routes.append((re.compile(f"^/?users/([^/]+){pattern}$"), methods))
    segments = ["users", "([^/]+)", *_SEGMENT_SLASH.split(pattern)[1:]]
    _segment_patterns.append([re.compile(f"^{segment}$") for segment in segments])


def tenant_route(pattern: str, **methods: TenantOperation) -> None:
    """Register the operations of a path outside `/users/{u}` (groups are passed as args)."""
    _tenant_routes.append((re.compile(f"^/?{pattern}$"), methods))


def _tenant_dispatch(request: GraphRequest) -> GraphResponse | None:
    for pattern, methods in _tenant_routes:
        match = pattern.match(request.path)
        if match:
            operation = methods.get(request.method)
            if operation is None:
                raise _method_not_allowed(request.method)
            return operation(request, tuple(unquote(g) for g in match.groups()))
    return None


def _me_resolved(request: GraphRequest) -> GraphRequest:
    """`/me/...` of a delegated token is `/users/{the signed-in user's id}/...`."""
    user_id = signed_in_user()
    if user_id and (request.path == "/me" or request.path.startswith("/me/")):
        return replace(request, path=f"/users/{user_id}{request.path[3:]}")
    return request


def _method_not_allowed(method: str) -> GraphError:
    return GraphError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed here.")


def _resolve(request: GraphRequest) -> tuple[dict[str, Operation], tuple[str, ...]]:
    for pattern, methods in _routes:
        match = pattern.match(request.path)
        if match:
            return methods, tuple(unquote(g) for g in match.groups())
    raise _unknown_segment(request.path)


def _unknown_segment(path: str) -> GraphError:
    """Graph's answer to a path it cannot route: 400 BadRequest naming the first segment
    no route knows, e.g. `/users/{u}/calendarz` -> "Resource not found for the segment
    'calendarz'." [observed in public code, e.g. 'permissions' and 'alertIncidents' on
    v1.0]. `/me` needs a signed-in user, which app-only tokens never have
    (https://learn.microsoft.com/graph/auth-v2-service)."""
    segments = path.strip("/").split("/")
    if segments[0] == "me":
        return bad_request("/me request is only valid with delegated authentication flow.")
    known = 0
    for patterns in _segment_patterns:
        matched = 0
        for pattern, segment in zip(patterns, segments, strict=False):
            if not pattern.match(segment):
                break
            matched += 1
        known = max(known, matched)
    segment = unquote(segments[min(known, len(segments) - 1)]) or path
    return bad_request(f"Resource not found for the segment '{segment}'.")


def mailbox_find(user: str) -> Mailbox | None:
    """The mailbox a `/users/{user}` segment names (address or user id), or None."""
    mailbox = Mailbox.objects.filter(email=user.strip().lower()).first()
    if mailbox is None and re.fullmatch(r"[0-9a-fA-F-]{36}", user):
        mailbox = Mailbox.objects.filter(user_id=user).first()
    return mailbox


def _mailbox(user: str) -> Mailbox:
    mailbox = mailbox_find(user)
    if mailbox is None:
        raise invalid_user(user)
    return mailbox


def dispatch(
    request: GraphRequest,
    *,
    in_batch: bool = False,
    slot_refused: bool = False,
    reads: BatchReads | None = None,
) -> GraphResponse:
    """Answer one request; raise GraphError for an error answer.

    A batch member (`in_batch`) runs in the concurrency slots its batch holds, or is
    refused with 429 ApplicationThrottled when its batch got no slot for it
    (`slot_refused`), and does not wait for latency here: the batch costs ceil(n/4)
    latencies as a whole, since Outlook runs at most 4 members at a time.
    `reads` are the rows a batch's members share (see `BatchReads`).
    """
    request = _me_resolved(request)
    answer = _tenant_dispatch(request)
    if answer is not None:
        return answer
    methods, args = _resolve(request)
    operation = methods.get(request.method)
    if operation is None:
        raise _method_not_allowed(request.method)
    if reads is not None and args[0] in reads.mailboxes:
        mailbox = reads.mailboxes[args[0]]
        if mailbox is None:
            raise invalid_user(args[0])
    else:
        mailbox = _mailbox(args[0])
    process_state_sync(mailbox)
    knobs = knobs_for(mailbox)
    if knobs.is_access_denied:
        # An app without consent for the permission (a mailbox outside the app's
        # scope is answered otherwise: see `scoping`).
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    mailbox_scope_check(mailbox)
    if not knobs.is_throttled:
        return _run(operation, request, mailbox, args, knobs, in_batch, reads)
    count_request(mailbox.email)
    if in_batch:
        if slot_refused:
            raise concurrency_refused()
        return _run(operation, request, mailbox, args, knobs, in_batch, reads)
    with concurrency_slot(mailbox.email):
        return _run(operation, request, mailbox, args, knobs, in_batch, reads)


def _run(
    operation: Operation,
    request: GraphRequest,
    mailbox: Mailbox,
    args: tuple[str, ...],
    knobs: Knobs,
    in_batch: bool,
    reads: BatchReads | None,
) -> GraphResponse:
    if knobs.latency_ms and not in_batch:
        clock.latency_wait(knobs.latency_ms / 1000, started=clock.now())
    if chance(mailbox.email, knobs.throttle_error_rate):
        # Refused before it runs, as a real 429 is (the fault drills' "429 storm").
        raise GraphError(
            429,
            "TooManyRequests",
            "The mailbox has exceeded its request limit. Please retry after the indicated time.",
            headers={"Retry-After": "1"},
        )
    if chance(mailbox.email, knobs.transient_error_rate):
        raise transient_error(mailbox.email)
    return operation(Call(request, mailbox, args[1:], knobs, reads))


def transient_error(email: str) -> GraphError:
    """A 503 (with Retry-After) or 504, as the Outlook service sends under load."""
    if chance(email, 0.5):
        return GraphError(
            503, "ServiceUnavailable", "The service is temporarily unavailable.", headers={"Retry-After": "1"}
        )
    return GraphError(504, "GatewayTimeout", "The request timed out.")
