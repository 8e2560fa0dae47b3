"""Following every write of a contact, for live sync.

Receivers of post_save, post_delete and contacts.signals.contacts_changed (which covers
`update()`, `bulk_create()`, `bulk_update()` and a deleted company's people) note the
contacts written in the current transaction, without a query. Once it commits, one
callback works out the setups touched (scope.py) and makes their requests
(requests.py): a few cheap queries, never a Graph call. A transaction rolled back asks
for nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from contacts.models import Contact
from contacts.signals import contacts_changed
from exchange_sync.live.requests import live_requests_make
from exchange_sync.live.scope import setups_touched

logger = logging.getLogger(__name__)

# The pending callback of the connection's current transaction (an attribute of the
# connection, which Django keeps per thread).
PENDING = "_live_sync_pending"
# A sync run's own writes, gathered per thread while it runs (see live_changes_of_run).
_runs = threading.local()


@contextmanager
def live_changes_of_run(setup_id: int) -> Iterator[None]:
    """Gather the contacts a sync run of setup `setup_id` writes in Business Central
    (what it brings from Outlook) and ask for the other setups' runs once, at the end:
    a run that brings 1,000 contacts costs a few queries, not a few per contact. Its own
    setup is not asked again: the run has just linked what it wrote."""
    if getattr(_runs, "gathered", None) is not None:  # already gathering (nested)
        yield
        return
    gathered: tuple[set[int], set[str]] = (set(), set())
    _runs.gathered = gathered
    try:
        yield
    finally:
        _runs.gathered = None
        try:
            _request(*gathered, exclude=setup_id)
        except Exception:  # the run's own outcome matters more; the schedule still syncs them
            logger.exception("Live sync: could not ask for the runs of other setups after run of setup %s", setup_id)


def live_changes_connect() -> None:
    """Connect the receivers (AppConfig.ready)."""
    post_save.connect(_contact_saved, sender=Contact, dispatch_uid="live_sync_contact_saved")
    post_delete.connect(_contact_deleted, sender=Contact, dispatch_uid="live_sync_contact_deleted")
    contacts_changed.connect(_contacts_changed, sender=Contact, dispatch_uid="live_sync_contacts_changed")


def live_changes_disconnect() -> None:
    """Stop following contact writes (for tests that compare with and without)."""
    post_save.disconnect(sender=Contact, dispatch_uid="live_sync_contact_saved")
    post_delete.disconnect(sender=Contact, dispatch_uid="live_sync_contact_deleted")
    contacts_changed.disconnect(sender=Contact, dispatch_uid="live_sync_contacts_changed")


def _contact_saved(sender, instance: Contact, using: str, **kwargs) -> None:
    _note(using, pks=[instance.pk])


def _contact_deleted(sender, instance: Contact, using: str, **kwargs) -> None:
    # Its links lose the contact with it, but keep its number.
    _note(using, nos=[instance.no])


def _contacts_changed(sender, pks: Collection[int], using: str, **kwargs) -> None:
    _note(using, pks=pks)


def _note(using: str, *, pks: Collection[int] = (), nos: Collection[str] = ()) -> None:
    """Add the contacts to the transaction's pending callback, registering one with
    on_commit when the transaction has none yet (or it was rolled back with a savepoint)."""
    connection = transaction.get_connection(using)
    flush = getattr(connection, PENDING, None)
    if flush is not None and not flush.done and connection.in_atomic_block and _waiting(connection, flush):
        flush.pks.update(pks)
        flush.nos.update(nos)
        return
    flush = _callback(set(pks), set(nos))
    setattr(connection, PENDING, flush)
    # Robust: the change itself has committed; a failure here is logged, never raised
    # at the person who saved (the scheduled sync still carries the change).
    transaction.on_commit(flush, using=using, robust=True)


def _waiting(connection, flush) -> bool:
    return any(func is flush for _savepoints, func, _robust in connection.run_on_commit)


def _callback(pks: set[int], nos: set[str]):
    def live_requests_after_commit() -> None:
        live_requests_after_commit.done = True
        gathered = getattr(_runs, "gathered", None)
        if gathered is not None:
            gathered[0].update(pks)
            gathered[1].update(nos)
        else:
            _request(pks, nos)

    # The same sets: _note adds to them until the transaction commits.
    live_requests_after_commit.pks, live_requests_after_commit.nos = pks, nos
    live_requests_after_commit.done = False
    return live_requests_after_commit


def _request(pks: set[int], nos: set[str], *, exclude: int | None = None) -> None:
    if not (pks or nos):
        return
    touched = setups_touched(pks, nos) - {exclude}
    live_requests_make(touched, timezone.now())
    if touched:
        logger.debug("Live sync: %s contact(s) written touch setup(s) %s", len(pks) + len(nos), sorted(touched))
