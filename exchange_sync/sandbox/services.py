"""Changes to sandbox mailboxes, used by the Graph endpoints, the Outlook page, the
`sandbox_mailbox` command and tests (the one Python entry other suites may call).

Every contact change takes the next value of its mailbox's change counter inside the
same transaction. The counter update locks the mailbox row (the whole database on
SQLite, whose transactions begin IMMEDIATE in this project), so changes of one mailbox
commit in counter order and a delta round never skips a committed change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from . import ids
from .errors import GraphError, not_found
from .models import Contact, ContactEmail, DeltaExpiry, ExtendedProperty, Folder, Mailbox, ValueCopies
from .notifications import CREATED, DELETED, UPDATED, ContactChange, contact_changed, mailbox_has_subscribers
from .odata import canonical_property_id
from .shapes import display_name_from_parts

KNOB_FIELDS = {
    "latency_ms": "latency_ms",
    "throttle": "is_throttled",
    "transient_rate": "transient_error_rate",
    "lost_create_rate": "lost_create_rate",
    "expire_delta": "delta_expiry",
    "access_denied": "is_access_denied",
    "notification_drop_rate": "notification_drop_rate",
    "notification_duplicate_rate": "notification_duplicate_rate",
    "notification_delay_seconds": "notification_delay_seconds",
    "notification_reorder": "is_notification_reordered",
}
_RATES = ("transient_rate", "lost_create_rate", "notification_drop_rate", "notification_duplicate_rate")


def mailbox_add(email: str, *, display_name: str = "") -> tuple[Mailbox, bool]:
    """Provision a mailbox; idempotent. Returns (mailbox, created)."""
    email = email.strip().lower()
    return Mailbox.objects.get_or_create(
        email=email,
        defaults={
            "display_name": display_name or email.split("@")[0].replace(".", " ").title(),
            "user_id": uuid.uuid4(),
            "root_folder_id": ids.new_id(ids.ROOT),
        },
    )


def mailbox_get(email: str) -> Mailbox:
    """The mailbox of an address (case-insensitive); Mailbox.DoesNotExist otherwise."""
    return Mailbox.objects.get(email=email.strip().lower())


@transaction.atomic
def mailbox_reset(email: str) -> Mailbox:
    """Empty a mailbox (folders, contacts, subscriptions) and put its knobs back to the global defaults."""
    mailbox = mailbox_get(email)
    mailbox.subscriptions.all().delete()
    mailbox.folders.all().delete()
    mailbox_configure(
        email,
        latency_ms=None,
        throttle=None,
        transient_rate=None,
        lost_create_rate=None,
        expire_delta="",
        access_denied=False,
        notification_drop_rate=0.0,
        notification_duplicate_rate=0.0,
        notification_delay_seconds=0.0,
        notification_reorder=False,
    )
    return mailbox


def mailbox_configure(email: str, **knobs: object) -> Mailbox:
    """Set simulation knobs of a mailbox at run time; None (or "" for expire_delta) means global default.

    Knobs: latency_ms (int), throttle (bool), transient_rate (0..1), lost_create_rate (0..1),
    expire_delta ("off" | "410" | "syncStateNotFound"), access_denied (bool); for change
    notifications (see `notifications`): notification_drop_rate and
    notification_duplicate_rate (0..1), notification_delay_seconds (>= 0),
    notification_reorder (bool). Also gives
    the mailbox a new `knobs_version`, so the process serving Graph restarts the
    mailbox's seeded random sequence and throttle window at its next request on it.
    """
    mailbox = mailbox_get(email)
    unknown = set(knobs) - set(KNOB_FIELDS)
    if unknown:
        raise TypeError(f"Unknown sandbox knobs: {', '.join(sorted(unknown))}")
    for knob, value in knobs.items():
        if knob in _RATES and value is not None and not 0 <= float(value) <= 1:
            raise ValueError(f"{knob} must be between 0 and 1")
        if knob == "notification_delay_seconds" and float(value) < 0:
            raise ValueError("notification_delay_seconds must not be negative")
        if knob == "expire_delta" and value not in ("", None, *DeltaExpiry.values):
            raise ValueError(f"expire_delta must be one of {', '.join(DeltaExpiry.values)}")
        setattr(mailbox, KNOB_FIELDS[knob], value if knob != "expire_delta" else (value or ""))
    mailbox.knobs_version = uuid.uuid4()
    mailbox.save(update_fields=[*(KNOB_FIELDS[k] for k in knobs), "knobs_version"])
    return mailbox


def _next_seq(mailbox_id: int) -> int:
    """Take the mailbox's next change counter value: one UPDATE ... RETURNING, which
    also locks the mailbox row until the change's transaction ends."""
    table = connection.ops.quote_name(Mailbox._meta.db_table)
    with connection.cursor() as cursor:
        sql = f"UPDATE {table} SET change_seq = change_seq + 1 WHERE id = %s RETURNING change_seq"  # noqa: S608 (the model's table)
        cursor.execute(sql, [mailbox_id])
        return cursor.fetchone()[0]


