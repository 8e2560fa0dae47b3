"""Codeunit 6700 "Exchange Contact Sync.": what a Job Queue Entry runs.

Parameter string (case-insensitive, items separated by `;`, `,` or spaces):
`USER=<email>` synchronizes only that mailbox's setup, `FULL` asks for a full sync.
Without USER every setup with background sync enabled is synchronized, each as its own
worker task, so one mailbox's failure never stops the others; their outcomes are the
sync runs shown on each setup.

Who may run it: the codeunit runs as the entry's user (or, for "Run Once (Foreground)",
as the user who pressed it). A user who may see every setup (a superuser, the Contact
Sync Administrator role) synchronizes every enabled setup (or the one named by USER=).
Anyone else needs the "Can start contact synchronization" permission and synchronizes
only their own setup: USER= naming another mailbox is refused, so the job queue cannot
be used to start another user's synchronization.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.services import sync_run_queue

# The permissions declared on ExchangeSyncSetup.Meta; the admin checks them too.
RUN_PERMISSION = "exchange_sync.run_contact_sync"
SEE_ALL_PERMISSION = "exchange_sync.view_all_sync_setups"


class ParameterError(ValueError):
    pass


class SyncNotAllowedError(PermissionError):
    """The user the codeunit runs as may not start this synchronization."""


def user_can_run_sync(user: AbstractBaseUser) -> bool:
    """May this user start (or confirm) synchronizations? Superusers have every permission."""
    return bool(user.is_active and user.has_perm(RUN_PERMISSION))


def user_sees_all_setups(user: AbstractBaseUser) -> bool:
    """May this user see (and, with the run permission, synchronize) every user's setup?
    The Contact Sync Administrator role and superusers may; anyone else only their own."""
    return bool(user.is_active and user.has_perm(SEE_ALL_PERMISSION))


def parse_parameters(parameter_string: str) -> tuple[str | None, bool]:
    """(mailbox or None, full?) from a parameter string; ParameterError when unreadable."""
    mailbox, full = None, False
    for item in filter(None, re.split(r"[;,\s]+", parameter_string or "")):
        key, _, value = item.partition("=")
        if key.upper() == "FULL" and not value:
            full = True
        elif key.upper() == "USER" and value:
            mailbox = value.strip().lower()
        else:
            raise ParameterError(
                f"Unknown parameter '{item}'. Use USER=<Microsoft 365 email> and/or FULL, "
                "e.g. 'USER=ann@contoso.com;FULL'."
            )
    return mailbox, full


def _own_mailbox(user: AbstractBaseUser) -> str:
    identity = getattr(user, "m365_identity", None)
    return identity.authentication_email.lower() if identity else ""


def _setups_for(user: AbstractBaseUser, mailbox: str | None):
    """The enabled setups ``user`` may synchronize, narrowed to ``mailbox``. Raises
    SyncNotAllowedError or ParameterError with a message for the log entry."""
    name = user.get_username()
    if not user_can_run_sync(user):
        raise SyncNotAllowedError(
            f"User {name} may not start contact synchronizations: the user is inactive or lacks the "
            "permission 'Can start contact synchronization'. Ask an administrator to grant it, "
            "or let the entry run as a user who has it."
        )
    setups = ExchangeSyncSetup.objects.select_related("user__m365_identity").filter(is_enabled=True)
    if user_sees_all_setups(user):
        if mailbox:
            setups = setups.filter(user__m365_identity__authentication_email__iexact=mailbox)
            if not setups.exists():
                raise ParameterError(f"No Exchange Sync. Setup with background sync enabled for {mailbox}.")
        return setups
    own = _own_mailbox(user)
    if mailbox and mailbox != own:
        raise SyncNotAllowedError(
            f"User {name} may synchronize only their own mailbox ({own or 'none entered'}), not {mailbox}. "
            "Remove USER= from the parameter string, or let a superuser run this entry."
        )
    setups = setups.filter(user=user)
    if not setups.exists():
        raise ParameterError(
            f"User {name} has no Exchange Sync. Setup with background sync enabled. Switch on "
            "'Background sync enabled' on the Exchange Sync. Setup page."
        )
    return setups


def codeunit_contact_sync(parameter_string: str, user: AbstractBaseUser) -> str:
    """Queue a sync run of each setup ``user`` may synchronize (see the module docstring).
    Returns the text for the Success log entry; raises ParameterError or
    SyncNotAllowedError (the log entry's error message)."""
    mailbox, full = parse_parameters(parameter_string)
    setups = _setups_for(user, mailbox)
    kind = SyncRun.Kind.FULL if full else SyncRun.Kind.INCREMENTAL
    queued, busy = [], []
    for setup in setups:
        run, created = sync_run_queue(setup, kind=kind, trigger=SyncRun.Trigger.JOB, requested_by=user)
        (queued if created else busy).append(f"{setup.mailbox or setup.user} (run #{run.pk})")
    text = f"Queued {len(queued)} mailbox(es)" + (f": {', '.join(queued)}" if queued else "")
    if busy:
        text += f"; already running: {', '.join(busy)}"
    return text + "."
