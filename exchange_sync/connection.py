"""Builds the Graph client from settings: the one place settings meet exchange_sync/graph."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from exchange_sync.graph.auth import msal_token_provider
from exchange_sync.graph.client import GraphClient


def graph_client_from_settings(*, base_url: str | None = None, **client_options: Any) -> GraphClient:
    """A Graph client for the configured tenant and app registration.

    With GRAPH_SANDBOX the same msal client-credentials flow runs, its identity calls
    routed to the sandbox that serves `base_url` (by default GRAPH_BASE_URL).
    `client_options` go to GraphClient (tests pass a recording `session`).
    """
    base_url = (base_url or settings.GRAPH_BASE_URL).rstrip("/")
    sandbox_root = base_url.removesuffix("/v1.0") if settings.GRAPH_SANDBOX else None
    tokens = msal_token_provider(
        settings.M365_TENANT_ID,
        settings.M365_CLIENT_ID,
        settings.M365_CLIENT_SECRET,
        sandbox_root=sandbox_root,
        timeout=settings.GRAPH_TIMEOUT_SECONDS,
    )
    # A throttled mailbox may ask for minutes (Outlook's window is 10 minutes): the
    # client honours a Retry-After up to its max_retry_after (10 minutes) rather than failing.
    return GraphClient(base_url, tokens, timeout=settings.GRAPH_TIMEOUT_SECONDS, **client_options)
