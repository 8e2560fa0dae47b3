"""The setup's Outlook contact folder: found by its stored id, created (stamped as
bcsync's) when missing, renamed when the setup's folder name changes, recreated when
deleted in Outlook. A folder of the chosen name is used only when it carries bcsync's
stamp or a person adopted it on the setup page; a person's own folder is never taken
over silently."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.errors import GraphConflictError, GraphNotFoundError
from exchange_sync.graph.stamp import FOLDER_STAMP_FIELD
from exchange_sync.models import AdoptedFolderContact, ContactLink, ExchangeSyncSetup

# Graph's codes for a mailbox that does not exist (graph-notes.md: "Errors").
MAILBOX_NOT_FOUND = ("ErrorInvalidUser", "Request_ResourceNotFound", "MailboxNotEnabledForRESTAPI")
# Contact ids are read this many at a time to count or remember a folder's contacts
# ($top's maximum for contacts; $count is not relied on).
IDS_PAGE = 1000


class FolderRefused(Exception):
    """A folder of the setup's name exists that bcsync did not create and no person
    adopted: nothing is written to it; the message says what to do."""


@dataclass(frozen=True)
class Folder:
    id: str
    # True when the folder is new to this setup (created, recreated or adopted): every
    # contact must then be reconciled in full.
    is_new: bool
    note: str = ""
    # A problem a person must fix while the run goes on (a rename Outlook refused).
    attention: str = ""
    # True on the run that adopts a person's folder (see sync/adoption.py).
    is_adopted: bool = False


@dataclass(frozen=True)
class NamedFolder:
    """A folder of a given name and whether bcsync may use it without asking."""

    id: str
    is_stamped: bool


def folder_ensure(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str) -> Folder:
    """The setup's folder, made to exist under the setup's folder name.

    Raises FolderRefused when the only folder of that name is a person's own one that
    nobody adopted. A folder in use before folders were stamped is stamped now.
    """
    name = setup.folder_name
    if setup.folder_id:
        try:
            folder = client.get_contact_folder(mailbox, setup.folder_id, expand_stamp=True)
        except GraphNotFoundError as exc:
            if exc.code in MAILBOX_NOT_FOUND:
                raise
            note = f"The Outlook folder '{name}' was deleted in Outlook; it was created again and refilled."
            return _create(client, setup, mailbox, name, note=note)
        if not folder[FOLDER_STAMP_FIELD]:
            # This setup has used it all along (stored before folders were stamped, or
            # adopted and the stamp not yet written): it is bcsync's.
            client.stamp_contact_folder(mailbox, setup.folder_id)
        if folder.get("displayName") != name:
            try:
                client.rename_contact_folder(mailbox, setup.folder_id, name)
            except GraphConflictError:
                # Someone made a folder of the new name meanwhile. Renaming will not work
                # until a person decides; the contacts stay in sync under the old name.
                return Folder(setup.folder_id, is_new=False, attention=_rename_refused(folder, name))
            _save(setup, setup.folder_id, name)
        return Folder(setup.folder_id, is_new=False)
    return _use_named(client, setup, mailbox, name) or _create(client, setup, mailbox, name)


def folders_named(client: GraphClient, mailbox: str, name: str) -> list[NamedFolder]:
    """The mailbox's folders of that name, each read once more for its stamp (the
    documented way to read an extended property is $expand on one item)."""
    found = []
    for item in client.list_contact_folders(mailbox, display_name=name):
        folder = client.get_contact_folder(mailbox, item["id"], expand_stamp=True)
        found.append(NamedFolder(folder["id"], is_stamped=folder[FOLDER_STAMP_FIELD]))
    return found


def folder_contact_ids(client: GraphClient, mailbox: str, folder_id: str) -> list[str]:
    """Every contact id in the folder, a page of ids at a time."""
    pages = client.iter_contacts(mailbox, folder_id, select=["id"], page_size=IDS_PAGE)
    return [item["id"] for page in pages for item in page]


def refused_message(name: str) -> str:
    return (
        f"The Outlook folder '{name}' already exists and was not created by bcsync, so nothing was synchronized "
        "into it. Open the Exchange Sync. Setup and either choose another folder name, or save it again and "
        "tick 'Adopt the existing folder' to synchronize into that folder."
    )


def _use_named(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str, name: str) -> Folder | None:
    """The folder of that name when bcsync may use it, None when there is none."""
    found = folders_named(client, mailbox, name)
    if not found:
        return None
    for folder in found:
        if folder.is_stamped:
            # Ours (a reset setup, or a previous installation): the full reconciliation
            # finds the stamped contacts in it instead of duplicating them.
            _save(setup, folder.id, name)
            return Folder(folder.id, is_new=True)
    for folder in found:
        if setup.adopted_folder_id and folder.id == setup.adopted_folder_id:
            return _adopt(client, setup, mailbox, folder.id, name)
    raise FolderRefused(refused_message(name))


def _adopt(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str, folder_id: str, name: str) -> Folder:
    """Take a folder a person adopted: remember the contacts already in it, then stamp it.

    Remembered before the stamp is written, so a run that stops in between finds the
    folder by id next time with its contacts known (and stamps it then)."""
    ids = folder_contact_ids(client, mailbox, folder_id)
    with transaction.atomic():
        setup.adopted_contacts.all().delete()
        AdoptedFolderContact.objects.bulk_create(
            (AdoptedFolderContact(setup=setup, graph_id=graph_id) for graph_id in ids), batch_size=1000
        )
        _save(setup, folder_id, name)
    client.stamp_contact_folder(mailbox, folder_id)
    return Folder(folder_id, is_new=True, is_adopted=True)


def _create(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str, name: str, *, note: str = "") -> Folder:
    try:
        folder_id = client.create_contact_folder(mailbox, name, stamped=True)["id"]
    except GraphConflictError:
        # It exists after all: our create went through but its answer was lost (and the
        # retry hit ErrorFolderExists; it carries our stamp), or someone made it meanwhile.
        used = _use_named(client, setup, mailbox, name)
        if used is None:
            raise
        setup.links.exclude(state=ContactLink.State.STOPPED).delete()
        return Folder(used.id, is_new=True, note=note, is_adopted=used.is_adopted)
    with transaction.atomic():
        # Links into a folder that no longer exists point nowhere. Contacts a person
        # stopped syncing (deleted in Outlook, policy "stop syncing") stay stopped.
        setup.links.exclude(state=ContactLink.State.STOPPED).delete()
        setup.adopted_contacts.all().delete()
        _save(setup, folder_id, name)
    return Folder(folder_id, is_new=True, note=note)


def _rename_refused(folder: dict, name: str) -> str:
    old = folder.get("displayName") or ""
    return (
        f"The Outlook folder could not be renamed to '{name}': a folder of that name already exists in Outlook. "
        f"Contacts are still synchronized in the folder '{old}'. Choose another folder name in the Exchange Sync. "
        "Setup, or rename or remove the other folder in Outlook."
    )


def _save(setup: ExchangeSyncSetup, folder_id: str, name: str) -> None:
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
        folder_id=folder_id, folder_name_in_outlook=name, delta_link=""
    )
    setup.folder_id, setup.folder_name_in_outlook, setup.delta_link = folder_id, name, ""
