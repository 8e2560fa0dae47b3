"""Outlook contacts coming into Business Central: edits merged field by field, and
contacts the engine has no link for (its own whose create answer was lost, copies, and
new ones a person made in Outlook). Part of the engine (`engine.Engine` mixes it in)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_fixed_values
from exchange_sync.graph.batch import error_from_batch_response
from exchange_sync.graph.errors import GraphNotFoundError
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.mapping import (
    MAPPED_FIELDS,
    MappedValues,
    contact_values,
    outlook_values,
    value_problems,
    values_hash,
)
from exchange_sync.models import ContactLink, SyncIssue
from exchange_sync.outbox import Op
from exchange_sync.patch import LIST_FIELDS, last_seen, outlook_lists
from exchange_sync.row_errors import ITEM_ERRORS, item_error_text
from exchange_sync.selectors import exclusion_reason
from exchange_sync.sync.seen import Seen


class OutlookInbound:
    """Engine methods for what comes from Outlook; they use the engine's client,
    setup, counts, outbox and issue list."""

    def _merge_outlook_edits(self, link: ContactLink, contact: Contact, outlook: MappedValues) -> bool:
        """Three-way merge per field against what Outlook held when last seen. A list
        slot Business Central leaves empty holds the person's own entry: a change to
        it is an Outlook edit, never a conflict (exchange_sync/patch.py). False when
        the database refused the merged contact: then nothing of it was saved, the
        contact keeps its stored values, and its Outlook copy is to be left as it is."""
        base, current = last_seen(link.snapshot, link.outlook_lists), contact_values(contact)
        taken: dict[str, str] = {}
        for name in MAPPED_FIELDS:
            theirs, was, ours = outlook[name], base.get(name, ""), current[name]
            if name in LIST_FIELDS and not ours and not link.snapshot.get(name):
                ours = was
            if theirs in (was, ours):
                continue
            if ours == was:
                taken[name] = theirs
            else:
                self.counts["conflicts"] += 1
                self._issue(
                    SyncIssue.Kind.CONFLICT,
                    SyncIssue.Direction.TO_BC,
                    contact,
                    f"{Contact._meta.get_field(name).verbose_name} was changed on both sides; Business Central's "
                    f"'{ours}' was kept, Outlook's '{theirs}' was overwritten.",
                )
        for name, problem in value_problems(taken).items():
            del taken[name]
            self._issue(
                SyncIssue.Kind.SKIPPED, SyncIssue.Direction.TO_BC, contact, f"{problem}; kept '{current[name]}'."
            )
        if not taken:
            return True
        for name, value in taken.items():
            setattr(contact, name, value)
        try:
            with transaction.atomic():
                contact.save()
        except ITEM_ERRORS as exc:
            contact.refresh_from_db()  # the values stored, not the ones refused
            self._refused(
                f"Outlook's changes could not be saved in Business Central ({item_error_text(exc)}); "
                "Business Central's values were kept and the Outlook contact was left as it is.",
                contact=contact,
            )
            return False
        self.counts["updated_in_bc"] += 1
        return True

    def _pull_unknown(self, graph_ids: list[str], seen: Seen) -> None:
        """Outlook contacts with ids we do not know: ours whose create answer was lost,
        ours from an earlier setup, or new ones a person made in Outlook."""
        requests_ = [
            self.client.batch_request_get_contact(str(i), self.mailbox, self.folder_id, graph_id, expand_stamp=True)
            for i, graph_id in enumerate(graph_ids)
        ]
        items = []
        for graph_id, response in zip(graph_ids, self.client.batch(requests_), strict=True):
            error = error_from_batch_response(response)
            if isinstance(error, GraphNotFoundError):
                continue  # deleted since the delta page was made
            if error is not None:
                # One unreadable contact must not stop the run; it is read again next
                # time, because this run keeps the old delta link (see Engine.execute).
                self.delta_incomplete = True
                self.counts["failed"] += 1
                self._issue_outlook(
                    SyncIssue.Kind.FAILED,
                    f"Outlook contact {graph_id[:24]}...",
                    f"Could not be read from Outlook ({error}); it is read again on the next sync.",
                )
                continue
            items.append(response.body)
        stamps = {item["id"]: _contact_no_stamp(item) for item in items}
        links_by_no = {
            link.contact_no: link
            for link in self.setup.links.filter(contact_no__in=[s for s in stamps.values() if s]).select_related(
                "contact"
            )
        }
        # Ours, but not linked: an adopted folder or a reset setup. Linked to its
        # contact; one since deleted or no longer in scope in Business Central is
        # removed from Outlook by the (guarded) out-of-scope step, never copied back as
        # a new contact. One INSERT for the page, not one per contact.
        unlinked = {s for s in stamps.values() if s and s not in links_by_no}
        contacts_by_no = {c.no: c for c in Contact.objects.filter(no__in=unlinked)}
        new_links = [
            ContactLink(setup=self.setup, contact=contacts_by_no.get(no), contact_no=no, state=ContactLink.State.LINKED)
            for no in sorted(unlinked)
        ]
        for link in ContactLink.objects.bulk_create(new_links):
            links_by_no[link.contact_no] = link
        in_scope = self._in_scope_ids(link.contact_id for link in links_by_no.values())
        made_in_outlook = []
        for item in items:
            link = links_by_no.get(stamps[item["id"]])
            if link is not None:
                self._adopt_stamped(link, item, seen, in_scope)
            else:
                made_in_outlook.append(item)
        self._save_refreshed()  # adopted links are in the database before any new contact is matched
        for item in made_in_outlook:
            self._pull_new(item, seen)

    def _adopt_stamped(self, link: ContactLink, item: dict[str, Any], seen: Seen, in_scope: set[int]) -> None:
        """An Outlook contact stamped with a contact number we sync: the copy whose
        create answer was lost is linked; a second copy of a linked one is removed."""
        if link.graph_id and link.graph_id != item["id"]:
            # A copy made in Outlook, or a create retried after its answer was lost:
            # the linked copy stays, the other goes (batched, after the guard), so the
            # folder holds it once.
            duplicate = ContactLink(setup=self.setup, contact=link.contact, contact_no=link.contact_no)
            duplicate.graph_id = item["id"]
            seen.duplicates.append(duplicate)
            return
        if link.state == ContactLink.State.STOPPED:
            return
        outlook = outlook_values(item)
        link.graph_id, link.change_key, link.state = item["id"], item.get("changeKey") or "", ContactLink.State.LINKED
        # It carries our stamp, so Outlook holds these values for it as written; but
        # the stamp does not say which list entries are ours: none is taken for ours,
        # so the person's own entry in a slot Business Central leaves empty stays.
        link.snapshot = {**outlook, **dict.fromkeys(LIST_FIELDS - {"email"}, "")}
        link.fields_hash = values_hash(outlook)
        link.outlook_lists = outlook_lists(item)
        self._refreshed.append(link)
        if link.contact_id is None:
            return  # deleted in Business Central: removed from Outlook later
        seen.handled_contacts.add(link.contact_id)
        if link.contact_id in in_scope:
            self._compare_linked(link, item)

    def _pull_new(self, item: dict[str, Any], seen: Seen) -> None:
        """A contact made in Outlook: link it to the Person with its email, or create one."""
        if self._left_alone(item):
            return  # a person's own contact in a folder they adopted (sync/adoption.py)
        values = outlook_values(item)
        label = values["name"] or values["email"] or "(no name)"
        reason = None
        if not values["name"]:
            reason = "it has no name"
        elif not values["email"]:
            reason = "it has no email address"
        elif problems := value_problems(values):
            reason = "; ".join(problems.values())
        if reason:
            self._skip_outlook(label, f"Not copied to Business Central: {reason}.")
            return
        matches = list(Contact.objects.filter(type=Contact.Type.PERSON, email__iexact=values["email"])[:2])
        if len(matches) > 1:
            self._skip_outlook(label, f"Not linked: more than one contact has the email {values['email']}.")
            return
        if matches:
            contact = matches[0]
            if contact.pk not in self._in_scope_ids([contact.pk]):
                why = exclusion_reason(contact) or "it does not match this setup's filter"
                self._skip_outlook(label, f"Not linked: the contact {contact.no} with this email is excluded ({why}).")
                return
            if self.setup.links.filter(contact=contact).exclude(graph_id=None).exists():
                self._skip_outlook_copy(label, contact, item["id"])
                return
        else:
            try:
                with transaction.atomic():
                    contact = self._create_contact(values)
            except ITEM_ERRORS as exc:
                self._refused(
                    f"Not copied to Business Central: the database refused it ({item_error_text(exc)}).",
                    outlook_name=label,
                )
                return
            if contact.pk not in self._in_scope_ids([contact.pk]):
                self._issue(
                    SyncIssue.Kind.SKIPPED,
                    SyncIssue.Direction.TO_BC,
                    contact,
                    "Created in Business Central from Outlook, but it does not match this setup's filter, "
                    "so it is not synchronized.",
                )
                return
        try:
            with transaction.atomic():
                link, _ = ContactLink.objects.update_or_create(
                    setup=self.setup,
                    contact=contact,
                    defaults={
                        "contact_no": contact.no,
                        "graph_id": item["id"],
                        "change_key": item.get("changeKey") or "",
                        "state": ContactLink.State.LINKED,
                        "snapshot": values,
                        "outlook_lists": outlook_lists(item),
                        # No hash until the stamp below is confirmed written: until then the
                        # link counts as unsynchronized, so a run that stops first repeats it.
                        "fields_hash": "",
                        "failure_count": 0,
                    },
                )
        except ITEM_ERRORS as exc:
            self._refused(
                f"Not linked to {contact.no}: the database refused the link ({item_error_text(exc)}).",
                outlook_name=label,
            )
            return
        if matches:
            self.counts["linked_in_bc"] += 1
        seen.handled_contacts.add(contact.pk)
        # Stamp it and send Business Central's values (they win on a duplicate).
        self.outbox.add(Op("update", link, contact_values(contact), counter="", base=values, lists=link.outlook_lists))

    def _create_contact(self, values: MappedValues) -> Contact:
        contact = Contact(type=Contact.Type.PERSON, **values)
        # Fixed values of the filter (e.g. Salesperson Code JO) fill blanks, so a
        # contact made in Outlook stays in this setup's scope.
        for name, value in contact_filter_fixed_values(self.setup.contact_filter).items():
            if not getattr(contact, name):
                setattr(contact, name, value)
        contact.save()
        self.counts["created_in_bc"] += 1
        return contact

    def _skip_outlook_copy(self, label: str, contact: Contact, graph_id: str) -> None:
        """A contact a person made in Outlook with the email of one already in the folder:
        left alone and reported, with the ids the run page's actions need (link this one
        instead, remove the Outlook copy: exchange_sync/outlook_copies.py)."""
        self.counts["skipped"] += 1
        self.issues.append(
            SyncIssue(
                run=self.run,
                kind=SyncIssue.Kind.SKIPPED,
                direction=SyncIssue.Direction.TO_BC,
                contact=contact,
                contact_no=contact.no,
                outlook_name=label[:200],
                outlook_id=graph_id,
                reason=f"Not linked: {contact.no} with this email is already in the folder.",
            )
        )

    def _refused(self, reason: str, *, contact: Contact | None = None, outlook_name: str = "") -> None:
        """The database refused one item's write: a failed item, and the run goes on. The
        run keeps its old delta link (within Engine._save_delta_link's bound), so the
        next run meets the Outlook change again and tries once more."""
        self.counts["failed"] += 1
        self.delta_incomplete = True
        self.issues.append(
            SyncIssue(
                run=self.run,
                kind=SyncIssue.Kind.FAILED,
                direction=SyncIssue.Direction.TO_BC,
                contact=contact,
                contact_no=contact.no if contact else "",
                outlook_name=outlook_name[:200],
                reason=reason,
            )
        )

    def _skip_outlook(self, label: str, reason: str) -> None:
        self.counts["skipped"] += 1
        self._issue_outlook(SyncIssue.Kind.SKIPPED, label, reason)

    def _issue_outlook(self, kind: str, label: str, reason: str) -> None:
        """An issue about an Outlook contact that has no contact in Business Central."""
        self.issues.append(
            SyncIssue(
                run=self.run, kind=kind, direction=SyncIssue.Direction.TO_BC, outlook_name=label[:200], reason=reason
            )
        )


def _contact_no_stamp(item: dict[str, Any]) -> str:
    """The contact number an Outlook contact is stamped with, or "" when it has none or
    its stamp cannot be one of ours (longer than a contact number, or text a database
    cannot store): such a contact is treated as made in Outlook, never as ours."""
    stamp = (stamp_value(item) or "").upper()
    fits = len(stamp) <= Contact._meta.get_field("no").max_length and stamp.isprintable()
    return stamp if fits else ""
