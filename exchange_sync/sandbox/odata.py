"""The OData query options the sandbox understands, parsed into plain values.

Only the forms Graph supports on contacts are accepted (https://learn.microsoft.com/graph/query-parameters):
- `$filter=displayName eq 'X'` on folders (a quote inside a literal is doubled);
- `$filter=singleValueExtendedProperties/Any(ep: ep/id eq '<id>' and ep/value eq 'V')` and
  `$filter=emailAddresses/any(a:a/address eq 'x@y')` on contacts
  (https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get);
- `$expand=singleValueExtendedProperties($filter=id eq '<id>')`;
- `$select`, `$top`, `Prefer: odata.maxpagesize=N` (answered with `Preference-Applied`).
Anything else in `$filter` is refused like Outlook refuses it. Other query options
(`$orderby`, `$skip`, `$count`, `$search`...) are ignored, not refused: graph-notes.md
does not say how Outlook answers them on contacts, and Graph supports some of them, so
a client relying on one gets the sandbox's default order and paging instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import GraphError, bad_request

_LITERAL = r"'((?:[^']|'')*)'"
_FOLDER_NAME = re.compile(rf"^\s*displayName\s+eq\s+{_LITERAL}\s*$", re.IGNORECASE)
_EP_ANY = re.compile(
    rf"^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+{_LITERAL}\s+and\s+(\w+)/value\s+eq\s+"
    rf"{_LITERAL}\s*\)\s*$",
    re.IGNORECASE,
)
_EMAIL_ANY = re.compile(
    rf"^\s*emailAddresses/any\(\s*(\w+)\s*:\s*(\w+)/address\s+eq\s+{_LITERAL}\s*\)\s*$", re.IGNORECASE
)
_EXPAND_EP = re.compile(
    rf"^\s*singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+{_LITERAL}\s*\))?\s*$", re.IGNORECASE
)
_PROPERTY_ID = re.compile(r"^\s*String\s+\{([0-9a-fA-F-]{36})\}\s+Name\s+(\S+)\s*$", re.IGNORECASE)
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)

MAX_TOP = 1000
DEFAULT_PAGE = 10


def _unquote(literal: str) -> str:
    return literal.replace("''", "'")


def _invalid_filter() -> GraphError:
    return bad_request("The query filter contains one or more invalid nodes.", code="ErrorInvalidUrlQueryFilter")


def canonical_property_id(value: str) -> str:
    """`String {GUID} Name X` with the GUID lower-cased (as Graph echoes it); 400 if not that form."""
    match = _PROPERTY_ID.match(value)
    if not match:
        raise bad_request(
            f"The property id '{value}' is not a valid extended property id.", code="ErrorInvalidProperty"
        )
    return f"String {{{match.group(1).lower()}}} Name {match.group(2)}"


def folder_name_filter(text: str | None) -> str | None:
    """The name in `displayName eq 'X'`, or None without a filter."""
    if text is None:
        return None
    match = _FOLDER_NAME.match(text)
    if not match:
        raise _invalid_filter()
    return _unquote(match.group(1))


@dataclass(frozen=True)
class ContactFilter:
    """A contact filter: by extended property (id, value) or by e-mail address."""

    property_id: str | None = None
    value: str | None = None
    email: str | None = None


def contact_filter(text: str | None) -> ContactFilter | None:
    if text is None:
        return None
    match = _EP_ANY.match(text)
    if match and match.group(1) == match.group(2) == match.group(4):
        return ContactFilter(
            property_id=canonical_property_id(_unquote(match.group(3))), value=_unquote(match.group(5))
        )
    match = _EMAIL_ANY.match(text)
    if match and match.group(1) == match.group(2):
        return ContactFilter(email=_unquote(match.group(3)))
    raise _invalid_filter()


def expand(text: str | None) -> tuple[bool, str | None]:
    """(expand extended properties?, only this property id or None for all)."""
    if text is None:
        return False, None
    match = _EXPAND_EP.match(text)
    if not match:
        raise bad_request(f"Could not find a property named '{text}' on type 'microsoft.graph.contact'.")
    return True, canonical_property_id(_unquote(match.group(1))) if match.group(1) is not None else None


def select(text: str | None, allowed: frozenset[str]) -> list[str] | None:
    """The selected property names, in order; 400 for a name the type does not have."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.contact'.")
    return names


def top(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_TOP:
        raise bad_request(
            f"Invalid value '{text}' for $top query option. It must be between 1 and {MAX_TOP}.",
            code="ErrorInvalidArgument",
        )
    return int(text)


def max_page_size(prefer: str | None) -> int | None:
    """The page size asked for with `Prefer: odata.maxpagesize=N` (capped), or None."""
    match = _MAXPAGESIZE.search(prefer or "")
    return min(max(int(match.group(1)), 1), MAX_TOP) if match else None
