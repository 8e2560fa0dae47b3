"""Reads about setups: which contacts are in scope, and why others are not."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_q
from exchange_sync.models import ExchangeSyncSetup

# Why a contact that matches the filter cannot be synchronized, in the order checked.
EXCLUSION_REASONS: dict[str, tuple[str, Q]] = {
    "company": ("of type Company", Q(type=Contact.Type.COMPANY)),
    "privacy_blocked": ("privacy blocked", Q(privacy_blocked=True)),
    "no_name": ("without a name", Q(name="")),
    "no_email": ("without email", Q(email="")),
}
IN_SCOPE_Q = Q(type=Contact.Type.PERSON, privacy_blocked=False) & ~Q(name="") & ~Q(email="")


def contacts_matching_filter(setup: ExchangeSyncSetup) -> QuerySet[Contact]:
    return Contact.objects.filter(contact_filter_q(setup.contact_filter))


def contacts_in_scope(setup: ExchangeSyncSetup) -> QuerySet[Contact]:
    """Contacts this setup keeps in Outlook: matching the filter, Person, with a name and
    an email, not privacy blocked."""
    return contacts_matching_filter(setup).filter(IN_SCOPE_Q)


def exclusion_reason(contact: Contact) -> str | None:
    """The first reason this contact cannot be synchronized, or None when it can."""
    if contact.type == Contact.Type.COMPANY:
        return EXCLUSION_REASONS["company"][0]
    if contact.privacy_blocked:
        return EXCLUSION_REASONS["privacy_blocked"][0]
    if not contact.name:
        return EXCLUSION_REASONS["no_name"][0]
    if not contact.email:
        return EXCLUSION_REASONS["no_email"][0]
    return None


@dataclass(frozen=True)
class ScopePreview:
    in_scope: int
    excluded: dict[str, int]  # reason caption -> count (a contact counts under its first reason)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def __str__(self) -> str:
        text = f"{self.in_scope} contacts will sync"
        if self.excluded_total:
            reasons = ", ".join(f"{count} {reason}" for reason, count in self.excluded.items() if count)
            text += f"; {self.excluded_total} match the filter but are excluded: {reasons}"
        return text + "."


def filters_preview(filters: dict[int, dict[str, str]]) -> dict[int, ScopePreview]:
    """What each filter would synchronize, for all of them in one query.

    Each filter adds a few conditional counts to a single aggregate over Contact, so a
    list page costs one query whatever its number of rows. (Aliases are prefixed so they
    never shadow a Contact field such as `privacy_blocked`.)
    """
    if not filters:
        return {}
    aggregates: dict[str, Count] = {}
    for key, contact_filter in filters.items():
        try:
            matching = contact_filter_q(contact_filter)
        except ValidationError:  # a filter saved before the allow-list changed matches nothing
            matching = Q(pk__in=[])
        aggregates[f"s{key}_in_scope"] = Count("pk", filter=matching & IN_SCOPE_Q)
        seen = Q()
        for reason, (_caption, condition) in EXCLUSION_REASONS.items():
            aggregates[f"s{key}_{reason}"] = Count("pk", filter=matching & condition & ~seen)
            seen |= condition
    counts = Contact.objects.aggregate(**aggregates)
    return {
        key: ScopePreview(
            in_scope=counts[f"s{key}_in_scope"],
            excluded={caption: counts[f"s{key}_{reason}"] for reason, (caption, _c) in EXCLUSION_REASONS.items()},
        )
        for key in filters
    }


def scope_preview(contact_filter: dict[str, str]) -> ScopePreview:
    """Counts for the setup page's live preview, in one query."""
    return filters_preview({0: contact_filter})[0]
