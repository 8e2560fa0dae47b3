"""The Microsoft Graph client: users, contact folders, contacts, delta and batches.

It takes everything from its constructor (base URL, token provider, timeouts, sleep),
reads no settings and knows no models. Requests go through
:class:`~exchange_sync.graph.transport.GraphTransport`, which pages, retries (see
:mod:`exchange_sync.graph.retry`; a contact create is never resent once it may have
run), counts and raises
the typed errors of :mod:`exchange_sync.graph.errors`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from . import paths
from .auth import TokenProvider
from .batch import BatchRequest, BatchResponse, run_batch
from .errors import GraphError
from .retry import DEFAULT_MAX_RETRY_AFTER, RetryPolicy
from .stamp import (
    EXTENDED_PROPERTIES,
    FOLDER_STAMP_FIELD,
    FOLDER_STAMP_PROPERTY_ID,
    STAMP_FIELD,
    folder_is_stamped,
    folder_stamp_property,
    odata_quote,
    stamp_expand,
    stamp_filter,
    stamp_property,
    stamp_value,
)
from .transport import GraphTransport

# Item ids stay the same when a contact moves between folders
# (https://learn.microsoft.com/graph/outlook-immutable-id).
IMMUTABLE_ID = 'IdType="ImmutableId"'


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
    or a ``(connect, read)`` tuple). ``max_backoff`` caps the client's own backoff,
    ``max_retry_after`` the longest ``Retry-After`` it waits (longer: the error is
    raised with ``retry_after`` on it). ``sleep`` and ``jitter`` are injectable so tests
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
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        backoff_base: float = 1.0,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self._transport = GraphTransport(
            base_url,
            token_provider,
            timeout=timeout,
            sleep=sleep,
            retry_policy=RetryPolicy(
                max_attempts=max_attempts,
                max_backoff=max_backoff,
                backoff_base=backoff_base,
                random=jitter,
                max_retry_after=max_retry_after,
            ),
            session=session,
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def request_count(self) -> int:
        """HTTP round trips sent to Graph: every attempt, each ``$batch`` envelope once."""
        return self._transport.request_count

    @property
    def operation_count(self) -> int:
        """Graph operations sent, as throttling counts them: each request, each batch member."""
        return self._transport.operation_count

    @property
    def throttled_count(self) -> int:
        """429 answers received (throttling), batch members' included."""
        return self._transport.throttled_count

    def close(self) -> None:
        """Close the HTTP session."""
        self._transport.close()

    # --- users and folders -------------------------------------------------------

    def get_user(self, mailbox: str) -> dict[str, Any]:
        """The user (``id``, ``mail``, ``userPrincipalName``, ``displayName``). 404 if unknown."""
        return self._transport.request(
            "GET", paths.user(mailbox), params={"$select": "id,mail,userPrincipalName,displayName"}
        )

    def list_contact_folders(self, mailbox: str, *, display_name: str | None = None) -> list[dict[str, Any]]:
        """The mailbox's contact folders (below the default Contacts folder), all pages.

        With ``display_name`` only folders of exactly that name (there may be several).
        """
        params: dict[str, Any] = {}
        if display_name is not None:
            params["$filter"] = f"displayName eq {odata_quote(display_name)}"
        return [
            item
            for page in self._transport.iter_pages(paths.contact_folders(mailbox), params)
            for item in page["value"]
        ]

    def get_contact_folder(self, mailbox: str, folder_id: str, *, expand_stamp: bool = False) -> dict[str, Any]:
        """One folder by id. ``GraphNotFoundError`` when it was deleted.

        With ``expand_stamp`` the folder carries ``item["isBcsyncFolder"]``: whether it
        has bcsync's folder stamp (read with ``$expand``, the documented way:
        https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get).
        """
        params = {"$expand": stamp_expand(FOLDER_STAMP_PROPERTY_ID)} if expand_stamp else None
        item = self._transport.request("GET", paths.contact_folder(mailbox, folder_id), params=params)
        if expand_stamp:
            item[FOLDER_STAMP_FIELD] = folder_is_stamped(item)
        return item

    def create_contact_folder(self, mailbox: str, display_name: str, *, stamped: bool = False) -> dict[str, Any]:
        """Create a folder, ``stamped`` as bcsync's in the same POST when asked.
        ``GraphConflictError`` (``ErrorFolderExists``) if the name is taken.

        Unlike a contact create, this one is resent after a timeout or a 503/504: a
        resend of a create that did happen is refused with ``ErrorFolderExists``, so it
        cannot make a second folder, and the caller finds the (stamped) folder of that name.
        """
        body: dict[str, Any] = {"displayName": display_name}
        if stamped:
            body.update(folder_stamp_property())
        return self._transport.request("POST", paths.contact_folders(mailbox), body=body)

    def stamp_contact_folder(self, mailbox: str, folder_id: str) -> dict[str, Any]:
        """Mark an existing folder as bcsync's (PATCH with the extended property)."""
        return self._transport.request("PATCH", paths.contact_folder(mailbox, folder_id), body=folder_stamp_property())

    def rename_contact_folder(self, mailbox: str, folder_id: str, display_name: str) -> dict[str, Any]:
        """Rename a folder; its id stays the same."""
        return self._transport.request(
            "PATCH", paths.contact_folder(mailbox, folder_id), body={"displayName": display_name}
        )

    def delete_contact_folder(self, mailbox: str, folder_id: str) -> None:
        """Delete a folder and the contacts in it."""
        self._transport.request("DELETE", paths.contact_folder(mailbox, folder_id))

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
        for page in self._transport.iter_pages(paths.contacts(mailbox, folder_id), params, prefer=[IMMUTABLE_ID]):
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
        item = self._transport.request(
            "GET",
            paths.contact(mailbox, folder_id, contact_id),
            params=self._contact_params(select, expand_stamp),
            prefer=[IMMUTABLE_ID],
        )
        return _surface_stamp(item) if expand_stamp else item

    def find_contacts_by_stamp(self, mailbox: str, folder_id: str, value: str) -> list[dict[str, Any]]:
        """Contacts of the folder stamped with ``value`` (normally zero or one), stamp surfaced."""
        params = {"$filter": stamp_filter(value), "$expand": stamp_expand()}
        pages = self._transport.iter_pages(paths.contacts(mailbox, folder_id), params, prefer=[IMMUTABLE_ID])
        return [_surface_stamp(item) for page in pages for item in page["value"]]

    def create_contact(
        self, mailbox: str, folder_id: str, body: dict[str, Any], *, stamp: str | None = None
    ) -> dict[str, Any]:
        """Create a contact (stamped with ``stamp`` when given); returns Graph's contact.

        Never sent twice: a timeout, a connection lost after sending or a 503/504 may
        mean Graph created it anyway, so ``GraphTransientError`` is raised at once and
        the caller looks the stamp up (:meth:`find_contacts_by_stamp`) before creating
        again (429s, refused before they run, are retried as usual).
        """
        return self._transport.request(
            "POST",
            paths.contacts(mailbox, folder_id),
            body=_with_stamp(body, stamp),
            prefer=[IMMUTABLE_ID],
            resend_unanswered=False,
        )

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
        return self._transport.request(
            "PATCH",
            paths.contact(mailbox, folder_id, contact_id),
            body=_with_stamp(body, stamp),
            headers=headers,
            prefer=[IMMUTABLE_ID],
        )

    def delete_contact(self, mailbox: str, folder_id: str, contact_id: str) -> None:
        """Delete a contact. ``GraphNotFoundError`` when it is already gone."""
        self._transport.request("DELETE", paths.contact(mailbox, folder_id, contact_id), prefer=[IMMUTABLE_ID])

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
        for page in self._transport.iter_pages(url, params, prefer=[IMMUTABLE_ID, *prefer]):
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

    # --- change notifications ------------------------------------------------------

    def create_subscription(
        self,
        mailbox: str,
        folder_id: str,
        *,
        notification_url: str,
        lifecycle_notification_url: str,
        expires_at: datetime,
        client_state: str,
        change_type: str = "created,updated,deleted",
    ) -> dict[str, Any]:
        """Subscribe to changes of a folder's contacts; returns Graph's subscription (``id``,
        ``expirationDateTime``). Graph first validates both URLs (the endpoint must echo a
        ``validationToken``); a refusal is ``GraphBadRequestError`` (``ValidationError``,
        ``ExtensionError`` for an expiry beyond the limit).
        (https://learn.microsoft.com/graph/api/subscription-post-subscriptions)

        Not resent after a timeout or a 503/504: Graph may have made it, and a second one
        would double every notification. The caller tries again later; an orphan simply
        expires, its notifications refused for an unknown subscription.
        """
        body = {
            "changeType": change_type,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_notification_url,
            "resource": paths.contacts_resource(mailbox, folder_id),
            "expirationDateTime": graph_datetime(expires_at),
            "clientState": client_state,
        }
        return self._transport.request(
            "POST", paths.subscriptions(), body=body, prefer=[IMMUTABLE_ID], resend_unanswered=False
        )

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> dict[str, Any]:
        """Move a subscription's expiry (PATCH ``expirationDateTime``); ``GraphNotFoundError``
        when Graph no longer has it. (https://learn.microsoft.com/graph/api/subscription-update)"""
        return self._transport.request(
            "PATCH", paths.subscription(subscription_id), body={"expirationDateTime": graph_datetime(expires_at)}
        )

    def reauthorize_subscription(self, subscription_id: str) -> None:
        """Answer a ``reauthorizationRequired`` lifecycle notification
        (https://learn.microsoft.com/graph/change-notifications-lifecycle-events)."""
        self._transport.request("POST", f"{paths.subscription(subscription_id)}/reauthorize")

    def delete_subscription(self, subscription_id: str) -> None:
        """Stop a subscription. ``GraphNotFoundError`` when it is already gone."""
        self._transport.request("DELETE", paths.subscription(subscription_id))

    # --- batching ----------------------------------------------------------------

    def batch(self, requests: Sequence[BatchRequest]) -> list[BatchResponse]:
        """Send requests through ``$batch`` in chunks of 20; answers in request order.

        Members answering 429/503/504 are sent again on their own (in a later batch,
        after their ``Retry-After`` or the backoff) until they succeed, fail otherwise,
        or the attempts run out; their final answer is returned, never raised, so the
        caller records per-item failures (:func:`~exchange_sync.graph.batch.error_from_batch_response`).
        A failure of the envelope itself (after its own retries) raises.
        """
        return run_batch(self._transport, requests)

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

    def batch_request_locate_contact(
        self, id: str, mailbox: str, contact_id: str, *, select: Sequence[str] | None = None
    ) -> BatchRequest:
        """A batch member that reads a contact wherever it is in the mailbox (its
        ``parentFolderId`` says where); 404 ``ErrorItemNotFound`` once it is deleted for good."""
        url = paths.contact_anywhere(mailbox, contact_id)
        if select:
            url += "?" + urlencode({"$select": ",".join(select)})
        return BatchRequest(id, "GET", url, None, _contact_headers())

    def batch_request_get_contact_folder(self, id: str, mailbox: str, folder_id: str) -> BatchRequest:
        """A batch member that reads a contact folder (``id``, ``displayName``); ``folder_id``
        may be a well-known name (``deleteditems``). Folder ids never change, so no id preference."""
        return BatchRequest(id, "GET", paths.contact_folder(mailbox, folder_id))

    def batch_request_find_contacts_by_stamp(self, id: str, mailbox: str, folder_id: str, value: str) -> BatchRequest:
        """A batch member answering ``{"value": [...]}``: the folder's contacts stamped with
        ``value`` (see :meth:`find_contacts_by_stamp`), ids only."""
        query = urlencode({"$filter": stamp_filter(value), "$select": "id"})
        return BatchRequest(id, "GET", f"{paths.contacts(mailbox, folder_id)}?{query}", None, _contact_headers())

    # --- transport ---------------------------------------------------------------

    def _contact_params(self, select: Sequence[str] | None, expand_stamp: bool) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if select:
            params["$select"] = ",".join(select)
        if expand_stamp:
            params["$expand"] = stamp_expand()
        return params


def graph_datetime(value: datetime) -> str:
    """A UTC DateTimeOffset as Graph writes it (``2026-12-03T08:00:00.000000Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_graph_datetime(value: str) -> datetime:
    """Graph's DateTimeOffset (up to 7 fractional digits, ``Z`` or an offset) as an aware datetime."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        whole, rest = text.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{whole}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).astimezone(UTC)


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
