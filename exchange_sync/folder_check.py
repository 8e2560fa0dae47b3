"""When a setup is saved: is the chosen Outlook folder name free, bcsync's own, or a
folder a person made? Read-only, and never raises: when Outlook cannot be asked, the
check says so as a warning and the first sync decides (sync/folder.py refuses a
person's folder there too)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from exchange_sync.connection import graph_client_for_setup
from exchange_sync.graph import GraphClient
from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.sync.folder import folder_contact_ids, folders_named

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderNameCheck:
    """What saving this folder name would meet in Outlook."""

    # Renaming the setup's folder: another folder already has the name.
    is_taken: bool = False
    # No folder yet: a folder of that name that bcsync did not create, and its size.
    person_folder_id: str = ""
    contact_count: int = 0
    # Outlook could not be asked (nothing else above is then known).
    warning: str = ""


def _short_sleep(seconds: float) -> None:
    # A person is waiting for the page: never wait out a long Retry-After here.
    time.sleep(min(seconds, 2.0))


def folder_name_check(
    setup: ExchangeSyncSetup,
    name: str,
    *,
    client_factory: Callable[..., GraphClient] | None = None,
) -> FolderNameCheck:
    """Check `name` against the mailbox's folders, as `setup` stands before the save.

    Nothing is asked when the setup has no mailbox yet or keeps its folder's name.
    """
    mailbox = setup.mailbox
    if not mailbox or (setup.folder_id and name == setup.folder_name_in_outlook):
        return FolderNameCheck()
    client = None
    try:
        factory = client_factory or partial(graph_client_for_setup, setup)
        client = factory(max_attempts=2, sleep=_short_sleep)
        others = [f for f in folders_named(client, mailbox, name) if f.id != setup.folder_id]
        if setup.folder_id:
            return FolderNameCheck(is_taken=bool(others))
        if not others or any(f.is_stamped for f in others):
            return FolderNameCheck()  # free, or bcsync's own (a reset setup finds it again)
        folder_id = others[0].id
        return FolderNameCheck(
            person_folder_id=folder_id, contact_count=len(folder_contact_ids(client, mailbox, folder_id))
        )
    except Exception as exc:
        logger.warning("Checking the Outlook folder name of setup %s failed: %s", setup.pk, exc)
        return FolderNameCheck(
            warning=(
                f"Outlook could not be reached to check whether a folder '{name}' already exists ({exc}). The "
                "setup was saved; if such a folder exists and bcsync did not create it, the next sync stops "
                "without writing to it and this page asks what to do."
            )
        )
    finally:
        if client is not None:
            client.close()
