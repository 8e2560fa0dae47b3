"""What an update sends to Outlook: the mapped properties that changed, list properties
merged into what Outlook holds, and nothing bcsync does not map.

Outlook contacts hold more than Business Central maps (notes, birthday, home phones,
other addresses, a third email address, more business phones, the person's own
categories, other apps' extended properties). A Graph PATCH replaces every property it
names, lists whole (https://learn.microsoft.com/graph/api/contact-update), so an update
names only what changed, and the lists it names are Outlook's lists with bcsync's slots
set: E-Mail and E-Mail 2 own the first two emailAddresses, Phone No. the first
businessPhone, and "Business Central" is added to the person's categories.

A slot bcsync owns but has no value for is the person's: its entry stays unless it is
the value bcsync wrote there last (cleared in Business Central since). Outlook keeps its
lists packed (no empty slot), so removing an entry the person put there would move the
next one into bcsync's slot, to be overwritten on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange_sync.mapping import CATEGORY, MappedValues, graph_body

# Outlook's list properties bcsync shares with the person, as last seen (ContactLink.outlook_lists).
LIST_PROPERTIES = ("emailAddresses", "businessPhones", "categories")
OutlookLists = dict[str, list[Any]]
# Mapped fields held in list slots, by list property, slot order.
SLOT_FIELDS: dict[str, tuple[str, ...]] = {"emailAddresses": ("email", "email_2"), "businessPhones": ("phone",)}
LIST_FIELDS = frozenset(name for names in SLOT_FIELDS.values() for name in names)


def outlook_lists(item: Mapping[str, Any]) -> OutlookLists:
    """The list properties of a Graph contact, whole."""
    return {name: list(item.get(name) or []) for name in LIST_PROPERTIES}


def lists_known(lists: Mapping[str, Any] | None) -> bool:
    """Whether `lists` are Outlook's lists (links made before they were kept have none)."""
    return bool(lists) and all(name in lists for name in LIST_PROPERTIES)


def slot_values(lists: Mapping[str, Any]) -> MappedValues:
    """The mapped values Outlook's list slots hold (as `mapping.outlook_values` reads them)."""
    values: MappedValues = {}
    for prop, fields in SLOT_FIELDS.items():
        entries = [_entry_text(prop, entry) for entry in lists.get(prop) or []]
        for index, name in enumerate(fields):
            values[name] = entries[index] if index < len(entries) else ""
    return values


def last_seen(snapshot: Mapping[str, str], lists: Mapping[str, Any] | None) -> MappedValues:
    """The mapped values Outlook held when bcsync last looked: what it wrote (`snapshot`),
    with the list slots as Outlook holds them (the person's entries in slots Business
    Central leaves empty), when the lists are known."""
    values = dict(snapshot)
    if lists_known(lists):
        values.update(slot_values(lists))
    return values


def needs_lists(values: Mapping[str, str], base: Mapping[str, str]) -> bool:
    """Whether an update must know Outlook's lists: a value held in a list slot changed."""
    return any(values.get(name, "") != base.get(name, "") for name in LIST_FIELDS)


def update_body(
    values: Mapping[str, str],
    *,
    base: Mapping[str, str],
    lists: Mapping[str, Any] | None,
    written: Mapping[str, str],
) -> dict[str, Any]:
    """The PATCH body that makes an Outlook contact hold Business Central's `values`.

    `base` is what Outlook holds for the mapped fields (the item just read, or the
    values bcsync last wrote); `lists` Outlook's list properties whole, or None when not
    known (then no list is named: the caller reads them first when `needs_lists`);
    `written` the values bcsync last wrote (empty when none was confirmed), which tells
    bcsync's own list entries from the person's.

    displayName is always sent: Outlook regenerates it from the name parts otherwise
    (graph-notes.md). Every other property is named only when its value changes.
    """
    full = graph_body(values)
    current = graph_body(base)
    body: dict[str, Any] = {"displayName": full["displayName"]}
    for prop, value in full.items():
        if prop in LIST_PROPERTIES or prop == "displayName":
            continue
        if value != current[prop]:
            body[prop] = value
    if lists_known(lists):
        for prop, value in merged_lists(values, lists, written).items():
            if _texts(prop, value) != _texts(prop, lists[prop]):
                body[prop] = value
    return body


def merged_lists(values: Mapping[str, str], lists: Mapping[str, Any], written: Mapping[str, str]) -> OutlookLists:
    """Outlook's lists with bcsync's slots set to `values` and everything else kept."""
    merged: OutlookLists = {}
    for prop, fields in SLOT_FIELDS.items():
        entries = list(lists.get(prop) or [])
        ours: list[Any] = []
        for index, name in enumerate(fields):
            theirs = entries[index] if index < len(entries) else None
            if values.get(name):
                ours.append(_entry(prop, values, name))
            elif theirs is not None and not _is_written(prop, theirs, written.get(name, "")):
                ours.append(theirs)  # the person's, in a slot Business Central leaves empty
        merged[prop] = ours + entries[len(fields) :]
    categories = list(lists.get("categories") or [])
    if CATEGORY.casefold() not in {str(c).casefold() for c in categories}:
        categories.append(CATEGORY)
    merged["categories"] = categories
    return merged


def lists_after(body: Mapping[str, Any], lists: Mapping[str, Any] | None) -> OutlookLists | None:
    """Outlook's lists once `body` is written (a create's body holds them all)."""
    if all(name in body for name in LIST_PROPERTIES):
        return outlook_lists(body)
    if not lists_known(lists):
        return None
    return {name: list(body[name]) if name in body else list(lists[name]) for name in LIST_PROPERTIES}


def _entry(prop: str, values: Mapping[str, str], name: str) -> Any:
    if prop == "emailAddresses":
        return {"address": values[name], "name": values["name"] if name == "email" else values[name]}
    return values[name]


def _entry_text(prop: str, entry: Any) -> str:
    if prop == "emailAddresses":
        return (entry or {}).get("address") or "" if isinstance(entry, dict) else ""
    return entry if isinstance(entry, str) else ""


def _is_written(prop: str, entry: Any, written: str) -> bool:
    """Whether an Outlook list entry is the value bcsync wrote to its slot last."""
    text = _entry_text(prop, entry)
    if prop == "emailAddresses":
        return bool(written) and text.casefold() == written.casefold()
    return bool(written) and text == written


def _texts(prop: str, entries: Any) -> list[str]:
    """What a list says, for deciding whether it changed (an email's display name is Outlook's)."""
    if prop == "categories":
        return [str(c) for c in entries or []]
    return [_entry_text(prop, entry) for entry in entries or []]
