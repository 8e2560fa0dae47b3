"""System checks for the Microsoft 365 connection settings: run before the web server
or a worker starts, so a misconfiguration is refused instead of leaking a secret."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from exchange_sync.connection import certificate_from_settings, sandbox_identity_root
from exchange_sync.graph.certificate import CertificateProblem
from exchange_sync.token_cache import token_cache_key_problem


@register()
def graph_settings_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """The client secret may only go to the configured sign-in host (or, in sandbox mode,
    to the sandbox that serves GRAPH_BASE_URL)."""
    errors = []
    if settings.GRAPH_SANDBOX:
        try:
            sandbox_identity_root(settings.GRAPH_BASE_URL)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="exchange_sync.E001"))
    elif urlsplit(settings.M365_AUTHORITY_HOST).scheme != "https":
        errors.append(
            Error(
                f"M365_AUTHORITY_HOST ({settings.M365_AUTHORITY_HOST}) is not an https address: the client secret "
                "would travel unencrypted.",
                hint="Leave it unset (https://login.microsoftonline.com) or set your cloud's https sign-in host.",
                id="exchange_sync.E002",
            )
        )
    return errors


@register()
def notification_url_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """Graph posts change notifications only to HTTPS addresses; an http one would also
    carry each subscription's secret (clientState) in the clear."""
    url = settings.GRAPH_NOTIFICATION_URL
    if not url:
        return []
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return [
            Error(
                f"GRAPH_NOTIFICATION_URL ({url}) is not a web address.",
                hint="Set this site's public base address, e.g. https://bcsync.example.com, or leave it unset to poll.",
                id="exchange_sync.E004",
            )
        ]
    # The sandbox (development, drills) takes http on the local machine, as tests serve it.
    if parts.scheme != "https" and not settings.DEBUG and not settings.GRAPH_SANDBOX:
        return [
            Error(
                f"GRAPH_NOTIFICATION_URL ({url}) is not an https address: Microsoft Graph sends change "
                "notifications only to HTTPS endpoints.",
                hint="Use this site's public https address, or leave it unset to poll Outlook instead.",
                id="exchange_sync.E005",
            )
        ]
    return []


@register()
def certificate_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """A configured certificate must be readable, hold its own key and be within its dates:
    otherwise every sign-in fails, so the web server and workers refuse to start."""
    try:
        certificate_from_settings()
    except CertificateProblem as exc:
        return [
            Error(
                f"M365_CLIENT_CERTIFICATE_PATH cannot be used: {exc}",
                hint="Fix the certificate settings, or unset M365_CLIENT_CERTIFICATE_PATH to use M365_CLIENT_SECRET.",
                id="exchange_sync.E003",
            )
        ]
    return []


@register()
def token_cache_key_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """Per-user sign-in stores people's tokens encrypted with M365_TOKEN_CACHE_KEYS: with
    it on, the keys must be set, be Fernet keys and differ from SECRET_KEY."""
    if not settings.M365_DELEGATED_SIGN_IN:
        return []
    problem = token_cache_key_problem()
    if not problem:
        return []
    return [
        Error(
            problem,
            hint=(
                'Generate a key with `python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"` and set M365_TOKEN_CACHE_KEYS to it (new key first, '
                "comma-separated, when rotating), or set M365_DELEGATED_SIGN_IN=false."
            ),
            id="exchange_sync.E006",
        )
    ]
