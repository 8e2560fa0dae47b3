"""Builds the Graph client from settings: the one place settings meet exchange_sync/graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from exchange_sync.graph.auth import msal_token_provider
from exchange_sync.graph.certificate import CertificateCredential, certificate_credential_load
from exchange_sync.graph.client import GraphClient

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


def graph_client_from_settings(*, base_url: str | None = None, **client_options: Any) -> GraphClient:
    """A Graph client for the configured tenant and app registration.

    With GRAPH_SANDBOX the same msal client-credentials flow runs, its identity calls
    routed to the sandbox that serves `base_url` (by default GRAPH_BASE_URL).
    `client_options` go to GraphClient (tests pass a recording `session`).
    """
    base_url = (base_url or settings.GRAPH_BASE_URL).rstrip("/")
    sandbox_root = sandbox_identity_root(base_url) if settings.GRAPH_SANDBOX else None
    tokens = msal_token_provider(
        settings.M365_TENANT_ID,
        settings.M365_CLIENT_ID,
        _client_credential(),
        authority_host=settings.M365_AUTHORITY_HOST,
        sandbox_root=sandbox_root,
        timeout=settings.GRAPH_TIMEOUT_SECONDS,
    )
    # A throttled mailbox may ask for minutes (Outlook's window is 10 minutes): the
    # client honours a Retry-After up to its max_retry_after (10 minutes) rather than failing.
    return GraphClient(base_url, tokens, timeout=settings.GRAPH_TIMEOUT_SECONDS, **client_options)
