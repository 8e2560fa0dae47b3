"""The stamps bcsync leaves in Outlook: the Business Central contact number on each
contact, and a mark on each contact folder bcsync created (or a person chose for it).

Both are single-value extended properties
(https://learn.microsoft.com/graph/api/resources/extended-properties-overview) in one
fixed property set: ``BcContactNo`` on contacts, ``BcSyncFolder`` on contact folders
(https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties
lists contactFolder among the resources that carry them). Graph does not echo them on
create or PATCH; they are read with ``$expand`` and contacts are searched with
``$filter``. Every OData string the client builds for them lives here, so the lookup
can switch to an Integer property in one place if a tenant refuses string ``eq`` on it
(see graph-notes.md).
"""

from __future__ import annotations

from typing import Any

STAMP_PROPERTY_SET = "0f45d569-41fc-4de0-ac45-db55ad04fd7d"
STAMP_PROPERTY_ID = f"String {{{STAMP_PROPERTY_SET}}} Name BcContactNo"
# The key under which the client surfaces the stamp on contacts read with ``expand_stamp``.
STAMP_FIELD = "bcContactNo"
EXTENDED_PROPERTIES = "singleValueExtendedProperties"
FOLDER_STAMP_PROPERTY_ID = f"String {{{STAMP_PROPERTY_SET}}} Name BcSyncFolder"
FOLDER_STAMP_VALUE = "bcsync"
# The key under which the client surfaces, on a folder read with ``expand_stamp``,
# whether it carries the folder stamp (True / False).
FOLDER_STAMP_FIELD = "isBcsyncFolder"


def odata_quote(value: str) -> str:
    """``value`` as an OData string literal: single quotes doubled, wrapped in quotes."""
    return "'" + value.replace("'", "''") + "'"


def stamp_expand(property_id: str = STAMP_PROPERTY_ID) -> str:
    """The ``$expand`` value that returns the stamp (by default the contact's) with each item."""
    return f"{EXTENDED_PROPERTIES}($filter=id eq {odata_quote(property_id)})"


def stamp_filter(value: str) -> str:
    """The ``$filter`` value matching contacts stamped with ``value`` (case-insensitive in Graph)."""
    condition = f"ep/id eq {odata_quote(STAMP_PROPERTY_ID)} and ep/value eq {odata_quote(value)}"
    return f"{EXTENDED_PROPERTIES}/Any(ep: {condition})"


def stamp_property(value: str) -> dict[str, Any]:
    """The body fragment that sets the stamp on create or PATCH."""
    return {EXTENDED_PROPERTIES: [{"id": STAMP_PROPERTY_ID, "value": value}]}


def folder_stamp_property() -> dict[str, Any]:
    """The body fragment that marks a contact folder as bcsync's, on create or PATCH."""
    return {EXTENDED_PROPERTIES: [{"id": FOLDER_STAMP_PROPERTY_ID, "value": FOLDER_STAMP_VALUE}]}


def folder_is_stamped(item: dict[str, Any]) -> bool:
    """Whether a folder read with its stamp expanded carries bcsync's folder stamp."""
    return stamp_value(item, FOLDER_STAMP_PROPERTY_ID) is not None


def stamp_value(item: dict[str, Any], property_id: str = STAMP_PROPERTY_ID) -> str | None:
    """The stamp (by default the contact's) of an item read with it expanded, or ``None``.

    Graph may spell the property id with different case (GUID, type), so ids are
    compared case-insensitively.
    """
    wanted = property_id.lower()
    for prop in item.get(EXTENDED_PROPERTIES) or []:
        if str(prop.get("id", "")).lower() == wanted:
            return prop.get("value")
    return None