def _folder_name_taken(
    mailbox: Mailbox, name: str, exclude_pk: int | None = None, parent: Folder | None = None
) -> bool:
    # Exchange compares folder names case-insensitively, among the folders of one parent.
    siblings = mailbox.folders.filter(parent=parent, well_known_name="").exclude(graph_id=mailbox.root_folder_id)
    return siblings.filter(display_name__iexact=name).exclude(pk=exclude_pk).exists()


def default_folder(mailbox: Mailbox) -> Folder:
    """The mailbox's default Contacts folder (`/users/{u}/contacts`), made on first use."""
    folder, _ = Folder.objects.get_or_create(
        graph_id=mailbox.root_folder_id, defaults={"mailbox": mailbox, "display_name": "Contacts"}
    )
    return folder


DELETED_ITEMS = "deleteditems"


def deleted_items_folder_id(mailbox: Mailbox) -> str:
    """The id of the mailbox's Deleted Items folder, the same before and after it is made."""
    return ids.derived_id(ids.FOLDER, f"{mailbox.root_folder_id}/{DELETED_ITEMS}")


def deleted_items_folder(mailbox: Mailbox) -> Folder:
    """The mailbox's Deleted Items folder, made on first use. Where Outlook puts what a
    person deletes; a mail folder, so not among the contact folders Graph lists, though
    `/contactFolders/{its id}` and `/contactFolders/deleteditems` read it (see operations)."""
    folder, _ = Folder.objects.get_or_create(
        graph_id=deleted_items_folder_id(mailbox),
        defaults={"mailbox": mailbox, "display_name": "Deleted Items", "well_known_name": DELETED_ITEMS},
    )
    return folder


def _folder_exists_error() -> GraphError:
    # [observed] https://learn.microsoft.com/graph/api/user-post-contactfolders
    return GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")


@transaction.atomic
def folder_create(
    mailbox: Mailbox, display_name: str, extended: Iterable[dict] = (), *, parent: Folder | None = None
) -> Folder:
    """A folder under the default Contacts folder, or a child folder of `parent`, with
    the extended properties set on its POST."""
    if _folder_name_taken(mailbox, display_name, parent=parent):
        raise _folder_exists_error()
    folder = Folder(mailbox=mailbox, parent=parent, graph_id=ids.new_id(ids.FOLDER), display_name=display_name)
    _set_folder_extended(folder, extended)
    folder.save()
    return folder


@transaction.atomic
def folder_update(folder: Folder, *, display_name: str | None = None, extended: Iterable[dict] = ()) -> Folder:
    """PATCH a folder: rename it (409 when the name is taken) and set (or, with a null
    value, remove) extended properties, all or nothing."""
    if display_name is not None:
        folder = folder_rename(folder, display_name)
    _set_folder_extended(folder, extended)
    folder.save(update_fields=["extended"])
    return folder


def _set_folder_extended(folder: Folder, extended: Iterable[dict]) -> None:
    for item in extended:
        property_id = canonical_property_id(str(item["id"]))
        if item.get("value") is None:
            folder.extended.pop(property_id, None)
        else:
            folder.extended[property_id] = str(item["value"])


@transaction.atomic
def folder_rename(folder: Folder, display_name: str) -> Folder:
    if _folder_name_taken(folder.mailbox, display_name, exclude_pk=folder.pk, parent=folder.parent):
        raise _folder_exists_error()
    folder.display_name = display_name
    folder.save(update_fields=["display_name"])
    return folder


def folder_delete(folder: Folder) -> None:
    """Delete a folder with its contacts (they leave no tombstones: the folder is gone)."""
    folder.delete()


