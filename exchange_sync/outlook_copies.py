"""What a person does about a contact they made twice in Outlook: a copy, in the setup's
folder, with the email of a contact bcsync already keeps there. The sync leaves such a
copy alone and reports it (inbound._skip_outlook_copy); from the run page a person picks:

- **Link this one instead** (`outlook_copy_link`): the person's copy becomes the
  contact's synchronized copy, and bcsync's own copy (stamped with the contact number,
  made by the sync) is deleted from the folder, so the folder holds the contact once.
  The person's copy keeps what bcsync does not map (notes, birthday, more addresses);
  the next sync stamps it and writes Business Central's values into the mapped
  properties, as for any contact linked by email.
- **Remove the Outlook copy** (`outlook_copy_remove`): the person's copy is deleted;
  bcsync's copy stays.

When the setup keeps Outlook edits, both first copy into Business Central the mapped
values the copy has and the contact lacks (a field empty in Business Central), so
nothing the person typed into a mapped field is lost.

The Graph work is a few single-item requests (read the copy, delete one contact), done
inline with the client's timeouts and retries, so the person gets the answer on the
next page. Nothing else is deleted, and nothing is deleted without that click.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.errors import GraphError, GraphNotFoundError
from exchange_sync.mapping import GRAPH_SELECT, MAPPED_FIELDS, MappedValues, outlook_values, value_problems
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue
from exchange_sync.patch import outlook_lists
from exchange_sync.row_errors import ITEM_ERRORS, item_error_text
from exchange_sync.selectors import contacts_in_scope, exclusion_reason
from exchange_sync.services import sync_run_active


class OutlookCopyError(Exception):
    """The action could not be carried out; the message says why and what was (not) done."""


def outlook_copy_link(issue: SyncIssue, *, client: GraphClient, user: AbstractBaseUser | None) -> str:
    """Make the Outlook copy of `issue` its contact's synchronized copy and delete
    bcsync's earlier copy from the folder. Returns what was done, for the person.

    Raises OutlookCopyError (already resolved, a sync running, the copy gone or no
    longer a copy) and GraphError (Outlook unreachable or refusing) before any change,
    except that a failed delete of the earlier copy is reported in the returned text:
    the copy is linked by then, and a Full Sync removes the earlier one.
    """
    setup, contact, copy = _prepare(issue, client)
    if not contacts_in_scope(setup).filter(pk=contact.pk).exists():
        # Linked now, the copy would be removed by the next sync as leaving the scope.
        why = exclusion_reason(contact) or "it no longer matches the filter"
        raise OutlookCopyError(
            f"{contact.no} is no longer synchronized by this setup ({why}), so "
            "the copy cannot become its Outlook contact. Nothing was changed."
        )
    earlier = setup.links.filter(contact=contact).exclude(graph_id=None).values_list("graph_id", flat=True).first()
    with transaction.atomic():
        merged = _merge_into_contact(setup, contact, copy)
        try:
            with transaction.atomic():
                ContactLink.objects.update_or_create(
                    setup=setup,
                    contact=contact,
                    defaults={
                        "contact_no": contact.no,
                        "graph_id": copy["id"],
                        "change_key": copy.get("changeKey") or "",
                        "state": ContactLink.State.LINKED,
                        "snapshot": outlook_values(copy),
                        "outlook_lists": outlook_lists(copy),
                        # No hash: the next sync stamps the copy and sends Business
                        # Central's values, as for a contact linked by email.
                        "fields_hash": "",
                        "failure_count": 0,
                        "last_error": "",
                    },
                )
        except ITEM_ERRORS as exc:
            raise OutlookCopyError(
                f"The Outlook copy could not be linked: the database refused it ({item_error_text(exc)}). "
                "Nothing was changed."
            ) from exc
        _resolve(issue, SyncIssue.Resolution.LINKED, user)
    done = f"'{issue.outlook_name}' is now the Outlook contact of {contact.no}{merged}."
    if not earlier or earlier == copy["id"]:
        return done
    try:
        client.delete_contact(setup.mailbox, setup.folder_id, earlier)
    except GraphNotFoundError:
        pass  # already gone: what we wanted
    except GraphError as exc:
        return (
            f"{done} bcsync's earlier copy could not be deleted now ({exc}); the next Full Sync removes it, "
            "since it carries the same contact number."
        )
    return f"{done} bcsync's earlier copy was deleted, so the folder holds {contact.no} once."


def outlook_copy_remove(issue: SyncIssue, *, client: GraphClient, user: AbstractBaseUser | None) -> str:
    """Delete the Outlook copy of `issue`, after copying its extra values into Business
    Central when the setup keeps Outlook edits. bcsync's own copy stays. Returns what was
    done; raises OutlookCopyError when the copy was not deleted (the message says whether
    values were copied), GraphError when Outlook could not be read (nothing changed)."""
    setup, contact, copy = _prepare(issue, client)
    merged = _merge_into_contact(setup, contact, copy)
    try:
        client.delete_contact(setup.mailbox, setup.folder_id, copy["id"])
    except GraphNotFoundError:
        pass  # deleted in Outlook meanwhile: what was asked for
    except GraphError as exc:
        raise OutlookCopyError(
            f"The Outlook copy '{issue.outlook_name}' could not be deleted ({exc}){merged}. Try again later."
        ) from exc
    _resolve(issue, SyncIssue.Resolution.REMOVED, user)
    return f"The Outlook copy '{issue.outlook_name}' was deleted; {contact.no} stays in the folder once{merged}."


def _prepare(issue: SyncIssue, client: GraphClient) -> tuple[ExchangeSyncSetup, Contact, dict]:
    """The setup, the contact and the copy as Outlook holds it now, once it is sure the
    action still makes sense; OutlookCopyError otherwise."""
    if issue.resolved_at:
        raise OutlookCopyError(
            f"This copy was already dealt with on {timezone.localtime(issue.resolved_at):%Y-%m-%d %H:%M}: "
            f"{issue.get_resolution_display().lower()}. Nothing was changed."
        )
    if not issue.outlook_id or issue.contact is None:
        raise OutlookCopyError("This issue is not about a copy made in Outlook, or its contact was deleted.")
    setup, contact = issue.run.setup, issue.contact
    if sync_run_active(setup) is not None:
        raise OutlookCopyError("A synchronization of this setup is running. Try again when it has finished.")
    linked_as = setup.links.filter(graph_id=issue.outlook_id).values_list("contact_no", flat=True).first()
    if linked_as:
        _resolve(issue, SyncIssue.Resolution.LINKED, None)
        raise OutlookCopyError(
            f"'{issue.outlook_name}' is already the synchronized Outlook contact of {linked_as}. Nothing was changed."
        )
    try:
        copy = client.get_contact(setup.mailbox, setup.folder_id, issue.outlook_id, select=GRAPH_SELECT)
    except GraphNotFoundError as exc:
        _resolve(issue, SyncIssue.Resolution.GONE, None)
        raise OutlookCopyError(
            f"The Outlook copy '{issue.outlook_name}' is no longer in the folder (deleted or moved in Outlook). "
            "Nothing was changed."
        ) from exc
    email = outlook_values(copy)["email"]
    if email.lower() != contact.email.lower():
        raise OutlookCopyError(
            f"'{issue.outlook_name}' no longer has the email of {contact.no} ({contact.email}): it was changed "
            "in Outlook, so it is not a copy any more. Nothing was changed; the next sync treats it as a contact "
            "of its own."
        )
    return setup, contact, copy


def _merge_into_contact(setup: ExchangeSyncSetup, contact: Contact, copy: dict) -> str:
    """With "keep Outlook edits": copy into the contact the mapped values the copy has
    and the contact lacks. Returns a clause for the message ("" when nothing was copied)."""
    if not setup.keep_outlook_edits:
        return ""
    extra = _missing_values(contact, outlook_values(copy))
    problems = value_problems(extra)
    for name in problems:
        del extra[name]
    if extra:
        for name, value in extra.items():
            setattr(contact, name, value)
        try:
            with transaction.atomic():
                contact.save()
        except ITEM_ERRORS as exc:
            contact.refresh_from_db()
            raise OutlookCopyError(
                f"The copy's values could not be saved on {contact.no} ({item_error_text(exc)}). Nothing was deleted."
            ) from exc
    clause = ""
    if extra:
        labels = ", ".join(str(Contact._meta.get_field(name).verbose_name) for name in extra)
        clause += f"; its {labels} were copied into Business Central first"
    if problems:
        clause += f"; not copied: {'; '.join(problems.values())}"
    return clause


def _missing_values(contact: Contact, copy: MappedValues) -> MappedValues:
    """Mapped fields empty on the contact that the copy fills."""
    return {name: copy[name] for name in MAPPED_FIELDS if copy[name] and not getattr(contact, name)}


def _resolve(issue: SyncIssue, resolution: str, user: AbstractBaseUser | None) -> None:
    """Mark the issue, and the same copy's issues of earlier runs, as dealt with, so the
    run pages stop offering the actions."""
    now = timezone.now()
    SyncIssue.objects.filter(
        run__setup_id=issue.run.setup_id, outlook_id=issue.outlook_id, resolved_at__isnull=True
    ).update(resolution=resolution, resolved_at=now, resolved_by=user)
    issue.resolution, issue.resolved_at, issue.resolved_by = resolution, now, user
