"""The Business Central contact number stamped on each Outlook contact.

A single-value extended property (https://learn.microsoft.com/graph/api/resources/extended-properties-overview)
named ``BcContactNo`` in one fixed property set. Graph does not echo it on create or
PATCH; it is read with ``$expand`` and searched with ``$filter``. Every OData string the
client builds for it lives here, so the lookup can switch to an Integer property in one
place if a tenant refuses string ``eq`` on it (see graph-notes.md).
"""

from __future__ import annotations

from typing import Any

STAMP_PROPERTY_SET = "0f45d569-41fc-4de0-ac45-db55ad04fd7d"
STAMP_PROPERTY_ID = f"String {{{STAMP_PROPERTY_SET}}} Name BcContactNo"
# The key under which the client surfaces the stamp on contacts read with ``expand_stamp``.
STAMP_FIELD = "bcContactNo"
EXTENDED_PROPERTIES = "singleValueExtendedProperties"


def odata_quote(value: str) -> str:
    """``value`` as an OData string literal: single quotes doubled, wrapped in quotes."""
    return "'" + value.replace("'", "''") + "'"


def stamp_expand() -> str:
    """The ``$expand`` value that returns the stamp with each contact."""
    return f"{EXTENDED_PROPERTIES}($filter=id eq {odata_quote(STAMP_PROPERTY_ID)})"


def stamp_filter(value: str) -> str:
    """The ``$filter`` value matching contacts stamped with ``value`` (case-insensitive in Graph)."""
    condition = f"ep/id eq {odata_quote(STAMP_PROPERTY_ID)} and ep/value eq {odata_quote(value)}"
    return f"{EXTENDED_PROPERTIES}/Any(ep: {condition})"


def stamp_property(value: str) -> dict[str, Any]:
    """The body fragment that sets the stamp on create or PATCH."""
    return {EXTENDED_PROPERTIES: [{"id": STAMP_PROPERTY_ID, "value": value}]}


def stamp_value(item: dict[str, Any]) -> str | None:
    """The stamp of a contact read with the stamp expanded, or ``None`` when it has none.

    Graph may spell the property id with different case (GUID, type), so ids are
    compared case-insensitively.
    """
    wanted = STAMP_PROPERTY_ID.lower()
    for prop in item.get(EXTENDED_PROPERTIES) or []:
        if str(prop.get("id", "")).lower() == wanted:
            return prop.get("value")
    return None