def _index_contact(contact: Contact, *, is_new: bool = False) -> None:
    """(Re)write the contact's e-mail index (a new contact has none to remove)."""
    if not is_new:
        ContactEmail.objects.filter(contact=contact).delete()
    addresses = {a["address"].lower() for a in contact.data.get("emailAddresses", []) if a.get("address")}
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=contact, folder_id=contact.folder_id, address_folded=a) for a in addresses
    )


def _set_extended(contact: Contact, extended: Iterable[dict], *, is_new: bool = False) -> None:
    """Set (or, with a null value, remove) extended properties; the last of one id wins.
    A new contact has none yet, so its values are inserted in one statement."""
    values: dict[str, str | None] = {}
    for item in extended:
        value = item.get("value")
        values[canonical_property_id(str(item["id"]))] = None if value is None else str(value)
    removed = [property_id for property_id, value in values.items() if value is None]
    if removed and not is_new:
        ExtendedProperty.objects.filter(contact=contact, property_id__in=removed).delete()
    kept = {property_id: value for property_id, value in values.items() if value is not None}
    if is_new:
        ExtendedProperty.objects.bulk_create(
            ExtendedProperty(
                contact=contact,
                folder_id=contact.folder_id,
                property_id=property_id,
                value=value,
                value_folded=value.lower()[:255],
            )
            for property_id, value in kept.items()
        )
    else:
        for property_id, value in kept.items():
            ExtendedProperty.objects.update_or_create(
                contact=contact,
                property_id=property_id,
                defaults={"folder_id": contact.folder_id, "value": value, "value_folded": value.lower()[:255]},
            )
    for property_id, value in kept.items():
        _note_copies(contact.folder_id, property_id, value.lower()[:255])


def _note_copies(folder_id: int, property_id: str, value_folded: str) -> None:
    """Keep `ValueCopies.most` for tests: how many live contacts hold the value now, if
    more than ever before. Runs inside the change's transaction, which holds the
    mailbox's change counter, so the count sees every committed copy. One statement
    (an upsert that counts), as it runs on every stamped write."""
    copies = connection.ops.quote_name(ValueCopies._meta.db_table)
    props = connection.ops.quote_name(ExtendedProperty._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {copies} (folder_id, property_id, value_folded, most) "  # noqa: S608 (model table names)
            f"SELECT %s, %s, %s, COUNT(*) FROM {props} WHERE folder_id = %s AND property_id = %s AND value_folded = %s "
            "ON CONFLICT (folder_id, property_id, value_folded) DO UPDATE SET most = "
            f"CASE WHEN excluded.most > {copies}.most THEN excluded.most ELSE {copies}.most END",
            [folder_id, property_id, value_folded, folder_id, property_id, value_folded],
        )


@transaction.atomic
def contact_create(folder: Folder, properties: dict, extended: Iterable[dict] = ()) -> Contact:
    """Create a contact; Outlook composes displayName from the name parts when it is not given."""
    data = dict(properties)
    if not data.get("displayName"):
        data["displayName"] = display_name_from_parts(data)
    now = timezone.now()
    contact = Contact.objects.create(
        mailbox_id=folder.mailbox_id,
        folder=folder,
        graph_id=ids.new_id(ids.CONTACT),
        change_key=ids.new_change_key(),
        seq=_next_seq(folder.mailbox_id),
        data=data,
        created_at=now,
        modified_at=now,
    )
    _index_contact(contact, is_new=True)
    _set_extended(contact, extended, is_new=True)
    _notify_on_commit(contact, folder, CREATED)
    return contact


_NAME_PARTS = ("givenName", "middleName", "surname")


@transaction.atomic
def contact_update(
    contact_pk: int, properties: dict, extended: Iterable[dict] = (), *, if_match: str | None = None
) -> Contact:
    """PATCH a contact: merge properties, new changeKey. 412 when If-Match names another etag.

    Outlook regenerates displayName from the name parts when they change and the PATCH
    does not send displayName itself (graph-notes: send it on every PATCH).
    """
    contact = Contact.objects.select_for_update().select_related("folder__mailbox").get(pk=contact_pk)
    _check_if_match(contact, if_match)
    data = {**contact.data, **properties}
    if "displayName" not in properties and any(p in properties for p in _NAME_PARTS):
        data["displayName"] = display_name_from_parts(data)
    contact.data = data
    contact.change_key = ids.new_change_key()
    contact.seq = _next_seq(contact.mailbox_id)
    contact.modified_at = timezone.now()
    contact.save(update_fields=["data", "change_key", "seq", "modified_at"])
    if "emailAddresses" in properties:
        _index_contact(contact)
    _set_extended(contact, extended)
    _notify_on_commit(contact, contact.folder, UPDATED)
    return contact


