"""One page of a contact or folder collection, paged the way Outlook pages it.

Outlook pages contact and folder lists by offset: the page is `$top` items (or
`Prefer: odata.maxpagesize`, or 10) after `$skip`, and the nextLink is the request's own
URL with `$skip` moved on by a page (https://learn.microsoft.com/graph/paging: "some
Microsoft Graph APIs return `$skip` in the nextLink"; the Outlook list examples, e.g.
https://learn.microsoft.com/graph/api/user-list-messages, show `?$skip=10`). As on Outlook,
a change between two pages shifts the rest (an item can be missed or seen twice): a
client that needs a consistent view uses delta. `$orderby` sorts case-insensitively
with empty values first, then by creation; `$count=true` adds `@odata.count`, the size of
the whole filtered collection whatever `$top` and `$skip` say.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower

from . import odata
from .shapes import STRING_PROPERTIES

CONTACT_ORDERABLE = frozenset((*STRING_PROPERTIES, "createdDateTime", "lastModifiedDateTime", "id", "changeKey"))
FOLDER_ORDERABLE = frozenset({"displayName", "id", "parentFolderId"})
# Query options a contact list takes ($search is refused there as not modelled).
CONTACT_LIST_OPTIONS = frozenset({"$select", "$filter", "$expand", "$top", "$skip", "$orderby", "$count", "$search"})
FOLDER_LIST_OPTIONS = frozenset({"$select", "$filter", "$top", "$skip", "$orderby", "$count"})
_CONTACT_COLUMNS = {
    "createdDateTime": "created_at",
    "lastModifiedDateTime": "modified_at",
    "id": "graph_id",
    "changeKey": "change_key",
}
_FOLDER_COLUMNS = {"displayName": "display_name", "id": "graph_id", "parentFolderId": "parent__graph_id"}


@dataclass
class Page:
    """The rows of one page; `next_query` is the query of the next page (None on the last)."""

    rows: list
    total: int | None
    next_query: dict[str, str] | None


def contacts_ordered(contacts: QuerySet, order: list[tuple[str, bool]]) -> QuerySet:
    """Contacts in `$orderby` order (creation order without one)."""
    keys = []
    for name, descending in order:
        column = _CONTACT_COLUMNS.get(name)
        expression = F(column) if column else Lower(KeyTextTransform(name, "data"))
        keys.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_first=True))
    return contacts.order_by(*keys, "pk")


def folders_ordered(folders: QuerySet, order: list[tuple[str, bool]]) -> QuerySet:
    keys = []
    for name, descending in order:
        expression = Lower(_FOLDER_COLUMNS[name]) if name == "displayName" else F(_FOLDER_COLUMNS[name])
        keys.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_first=True))
    return folders.order_by(*keys, "pk")


def page_take(query: dict[str, str], rows: QuerySet, page_size: int) -> Page:
    """The page `$skip` points at, the total when `$count=true`, and the next page's query."""
    offset = odata.skip(query.get("$skip"))
    total = rows.count() if odata.count(query.get("$count")) else None
    taken = list(rows[offset : offset + page_size + 1])
    next_query = None
    if len(taken) > page_size:
        next_query = {**{k: v for k, v in query.items() if k != "$skip"}, "$skip": str(offset + page_size)}
    return Page(taken[:page_size], total, next_query)
