"""The OData query options the sandbox understands, parsed into plain values, and
Graph's refusals of the ones it does not take.

Only the forms Graph supports on contacts are accepted (https://learn.microsoft.com/graph/query-parameters,
https://learn.microsoft.com/graph/api/user-list-contacts):
- `$filter=displayName eq 'X'` on folders (a quote inside a literal is doubled);
- `$filter=singleValueExtendedProperties/Any(ep: ep/id eq '<id>' and ep/value eq 'V')` and
  `$filter=emailAddresses/any(a:a/address eq 'x@y')` on contacts
  (https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get; the
  list-contacts page: "you can use $filter, any, and the eq operator on only the address
  sub-property"); any other form is 400 `ErrorInvalidUrlQueryFilter`;
- `$expand=singleValueExtendedProperties($filter=id eq '<id>')`;
- `$select`, `$top` (1..1000), `Prefer: odata.maxpagesize=N` (answered with `Preference-Applied`);
- `$skip=N` (a non-negative integer: Outlook pages contacts by offset, and its own
  nextLinks carry `$skip`, as https://learn.microsoft.com/graph/paging says some APIs do);
- `$orderby=prop [asc|desc],...` on single-valued properties;
- `$count=true` (`@odata.count`, the size of the whole filtered collection).
Refusals, with the status, code and message Graph gives:
- a value ODataLib cannot parse: 400 `BadRequest` "Invalid value '-1' for $skip query
  option found. The $skip query option requires a non-negative integer value.",
  "'yes' is not a valid count option." (Microsoft.OData's own messages, which Graph relays);
- an unknown property in `$select`/`$orderby`: 400 "Could not find a property named 'x'
  on type 'microsoft.graph.contact'.";
- `$filter`, `$orderby`, `$count`, `$skip` or `$top` on a single item: 400 "The requested
  resource is not a collection. ..." (OData's rule: they apply only to collections);
- an unknown `$` option: 400 "The query parameter '$x' is not supported.";
- on a delta function, every option but `$select` (and the state tokens): 400
  `ErrorInvalidUrlQuery` "The following parameters are not supported with change
  tracking over the 'Contacts' resource: '$top'." (https://learn.microsoft.com/graph/api/contact-delta
  documents only `$select`; Outlook's refusal of `$top`, `$orderby`, `$filter` and
  `$search` on contacts delta is reported in public code [observed]; `$skip` and `$count`
  are refused the same way [inferred: Outlook's change tracking takes no paging or
  counting option, its pages come only from the state tokens]). `$expand` keeps its
  [observed] 500 (graph-notes.md).
- `$search`, which Graph supports on contacts, is not modelled: 501 `NotImplemented`
  rather than a silently unfiltered answer.
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
COLLECTION_ONLY = ("$filter", "$orderby", "$count", "$skip", "$top")
# Options a delta function refuses (all but $select and its state tokens), in Graph's order.
_DELTA_REFUSED = ("$orderby", "$filter", "$search", "$top", "$skip", "$count")
_ORDER_ITEM = re.compile(r"^\s*(\w+)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


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


def select(text: str | None, allowed: frozenset[str], type_name: str = "microsoft.graph.contact") -> list[str] | None:
    """The selected property names, in order; 400 for a name the type does not have."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
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


IMMUTABLE_ID = 'IdType="ImmutableId"'
_IMMUTABLE_ID = re.compile(r'(?:^|[,;\s])IdType\s*=\s*"?ImmutableId"?(?:$|[,;\s])', re.IGNORECASE)


def immutable_ids(prefer: str | None) -> bool:
    """Whether a Prefer header asks for immutable ids (`IdType="ImmutableId"`, one of its preferences)."""
    return bool(_IMMUTABLE_ID.search(prefer or ""))


def max_page_size(prefer: str | None) -> int | None:
    """The page size asked for with `Prefer: odata.maxpagesize=N` (capped), or None."""
    match = _MAXPAGESIZE.search(prefer or "")
    return min(max(int(match.group(1)), 1), MAX_TOP) if match else None


def skip(text: str | None) -> int:
    """The `$skip` offset (0 without one)."""
    if text is None:
        return 0
    if not text.isdigit():
        raise bad_request(
            f"Invalid value '{text}' for $skip query option found. "
            "The $skip query option requires a non-negative integer value."
        )
    return int(text)


def count(text: str | None) -> bool:
    """Whether `$count=true` asks for `@odata.count`."""
    if text is None or text == "false":
        return False
    if text == "true":
        return True
    raise bad_request(f"'{text}' is not a valid count option.")


def orderby(text: str | None, allowed: frozenset[str], type_name: str) -> list[tuple[str, bool]]:
    """`$orderby` as [(property, descending)]; 400 for a property the type cannot sort by."""
    if text is None:
        return []
    order = []
    for item in text.split(","):
        match = _ORDER_ITEM.match(item)
        if not match:
            raise bad_request(f"Syntax error at position {len(text)} in '{text}'.")
        if match.group(1) not in allowed:
            raise bad_request(f"Could not find a property named '{match.group(1)}' on type '{type_name}'.")
        order.append((match.group(1), (match.group(2) or "asc").lower() == "desc"))
    return order


def options_check(query: dict[str, str], known: frozenset[str], *, collection: bool = True) -> None:
    """Refuse, as Graph does, `$` options that are unknown or make no sense here."""
    if not collection and any(name in query for name in COLLECTION_ONLY):
        raise bad_request(
            "The requested resource is not a collection. Query options $filter, $orderby, $count, $skip, "
            "and $top can be applied only on collections."
        )
    if "$search" in known and "$search" in query:
        raise GraphError(501, "NotImplemented", "The Graph sandbox does not model $search on contacts.")
    for name in query:
        if name.startswith("$") and name not in known and name != "$format":
            raise bad_request(f"The query parameter '{name}' is not supported.")


def delta_options_check(query: dict[str, str], resource: str = "Contacts") -> None:
    """Refuse the query options change tracking does not take (module docstring)."""
    refused = [name for name in _DELTA_REFUSED if name in query]
    if refused:
        raise bad_request(
            f"The following parameters are not supported with change tracking over the '{resource}' resource: "
            f"'{', '.join(refused)}'.",
            code="ErrorInvalidUrlQuery",
        )
    options_check(query, frozenset({"$select", "$expand", "$skiptoken", "$deltatoken"}))
