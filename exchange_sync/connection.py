"""Builds the Graph client from settings: the one place settings meet exchange_sync/graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from exchange_sync.graph.auth import MsalTokenProvider, msal_token_provider
from exchange_sync.graph.certificate import CertificateCredential, certificate_credential_load
from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.delegated import RECONNECT_HINT, DelegatedSignIn, DelegatedTokenProvider
from exchange_sync.graph.errors import GraphAuthError
from exchange_sync.mailbox_connection import mailbox_connection_mark_problem, mailbox_connection_tokens_save
from exchange_sync.models import ExchangeSyncSetup, MailboxConnection
from exchange_sync.token_cache import TokenCacheUnreadable, token_cache_decrypt

# Where the sandbox serves Graph, below its identity root (exchange_sync/sandbox/urls.py).
SANDBOX_GRAPH_SUFFIX = "/graph-sandbox/v1.0"


def sandbox_identity_root(base_url: str) -> str:
    """The sandbox's sign-in root for a sandbox Graph URL.

    In sandbox mode the client secret (or the certificate's signed assertion) goes to the
    sandbox that serves Graph, so that URL must be a sandbox's: with a real Graph host
    (GRAPH_SANDBOX left on by mistake) the secret would be posted to a token URL built
    from that host. Refused instead; the
    system check `exchange_sync.E001` says so before anything starts.
    """
    base_url = base_url.rstrip("/")
    if not base_url.endswith(SANDBOX_GRAPH_SUFFIX):
        raise ImproperlyConfigured(
            f"GRAPH_SANDBOX is on, but GRAPH_BASE_URL ({base_url}) is not a Graph sandbox (it must end in "
            f"{SANDBOX_GRAPH_SUFFIX}). The client secret is only sent to the sandbox in sandbox mode: set "
            "GRAPH_SANDBOX=false to use Microsoft 365."
        )
    return base_url.removesuffix("/v1.0")


def certificate_from_settings() -> CertificateCredential | None:
    """The app's certificate credential when M365_CLIENT_CERTIFICATE_PATH is set, else None.

    Raises ``CertificateProblem`` (a sentence for a person) when it cannot be used."""
    if not settings.M365_CLIENT_CERTIFICATE_PATH:
        return None
    return certificate_credential_load(
        settings.M365_CLIENT_CERTIFICATE_PATH,
        settings.M365_CLIENT_PRIVATE_KEY_PATH,
        passphrase=settings.M365_CLIENT_CERTIFICATE_PASSPHRASE,
    )


def _client_credential() -> str | Callable[[], dict[str, str]]:
    """The client secret, or (with a certificate configured) a function that reads the
    certificate when the first token is needed, so a bad file is a sign-in failure of
    the run or of Validate Exchange Connection, with its sentence, not a crash."""
    if not settings.M365_CLIENT_CERTIFICATE_PATH:
        return settings.M365_CLIENT_SECRET
    return lambda: certificate_from_settings().msal_credential()


def _app_tokens(base_url: str) -> MsalTokenProvider:
    sandbox_root = sandbox_identity_root(base_url) if settings.GRAPH_SANDBOX else None
    return msal_token_provider(
        settings.M365_TENANT_ID,
        settings.M365_CLIENT_ID,
        _client_credential(),
        authority_host=settings.M365_AUTHORITY_HOST,
        sandbox_root=sandbox_root,
        timeout=settings.GRAPH_TIMEOUT_SECONDS,
    )


def graph_client_from_settings(*, base_url: str | None = None, **client_options: Any) -> GraphClient:
    """A Graph client for the configured tenant and app registration (app permission).

    With GRAPH_SANDBOX the same msal client-credentials flow runs, its identity calls
    routed to the sandbox that serves `base_url` (by default GRAPH_BASE_URL).
    `client_options` go to GraphClient (tests pass a recording `session`).
    """
    base_url = (base_url or settings.GRAPH_BASE_URL).rstrip("/")
    tokens = _app_tokens(base_url)
    # A throttled mailbox may ask for minutes (Outlook's window is 10 minutes): the
    # client honours a Retry-After up to its max_retry_after (10 minutes) rather than failing.
    return GraphClient(base_url, tokens, timeout=settings.GRAPH_TIMEOUT_SECONDS, **client_options)


def delegated_sign_in(*, base_url: str | None = None) -> DelegatedSignIn:
    """The authorization code flow of the app registration, for a person connecting
    their own mailbox (in sandbox mode, with the sandbox's sign-in page)."""
    return DelegatedSignIn(_app_tokens((base_url or settings.GRAPH_BASE_URL).rstrip("/")))


class _UnreadableTokens:
    """Token provider of a connection whose cache no key decrypts: every request is a
    sign-in failure asking the person to reconnect."""

    def __init__(self, message: str) -> None:
        self.message = message

    def get_token(self) -> str:
        raise GraphAuthError(self.message, reason="reconnect", code="token_cache_unreadable")

    def invalidate(self) -> None:
        pass


def graph_client_for_setup(
    setup: ExchangeSyncSetup, *, base_url: str | None = None, **client_options: Any
) -> GraphClient:
    """The Graph client a setup's runs use: the person's own sign-in when they connected
    their mailbox (delegated), otherwise the app permission (`graph_client_from_settings`).
    With M365_DELEGATED_SIGN_IN off, stored connections are not used."""
    connection = None
    if settings.M365_DELEGATED_SIGN_IN:
        connection = MailboxConnection.objects.filter(setup_id=setup.pk).first()
    if connection is None:
        return graph_client_from_settings(base_url=base_url, **client_options)
    base_url = (base_url or settings.GRAPH_BASE_URL).rstrip("/")
    try:
        cache = token_cache_decrypt(connection.token_cache_encrypted)
    except TokenCacheUnreadable:
        message = (
            f"bcsync can no longer read the saved Microsoft 365 sign-in of {connection.username} (the "
            f"encryption key M365_TOKEN_CACHE_KEYS was changed). {RECONNECT_HINT}"
        )
        mailbox_connection_mark_problem(connection.pk, message)
        tokens = _UnreadableTokens(message)
    else:
        tokens = DelegatedTokenProvider(
            _app_tokens(base_url),
            token_cache=cache,
            username=connection.username,
            on_cache_change=lambda serialized: mailbox_connection_tokens_save(connection.pk, serialized),
            on_refused=lambda message: mailbox_connection_mark_problem(connection.pk, message),
        )
    return GraphClient(base_url, tokens, timeout=settings.GRAPH_TIMEOUT_SECONDS, **client_options)
