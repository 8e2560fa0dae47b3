"""What a pull learned, shared by the engine and its inbound half (inbound.py) without
either importing the other."""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange_sync.models import ContactLink


@dataclass
class Seen:
    """What a pull learned, used by the push that follows."""

    handled_contacts: set[int] = field(default_factory=set)
    seen_graph_ids: set[str] = field(default_factory=set)
    missing_link_ids: list[int] = field(default_factory=list)
    # Second Outlook copies of linked contacts (unsaved links), removed after the guard.
    duplicates: list[ContactLink] = field(default_factory=list)
