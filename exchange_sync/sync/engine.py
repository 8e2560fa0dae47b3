"""The sync algorithm: one run of one setup, incremental or full.

A run (after `run.py` has claimed the setup) goes: make sure of the Outlook folder, pull
what changed in Outlook (delta query; a full run reads the whole folder), check that
nothing drastic is about to happen (mass deletion, emptied folder: guard.py), push what
changed in Business Central, remove from Outlook what left the scope. Business Central is
the source: on a conflict its values win. See DESIGN.md, "Sync semantics".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from contacts.models import Contact
from exchange_sync import services
from exchange_sync.contact_filter import contact_filter_validate
from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.errors import GraphDeltaExpiredError
from exchange_sync.mapping import (
    GRAPH_SELECT,
    MappedValues,
    contact_values,
    outlook_values,
    value_problems,
    values_hash,
)
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.outbox import LINK_FIELDS, Op, Outbox
from exchange_sync.patch import last_seen, outlook_lists, update_body
from exchange_sync.row_errors import bulk_update_each, item_error_text
from exchange_sync.selectors import contacts_in_scope, contacts_matching_filter, exclusion_reason
from exchange_sync.sync.adoption import AdoptedFolder
from exchange_sync.sync.folder import FolderRefused, folder_ensure
from exchange_sync.sync.guard import deletions_guard
from exchange_sync.sync.inbound import OutlookInbound
from exchange_sync.sync.moves import link_is_moved_away, links_locate
from exchange_sync.sync.seen import Seen
from exchange_sync.sync.shutdown import RunInterrupted, shutdown_requested

logger = logging.getLogger(__name__)

DELTA_PAGE_SIZE = 500
CHUNK = 500

# An edit is stamped (modified_at) when it is saved, but a run sees it only once its
# transaction commits: an edit saved just before a run started and committed after the
# run read the changed contacts would fall between that run and the next. So an
# incremental run looks back this far before the last run's start. A contact Outlook
# already holds as it is costs a comparison of its values, no Graph request.
CHANGES_OVERLAP = timedelta(minutes=5)
# Runs in a row that may keep the old delta link because an Outlook contact could not be read.
DELTA_LINK_KEPT_RUNS = 2
# Issues are written in groups of this many as the run goes, not held to its end.
ISSUES_SAVED_AT = 1000

COUNTERS = (
    "created_in_outlook",
    "updated_in_outlook",
    "deleted_in_outlook",
    "created_in_bc",
    "linked_in_bc",
    "updated_in_bc",
    "unchanged",
    "excluded",
    "skipped",
    "failed",
    "conflicts",
)


class SetupProblem(Exception):
    """A problem only a person can fix (no mailbox, consent, unknown user)."""


class Engine(OutlookInbound, AdoptedFolder):
    """One run's work; `execute` raises NeedsConfirmation, SetupProblem or GraphError."""

    def __init__(self, run: SyncRun, setup: ExchangeSyncSetup, client: GraphClient, progress) -> None:
        self.run, self.setup, self.client, self._progress = run, setup, client, progress
        self.mailbox = setup.mailbox
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.issues: list[SyncIssue] = []
        self.done = self.total = 0
        self.folder_id = ""
        self.outbox: Outbox | None = None
        self.confirms = run.confirms if run.confirms_id else None
        # Set when an Outlook change could not be applied: the run then keeps the old
        # delta link, so the next run sees that change again.
        self.delta_incomplete = False
        # Links whose Outlook copy agrees but whose record is stale, saved once a page.
        self._refreshed: list[ContactLink] = []
        # A problem a person must fix that did not stop the run (the setup shows it).
        self.attention = ""
        # Linked contacts moved to another Outlook folder, with its name: stopped after the guard.
        self._moved_away: list[tuple[ContactLink, str]] = []

    # --- the run ------------------------------------------------------------------

    def execute(self) -> None:
        if not self.mailbox:
            raise SetupProblem(
                f"{self.setup.user} has no Microsoft 365 email. Add it in the Microsoft 365 Authentication "
                "section of the user card."
            )
        try:
            contact_filter_validate(self.setup.contact_filter)
        except ValidationError as exc:
            raise SetupProblem(f"The contact filter cannot be used: {' '.join(exc.messages)}") from exc
        try:
            folder = folder_ensure(self.client, self.setup, self.mailbox)
        except FolderRefused as exc:
            raise SetupProblem(str(exc)) from exc
        self.folder_id, self.attention = folder.id, folder.attention
        for note in (folder.note, folder.attention):
            if note:
                self._note(note)
        self.outbox = Outbox(
            self.client,
            self.mailbox,
            self.folder_id,
            counts=self.counts,
            issues=self.issues,
            on_flushed=self._heartbeat,
        )
        full = self.run.kind == SyncRun.Kind.FULL or folder.is_new or not self.setup.delta_link
        seen = Seen()
        delta_link = None
        if not full:
            try:
                delta_link = self._pull_changes(seen, self.setup.delta_link)
            except GraphDeltaExpiredError:
                logger.info("Delta link of setup %s expired; reconciling in full", self.setup.pk)
                self._note("The Outlook change log had expired; a full reconciliation was run instead.")
                full, seen = True, Seen()
        if full:
            self.total = contacts_in_scope(self.setup).count()
            delta_link = self._pull_everything(seen)
        if folder.is_adopted:
            self._note_adoption()
        self._locate_missing(seen)
        self._guard(seen)
        self._remove_duplicates(seen.duplicates)
        self._stop_moved_away()
        self._apply_missing(seen.missing_link_ids)
        self._push(full, seen)
        self._delete_out_of_scope()
        self._record_exclusions(full)
        self.outbox.flush()
        if self.outbox.sent and delta_link:
            delta_link = self._catch_up(delta_link)
        self._save_delta_link(delta_link)

    def _save_delta_link(self, delta_link: str | None) -> None:
        """The delta link is saved only now, with every change it reported applied. When
        an Outlook contact could not be read, the old link is kept so the next run sees
        that change again, for at most DELTA_LINK_KEPT_RUNS runs in a row."""
        setups = ExchangeSyncSetup.objects.filter(pk=self.setup.pk)
        if self.delta_incomplete and self.setup.delta_link_kept_runs < DELTA_LINK_KEPT_RUNS:
            setups.update(delta_link_kept_runs=self.setup.delta_link_kept_runs + 1)
            return
        if self.delta_incomplete:
            self._note(
                f"Some Outlook contacts could not be read in {DELTA_LINK_KEPT_RUNS + 1} runs in a row; they are "
                "read again when they change in Outlook, or by a Full Sync."
            )
        setups.update(delta_link=delta_link or "", delta_link_kept_runs=0)

    # --- pull ---------------------------------------------------------------------

    def _catch_up(self, delta_link: str) -> str | None:
        """One more delta round after writing, so the saved link comes after our own
        writes: Outlook's change tracking only reports the deletion of items the round
        has shown, so contacts we created must be seen once to be tracked."""
        seen = Seen()
        try:
            delta_link = self._pull_changes(seen, delta_link, counts_progress=False)
        except GraphDeltaExpiredError:
            return None  # the next run reconciles in full
        # Deleted in Outlook while we ran: marked now, recreated (or stopped) next run.
        self._locate_missing(seen)
        self._remove_duplicates(seen.duplicates)
        self._stop_moved_away()
        self._apply_missing(seen.missing_link_ids)
        self.outbox.flush()
        return delta_link

    def _pull_changes(self, seen: Seen, since_link: str, *, counts_progress: bool = True) -> str | None:
        """Apply the folder's changes since `since_link`; return the new link."""
        delta_link = None
        for page in self.client.iter_contacts_delta(self.mailbox, self.folder_id, delta_link=since_link):
            self._pull_page(page.items, seen, full=False, counts_progress=counts_progress)
            if page.removed_ids:
                removed = self.setup.links.filter(graph_id__in=page.removed_ids, state=ContactLink.State.LINKED)
                seen.missing_link_ids.extend(removed.values_list("pk", flat=True))
            delta_link = page.delta_link or delta_link
        return delta_link

    def _pull_everything(self, seen: Seen) -> str | None:
        """Read the whole folder (a fresh delta round, which also yields the next link)."""
        delta_link = None
        for page in self.client.iter_contacts_delta(
            self.mailbox, self.folder_id, select=GRAPH_SELECT, page_size=DELTA_PAGE_SIZE
        ):
            self._pull_page(page.items, seen, full=True)
            delta_link = page.delta_link or delta_link
        linked = self.setup.links.filter(state=ContactLink.State.LINKED, graph_id__isnull=False)
        for pk, graph_id in linked.values_list("pk", "graph_id").iterator(chunk_size=2000):
            if graph_id not in seen.seen_graph_ids:
                seen.missing_link_ids.append(pk)
        return delta_link

    def _pull_page(self, items: list[dict[str, Any]], seen: Seen, *, full: bool, counts_progress: bool = True) -> None:
        """Apply one page of Outlook contacts. Progress counts what a person would:
        on a full run the in-scope contacts (already in the total) and new Outlook
        contacts; on an incremental run every change."""
        by_id = {item["id"]: item for item in items}
        seen.seen_graph_ids.update(by_id)
        links = list(self.setup.links.filter(graph_id__in=list(by_id)).select_related("contact"))
        in_scope = self._in_scope_ids(link.contact_id for link in links)
        for link in links:
            item = by_id.pop(link.graph_id)
            if link_is_moved_away(link):
                self._resume_moved_back(link)
            if link.state == ContactLink.State.STOPPED or link.contact_id not in in_scope:
                continue  # stopped links stay alone; out-of-scope ones are removed later
            if not full and item.get("changeKey") == link.change_key:
                # The echo of our own write: nothing came from Outlook. Not marked as
                # handled, so the push still sends an edit made in Business Central since.
                continue
            seen.handled_contacts.add(link.contact_id)
            self._compare_linked(link, item)
        if by_id:
            self._pull_unknown(list(by_id), seen)
        self._save_refreshed()
        if counts_progress:
            new_items = len(by_id) if full else len(items)
            self.total += new_items
            self._tick(new_items + (len(items) - len(by_id) if full else 0))

    def _compare_linked(self, link: ContactLink, item: dict[str, Any]) -> None:
        """An Outlook contact we know: merge Outlook's edits (policy) and repair differences."""
        contact = link.contact
        outlook, lists = outlook_values(item), outlook_lists(item)
        merging = self.setup.keep_outlook_edits and outlook != last_seen(link.snapshot, link.outlook_lists)
        if merging and not self._merge_outlook_edits(link, contact, outlook):
            return  # refused by the database (an issue): both sides stay as they are
        current = contact_values(contact)
        # The diff base is the item just read: what the update would change in it.
        # displayName is in every update; a different one is a difference too.
        written = link.snapshot if link.fields_hash else {}
        changes = update_body(current, base=outlook, lists=lists, written=written)
        # No hash yet: our write to this Outlook contact (its stamp with Business
        # Central's values) was never confirmed, so it is sent even when values agree.
        differs = set(changes) != {"displayName"} or current["name"] != outlook["name"] or not link.fields_hash
        if differs and not self._sendable(contact, current):
            return
        if differs:
            if_match = f'W/"{item["changeKey"]}"' if self.setup.keep_outlook_edits and item.get("changeKey") else None
            op = Op("update", link, current, if_match=if_match, counter="updated_in_outlook", base=outlook, lists=lists)
            self.outbox.add(op)
        else:
            self.counts["unchanged"] += 1
            if (
                link.fields_hash != values_hash(current)
                or link.change_key != item.get("changeKey")
                or link.outlook_lists != lists
            ):
                link.snapshot, link.fields_hash = current, values_hash(current)
                link.change_key = item.get("changeKey") or ""
                link.outlook_lists = lists
                link.state, link.failure_count = ContactLink.State.LINKED, 0
                self._refreshed.append(link)

    def _save_refreshed(self) -> None:
        bulk_update_each(ContactLink, self._refreshed, LINK_FIELDS, on_refused=self._link_refused)
        self._refreshed = []

    def _link_refused(self, link: ContactLink, exc: Exception) -> None:
        """A link record the database refused (Outlook sent what it cannot store): the
        old record stays, and the next run compares that contact again."""
        self.counts["failed"] += 1
        self.delta_incomplete = True
        self.issues.append(
            SyncIssue(
                run=self.run,
                kind=SyncIssue.Kind.FAILED,
                direction=SyncIssue.Direction.TO_BC,
                contact_id=link.contact_id,
                contact_no=link.contact_no,
                reason=f"What Outlook holds for it could not be recorded ({item_error_text(exc)}).",
            )
        )

    # --- moves --------------------------------------------------------------------

    def _locate_missing(self, seen: Seen) -> None:
        """Tell the linked contacts that left the folder apart (moves.py): only those
        deleted in Outlook stay in `seen.missing_link_ids`, for the guard and the
        setup's policy; those moved back are compared again; those moved elsewhere wait
        for `_stop_moved_away`; those that could not be read come again next run."""
        if not seen.missing_link_ids:
            return
        links = ContactLink.objects.filter(pk__in=seen.missing_link_ids, graph_id__isnull=False)
        links = list(links.select_related("contact"))  # named in the issues of those moved away
        found = links_locate(self.client, self.mailbox, self.folder_id, links, select=GRAPH_SELECT)
        seen.missing_link_ids[:] = [link.pk for link in found.deleted]
        self._moved_away.extend(found.moved)
        if found.unread:
            self.delta_incomplete = True
        if found.back:
            self._pull_page([item for _, item in found.back], seen, full=False, counts_progress=False)

    def _stop_moved_away(self) -> None:
        """Contacts a person moved to another Outlook folder: no longer synchronized,
        and left where they are (no second copy in the folder, nothing changed in
        Business Central). The link keeps the contact's immutable id, so moving it back
        makes it synchronized again (`_resume_moved_back`)."""
        synced_folder = self.setup.folder_name_in_outlook or self.setup.folder_name
        for link, folder_name in self._moved_away:
            self._issue(
                SyncIssue.Kind.SKIPPED,
                SyncIssue.Direction.TO_OUTLOOK,
                link.contact,
                f"Moved in Outlook to the folder '{folder_name}'; it is no longer synchronized. Move it back to "
                f"'{synced_folder}' to synchronize it again.",
                contact_no=link.contact_no,
            )
        # The cleared changeKey marks the link as moved away (moves.link_is_moved_away).
        ContactLink.objects.filter(pk__in=[link.pk for link, _ in self._moved_away]).update(
            state=ContactLink.State.STOPPED, change_key=""
        )
        self._moved_away.clear()

    def _resume_moved_back(self, link: ContactLink) -> None:
        """A contact moved away earlier is back in the folder: synchronized again, and
        compared as any changed contact (its cleared changeKey never matches)."""
        link.state = ContactLink.State.LINKED
        ContactLink.objects.filter(pk=link.pk).update(state=ContactLink.State.LINKED)

    # --- safety -------------------------------------------------------------------

    def _guard(self, seen: Seen) -> None:
        deletions_guard(
            self.setup, missing_link_ids=seen.missing_link_ids, leaving=self._leaving_scope(), confirms=self.confirms
        )

    def _leaving_scope(self):
        """Linked Outlook contacts to remove: deleted in Business Central or out of scope.
        A person's own contact that was in the folder before they adopted it is never
        among them: it is let go instead (`_let_go_adopted`)."""
        return self._linked_out_of_scope().exclude(graph_id__in=self.setup.adopted_contacts.values("graph_id"))

    def _linked_out_of_scope(self):
        return self.setup.links.filter(state=ContactLink.State.LINKED, graph_id__isnull=False).exclude(
            contact__in=contacts_in_scope(self.setup)
        )

    def _let_go_adopted(self) -> None:
        """A person's own contact of an adopted folder whose contact left the scope stays
        in Outlook: no longer synchronized (as with "stop syncing"), never deleted."""
        adopted = self._linked_out_of_scope().filter(graph_id__in=self.setup.adopted_contacts.values("graph_id"))
        for link in adopted.select_related("contact"):
            reason = "deleted in Business Central" if link.contact is None else exclusion_reason(link.contact)
            self._issue(
                SyncIssue.Kind.EXCLUDED,
                SyncIssue.Direction.TO_OUTLOOK,
                link.contact,
                f"No longer synchronized ({reason or 'no longer matches the filter'}), and left in Outlook: it "
                "was in the folder before the folder was adopted, so it stays there as the person's own.",
                contact_no=link.contact_no,
            )
        adopted.update(state=ContactLink.State.STOPPED)

    def _remove_duplicates(self, duplicates: list[ContactLink]) -> None:
        for duplicate in duplicates:
            self._issue(
                SyncIssue.Kind.SKIPPED,
                SyncIssue.Direction.TO_OUTLOOK,
                duplicate.contact,
                "A second Outlook copy of this contact was removed, so the folder holds it once.",
                contact_no=duplicate.contact_no,
            )
            self.outbox.add(Op("delete", duplicate, counter="deleted_in_outlook"))
        duplicates.clear()

    def _apply_missing(self, link_ids: list[int]) -> None:
        """Linked contacts deleted in Outlook: recreated (Business Central's way) or no
        longer synchronized, as the setup says."""
        if not link_ids:
            return
        links = ContactLink.objects.filter(pk__in=link_ids)
        if self.setup.on_outlook_delete == ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING:
            for link in links.select_related("contact"):
                self._issue(
                    SyncIssue.Kind.SKIPPED,
                    SyncIssue.Direction.TO_OUTLOOK,
                    link.contact,
                    "Deleted in Outlook; it is no longer synchronized (setup: stop syncing).",
                )
            links.update(state=ContactLink.State.STOPPED, graph_id=None, change_key="")
        else:
            # Known to be gone, so no lookup is needed before creating it again.
            links.update(graph_id=None, change_key="", fields_hash="")

    # --- push ---------------------------------------------------------------------

    def _push(self, full: bool, seen: Seen) -> None:
        """Send new and changed in-scope contacts to Outlook."""
        scope = contacts_in_scope(self.setup)
        if not full:
            healthy = (
                self.setup.links.filter(state=ContactLink.State.LINKED, graph_id__isnull=False, failure_count=0)
                .exclude(fields_hash="")
                .values("contact_id")
            )
            since = self.setup.changes_since
            # Without a last run's start every contact in scope is compared (an empty Q()
            # would be dropped from the OR, leaving only the unhealthy links).
            if since:
                scope = scope.filter(Q(modified_at__gte=since - CHANGES_OVERLAP) | ~Q(pk__in=healthy))
        scope = scope.exclude(pk__in=self.setup.links.filter(state=ContactLink.State.STOPPED).values("contact_id"))
        if not full:
            self.total += scope.count()
        for contacts in _pk_chunks(scope, CHUNK):
            contacts = [c for c in contacts if c.pk not in seen.handled_contacts]
            links = {link.contact_id: link for link in self.setup.links.filter(contact__in=contacts)}
            new_links = [
                ContactLink(setup=self.setup, contact=c, contact_no=c.no) for c in contacts if c.pk not in links
            ]
            # Recorded as pending before the POST, so a lost answer is found by its stamp.
            for link in ContactLink.objects.bulk_create(new_links):
                links[link.contact_id] = link
            for contact in contacts:
                self._push_one(contact, links[contact.pk])
            self._tick(len(contacts))

    def _sendable(self, contact: Contact, values: MappedValues) -> bool:
        """Whether Business Central's values can go to Outlook as they are. An invalid
        email or a line break inside a field would reach Outlook mangled (or be read back
        differently forever), so the contact is reported instead, its Outlook copy left."""
        problems = value_problems(values)
        if not problems:
            return True
        self.counts["excluded"] += 1
        reason = f"Not synchronized: {'; '.join(problems.values())}. Correct it on the contact card."
        self._issue(SyncIssue.Kind.EXCLUDED, SyncIssue.Direction.TO_OUTLOOK, contact, reason)
        return False

    def _push_one(self, contact: Contact, link: ContactLink) -> None:
        values = contact_values(contact)
        if (link.graph_id is None or link.fields_hash != values_hash(values)) and not self._sendable(contact, values):
            return
        # A create whose answer was lost shows up in the folder's delta (or the full
        # listing) with its stamp and was linked by the pull before this point; what is
        # still without an Outlook id now really is missing there.
        if link.graph_id is None:
            self.outbox.add(Op("create", link, values, counter="created_in_outlook"))
        elif link.fields_hash != values_hash(values) or link.failure_count:
            if_match = f'W/"{link.change_key}"' if self.setup.keep_outlook_edits and link.change_key else None
            # The diff base is what Outlook held after our last write: had the person
            # edited it since, the pull would have compared it (and handled it) first.
            op = Op(
                "update",
                link,
                values,
                if_match=if_match,
                counter="updated_in_outlook",
                base=last_seen(link.snapshot, link.outlook_lists),
                lists=link.outlook_lists or None,
            )
            self.outbox.add(op)
        else:
            self.counts["unchanged"] += 1

    def _delete_out_of_scope(self) -> None:
        """Remove from Outlook what was deleted in Business Central or left the scope."""
        self._let_go_adopted()
        leaving = self._leaving_scope().select_related("contact")
        for links in _pk_chunks(leaving, CHUNK):
            for link in links:
                reason = "deleted in Business Central" if link.contact is None else exclusion_reason(link.contact)
                self._issue(
                    SyncIssue.Kind.EXCLUDED,
                    SyncIssue.Direction.TO_OUTLOOK,
                    link.contact,
                    f"Removed from Outlook: {reason or 'no longer matches the filter'}.",
                    contact_no=link.contact_no,
                )
                self.outbox.add(Op("delete", link, counter="deleted_in_outlook"))
        # Links that never reached Outlook and are out of scope need no Graph call.
        self.setup.links.filter(graph_id__isnull=True).exclude(contact__in=contacts_in_scope(self.setup)).delete()

    # --- bookkeeping --------------------------------------------------------------

    def _record_exclusions(self, full: bool) -> None:
        """Contacts matching the filter that cannot sync, with the reason: all of them on
        a full run, those changed since the last run otherwise."""
        excluded = contacts_matching_filter(self.setup).exclude(pk__in=contacts_in_scope(self.setup))
        if not full and self.setup.changes_since:
            excluded = excluded.filter(modified_at__gte=self.setup.changes_since)
        for contacts in _pk_chunks(excluded, CHUNK):
            for contact in contacts:
                self._issue(
                    SyncIssue.Kind.EXCLUDED,
                    SyncIssue.Direction.TO_OUTLOOK,
                    contact,
                    f"Not synchronized: {exclusion_reason(contact)}.",
                )
            self.counts["excluded"] += len(contacts)

    def _in_scope_ids(self, contact_ids: Iterable[int | None]) -> set[int]:
        ids = [pk for pk in contact_ids if pk is not None]
        if not ids:
            return set()
        return set(contacts_in_scope(self.setup).filter(pk__in=ids).values_list("pk", flat=True))

    def _issue(self, kind, direction, contact: Contact | None, reason: str, *, contact_no: str = "") -> None:
        self.issues.append(
            SyncIssue(
                run=self.run,
                kind=kind,
                direction=direction,
                contact=contact,
                contact_no=contact.no if contact else contact_no,
                reason=reason,
            )
        )
        if len(self.issues) >= ISSUES_SAVED_AT:
            self.save_issues()

    def _note(self, message: str) -> None:
        self.run.error = (self.run.error + "\n" + message).strip()

    def _tick(self, count: int) -> None:
        """A chunk or page is done: show progress, and stop here if the worker is shutting down."""
        self.done = min(self.done + count, self.total)
        self._heartbeat()
        if shutdown_requested():
            if self.outbox:
                self.outbox.flush()  # the chunk's writes still queued: sent and recorded
            raise RunInterrupted()

    def _heartbeat(self) -> None:
        if len(self.issues) >= ISSUES_SAVED_AT:  # the outbox's failures too
            self.save_issues()
        self.run.progress_done, self.run.progress_total = self.done, self.total
        services.sync_run_heartbeat(self.run)
        if self._progress:
            self._progress(self.done, self.total)

    def save_issues(self) -> None:
        """Write the issues gathered so far (also during the run, so memory stays flat)."""
        for issue in self.issues:
            issue.run = self.run
        services.sync_issues_record(self.issues)
        self.issues.clear()  # in place: the outbox appends to the same list


def _pk_chunks(queryset: QuerySet, size: int) -> Iterator[list]:
    """The queryset's rows in lists of `size`, in primary key order, each list its own
    query. Not a database cursor held open while the caller talks to Graph: on SQLite
    an open read keeps every other writer (the embedded sandbox, the web server) from
    committing until it ends."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page[:size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk
