"""Access tokens for Graph: msal's client-credentials flow (with a client secret or a
certificate's signed assertion), against Entra ID or the sandbox.

Production and sandbox run the same code: :class:`MsalTokenProvider` always builds
msal's ``ConfidentialClientApplication`` with the real ``https://login.microsoftonline.com``
authority. For the sandbox, :class:`SandboxIdentityHttpClient` is given to msal as its
``http_client`` and carries msal's identity calls to the sandbox's endpoints instead
(msal refuses non-https authorities, so the URL is rewritten below msal, not above it).

Secrets and tokens never reach a log line, a ``repr`` or an exception message.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any, Protocol

import msal
import requests
from msal.exceptions import MsalServiceError

from .certificate import CertificateProblem
from .errors import GraphAuthError, GraphTransientError

logger = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# AADSTS codes (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)
# mapped to what an administrator has to fix.
_AADSTS_REASONS = {
    7000215: "invalid_client",  # invalid client secret
    7000222: "invalid_client",  # client secret expired
    700016: "unknown_client",  # application not found in the directory
    90002: "unknown_tenant",  # tenant not found
    900023: "unknown_tenant",  # tenant id malformed
    65001: "consent",  # no consent
    500011: "consent",  # resource principal not found in the tenant
    700027: "certificate",  # assertion signed by a certificate the app registration does not have
    700024: "certificate",  # assertion outside its valid time range
    700021: "certificate",  # assertion issuer/subject is not the client id
    700023: "certificate",  # assertion audience is not the token endpoint
}
_OAUTH_ERROR_REASONS = {"invalid_client": "invalid_client", "unauthorized_client": "unknown_client"}
_REASON_TEXT = {
    "invalid_client": "The client secret is wrong or expired.",
    "unknown_client": "The application (client) id is not registered in this tenant.",
    "unknown_tenant": "The tenant id is unknown.",
    "consent": "The application lacks admin consent for the Graph permission.",
    "certificate": "The certificate was refused.",
    "token": "No access token could be obtained.",
}


class TokenProvider(Protocol):
    """What :class:`~exchange_sync.graph.client.GraphClient` needs to authenticate."""

    def get_token(self) -> str:
        """A valid bearer token (cached while it lasts). Raises ``GraphAuthError``."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token: Graph refused it, the next ``get_token`` must fetch anew."""
        ...


class MsalTokenProvider:
    """App-only tokens from msal's client-credentials flow, reused from msal's cache.

    ``acquire_token_for_client`` serves a cached token until five minutes before it
    expires and only then asks the identity endpoint again. The msal application is
    built on first use (its construction already calls the tenant's OpenID discovery),
    so a wrong tenant surfaces as a ``GraphAuthError`` from :meth:`get_token`.

    Errors: :class:`GraphAuthError` with ``reason`` for wrong tenant, client id, secret
    or missing consent; :class:`GraphTransientError` when the identity service cannot be
    reached or answers 5xx.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_credential: str | Callable[[], dict[str, str]],
        *,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        http_client: Any = None,
        timeout: float = 30.0,
        token_cache: msal.TokenCache | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        # The client secret, or a function giving msal's certificate credential (read
        # when the msal application is built, so a bad certificate is a GraphAuthError).
        self._client_credential = client_credential
        self.authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._http_client = http_client
        self._timeout = timeout
        self._token_cache = token_cache  # a person's cache (delegated); None: msal's own
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MsalTokenProvider(authority={self.authority!r}, client_id={self.client_id!r}, secret=<hidden>)"

    def get_token(self) -> str:
        """A bearer token for Graph; from msal's cache unless it is near expiry."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (requests.RequestException, MsalServiceError) as exc:
            raise GraphTransientError(f"The identity service could not be reached: {type(exc).__name__}") from exc
        if not result or "access_token" not in result:
            raise auth_error(result or {})
        return result["access_token"]

    def invalidate(self) -> None:
        """Drop this application's cached access tokens (Graph answered 401 to one)."""
        app = self._app
        if app is None:
            return
        cache = app.token_cache
        query = {"client_id": self.client_id, "environment": app.authority.instance}
        for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, query=query)):
            cache.remove_at(entry)

    @property
    def http_client(self) -> Any:
        """The http_client msal uses (the sandbox's router, or None for Entra ID)."""
        return self._http_client

    def with_token_cache(self, token_cache: msal.TokenCache) -> MsalTokenProvider:
        """The same app registration and identity host, keeping tokens in ``token_cache``
        (a person's cache, for delegated sign-in)."""
        authority_host = self.authority[: -len(self.tenant_id) - 1]
        return MsalTokenProvider(
            self.tenant_id,
            self.client_id,
            self._client_credential,
            authority_host=authority_host,
            http_client=self._http_client,
            timeout=self._timeout,
            token_cache=token_cache,
        )

    def application(self) -> msal.ConfidentialClientApplication:
        """The msal application (built on first use). Raises ``GraphAuthError``."""
        return self._application()

    def _application(self) -> msal.ConfidentialClientApplication:
        for value, reason in (
            (self.tenant_id, "unknown_tenant"),
            (self.client_id, "unknown_client"),
            (self._client_credential, "invalid_client"),
        ):
            if not value:
                raise GraphAuthError(f"{_REASON_TEXT[reason]} (not configured)", reason=reason, code="not_configured")
        with self._lock:
            if self._app is None:
                self._app = self._build_application()
            return self._app

    def _credential(self) -> str | dict[str, str]:
        if not callable(self._client_credential):
            return self._client_credential
        try:
            return self._client_credential()
        except CertificateProblem as exc:
            raise GraphAuthError(str(exc), reason="certificate", code="certificate_unusable") from exc

    def _build_application(self) -> msal.ConfidentialClientApplication:
        credential = self._credential()
        try:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=credential,
                authority=self.authority,
                http_client=self._http_client,
                timeout=self._timeout,
                token_cache=self._token_cache,
                # The authority host is well known, so msal does no instance discovery
                # when it starts; this also stops the alias lookup msal makes after a
                # failed token request, which app-only tokens never need.
                instance_discovery=False,
            )
        except ValueError as exc:
            # msal's tenant (OpenID) discovery answered 4xx: the tenant does not exist.
            logger.warning("Tenant discovery failed for %s", self.authority)
            raise GraphAuthError(
                f"{_REASON_TEXT['unknown_tenant']} ({self.tenant_id})", reason="unknown_tenant", code="invalid_tenant"
            ) from exc
        except (requests.RequestException, MsalServiceError) as exc:
            raise GraphTransientError(f"The identity service could not be reached: {type(exc).__name__}") from exc


