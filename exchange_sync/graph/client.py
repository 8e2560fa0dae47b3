"""The Microsoft Graph client: the one place that sends HTTP requests to Graph.

It takes everything from its constructor (base URL, token provider, timeouts, sleep),
reads no settings and knows no models. It pages through ``@odata.nextLink``, follows
delta rounds to their ``@odata.deltaLink``, batches with ``$batch``, retries as
:mod:`exchange_sync.graph.retry` describes and raises the typed errors of
:mod:`exchange_sync.graph.errors`.

Retried POSTs: a POST that timed out, lost its connection or got a 503/504 may still
have been carried out by Graph. The client retries it anyway (it counts as transient),
so a create can happen twice; callers stamp every contact they create and look the stamp
up (:meth:`GraphClient.find_contacts_by_stamp`) before creating again.

Counting: ``request_count`` is the number of HTTP round trips to Graph (each attempt,
each ``$batch`` envelope once); ``operation_count`` is the number of Graph operations
sent, as Graph's throttling counts them: every standalone request once, every batch
member once (the envelope itself not). Identity (token) calls are not counted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from . import paths
from .auth import TokenProvider
from .batch import (
    BatchRequest,
    BatchResponse,
    check_unique_ids,
    chunks,
    parse_batch_answer,
)
from .errors import (
    GraphError,
    GraphTransientError,
    error_from_response,
    parse_retry_after,
)
from .retry import RETRYABLE_STATUSES, RetryPolicy
from .stamp import (
    EXTENDED_PROPERTIES,
    STAMP_FIELD,
    odata_quote,
    stamp_expand,
    stamp_filter,
    stamp_property,
    stamp_value,
)

logger = logging.getLogger(__name__)

# Item ids stay the same when a contact moves between folders
# (https://learn.microsoft.com/graph/outlook-immutable-id).
IMMUTABLE_ID = 'IdType="ImmutableId"'
TRANSIENT_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass
class DeltaPage:
    """One page of a delta round. Only the last page has ``delta_link``."""

    items: list[dict[str, Any]] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    delta_link: str | None = None


@dataclass
class DeltaResult:
    """A whole delta round collected: changed items, removed ids, the link for next time."""

    items: list[dict[str, Any]] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    delta_link: str | None = None


class GraphClient:
    """A Graph v1.0 client for users, contact folders and contacts of app-only mailboxes.

    ``base_url`` is the version root (``https://graph.microsoft.com/v1.0`` or the
    sandbox's ``.../graph-sandbox/v1.0``). ``timeout`` is passed to requests (seconds,
    or a ``(connect, read)`` tuple). ``sleep`` and ``jitter`` are injectable so tests
    never wait. ``mailbox`` arguments are a user id or principal name (the email).

    Every method raises a :class:`~exchange_sync.graph.errors.GraphError` subclass on
    failure; ``batch`` returns failed members instead of raising for them.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        timeout: float | tuple[float, float] = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        max_backoff: float = 60.0,
        backoff_base: float = 1.0,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._token_provider = token_provider
        self._timeout = timeout
        self._sleep = sleep
        self.retry_policy = RetryPolicy(
            max_attempts=max_attempts, max_backoff=max_backoff, backoff_base=backoff_base, random=jitter
        )
        self._session = session or requests.Session()
        self._count_lock = threading.Lock()
        self.request_count = 0
        self.operation_count = 0

    # --- users and folders -------------------------------------------------------

    def get_user(self, mailbox: str) -> dict[str, Any]:
        """The user (``id``, ``mail``, ``userPrincipalName``, ``displayName``). 404 if unknown."""
        return self._request("GET", paths.user(mailbox), params={"$select": "id,mail,userPrincipalName,displayName"})

    def list_contact_folders(self, mailbox: str, *, display_name: str | None = None) -> list[dict[str, Any]]:
        """The mailbox's contact folders (below the default Contacts folder), all pages.

        With ``display_name`` only folders of exactly that name (there may be several).
        """
        params: dict[str, Any] = {}
        if display_name is not None:
            params["$filter"] = f"displayName eq {odata_quote(display_name)}"
        return [item for page in self._iter_pages(paths.contact_folders(mailbox), params) for item in page["value"]]

    def get_contact_folder(self, mailbox: str, folder_id: str) -> dict[str, Any]:
        """One folder by id. ``GraphNotFoundError`` when it was deleted."""
        return self._request("GET", paths.contact_folder(mailbox, folder_id))

    def create_contact_folder(self, mailbox: str, display_name: str) -> dict[str, Any]:
        """Create a folder. ``GraphConflictError`` (``ErrorFolderExists``) if the name is taken."""
        return self._request("POST", paths.contact_folders(mailbox), body={"displayName": display_name})

    def rename_contact_folder(self, mailbox: str, folder_id: str, display_name: str) -> dict[str, Any]:
        """Rename a folder; its id stays the same."""
        return self._request("PATCH", paths.contact_folder(mailbox, folder_id), body={"displayName": display_name})

    def delete_contact_folder(self, mailbox: str, folder_id: str) -> None:
        """Delete a folder and the contacts in it."""
        self._request("DELETE", paths.contact_folder(mailbox, folder_id))

    # --- contacts ----------------------------------------------------------------

    def iter_contacts(
        self,
        mailbox: str,
        folder_id: str,
        *,
        select: Sequence[str] | None = None,
        expand_stamp: bool = False,
        page_size: int = 100,
    ) -> Iterator[list[dict[str, Any]]]:
        """The folder's contacts, one page (list) at a time, so memory stays flat.

        ``page_size`` is ``$top`` (Graph allows up to 1000). With ``expand_stamp`` each
        contact carries its stamp as ``item["bcContactNo"]`` (``None`` when unstamped).
        """
        params = self._contact_params(select, expand_stamp)
        params["$top"] = page_size
        for page in self._iter_pages(paths.contacts(mailbox, folder_id), params, contact=True):
            yield [_surface_stamp(item) if expand_stamp else item for item in page["value"]]

    def get_contact(
        self,
        mailbox: str,
        folder_id: str,
        contact_id: str,
        *,
        select: Sequence[str] | None = None,
        expand_stamp: bool = False,
    ) -> dict[str, Any]:
        """One contact. ``GraphNotFoundError`` (``ErrorItemNotFound``) when it is gone."""
        item = self._request(
            "GET",
            paths.contact(mailbox, folder_id, contact_id),
            params=self._contact_params(select, expand_stamp),
            contact=True,
        )
        return _surface_stamp(item) if expand_stamp else item

    def find_contacts_by_stamp(self, mailbox: str, folder_id: str, value: str) -> list[dict[str, Any]]:
        """Contacts of the folder stamped with ``value`` (normally zero or one), stamp surfaced."""
        params = {"$filter": stamp_filter(value), "$expand": stamp_expand()}
        pages = self._iter_pages(paths.contacts(mailbox, folder_id), params, contact=True)
        return [_surface_stamp(item) for page in pages for item in page["value"]]

    def create_contact(
        self, mailbox: str, folder_id: str, body: dict[str, Any], *, stamp: str | None = None
    ) -> dict[str, Any]:
        """Create a contact (stamped with ``stamp`` when given); returns Graph's contact.

        May be retried after a timeout: see the module docstring.
        """
        return self._request("POST", paths.contacts(mailbox, folder_id), body=_with_stamp(body, stamp), contact=True)

    def update_contact(
        self,
        mailbox: str,
        folder_id: str,
        contact_id: str,
        body: dict[str, Any],
        *,
        stamp: str | None = None,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        """PATCH a contact; returns the updated contact.

        ``if_match`` is the ``@odata.etag`` last seen; a stale one gives
        ``GraphConflictError`` (412). Graph documents no If-Match for contacts, so
        callers must not rely on it alone.
        """
        headers = {"If-Match": if_match} if if_match else None
        return self._request(
            "PATCH",
            paths.contact(mailbox, folder_id, contact_id),
            body=_with_stamp(body, stamp),
            headers=headers,
            contact=True,
        )

    def delete_contact(self, mailbox: str, folder_id: str, contact_id: str) -> None:
        """Delete a contact. ``GraphNotFoundError`` when it is already gone."""
        self._request("DELETE", paths.contact(mailbox, folder_id, contact_id), contact=True)

    # --- delta -------------------------------------------------------------------

    def iter_contacts_delta(
        self,
        mailbox: str,
        folder_id: str,
        *,
        delta_link: str | None = None,
        select: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[DeltaPage]:
        """One delta round on a folder, a page at a time; the last page has ``delta_link``.

        Without ``delta_link`` the round lists the whole folder; with the stored one it
        returns the changes since. ``select`` and ``page_size`` only apply to a fresh
        round (Graph carries them in its links). Removed items (``@removed`` deleted or
        moved away) come as ``removed_ids``. Changes may repeat: apply them idempotently.
        Raises ``GraphDeltaExpiredError`` when the link is no longer valid.
        (https://learn.microsoft.com/graph/api/contact-delta)
        """
        prefer = [f"odata.maxpagesize={page_size}"] if page_size else []
        if delta_link:
            url, params = delta_link, None
        else:
            url, params = paths.contacts_delta(mailbox, folder_id), {}
            if select:
                params["$select"] = ",".join(select)
        for page in self._iter_pages(url, params, contact=True, prefer=prefer):
            next_link, new_delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if not next_link and not new_delta_link:
                raise GraphError("A delta page had neither a nextLink nor a deltaLink", code="MissingDeltaLink")
            result = DeltaPage(delta_link=new_delta_link)
            for entry in page["value"]:
                if "@removed" in entry:
                    result.removed_ids.append(entry["id"])
                else:
                    result.items.append(entry)
            yield result

    def contacts_delta(
        self,
        mailbox: str,
        folder_id: str,
        *,
        delta_link: str | None = None,
        select: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> DeltaResult:
        """A whole delta round in memory (for small folders); see :meth:`iter_contacts_delta`."""
        result = DeltaResult()
        for page in self.iter_contacts_delta(
            mailbox, folder_id, delta_link=delta_link, select=select, page_size=page_size
        ):
            result.items.extend(page.items)
            result.removed_ids.extend(page.removed_ids)
            result.delta_link = page.delta_link
        return result

    # --- batching ----------------------------------------------------------------

    def batch(self, requests_: Sequence[BatchRequest]) -> list[BatchResponse]:
        """Send requests through ``$batch`` in chunks of 20; answers in request order.

        Members answering 429/503/504 are sent again on their own (in a later batch,
        after their ``Retry-After`` or the backoff) until they succeed, fail otherwise,
        or the attempts run out; their final answer is returned, never raised, so the
        caller records per-item failures (:func:`~exchange_sync.graph.batch.error_from_batch_response`).
        A failure of the envelope itself (after its own retries) raises.
        """
        check_unique_ids(requests_)
        final: dict[str, BatchResponse] = {}
        pending = list(requests_)
        attempt = 0
        while pending:
            attempt += 1
            retry: list[BatchRequest] = []
            hints: list[float] = []
            for chunk in chunks(pending):
                envelope = {"requests": [r.to_json() for r in chunk]}
                answers = parse_batch_answer(self._request("POST", "/$batch", body=envelope, operations=len(chunk)))
                for request in chunk:
                    answer = answers.get(request.id) or _missing_member(request.id)
                    final[request.id] = answer
                    if answer.status in RETRYABLE_STATUSES:
                        retry.append(request)
                        hint = parse_retry_after(answer.headers)
                        if hint is not None:
                            hints.append(hint)
            if not retry:
                break
            delay = self.retry_policy.delay(attempt, max(hints) if hints else None)
            if delay is None:
                break
            logger.info("Retrying %d batch members in %.1fs (attempt %d)", len(retry), delay, attempt)
            self._sleep(delay)
            pending = retry
        return [final[r.id] for r in requests_]

    def batch_request_create_contact(
        self, id: str, mailbox: str, folder_id: str, body: dict[str, Any], stamp: str | None = None
    ) -> BatchRequest:
        """A batch member that creates a contact (see :meth:`create_contact`)."""
        url = paths.contacts(mailbox, folder_id)
        return BatchRequest(id, "POST", url, _with_stamp(body, stamp), _contact_headers())

    def batch_request_update_contact(
        self,
        id: str,
        mailbox: str,
        folder_id: str,
        contact_id: str,
        body: dict[str, Any],
        stamp: str | None = None,
        if_match: str | None = None,
    ) -> BatchRequest:
        """A batch member that updates a contact (see :meth:`update_contact`)."""
        headers = _contact_headers()
        if if_match:
            headers["If-Match"] = if_match
        return BatchRequest(
            id, "PATCH", paths.contact(mailbox, folder_id, contact_id), _with_stamp(body, stamp), headers
        )

    def batch_request_delete_contact(self, id: str, mailbox: str, folder_id: str, contact_id: str) -> BatchRequest:
        """A batch member that deletes a contact."""
        return BatchRequest(id, "DELETE", paths.contact(mailbox, folder_id, contact_id), None, _contact_headers())

    def batch_request_get_contact(
        self, id: str, mailbox: str, folder_id: str, contact_id: str, *, expand_stamp: bool = False
    ) -> BatchRequest:
        """A batch member that reads a contact (stamp expanded on request; see :func:`stamp_value`)."""
        url = paths.contact(mailbox, folder_id, contact_id)
        if expand_stamp:
            url += "?" + urlencode({"$expand": stamp_expand()})
        return BatchRequest(id, "GET", url, None, _contact_headers())

    # --- transport ---------------------------------------------------------------

    def _contact_params(self, select: Sequence[str] | None, expand_stamp: bool) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if select:
            params["$select"] = ",".join(select)
        if expand_stamp:
            params["$expand"] = stamp_expand()
        return params

    def _iter_pages(
        self,
        url: str,
        params: dict[str, Any] | None,
        *,
        contact: bool = False,
        prefer: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following ``@odata.nextLink`` as an opaque URL."""
        next_url: str | None = url
        while next_url:
            page = self._request("GET", next_url, params=params, contact=contact, prefer=prefer) or {}
            page.setdefault("value", [])
            yield page
            next_url, params = page.get("@odata.nextLink"), None

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        contact: bool = False,
        prefer: Sequence[str] = (),
        operations: int = 1,
    ) -> Any:
        """Send one Graph request with retries; the decoded JSON answer (``None`` if empty).

        A 401 makes the token provider forget its token and the request go once more
        with a fresh one; it does not use up a retry.
        """
        url = self._url(path_or_url)
        prefer_values = [IMMUTABLE_ID, *prefer] if contact else list(prefer)
        extra = dict(headers or {})
        if prefer_values:
            extra["Prefer"] = ", ".join(prefer_values)
        failures = 0
        refreshed = False
        while True:
            client_request_id = str(uuid.uuid4())
            try:
                response = self._send(method, url, params, body, extra, client_request_id, operations)
            except (*TRANSIENT_EXCEPTIONS, GraphTransientError) as exc:
                failures += 1
                delay = self.retry_policy.delay(failures, None)
                if delay is None and isinstance(exc, GraphTransientError):
                    raise
                if delay is None:
                    raise GraphTransientError(
                        f"{type(exc).__name__} on {method} {_path(url)} after {failures} attempts",
                        code=type(exc).__name__,
                        request_id=client_request_id,
                    ) from exc
                logger.warning("%s on %s %s; retrying in %.1fs", type(exc).__name__, method, _path(url), delay)
                self._sleep(delay)
                continue
            if response.ok:
                return _decode(response)
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                logger.info("Graph refused the token on %s %s; fetching a new one", method, _path(url))
                self._token_provider.invalidate()
                continue
            if status in RETRYABLE_STATUSES:
                failures += 1
                delay = self.retry_policy.delay(failures, parse_retry_after(response.headers))
                if delay is not None:
                    logger.warning("%s on %s %s; retrying in %.1fs", status, method, _path(url), delay)
                    self._sleep(delay)
                    continue
            headers_out = dict(response.headers)
            headers_out.setdefault("client-request-id", client_request_id)
            raise error_from_response(status, response.content, headers_out)

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
        client_request_id: str,
        operations: int,
    ) -> requests.Response:
        """One HTTP round trip (counted). Token errors propagate; transient ones are retried by the caller."""
        token = self._token_provider.get_token()
        send_headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "client-request-id": client_request_id,
            **headers,
        }
        with self._count_lock:
            self.request_count += 1
            self.operation_count += operations
        return self._session.request(method, url, params=params, json=body, headers=send_headers, timeout=self._timeout)

    def _url(self, path_or_url: str) -> str:
        """An absolute URL; links from Graph must stay on the base URL's origin (the token goes with them)."""
        if "://" not in path_or_url:
            return self.base_url + path_or_url
        if _origin(path_or_url) != self._origin:
            host = urlsplit(path_or_url).netloc
            raise GraphError(f"Refusing to follow a link to another host: {host}", code="UnexpectedLink")
        return path_or_url

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    """The path of a URL for log lines (no query: delta tokens stay out of logs)."""
    return urlsplit(url).path


def _decode(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise GraphError(
            "Graph answered with a body that is not JSON", status=response.status_code, code="InvalidJson"
        ) from exc


def _with_stamp(body: dict[str, Any], stamp: str | None) -> dict[str, Any]:
    """``body`` plus the stamp property, without changing the caller's dict."""
    if stamp is None:
        return body
    merged = dict(body)
    merged[EXTENDED_PROPERTIES] = [*body.get(EXTENDED_PROPERTIES, []), *stamp_property(stamp)[EXTENDED_PROPERTIES]]
    return merged


def _surface_stamp(item: dict[str, Any]) -> dict[str, Any]:
    item[STAMP_FIELD] = stamp_value(item)
    return item


def _contact_headers() -> dict[str, str]:
    return {"Prefer": IMMUTABLE_ID}


def _missing_member(request_id: str) -> BatchResponse:
    """Stand-in for a member Graph left out of its answer: transient, so it is retried."""
    return BatchResponse(
        id=request_id,
        status=503,
        body={"error": {"code": "MissingBatchResponse", "message": "Graph returned no answer for this member"}},
    )
