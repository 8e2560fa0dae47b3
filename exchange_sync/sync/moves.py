"""Where a linked contact went when it left the synchronized Outlook folder.

Outlook reports a contact that left the folder the same way whatever happened to it: the
folder's delta says `@removed` (reason "deleted"), and a full listing simply lacks it.
A person may have deleted it (Outlook moves it to Deleted Items; "Delete permanently"
removes it), moved it to another contact folder, or moved it away and back (with
immutable ids, Graph then reports it removed and never added again:
microsoft-graph-docs-contrib#72). bcsync asks for immutable ids on every contact
request, so a link's id keeps naming the contact wherever it is in the mailbox
(https://learn.microsoft.com/graph/outlook-immutable-id).

`links_locate` finds out, in one `$batch` round of `GET /users/{u}/contacts/{id}` for all
the links (plus `GET /contactFolders/deleteditems`, to know Deleted Items' id without a
Mail permission), and only when some are in other folders, one more round reading those
folders' names:

- 404: deleted permanently -> `deleted`.
- In the synchronized folder: moved back -> `back`, with the contact as just read.
- In Deleted Items -> `deleted`: deleting in Outlook puts it there.
- In another contact folder -> `moved`, with that folder's name.
- In a folder Graph does not serve as a contact folder -> `deleted`.
- Any other answer (throttled, refused) -> `unread`: decided by a later run.

The engine stops the link of a moved contact but keeps its id, which is how it knows
the contact again if the person moves it back (see `link_is_moved_away`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from exchange_sync.graph.client import GraphClient
from exchange_sync.models import ContactLink

DELETED_ITEMS = "deleteditems"
_DELETED_ITEMS_MEMBER = "deleted-items"


@dataclass
class Whereabouts:
    """What `links_locate` found, by link."""

    deleted: list[ContactLink] = field(default_factory=list)
    back: list[tuple[ContactLink, dict[str, Any]]] = field(default_factory=list)
    moved: list[tuple[ContactLink, str]] = field(default_factory=list)  # with the folder's name
    unread: list[ContactLink] = field(default_factory=list)


def links_locate(
    client: GraphClient, mailbox: str, folder_id: str, links: Sequence[ContactLink], *, select: Sequence[str]
) -> Whereabouts:
    """Where the contacts of `links` (each with a `graph_id`, an immutable id) are now.
    `select` is what to read of each contact: the ones moved back are compared again."""
    found = Whereabouts()
    if not links:
        return found
    requests = [client.batch_request_get_contact_folder(_DELETED_ITEMS_MEMBER, mailbox, DELETED_ITEMS)]
    requests += [
        client.batch_request_locate_contact(str(link.pk), mailbox, link.graph_id, select=[*select, "parentFolderId"])
        for link in links
    ]
    answers = {answer.id: answer for answer in client.batch(requests)}
    deleted_items = answers[_DELETED_ITEMS_MEMBER]
    deleted_items_id = deleted_items.body.get("id") if deleted_items.ok and deleted_items.body else None
    elsewhere: list[tuple[ContactLink, str]] = []
    for link in links:
        answer = answers[str(link.pk)]
        if answer.status == 404:
            found.deleted.append(link)
        elif not answer.ok or not isinstance(answer.body, dict):
            found.unread.append(link)
        elif answer.body.get("parentFolderId") == folder_id:
            found.back.append((link, answer.body))
        elif answer.body.get("parentFolderId") == deleted_items_id:
            found.deleted.append(link)
        else:
            elsewhere.append((link, answer.body.get("parentFolderId") or ""))
    if elsewhere:
        _name_folders(client, mailbox, elsewhere, found)
    return found


def _name_folders(
    client: GraphClient, mailbox: str, elsewhere: list[tuple[ContactLink, str]], found: Whereabouts
) -> None:
    """Read the folders the contacts are in now (one member per folder): a contact folder
    is a move; a folder Graph does not serve as one (404) means the contact is no longer
    among the person's contacts, the same as deleted."""
    folder_ids = sorted({parent for _, parent in elsewhere if parent})
    requests = [client.batch_request_get_contact_folder(str(n), mailbox, fid) for n, fid in enumerate(folder_ids)]
    answers = {folder_ids[int(answer.id)]: answer for answer in client.batch(requests)} if requests else {}
    for link, parent in elsewhere:
        answer = answers.get(parent)
        if answer is None or answer.status == 404:
            found.deleted.append(link)
        elif answer.ok and isinstance(answer.body, dict):
            found.moved.append((link, answer.body.get("displayName") or parent))
        else:
            found.unread.append(link)


def link_is_moved_away(link: ContactLink) -> bool:
    """Whether a link was stopped because its contact moved to another folder: such a
    link keeps its Outlook id, which a link stopped for a deletion gives up, and its
    changeKey is cleared, which a person's own contact let go from an adopted folder
    keeps (that one stays let go whatever the person does with it in Outlook)."""
    return link.state == ContactLink.State.STOPPED and bool(link.graph_id) and not link.change_key
