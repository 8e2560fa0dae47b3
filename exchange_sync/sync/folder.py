"""The setup's Outlook contact folder: found by its stored id, created when missing,
renamed when the setup's folder name changes, recreated when deleted in Outlook."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.errors import GraphConflictError, GraphNotFoundError
from exchange_sync.models import ContactLink, ExchangeSyncSetup

# Graph's codes for a mailbox that does not exist (graph-notes.md: "Errors").
MAILBOX_NOT_FOUND = ("ErrorInvalidUser", "Request_ResourceNotFound", "MailboxNotEnabledForRESTAPI")


@dataclass(frozen=True)
class Folder:
    id: str
    # True when the folder is new to this setup (created, recreated or adopted): every
    # contact must then be reconciled in full.
    is_new: bool
    note: str = ""


def folder_ensure(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str) -> Folder:
    """The setup's folder, made to exist under the setup's folder name."""
    name = setup.folder_name
    if setup.folder_id:
        try:
            folder = client.get_contact_folder(mailbox, setup.folder_id)
        except GraphNotFoundError as exc:
            if exc.code in MAILBOX_NOT_FOUND:
                raise
            note = f"The Outlook folder '{name}' was deleted in Outlook; it was created again and refilled."
            return Folder(_create(client, setup, mailbox, name), is_new=True, note=note)
        if folder.get("displayName") != name:
            client.rename_contact_folder(mailbox, setup.folder_id, name)
            _save(setup, setup.folder_id, name)
        return Folder(setup.folder_id, is_new=False)
    existing = client.list_contact_folders(mailbox, display_name=name)
    if existing:
        # Adopt a folder of that name (a reset setup, or a previous installation): the
        # full reconciliation finds the stamped contacts in it instead of duplicating.
        _save(setup, existing[0]["id"], name)
        return Folder(existing[0]["id"], is_new=True)
    return Folder(_create(client, setup, mailbox, name), is_new=True)


def _create(client: GraphClient, setup: ExchangeSyncSetup, mailbox: str, name: str) -> str:
    try:
        folder = client.create_contact_folder(mailbox, name)
    except GraphConflictError:
        # It exists after all: our create went through but its answer was lost (and the
        # retry hit ErrorFolderExists), or someone made it meanwhile. Use it.
        existing = client.list_contact_folders(mailbox, display_name=name)
        if not existing:
            raise
        folder = existing[0]
    with transaction.atomic():
        # Links into a folder that no longer exists point nowhere. Contacts a person
        # stopped syncing (deleted in Outlook, policy "stop syncing") stay stopped.
        setup.links.exclude(state=ContactLink.State.STOPPED).delete()
        _save(setup, folder["id"], name)
    return folder["id"]


def _save(setup: ExchangeSyncSetup, folder_id: str, name: str) -> None:
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
        folder_id=folder_id, folder_name_in_outlook=name, delta_link=""
    )
    setup.folder_id, setup.folder_name_in_outlook, setup.delta_link = folder_id, name, ""
