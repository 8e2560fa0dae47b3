"""A person's own Microsoft 365 sign-in for their setup (delegated): connect, disconnect,
and what the runs write back (renewed tokens, or why the sign-in stopped working).

The sign-in itself (msal's authorization code flow with PKCE) is
`exchange_sync.graph.delegated`; the views pass in the `DelegatedSignIn` that
`connection.delegated_sign_in()` builds. The token cache is stored only encrypted
(`token_cache`). A person may connect only the mailbox of their own Microsoft 365 email.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from exchange_sync.graph.delegated import DelegatedSignIn, DelegatedSignInError
from exchange_sync.models import ExchangeSyncSetup, MailboxConnection
from exchange_sync.token_cache import token_cache_encrypt

logger = logging.getLogger(__name__)


class ConnectRefused(Exception):
    """The mailbox was not connected; `str()` is a sentence for the person. Nothing was stored."""


def mailbox_connection_start(setup: ExchangeSyncSetup, sign_in: DelegatedSignIn, redirect_uri: str) -> dict[str, Any]:
    """A new sign-in flow for the setup's mailbox (keep it in the person's session; the
    browser opens its `auth_uri`)."""
    if not setup.mailbox:
        raise ConnectRefused(
            f"The user {setup.user} has no Microsoft 365 email yet: enter it on the user card, then connect."
        )
    return sign_in.start(redirect_uri, login_hint=setup.mailbox)


def mailbox_connection_finish(
    setup: ExchangeSyncSetup, sign_in: DelegatedSignIn, flow: dict[str, Any], auth_response: dict[str, str]
) -> MailboxConnection:
    """Complete the sign-in and store the encrypted token cache. Raises ConnectRefused
    (nothing stored) for a refused or tampered answer, or another account than the
    setup's Microsoft 365 email."""
    try:
        signed_in = sign_in.finish(flow, auth_response)
    except DelegatedSignInError as exc:
        raise ConnectRefused(str(exc)) from exc
    expected = setup.mailbox.strip().lower()
    if signed_in.username != expected:
        logger.warning("Setup %s: a sign-in as another account than its mailbox was refused", setup.pk)
        raise ConnectRefused(
            f"You signed in to Microsoft 365 as {signed_in.username or 'an unnamed account'}, but this setup "
            f"synchronizes {expected}. You can connect only your own mailbox: sign in as {expected}. "
            "Nothing was stored."
        )
    connection, _ = MailboxConnection.objects.update_or_create(
        setup=setup,
        defaults={
            "username": signed_in.username,
            "token_cache_encrypted": token_cache_encrypt(signed_in.token_cache),
            "connected_at": timezone.now(),
            "problem": "",
            "problem_at": None,
        },
    )
    return connection


def mailbox_connection_remove(setup: ExchangeSyncSetup) -> bool:
    """Disconnect: delete the person's stored tokens. True when there were some."""
    deleted, _ = MailboxConnection.objects.filter(setup=setup).delete()
    return bool(deleted)


def mailbox_connection_tokens_save(connection_id: int, serialized: str) -> None:
    """msal renewed the person's tokens: store the cache again (encrypted with the
    current first key, which also re-encrypts it after a key rotation)."""
    MailboxConnection.objects.filter(pk=connection_id).update(
        token_cache_encrypted=token_cache_encrypt(serialized), problem="", problem_at=None
    )


def mailbox_connection_mark_problem(connection_id: int, message: str) -> None:
    """The sign-in stopped working: the setup shows "Reconnect" with `message`."""
    MailboxConnection.objects.filter(pk=connection_id).update(problem=message, problem_at=timezone.now())


def connection_mode_text(setup: ExchangeSyncSetup) -> str:
    """How the setup's runs sign in, for the setup page and Validate Exchange Connection."""
    connection = None
    if settings.M365_DELEGATED_SIGN_IN:
        connection = MailboxConnection.objects.filter(setup_id=setup.pk).first()
    if connection is None:
        return "App permission"
    if connection.needs_reconnect:
        return f"Connected as {connection.username}, needs reconnecting"
    return f"Connected as {connection.username}"
