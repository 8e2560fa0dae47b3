"""Validate Exchange Connection: try each step a sync needs and say, in plain words, what
works and what to fix. Read-only: it never creates a folder or changes a setup."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from exchange_sync.connection import graph_client_for_setup
from exchange_sync.graph import (
    GraphAuthError,
    GraphClient,
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
)
from exchange_sync.mailbox_connection import connection_mode_text
from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.scope_messages import MAILBOX_SCOPE_FIX, mailbox_scope_problem
from exchange_sync.sync.folder import folders_named

logger = logging.getLogger(__name__)

MAILBOX_NOT_FOUND = ("ErrorInvalidUser", "Request_ResourceNotFound", "MailboxNotEnabledForRESTAPI")

SIGN_IN_PROBLEMS: dict[str, tuple[str, str]] = {
    "invalid_client": (
        "Microsoft 365 refused the client secret.",
        "Create a new client secret for the app registration in Entra ID and set it as M365_CLIENT_SECRET.",
    ),
    "unknown_client": (
        "Microsoft 365 does not know the application (client) id.",
        "Check M365_CLIENT_ID: it must be the Application (client) ID of an app registration in your tenant.",
    ),
    "unknown_tenant": (
        "Microsoft 365 does not know the tenant.",
        "Check M365_TENANT_ID: it must be your Directory (tenant) ID or a verified domain of the tenant.",
    ),
    "consent": (
        "The application has no admin consent for Microsoft Graph.",
        "Ask an administrator to grant admin consent for the Contacts.ReadWrite application permission.",
    ),
    "certificate": (
        "Microsoft 365 refused the app's certificate, or bcsync cannot use it.",
        "Check M365_CLIENT_CERTIFICATE_PATH (and M365_CLIENT_PRIVATE_KEY_PATH): the certificate must be "
        "readable, within its dates, match its private key, and be uploaded to the app registration in Entra ID.",
    ),
    "token": (
        "Microsoft 365 did not give the application an access token.",
        "Check the app registration (tenant id, client id and secret) in the settings.",
    ),
}


@dataclass
class ConnectionCheck:
    """What works (`works`) and, when something does not, the problem and what to fix."""

    works: list[str] = field(default_factory=list)
    problem: str = ""
    fix: str = ""
    note: str = ""  # something worth knowing that is not a problem
    step: str = field(default="mailbox", repr=False)  # the step being tried

    @property
    def is_ok(self) -> bool:
        return not self.problem

    def __str__(self) -> str:
        parts = []
        if self.works:
            parts.append("Checked: " + "; ".join(self.works) + ".")
        if self.problem:
            parts.append(f"Problem: {self.problem}")
        if self.fix:
            parts.append(f"To fix: {self.fix}")
        if self.note:
            parts.append(self.note)
        return " ".join(parts)


def _short_sleep(seconds: float) -> None:
    # A person is waiting for the answer: never wait out a long Retry-After here.
    time.sleep(min(seconds, 3.0))


def exchange_connection_validate(
    setup: ExchangeSyncSetup, *, client_factory: Callable[..., GraphClient] | None = None
) -> ConnectionCheck:
    """Sign in, find the mailbox, reach the Outlook folder; stop at the first failure.

    Never raises: every failure, expected or not, becomes the check's problem and fix.
    """
    check = ConnectionCheck()
    mailbox = setup.mailbox
    if not mailbox:
        check.problem = f"The user {setup.user} has no Microsoft 365 email."
        check.fix = "Enter the mailbox in the Microsoft 365 Authentication section of the user card."
        return check
    try:
        client = (client_factory or partial(graph_client_for_setup, setup))(max_attempts=2, sleep=_short_sleep)
    except Exception as exc:
        logger.exception("Building the Graph client failed")
        check.problem = f"The connection could not be set up: {exc}"
        check.fix = "Check the Microsoft 365 settings (M365_TENANT_ID, M365_CLIENT_ID, M365_CLIENT_SECRET)."
        return check
    try:
        _check_steps(check, client, setup, mailbox)
    except GraphAuthError as exc:
        _auth_problem(check, exc, mailbox)
    except GraphNotFoundError as exc:
        if exc.code in MAILBOX_NOT_FOUND:
            check.problem = f"The mailbox {mailbox} was not found in Microsoft 365."
            check.fix = (
                "Check the Microsoft 365 email on the user card, or ask an administrator whether the mailbox "
                "exists and has an Exchange Online license."
            )
        else:
            check.problem = f"Microsoft 365 answered that something was not found: {exc.message}"
            check.fix = "Try again; if it persists, check the setup's Outlook folder."
    except (GraphThrottledError, GraphTransientError) as exc:
        check.problem = f"Microsoft 365 did not answer in time ({exc.message})."
        check.fix = "Nothing to change: try again in a few minutes."
    except GraphError as exc:
        check.problem = f"Microsoft 365 refused a request: {exc.message}"
        check.fix = "Check the setup and try again; if it persists, give this message to your administrator."
    except Exception as exc:
        logger.exception("Validate Exchange Connection failed for setup %s", setup.pk)
        check.problem = f"The validation failed: {exc}"
        check.fix = "Try again; if it persists, give this message to your administrator."
    finally:
        client.close()
    return check


def _check_steps(check: ConnectionCheck, client: GraphClient, setup: ExchangeSyncSetup, mailbox: str) -> None:
    check.step = "mailbox"
    client.get_user(mailbox)
    check.works.append(f"signed in to Microsoft 365 ({connection_mode_text(setup)})")
    check.works.append(f"found the mailbox {mailbox}")
    check.step = "folder"
    if setup.folder_id:
        try:
            folder = client.get_contact_folder(mailbox, setup.folder_id)
        except GraphNotFoundError:
            check.works.append("the contact folders are accessible")
            check.note = (
                f"The Outlook folder '{setup.folder_name}' was deleted in Outlook; the next sync creates it "
                "again and sends every contact to it."
            )
            return
        check.works.append(f"the Outlook folder '{folder.get('displayName') or setup.folder_name}' is accessible")
        return
    folders = folders_named(client, mailbox, setup.folder_name)
    check.works.append("the contact folders are accessible")
    if not folders:
        check.note = f"The Outlook folder '{setup.folder_name}' does not exist yet; the first sync creates it."
    elif not any(f.is_stamped or f.id == setup.adopted_folder_id for f in folders):
        check.note = (
            f"An Outlook folder '{setup.folder_name}' already exists and bcsync did not create it: the sync does "
            "not use it unless you adopt it (save this page to see how) or choose another folder name."
        )


def _auth_problem(check: ConnectionCheck, exc: GraphAuthError, mailbox: str) -> None:
    if exc.reason == "reconnect":
        # The person's own sign-in no longer works: only they can renew it.
        check.problem = f"Signing in failed ({exc.message.split(' Press Reconnect')[0]})"
        check.fix = "Press Reconnect (Microsoft 365 sign-in, above) and sign in to your mailbox again."
        return
    if exc.reason == "mailbox_scope":
        # Signed in, but Exchange Online keeps this app out of this mailbox.
        if check.step == "mailbox":
            check.works.append("signed in to Microsoft 365")
        check.problem = mailbox_scope_problem(mailbox)
        check.fix = MAILBOX_SCOPE_FIX[0].upper() + MAILBOX_SCOPE_FIX[1:]
        return
    if exc.status == 403:
        # Signed in, but Graph refused this mailbox or its folders: consent for the
        # permission, or an application access policy that leaves the mailbox out
        # (https://learn.microsoft.com/graph/auth-limit-mailbox-access).
        if check.step == "folder":
            check.problem = f"The contact folders of {mailbox} are not accessible (access denied)."
        else:
            check.works.append("signed in to Microsoft 365")
            check.problem = f"Access to the mailbox {mailbox} was denied."
        check.fix = (
            "Ask an administrator to grant admin consent for the Contacts.ReadWrite application permission, "
            "and to include this mailbox in the application access policy if one is used."
        )
        return
    problem, fix = SIGN_IN_PROBLEMS.get(exc.reason, SIGN_IN_PROBLEMS["token"])
    if exc.code == "certificate_unusable":
        problem = exc.message  # bcsync's own sentence: which file, and what is wrong with it
    check.problem = f"Signing in failed. {problem}"
    check.fix = fix
