"""Graph v1.0 resource paths (relative to the client's base URL), ids URL-encoded.

Item ids are opaque and may contain ``+``, ``/`` and ``=``
(https://learn.microsoft.com/graph/api/resources/contact): every segment is
percent-encoded, or Graph answers 400 ``ErrorInvalidIdMalformed``.
"""

from __future__ import annotations

from urllib.parse import quote


def _segment(value: str) -> str:
    # "@" stays readable in user principal names; everything else reserved is encoded.
    return quote(value, safe="@")


def user(mailbox: str) -> str:
    return f"/users/{_segment(mailbox)}"


def contact_folders(mailbox: str) -> str:
    return f"{user(mailbox)}/contactFolders"


def contact_folder(mailbox: str, folder_id: str) -> str:
    return f"{contact_folders(mailbox)}/{_segment(folder_id)}"


def contacts(mailbox: str, folder_id: str) -> str:
    return f"{contact_folder(mailbox, folder_id)}/contacts"


def contact(mailbox: str, folder_id: str, contact_id: str) -> str:
    return f"{contacts(mailbox, folder_id)}/{_segment(contact_id)}"


def contacts_delta(mailbox: str, folder_id: str) -> str:
    return f"{contacts(mailbox, folder_id)}/delta"


def contact_anywhere(mailbox: str, contact_id: str) -> str:
    """A contact of any folder of the mailbox (``/users/{u}/contacts/{id}``: Graph finds
    it wherever it is; the folder form answers 404 once it moved out of that folder)."""
    return f"{user(mailbox)}/contacts/{_segment(contact_id)}"


def subscriptions() -> str:
    return "/subscriptions"


def subscription(subscription_id: str) -> str:
    return f"/subscriptions/{_segment(subscription_id)}"


def contacts_resource(mailbox: str, folder_id: str) -> str:
    """A folder's contacts as a subscription's ``resource`` (no leading slash, as Graph's
    examples write it: https://learn.microsoft.com/graph/api/subscription-post-subscriptions)."""
    return contacts(mailbox, folder_id).lstrip("/")
