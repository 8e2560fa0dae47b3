"""Reads for a setup's health at a glance: in sync, excluded (by reason), failing, and
what a person should do next. Shown on the setup page and in the setup list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from exchange_sync.models import ContactLink, ExchangeSyncSetup
from exchange_sync.selectors import ScopePreview, filters_preview

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
