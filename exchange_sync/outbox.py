"""Writes to Outlook collected and sent through JSON batching, results saved per chunk.

The engine queues creates, updates and deletes as it walks contacts; every `FLUSH_AT`
operations (a multiple of 20, so batches are full) the outbox sends them, then records
the outcome of each on its link in one short transaction. No HTTP runs inside a
database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from exchange_sync.graph.batch import BatchRequest, BatchResponse, error_from_batch_response
from exchange_sync.graph.errors import GraphConflictError, GraphError, GraphNotFoundError, GraphTransientError
from exchange_sync.mapping import MappedValues, graph_body, values_hash
from exchange_sync.models import ContactLink, SyncIssue
from exchange_sync.patch import (
    LIST_PROPERTIES,
    OutlookLists,
    lists_after,
    lists_known,
    needs_lists,
    outlook_lists,
    update_body,
)
from exchange_sync.row_errors import bulk_update_each, item_error_text

if TYPE_CHECKING:
    from exchange_sync.graph.client import GraphClient

FLUSH_AT = 200
# Rounds of "look up by stamp, create again if absent" for creates Outlook did not confirm.
MAX_CREATE_ATTEMPTS = 6
LINK_FIELDS = [
    "graph_id",
    "change_key",
    "fields_hash",
    "snapshot",
    "outlook_lists",
    "state",
    "failure_count",
    "last_error",
    "synced_at",
]


@dataclass
class Op:
    """One write: `kind` is create, update or delete; `values` Business Central's values.

    An update also says what Outlook holds now, so it sends only what changed and
    merges the list properties (exchange_sync/patch.py): `base` its mapped values,
    `lists` its list properties whole (None when not known: read before writing).
    """

    kind: str
    link: ContactLink
    values: MappedValues | None = None
    if_match: str | None = None
    # The run counter a success adds to (created_in_outlook, updated_in_outlook, ...).
    counter: str = ""
    attempt: int = 1
    base: MappedValues | None = None
    lists: OutlookLists | None = None
    # The body sent, kept to record what Outlook holds once it succeeded.
    body: dict | None = None


class Outbox:
    def __init__(
        self,
        client: GraphClient,
        mailbox: str,
        folder_id: str,
        *,
        counts: dict[str, int],
        issues: list[SyncIssue],
        on_flushed: Callable[[], None],
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.folder_id = folder_id
        self.ops: list[Op] = []
        # The run's counters and issues, kept up to date as answers arrive, so a run that
        # stops half way still records what it did.
        self.counts = counts
        self.issues = issues
        self.sent = 0
        self._on_flushed = on_flushed  # progress and heartbeat after each flush

    def add(self, op: Op) -> None:
        self.ops.append(op)
        if len(self.ops) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if not self.ops:
            return
        ops, self.ops = self.ops, []
        changed: list[ContactLink] = []
        ops = self._read_unknown_lists(ops, changed)
        self.sent += len(ops)
        responses = self.client.batch([self._request(str(index), op) for index, op in enumerate(ops)])
        recreate: list[Op] = []
        unconfirmed: list[Op] = []
        removed: list[int] = []
        now = timezone.now()
        for op, response in zip(ops, responses, strict=True):
            error = error_from_batch_response(response)
            link = op.link
            if error is None:
                self._succeeded(op, response, now, changed, removed)
            elif op.kind == "delete" and isinstance(error, GraphNotFoundError):
                removed.append(link.pk)  # already gone: that is what we wanted
                self._count(op)
            elif op.kind == "update" and isinstance(error, GraphNotFoundError):
                # Deleted in Outlook since we last looked: create it again.
                link.graph_id, link.change_key = None, ""
                changed.append(link)
                recreate.append(Op("create", link, op.values, counter="created_in_outlook"))
            elif op.kind == "create" and isinstance(error, GraphTransientError) and op.attempt < MAX_CREATE_ATTEMPTS:
                unconfirmed.append(op)
            else:
                self._failed(op, error, changed)
        # Deletes of second Outlook copies carry a link that was never saved: nothing to record.
        changed = [link for link in changed if link.pk is not None]
        removed = [pk for pk in removed if pk is not None]
        with transaction.atomic():
            bulk_update_each(ContactLink, changed, LINK_FIELDS, on_refused=self._not_recorded)
            if removed:
                ContactLink.objects.filter(pk__in=removed).delete()
        self._on_flushed()
        recreate.extend(self._find_unconfirmed(unconfirmed))
        if recreate:
            # Sent now, not left for a flush that may never come (attempts are bounded).
            self.ops.extend(recreate)
            self.flush()

    def _read_unknown_lists(self, ops: list[Op], changed: list[ContactLink]) -> list[Op]:
        """Updates that change a list slot (an email, the phone) of a contact whose
        lists are not known, a link made before they were kept: its lists are read
        first (one batch round per flush, once per link), so the person's other
        entries are merged, not stripped. Returns the ops to send; an update whose
        read failed is recorded as failed and sent on a later run."""
        unknown = [
            op
            for op in ops
            if op.kind == "update" and not lists_known(op.lists) and needs_lists(op.values, op.base or {})
        ]
        if not unknown:
            return ops
        requests_ = [
            self.client.batch_request_get_contact(str(i), self.mailbox, self.folder_id, op.link.graph_id)
            for i, op in enumerate(unknown)
        ]
        failed: list[Op] = []
        for op, response in zip(unknown, self.client.batch(requests_), strict=True):
            error = error_from_batch_response(response)
            if error is None:
                op.lists = outlook_lists(response.body or {})
            elif not isinstance(error, GraphNotFoundError):  # gone: the update's 404 recreates it
                self._failed(op, error, changed)
                failed.append(op)
        return [op for op in ops if op not in failed]

    def _find_unconfirmed(self, ops: list[Op]) -> list[Op]:
        """Creates that failed with 5xx or a timeout may have happened anyway: link the
        stamped copy when Outlook has it, and return the creates still to do."""
        if not ops:
            return []
        requests_ = [
            self.client.batch_request_find_contacts_by_stamp(str(i), self.mailbox, self.folder_id, op.link.contact_no)
            for i, op in enumerate(ops)
        ]
        retry: list[Op] = []
        found: list[ContactLink] = []
        now = timezone.now()
        for op, response in zip(ops, self.client.batch(requests_), strict=True):
            matches = (response.body or {}).get("value") if response.ok else None
            if matches:
                op.link.graph_id, op.link.change_key = matches[0]["id"], ""
                op.link.state, op.link.snapshot = ContactLink.State.LINKED, dict(op.values)
                op.link.outlook_lists = lists_after(graph_body(op.values), None) or {}
                op.link.fields_hash, op.link.synced_at = values_hash(op.values), now
                found.append(op.link)
                self._count(op)
            else:
                # Not there (or not known yet): create it again; a copy that appears
                # later is found by the next delta round and removed as a duplicate.
                retry.append(Op("create", op.link, op.values, counter=op.counter, attempt=op.attempt + 1))
        bulk_update_each(ContactLink, found, LINK_FIELDS, on_refused=self._not_recorded)
        return retry

    def _count(self, op: Op) -> None:
        if op.counter:
            self.counts[op.counter] += 1

    def _request(self, request_id: str, op: Op) -> BatchRequest:
        link = op.link
        if op.kind == "create":
            op.body = graph_body(op.values)
            return self.client.batch_request_create_contact(
                request_id, self.mailbox, self.folder_id, op.body, stamp=link.contact_no
            )
        if op.kind == "update":
            # What bcsync wrote last tells its own list entries from the person's; an
            # unconfirmed write (no hash) tells nothing, so nothing is taken for ours.
            written = link.snapshot if link.fields_hash else {}
            op.body = update_body(op.values, base=op.base or {}, lists=op.lists, written=written)
            return self.client.batch_request_update_contact(
                request_id,
                self.mailbox,
                self.folder_id,
                link.graph_id,
                op.body,
                stamp=link.contact_no,
                if_match=op.if_match,
            )
        return self.client.batch_request_delete_contact(request_id, self.mailbox, self.folder_id, link.graph_id)

    def _succeeded(self, op: Op, response: BatchResponse, now, changed: list, removed: list) -> None:
        link = op.link
        self._count(op)
        if op.kind == "delete":
            removed.append(link.pk)
            return
        body = response.body or {}
        link.graph_id = body.get("id") or link.graph_id
        link.change_key = body.get("changeKey") or ""
        link.snapshot = dict(op.values)
        link.fields_hash = values_hash(op.values)
        # Graph answers a create or PATCH with the whole contact; else what was sent tells.
        answered = all(name in body for name in LIST_PROPERTIES)
        link.outlook_lists = (outlook_lists(body) if answered else lists_after(op.body or {}, op.lists)) or {}
        link.state = ContactLink.State.LINKED
        link.failure_count, link.last_error, link.synced_at = 0, "", now
        changed.append(link)

    def _not_recorded(self, link: ContactLink, exc: Exception) -> None:
        """Outlook's answer for one contact could not be stored (an id or change key the
        database refuses): that contact fails, the others of the chunk are recorded. Its
        link keeps what it had; a contact Outlook created is found again by its stamp."""
        self.counts["failed"] += 1
        self.issues.append(
            SyncIssue(
                kind=SyncIssue.Kind.FAILED,
                direction=SyncIssue.Direction.TO_OUTLOOK,
                contact_id=link.contact_id,
                contact_no=link.contact_no,
                reason=f"Outlook's answer could not be recorded ({item_error_text(exc)}).",
            )
        )

    def _failed(self, op: Op, error: GraphError, changed: list) -> None:
        link = op.link
        if isinstance(error, GraphConflictError):
            reason = "Changed in Outlook while synchronizing; it will be compared again on the next sync."
        elif op.kind == "create" and isinstance(error, GraphTransientError):
            reason = (
                f"Outlook did not confirm the create ({error}); the sync finds it by its contact number "
                "before creating it again."
            )
        else:
            reason = f"Outlook refused the {op.kind}: {error}"
        link.failure_count += 1
        link.last_error = reason
        changed.append(link)
        self.counts["failed"] += 1
        self.issues.append(
            SyncIssue(
                kind=SyncIssue.Kind.FAILED,
                direction=SyncIssue.Direction.TO_OUTLOOK,
                contact_id=link.contact_id,
                contact_no=link.contact_no,
                reason=reason,
            )
        )