def auth_error(result: dict[str, Any]) -> GraphAuthError:
    """A ``GraphAuthError`` for msal's error dict (``error``, ``error_description``, ``error_codes``)."""
    error = str(result.get("error") or "")
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    reason = next((_AADSTS_REASONS[c] for c in codes if c in _AADSTS_REASONS), None)
    reason = reason or _OAUTH_ERROR_REASONS.get(error, "token")
    # Keep the AADSTS sentence; drop the trace, correlation and timestamp lines after it.
    description = re.split(r"\r?\n| Trace ID:", str(result.get("error_description") or ""))[0]
    message = f"{_REASON_TEXT[reason]} {description}".strip()
    return GraphAuthError(
        message,
        reason=reason,
        code=error,
        request_id=str(result.get("correlation_id") or result.get("trace_id") or ""),
    )


class SandboxIdentityHttpClient:
    """msal ``http_client`` that routes ``https://login.microsoftonline.com/...`` to the sandbox.

    msal calls ``get(url, params=None, headers=None, **kwargs)`` and
    ``post(url, params=None, data=None, headers=None, **kwargs)`` and reads
    ``status_code``, ``text``, ``headers`` and ``raise_for_status()`` of the answer
    (``msal/oauth2cli/http.py``); it calls ``close()`` when the application is closed.
    URLs not on the login host pass through unchanged.
    """

    LOGIN_PREFIX = f"{DEFAULT_AUTHORITY_HOST}/"

    def __init__(self, sandbox_root: str, timeout: float = 30.0, *, session: requests.Session | None = None) -> None:
        self.sandbox_root = sandbox_root.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()

    def rewrite(self, url: str) -> str:
        """The sandbox URL for an identity URL; other URLs unchanged."""
        if url.startswith(self.LOGIN_PREFIX):
            return f"{self.sandbox_root}/{url[len(self.LOGIN_PREFIX) :]}"
        return url

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(self.rewrite(url), params=params, headers=headers, **kwargs)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(self.rewrite(url), params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        self._session.close()


def msal_token_provider(
    tenant_id: str,
    client_id: str,
    client_credential: str | Callable[[], dict[str, str]],
    *,
    authority_host: str = DEFAULT_AUTHORITY_HOST,
    sandbox_root: str | None = None,
    timeout: float = 30.0,
    token_cache: msal.TokenCache | None = None,
) -> MsalTokenProvider:
    """The production token provider, or the same one wired to the sandbox at ``sandbox_root``.

    ``client_credential`` is the client secret, or a function returning msal's
    certificate credential (see :mod:`.certificate`). ``authority_host`` is Entra ID's
    sign-in host (another cloud's, for example ``https://login.microsoftonline.us``): the
    only host the secret or the signed client assertion is sent to. With
    ``sandbox_root`` (the sandbox's identity root, e.g.
    ``"http://127.0.0.1:8000/graph-sandbox"``) msal's calls to the default host go to the
    sandbox instead.
    """
    if sandbox_root:
        http_client = SandboxIdentityHttpClient(sandbox_root, timeout)
        authority_host = DEFAULT_AUTHORITY_HOST
    else:
        http_client = None
    return MsalTokenProvider(
        tenant_id,
        client_id,
        client_credential,
        authority_host=authority_host,
        http_client=http_client,
        timeout=timeout,
        token_cache=token_cache,
    )
