"""Which setups a change of some contacts touches: those that may live-sync and whose
Outlook folder must change because of it.

A setup is touched when one of the contacts is in its scope now (it entered the scope,
or changed in it), or when the setup holds a link to it (it was synchronized there: it
changed, left the scope or was deleted, and the run updates or removes its Outlook
copy). A deleted contact is found by its number, which its links keep. The engine's
incremental run works out the rest from the same facts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_q
from exchange_sync.models import ContactLink, ExchangeSyncSetup
from exchange_sync.selectors import IN_SCOPE_Q

# Contacts per query: well under SQLite's limit on parameters, whatever the write's size.
CHUNK = 500


def live_setups() -> QuerySet[ExchangeSyncSetup]:
    """Setups that take live runs: live sync and background sync on, a mailbox entered,
    an active user, and no problem waiting for a person (a run would fail again)."""
    return ExchangeSyncSetup.objects.filter(
        is_live_sync_enabled=True,
        is_enabled=True,
        needs_attention=False,
        user__is_active=True,
        user__m365_identity__isnull=False,
    )


def setups_touched(contact_pks: Collection[int], deleted_nos: Collection[str]) -> set[int]:
    """Ids of the live setups touched by changes of `contact_pks` (existing contacts)
    and the deletion of the contacts numbered `deleted_nos`. A few queries: the setups,
    then per 500 contacts one for links and one for scopes."""
    setups = list(live_setups().values_list("pk", "contact_filter"))
    if not setups:
        return set()
    touched: set[int] = set()
    held = ContactLink.objects.filter(setup_id__in=[pk for pk, _ in setups]).exclude(state=ContactLink.State.STOPPED)
    for pks in _chunks(contact_pks):
        touched.update(held.filter(contact_id__in=pks).values_list("setup_id", flat=True).distinct())
    for nos in _chunks(deleted_nos):
        links = held.filter(contact__isnull=True, contact_no__in=nos)
        touched.update(links.values_list("setup_id", flat=True).distinct())
    filters = {pk: _scope_q(contact_filter) for pk, contact_filter in setups if pk not in touched}
    filters = {pk: q for pk, q in filters.items() if q is not None}
    for pks in _chunks(contact_pks):
        if not filters:
            break
        counts = Contact.objects.filter(pk__in=pks).aggregate(
            **{f"s{pk}": Count("pk", filter=q) for pk, q in filters.items()}
        )
        found = {pk for pk in filters if counts[f"s{pk}"]}
        touched |= found
        filters = {pk: q for pk, q in filters.items() if pk not in found}
    return touched


def _scope_q(contact_filter: dict[str, str]) -> Q | None:
    try:
        return contact_filter_q(contact_filter) & IN_SCOPE_Q
    except ValidationError:
        return None  # a filter that no longer validates stops the setup's runs anyway


def _chunks(values: Collection) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
