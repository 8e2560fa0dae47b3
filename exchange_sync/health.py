"""Reads for a setup's health at a glance: in sync, excluded (by reason), failing, and
what a person should do next. Shown on the setup page and in the setup list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_q
from exchange_sync.models import ContactLink, ExchangeSyncSetup
from exchange_sync.selectors import EXCLUSION_REASONS, IN_SCOPE_Q, ScopePreview

IN_SYNC_Q = Q(links__state=ContactLink.State.LINKED, links__graph_id__isnull=False, links__failure_count=0)
FAILING_Q = Q(links__failure_count__gt=0)


def setups_with_health(queryset: QuerySet[ExchangeSyncSetup]) -> QuerySet[ExchangeSyncSetup]:
    """The setups annotated with `in_sync_count` and `failing_count` (one query for all)."""
    return queryset.annotate(
        in_sync_count=Count("links", filter=IN_SYNC_Q),
        failing_count=Count("links", filter=FAILING_Q),
    )


def scope_previews(setups: Iterable[ExchangeSyncSetup]) -> dict[int, ScopePreview]:
    """`scope_preview` of each setup's saved filter, for all of them in one query."""
    return filters_preview({setup.pk: setup.contact_filter for setup in setups})


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


@dataclass(frozen=True)
class SetupHealth:
    in_sync: int
    failing: int
    scope: ScopePreview
    needs_attention: bool
    message: str  # what is wrong and what to do, or that all is well


def setup_health(setup: ExchangeSyncSetup, *, scope: ScopePreview | None = None) -> SetupHealth:
    """Health of one setup. Uses `in_sync_count` / `failing_count` when annotated."""
    in_sync = getattr(setup, "in_sync_count", None)
    failing = getattr(setup, "failing_count", None)
    if in_sync is None or failing is None:
        links = setup.links.aggregate(
            in_sync=Count("pk", filter=Q(state=ContactLink.State.LINKED, graph_id__isnull=False, failure_count=0)),
            failing=Count("pk", filter=Q(failure_count__gt=0)),
        )
        in_sync, failing = links["in_sync"], links["failing"]
    if scope is None:
        scope = scope_previews([setup])[setup.pk]
    message, attention = setup_health_message(setup, failing=failing)
    return SetupHealth(in_sync=in_sync, failing=failing, scope=scope, needs_attention=attention, message=message)


def setup_health_message(setup: ExchangeSyncSetup, *, failing: int) -> tuple[str, bool]:
    """(sentence, needs attention): the most important thing to know about the setup."""
    if not setup.mailbox:
        return (
            "Needs attention: the user has no Microsoft 365 email. Enter it in the Microsoft 365 "
            "Authentication section of the user card.",
            True,
        )
    if setup.needs_attention:
        return f"Needs attention: {setup.last_error}", True
    if failing:
        return (
            f"Needs attention: {failing} contact{'s' if failing != 1 else ''} failed to synchronize. "
            "Open the last run to see why; they are tried again on the next sync.",
            True,
        )
    if setup.last_success_at is None:
        if setup.last_error:
            return f"The last synchronization failed: {setup.last_error}", True
        return "Not synchronized yet. Choose Sync with Microsoft 365 to start.", False
    if setup.last_error:
        return f"The last synchronization failed: {setup.last_error} The next sync will try again.", False
    return "In sync. Nothing needs your attention.", False


def excluded_text(scope: ScopePreview) -> str:
    """`3 (2 without email, 1 of type Company)` or `0`."""
    if not scope.excluded_total:
        return "0"
    reasons = ", ".join(f"{count} {reason}" for reason, count in scope.excluded.items() if count)
    return f"{scope.excluded_total} ({reasons})"
