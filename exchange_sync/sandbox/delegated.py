"""Delegated sign-in: the authorization code grant with PKCE and the refresh-token grant.

`/authorize` (views_authorize) signs a mailbox's user in, records their consent and
issues a code; the token endpoint redeems it (`code_redeem`) or a refresh token
(`refresh_redeem`) for a delegated access token (`scp`, the user's `oid`/`upn`), an
id_token and a new refresh token. Refusals carry Entra's OAuth error and AADSTS code
(https://learn.microsoft.com/entra/identity-platform/reference-error-codes):
code redeemed twice 54005, expired 70008, PKCE mismatch 501481, redirect URI mismatch
50011 [observed, with that sentence, at the code's redemption], no consent 65001
(suberror consent_required), account disabled 50057, password reset 50173, refresh
token inactive 700082; 54005, 501481, 50011, 50057, 50173, 65001 and 700082 checked
against answers quoted in public issues and Microsoft's troubleshooting pages.

The knobs below (`consent_revoke`, `refresh_tokens_expire`, `account_disable`,
`password_reset`) are rows, so a test or the `sandbox_app` command changes them for
every process.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import AuthorizationCode, DelegatedConsent, Mailbox, RefreshToken

DELEGATED_SCOPE = "Contacts.ReadWrite"
# What `scp` of a delegated token holds (Graph reads it; offline_access asked for a refresh token).
TOKEN_SCOPES = "Contacts.ReadWrite offline_access"  # noqa: S105 (scope names, not a secret)
CODE_LIFETIME = timedelta(minutes=10)  # Entra: authorization codes last about ten minutes
REFRESH_INACTIVITY = timedelta(days=90)  # Entra: refresh tokens expire after 90 days unused


@dataclass
class GrantRefused(Exception):
    """Why the token endpoint refuses a grant (Entra's OAuth error body)."""

    error: str
    aadsts: int
    description: str
    suberror: str = ""


@dataclass(frozen=True)
class Grant:
    """Who a redeemed code or refresh token speaks for, and its new refresh token."""

    mailbox: Mailbox
    scopes: str
    nonce: str
    refresh_token: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def code_issue(
    *, client_id: str, mailbox: Mailbox, redirect_uri: str, code_challenge: str, scopes: str, nonce: str
) -> str:
    """Record the user's consent and return a new authorization code."""
    DelegatedConsent.objects.update_or_create(client_id=client_id, mailbox=mailbox, defaults={"scopes": scopes})
    code = secrets.token_urlsafe(48)
    AuthorizationCode.objects.create(
        code_hash=_hash(code),
        client_id=client_id,
        mailbox=mailbox,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        scopes=scopes,
        nonce=nonce,
        expires_at=timezone.now() + CODE_LIFETIME,
    )
    return code


def code_redeem(*, client_id: str, code: str, redirect_uri: str, code_verifier: str) -> Grant:
    """Redeem a code once: its redirect URI and PKCE verifier must match. Raises GrantRefused."""
    with transaction.atomic():
        row = (
            AuthorizationCode.objects.select_for_update()
            .select_related("mailbox")
            .filter(code_hash=_hash(code), client_id=client_id)
            .first()
        )
        if row is None:
            raise GrantRefused("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if row.redeemed_at is not None:
            raise GrantRefused(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
                "existing refresh token.",
            )
        row.redeemed_at = timezone.now()
        row.save(update_fields=["redeemed_at"])
    if row.expires_at <= timezone.now():
        raise GrantRefused(
            "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity."
        )
    if row.redirect_uri != redirect_uri:
        raise GrantRefused(
            "invalid_grant",
            50011,
            f"The reply address '{redirect_uri}' does not match the reply address '{row.redirect_uri}' provided "
            "when requesting Authorization code.",
        )
    if not code_verifier or not secrets.compare_digest(_s256(code_verifier), row.code_challenge):
        raise GrantRefused(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    _account_check(row.client_id, row.mailbox, issued_at=None)
    return Grant(row.mailbox, row.scopes, row.nonce, _refresh_issue(client_id, row.mailbox, row.scopes))


def refresh_redeem(*, client_id: str, refresh_token: str) -> Grant:
    """Redeem a refresh token for a new access token and a new refresh token. Raises GrantRefused."""
    row = (
        RefreshToken.objects.select_related("mailbox")
        .filter(token_hash=_hash(refresh_token), client_id=client_id)
        .first()
    )
    if row is None:
        raise GrantRefused("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    _account_check(client_id, row.mailbox, issued_at=row.issued_at)
    if row.expires_at <= timezone.now():
        raise GrantRefused(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on "
            f"{row.issued_at:%Y-%m-%dT%H:%M:%SZ} and was inactive for 90.00:00:00.",
        )
    return Grant(row.mailbox, row.scopes, "", _refresh_issue(client_id, row.mailbox, row.scopes))


def _account_check(client_id: str, mailbox: Mailbox, *, issued_at: datetime | None) -> None:
    mailbox.refresh_from_db(fields=["is_sign_in_blocked", "tokens_valid_from"])
    if mailbox.is_sign_in_blocked:
        raise GrantRefused("invalid_grant", 50057, "The user account is disabled.")
    if issued_at is not None and mailbox.tokens_valid_from and issued_at < mailbox.tokens_valid_from:
        raise GrantRefused(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
            f"have changed or reset their password. The grant was issued on '{issued_at:%Y-%m-%dT%H:%M:%SZ}' and "
            f"the TokensValidFrom date (before which tokens are not valid) for this user is "
            f"'{mailbox.tokens_valid_from:%Y-%m-%dT%H:%M:%SZ}'.",
        )
    if not DelegatedConsent.objects.filter(client_id=client_id, mailbox=mailbox).exists():
        raise GrantRefused(
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID '{client_id}'. Send an "
            "interactive authorization request for this user and resource.",
            suberror="consent_required",
        )


def _refresh_issue(client_id: str, mailbox: Mailbox, scopes: str) -> str:
    token = secrets.token_urlsafe(64)
    now = timezone.now()
    RefreshToken.objects.create(
        token_hash=_hash(token),
        client_id=client_id,
        mailbox=mailbox,
        scopes=scopes,
        issued_at=now,
        expires_at=now + REFRESH_INACTIVITY,
    )
    return token


# Knobs: what a tenant administrator or the user does in Entra ID.


def consent_revoke(client_id: str | None, email: str) -> int:
    """The user (or an administrator) removes the app's delegated permissions (every
    app's when `client_id` is None). Returns how many consents were removed."""
    consents = DelegatedConsent.objects.filter(mailbox__email=email.strip().lower())
    if client_id is not None:
        consents = consents.filter(client_id=client_id)
    deleted, _ = consents.delete()
    return deleted


def refresh_tokens_expire(email: str) -> None:
    """Every refresh token of the user runs out (as after 90 days unused)."""
    RefreshToken.objects.filter(mailbox__email=email.strip().lower()).update(expires_at=timezone.now())


def account_disable(email: str, *, is_disabled: bool = True) -> None:
    """Block (or unblock) the user's sign-in."""
    Mailbox.objects.filter(email=email.strip().lower()).update(is_sign_in_blocked=is_disabled)


def password_reset(email: str) -> None:
    """The user's password is reset: refresh tokens issued so far stop working."""
    Mailbox.objects.filter(email=email.strip().lower()).update(tokens_valid_from=timezone.now())
