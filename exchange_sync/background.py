"""Codeunit 6700 "Exchange Contact Sync.": what a Job Queue Entry runs.

Parameter string (case-insensitive, items separated by `;`, `,` or spaces):
`USER=<email>` synchronizes only that mailbox's setup, `FULL` asks for a full sync.
Without USER every setup with background sync enabled is synchronized, each as its own
worker task, so one mailbox's failure never stops the others; their outcomes are the
sync runs shown on each setup.
"""

from __future__ import annotations

import re

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.services import sync_run_queue


class ParameterError(ValueError):
    pass


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


def codeunit_contact_sync(parameter_string: str, user) -> str:
    mailbox, full = parse_parameters(parameter_string)
    setups = ExchangeSyncSetup.objects.select_related("user__m365_identity").filter(is_enabled=True)
    if mailbox:
        setups = setups.filter(user__m365_identity__authentication_email=mailbox)
        if not setups.exists():
            raise ParameterError(f"No Exchange Sync. Setup with background sync enabled for {mailbox}.")
    kind = SyncRun.Kind.FULL if full else SyncRun.Kind.INCREMENTAL
    queued, busy = [], []
    for setup in setups:
        run, created = sync_run_queue(setup, kind=kind, trigger=SyncRun.Trigger.JOB, requested_by=user)
        (queued if created else busy).append(f"{setup.mailbox or setup.user} (run #{run.pk})")
    text = f"Queued {len(queued)} mailbox(es)" + (f": {', '.join(queued)}" if queued else "")
    if busy:
        text += f"; already running: {', '.join(busy)}"
    return text + "."
