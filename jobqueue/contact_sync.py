""" "Set up job queue entry" on a Contact Sync Setup page: the recurring Codeunit 6700
entry of a user (Business Central's contact synchronization on a schedule)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q

from exchange_sync.background import user_can_run_sync
from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.services import exchange_sync_setup_enable
from jobqueue.models import WEEKDAY_FIELDS, JobQueueEntry
from jobqueue.objects import CONTACT_SYNC_CODEUNIT_ID, ObjectType
from jobqueue.services import JobQueueError, job_queue_entry_set_ready

CONTACT_SYNC_MINUTES_BETWEEN_RUNS = 30


@dataclass(frozen=True)
class ContactSyncEntry:
    """What "Set up job queue entry" did."""

    entry: JobQueueEntry
    created: bool
    background_sync_switched_on: bool


def job_queue_entry_contact_sync_ensure(user) -> ContactSyncEntry:
    """ "Set up job queue entry" on a Contact Sync Setup page: find ``user``'s recurring
    Codeunit 6700 entry, or create one that runs as ``user`` (every 30 minutes, every
    weekday, parameter string ``USER=<their Microsoft 365 email>``) and set it to Ready.
    ``user`` is the setup's owner, not necessarily who pressed the button (a superuser
    may set it up for anyone).

    Codeunit 6700 only synchronizes setups with background sync enabled, so a setup
    with it switched off is switched on here (the button's purpose is to synchronize in
    the background); the result says so.

    Raises JobQueueError, before anything is created, when the entry could never run: no
    Microsoft 365 authentication email (an entry without USER= would synchronize every
    mailbox), no Exchange Sync. Setup, or a user not allowed to start synchronizations.
    """
    name = user.get_username()
    try:
        email = user.m365_identity.authentication_email
    except ObjectDoesNotExist:
        email = ""
    if not email:
        raise JobQueueError(
            f"User {name} has no Microsoft 365 authentication email. Enter it in the "
            "Microsoft 365 Authentication section of the user card, then set up the job queue entry."
        )
    setup = ExchangeSyncSetup.objects.filter(user=user).first()
    if setup is None:
        raise JobQueueError(
            f"User {name} has no Exchange Sync. Setup yet. Open the Exchange Sync. Setup page, "
            "then set up the job queue entry from there."
        )
    if not user_can_run_sync(user):
        raise JobQueueError(
            f"User {name} may not start contact synchronizations, so an entry running as them would "
            "fail. Give them the permission 'Can start contact synchronization' on the user card first."
        )
    with transaction.atomic():
        # Lock the user row so two clicks cannot create two entries.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        switched_on = exchange_sync_setup_enable(setup)
        weekday = Q()
        for field_name in WEEKDAY_FIELDS:
            weekday |= Q(**{field_name: True})
        existing = (
            JobQueueEntry.objects.filter(
                weekday,
                user=user,
                object_type_to_run=ObjectType.CODEUNIT,
                object_id_to_run=CONTACT_SYNC_CODEUNIT_ID,
            )
            .order_by("id")
            .first()
        )
        if existing:
            return ContactSyncEntry(existing, False, switched_on)
        entry = JobQueueEntry.objects.create(
            user=user,
            object_type_to_run=ObjectType.CODEUNIT,
            object_id_to_run=CONTACT_SYNC_CODEUNIT_ID,
            description=f"Synchronize Outlook contacts of {email}",
            parameter_string=f"USER={email}",
            minutes_between_runs=CONTACT_SYNC_MINUTES_BETWEEN_RUNS,
            **dict.fromkeys(WEEKDAY_FIELDS, True),
        )
    return ContactSyncEntry(job_queue_entry_set_ready(entry), True, switched_on)
