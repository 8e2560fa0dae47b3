"""Per-user (delegated) sign-in with msal: the authorization code flow with PKCE, and
access tokens refreshed silently from the person's token cache.

:class:`DelegatedSignIn` starts the flow (``initiate_auth_code_flow``: msal makes the
``state``, ``nonce`` and PKCE verifier and keeps them in the flow dict the caller stores
in the person's session) and completes it (``acquire_token_by_auth_code_flow``).
:class:`DelegatedTokenProvider` gives :class:`~.client.GraphClient` the person's tokens
(``acquire_token_silent``) and hands the serialized cache back whenever msal changed it.

Knows no models and reads no settings: the caller stores the cache (encrypted) and turns
:class:`DelegatedSignInError` and ``GraphAuthError(reason="reconnect")`` into pages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msal
import requests
from msal.exceptions import MsalServiceError

from .auth import MsalTokenProvider, auth_error
from .errors import GraphAuthError, GraphTransientError

logger = logging.getLogger(__name__)

# The delegated permission bcsync asks for; msal adds openid, profile and offline_access.
DELEGATED_SCOPES = ["Contacts.ReadWrite"]

# Why Entra ID refuses a person's refresh token, in the person's words
# (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
_REFRESH_REFUSALS = {
    65001: "you or an administrator removed bcsync's permission to your contacts in Microsoft 365",
    50173: "your Microsoft 365 password was changed or reset since you connected",
    50057: "your Microsoft 365 account is disabled",
    700082: "your Microsoft 365 sign-in expired after a long time without use",
    70008: "your Microsoft 365 sign-in expired after a long time without use",
}
RECONNECT_HINT = "Press Reconnect on your Exchange Sync. Setup to sign in again."


class DelegatedSignInError(Exception):
    """A sign-in that could not complete; ``str()`` is a sentence for the person."""


@dataclass(frozen=True)
class SignedIn:
    """A completed sign-in: who signed in, and the token cache to keep (serialized)."""

    username: str
    token_cache: str


def _aadsts(result: dict[str, Any]) -> int | None:
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    if codes:
        return codes[0]
    match = re.match(r"AADSTS(\d+)", str(result.get("error_description") or ""))
    return int(match.group(1)) if match else None


def _first_line(result: dict[str, Any]) -> str:
    return re.split(r"\r?\n| Trace ID:", str(result.get("error_description") or result.get("error") or ""))[0]


class DelegatedSignIn:
    """The authorization code flow of one app registration (see module docstring).

    ``provider`` is the app's msal token provider: its client credential authenticates
    the code redemption, and its sandbox ``http_client`` (in sandbox mode) also turns
    msal's sign-in URL into the sandbox's, which the person's browser opens.
    """

    def __init__(self, provider: MsalTokenProvider) -> None:
        self._provider = provider

    def start(self, redirect_uri: str, *, login_hint: str = "") -> dict[str, Any]:
        """A new flow (store it in the person's session) whose ``auth_uri`` the browser opens."""
        app = self._provider.application()
        try:
            flow = app.initiate_auth_code_flow(
                scopes=DELEGATED_SCOPES, redirect_uri=redirect_uri, login_hint=login_hint or None
            )
        except (requests.RequestException, MsalServiceError) as exc:
            raise GraphTransientError(f"The identity service could not be reached: {type(exc).__name__}") from exc
        http_client = self._provider.http_client
        if http_client is not None and hasattr(http_client, "rewrite"):
            flow["auth_uri"] = http_client.rewrite(flow["auth_uri"])
        return flow

    def finish(self, flow: dict[str, Any], auth_response: dict[str, str]) -> SignedIn:
        """Redeem the code of ``auth_response`` (the redirect's query) for the person's tokens.

        Raises :class:`DelegatedSignInError` for an answer that does not belong to this
        flow (wrong ``state``), an error the sign-in page returned (the person cancelled),
        or a code Entra ID refuses (used twice, wrong PKCE verifier, expired).
        """
        if "error" in auth_response:
            if auth_response.get("state") != flow.get("state"):
                raise DelegatedSignInError("The sign-in answer does not belong to this sign-in. Nothing was stored.")
            description = str(auth_response.get("error_description") or auth_response["error"])
            if auth_response["error"] == "access_denied":
                raise DelegatedSignInError(
                    "The sign-in was cancelled or the permissions were not accepted, so nothing was connected."
                )
            raise DelegatedSignInError(f"Microsoft 365 did not sign you in: {description}")
        cache = msal.SerializableTokenCache()
        app = self._provider.with_token_cache(cache).application()
        try:
            result = app.acquire_token_by_auth_code_flow(flow, auth_response, scopes=DELEGATED_SCOPES)
        except ValueError as exc:
            # msal compares `state` (and refuses an answer without a code) before any request.
            raise DelegatedSignInError(
                "The sign-in answer does not belong to this sign-in (it may have been tampered with or replayed). "
                "Nothing was stored."
            ) from exc
        except (requests.RequestException, MsalServiceError) as exc:
            raise GraphTransientError(f"The identity service could not be reached: {type(exc).__name__}") from exc
        if "access_token" not in result:
            logger.warning("Delegated sign-in refused: AADSTS%s", _aadsts(result))
            raise DelegatedSignInError(f"Microsoft 365 refused the sign-in: {_first_line(result)} Nothing was stored.")
        claims = result.get("id_token_claims") or {}
        username = str(claims.get("preferred_username") or claims.get("upn") or "").strip().lower()
        return SignedIn(username=username, token_cache=cache.serialize())


class DelegatedTokenProvider:
    """A person's access tokens for Graph, from their msal token cache.

    ``acquire_token_silent`` serves the cached access token or redeems the refresh token
    for a new one; ``on_cache_change(serialized)`` is called after msal changed the cache
    (a new access or refresh token), so the caller stores it again. When Entra ID refuses
    the refresh token, ``on_refused(message)`` is called and ``get_token`` raises
    ``GraphAuthError(reason="reconnect")``; the message says why in the person's words.
    """

    def __init__(
        self,
        provider: MsalTokenProvider,
        *,
        token_cache: str,
        username: str,
        on_cache_change: Callable[[str], None],
        on_refused: Callable[[str], None],
    ) -> None:
        self._cache = msal.SerializableTokenCache()
        self._cache.deserialize(token_cache)
        self._provider = provider.with_token_cache(self._cache)
        self.username = username
        self._on_cache_change = on_cache_change
        self._on_refused = on_refused

    def __repr__(self) -> str:
        return f"DelegatedTokenProvider(username={self.username!r}, cache=<hidden>)"

    def get_token(self) -> str:
        app = self._provider.application()
        accounts = app.get_accounts(username=self.username)
        if not accounts:
            raise self._refused(f"bcsync holds no Microsoft 365 sign-in for {self.username}. {RECONNECT_HINT}")
        try:
            result = app.acquire_token_silent_with_error(DELEGATED_SCOPES, account=accounts[0])
        except (requests.RequestException, MsalServiceError) as exc:
            raise GraphTransientError(f"The identity service could not be reached: {type(exc).__name__}") from exc
        finally:
            self._save_if_changed()
        if result and "access_token" in result:
            return result["access_token"]
        result = result or {}
        if str(result.get("error")) in ("invalid_grant", "interaction_required"):
            why = _REFRESH_REFUSALS.get(_aadsts(result) or 0, "Microsoft 365 no longer accepts your sign-in")
            raise self._refused(
                f"Microsoft 365 refused to renew the sign-in of {self.username}: {why}. {RECONNECT_HINT}"
            )
        if result.get("error"):
            raise auth_error(result)
        raise self._refused(f"No access token could be obtained for {self.username}. {RECONNECT_HINT}")

    def _refused(self, message: str) -> GraphAuthError:
        self._on_refused(message)
        return GraphAuthError(message, reason="reconnect", code="reconnect")

    def invalidate(self) -> None:
        """Drop the person's cached access tokens (Graph answered 401 to one)."""
        for entry in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            self._cache.remove_at(entry)
        self._save_if_changed()

    def _save_if_changed(self) -> None:
        if self._cache.has_state_changed:
            self._on_cache_change(self._cache.serialize())
            self._cache.has_state_changed = False