@transaction.atomic
def contact_delete(contact_pk: int, *, if_match: str | None = None) -> None:
    """Delete a contact permanently (Graph's DELETE; "Delete permanently" in Outlook),
    leaving a tombstone that the next delta round reports as removed. Neither of its ids
    addresses it any more (404)."""
    contact = Contact.objects.select_for_update().select_related("folder__mailbox").get(pk=contact_pk)
    _check_if_match(contact, if_match)
    contact.extended_properties.all().delete()
    contact.email_index.all().delete()
    contact.is_deleted = True
    contact.data = {}
    contact.seq = _next_seq(contact.mailbox_id)
    contact.modified_at = timezone.now()
    contact.save(update_fields=["is_deleted", "data", "seq", "modified_at"])
    _notify_on_commit(contact, contact.folder, DELETED)


@transaction.atomic
def contact_move(contact_pk: int, destination: Folder) -> Contact:
    """Move a contact to another folder of its mailbox, as a person does in Outlook (Graph
    has no move for contacts). Returns the contact in `destination`: a new regular id,
    the same immutable id, a new changeKey. The source folder keeps a tombstone under
    the old regular id, so its next delta round reports the contact removed
    (`@removed: deleted`, nothing says "moved"). Moving to its own folder changes nothing."""
    contact = Contact.objects.select_for_update().select_related("folder__mailbox").get(pk=contact_pk)
    if contact.is_deleted:
        raise not_found()
    if destination.mailbox_id != contact.mailbox_id:
        raise ValueError("A contact moves only within its mailbox.")
    if destination.pk == contact.folder_id:
        return contact
    now = timezone.now()
    moved = Contact.objects.create(
        mailbox_id=contact.mailbox_id,
        folder=destination,
        graph_id=ids.new_id(ids.CONTACT),
        immutable_id=contact.immutable_id,
        change_key=ids.new_change_key(),
        seq=_next_seq(contact.mailbox_id),
        data=contact.data,
        created_at=contact.created_at,
        modified_at=now,
    )
    for prop in contact.extended_properties.all():
        ExtendedProperty.objects.filter(pk=prop.pk).update(contact=moved, folder=destination)
        _note_copies(destination.pk, prop.property_id, prop.value_folded)
    contact.email_index.update(contact=moved, folder=destination)
    contact.is_deleted = True
    contact.data = {}
    contact.seq = _next_seq(contact.mailbox_id)
    contact.modified_at = now
    contact.save(update_fields=["is_deleted", "data", "seq", "modified_at"])
    _notify_on_commit(contact, contact.folder, DELETED)
    _notify_on_commit(moved, destination, CREATED)
    return moved


def contact_to_deleted_items(contact_pk: int) -> Contact:
    """Delete a contact as a person does in Outlook: it moves to Deleted Items (see `contact_move`)."""
    contact = Contact.objects.select_related("mailbox").get(pk=contact_pk)
    return contact_move(contact_pk, deleted_items_folder(contact.mailbox))


def _notify_on_commit(contact: Contact, folder: Folder, change_type: str) -> None:
    """Queue the change's notifications once it commits (never for a rolled-back change)."""
    if not mailbox_has_subscribers(contact.mailbox_id):
        return
    change = ContactChange(
        mailbox_id=contact.mailbox_id,
        folder_id=folder.pk,
        is_contact_folder=folder.well_known_name != DELETED_ITEMS,
        change_type=change_type,
        graph_id=contact.graph_id,
        immutable_id=contact.immutable_id,
        change_key=None if change_type == DELETED else contact.change_key,
    )
    transaction.on_commit(lambda: contact_changed(change))


def _check_if_match(contact: Contact, if_match: str | None) -> None:
    if contact.is_deleted:
        raise not_found()
    if if_match and if_match.strip() != "*" and if_match.strip() != f'W/"{contact.change_key}"':
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request "
            "does not match the current change key for the item.",
        )
