"""The safety check before a run deletes: a run that would delete (or finds deleted in
Outlook) most of the synchronized contacts stops for a person to confirm, and a
confirmation covers exactly the plan it was shown. See DESIGN.md, "Guarantees"."""

from __future__ import annotations

from django.db.models import QuerySet

from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncRun

# A run that would delete (or find deleted in Outlook) more than half of the linked
# contacts, and more than this many, stops for a person to confirm.
GUARD_MIN = 10
# A plan waiting for confirmation lists this many contacts (and counts them all).
PLAN_SHOWN = 1000


class NeedsConfirmation(Exception):
    def __init__(self, message: str, *, reason: str, planned: list[dict[str, str]], count: int) -> None:
        super().__init__(message)
        self.reason, self.planned, self.count = reason, planned, count


def deletions_guard(
    setup: ExchangeSyncSetup,
    *,
    missing_link_ids: list[int],
    leaving: QuerySet[ContactLink],
    confirms: SyncRun | None,
) -> None:
    """Raise NeedsConfirmation before handling most of the folder as deleted in Outlook
    (`missing_link_ids`: really deleted, contacts moved to other folders already set
    aside by sync/moves.py; or a folder emptied) or deleting most of it from Outlook
    (`leaving`: deleted in Business Central or out of scope), unless `confirms` is the
    run that showed this very plan."""
    linked = setup.links.filter(state=ContactLink.State.LINKED, graph_id__isnull=False).count()
    missing = len(missing_link_ids)
    emptied = linked > 1 and missing == linked
    if emptied or (missing > GUARD_MIN and missing * 2 > linked):
        links = ContactLink.objects.filter(pk__in=missing_link_ids[:PLAN_SHOWN])
        if not _confirmed(confirms, SyncRun.PlannedReason.MISSING, missing, links):
            raise NeedsConfirmation(
                f"{missing} of the {linked} synchronized contacts are missing from the Outlook folder "
                f"'{setup.folder_name}' (emptied?). Confirm to handle them as deleted in Outlook.",
                reason=SyncRun.PlannedReason.MISSING,
                planned=_describe(links),
                count=missing,
            )
    count = leaving.count()
    if count > GUARD_MIN and count * 2 > linked:
        links = leaving.order_by("pk")[:PLAN_SHOWN]
        if not _confirmed(confirms, SyncRun.PlannedReason.LEAVING, count, links):
            raise NeedsConfirmation(
                f"This sync would delete {count} of the {linked} synchronized contacts from Outlook "
                "(deleted in Business Central or no longer matching the filter). Confirm to delete them.",
                reason=SyncRun.PlannedReason.LEAVING,
                planned=_describe(links),
                count=count,
            )


def _confirmed(plan: SyncRun | None, reason: str, count: int, links: QuerySet[ContactLink]) -> bool:
    """Whether `plan` (the confirmed run) showed this: the same guard, no more contacts,
    and (when it listed them all) none it did not list."""
    if plan is None or plan.planned_reason != reason or count > plan.planned_count:
        return False
    shown = {row["no"] for row in plan.planned_deletions}
    if len(shown) < plan.planned_count:
        return True  # a plan too long to list whole is held to its count
    return set(links.values_list("contact_no", flat=True)) <= shown


def _describe(links: QuerySet[ContactLink]) -> list[dict[str, str]]:
    return [
        {"no": link.contact_no, "name": link.contact.name if link.contact else "(deleted contact)"}
        for link in links.select_related("contact")
    ]
