"""A Microsoft identity platform stand-in for msal's client-credentials flow.

msal is built with authority `https://login.microsoftonline.com/{tenant}`; the product's
http_client rewrites that prefix to `<site>/graph-sandbox/`. msal then reads
`{tenant}/v2.0/.well-known/openid-configuration` and posts to the `token_endpoint` it
advertises (which names the real host, rewritten again by the client). Errors follow
Entra's OAuth shape (`error`, `error_description` with the AADSTS code, `error_codes`):
https://learn.microsoft.com/entra/identity-platform/reference-error-codes
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .assertions import CLIENT_ASSERTION_TYPE, AssertionRefused, assertion_verify
from .auth import token_issue

LOGIN_HOST = "https://login.microsoftonline.com"


def _tenant_is_unknown(tenant: str) -> bool:
    return tenant in getattr(settings, "GRAPH_SANDBOX_UNKNOWN_TENANTS", [])


def _oauth_error(status: int, error: str, aadsts: int, description: str) -> JsonResponse:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    return JsonResponse(
        {
            "error": error,
            "error_description": (
                f"AADSTS{aadsts}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} "
                f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
            ),
            "error_codes": [aadsts],
            "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{LOGIN_HOST}/error?code={aadsts}",
        },
        status=status,
    )


def _tenant_not_found(tenant: str) -> JsonResponse:
    return _oauth_error(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud.",
    )


def _token_endpoint(tenant: str) -> str:
    """The token endpoint advertised for a tenant: the audience a client assertion must name."""
    return f"{LOGIN_HOST}/{tenant}/oauth2/v2.0/token"


@require_GET
def openid_configuration(request: HttpRequest, tenant: str) -> JsonResponse:
    """OpenID discovery for a tenant, naming endpoints on the real login host."""
    if _tenant_is_unknown(tenant):
        return _tenant_not_found(tenant)
    base = f"{LOGIN_HOST}/{tenant}"
    return JsonResponse(
        {
            "token_endpoint": _token_endpoint(tenant),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{LOGIN_HOST}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


@csrf_exempt
@require_POST
def token(request: HttpRequest, tenant: str) -> JsonResponse:
    """The client-credentials grant for the configured client id, with its secret or a
    client assertion signed by one of its registered certificates (`assertions`)."""
    if _tenant_is_unknown(tenant):
        return _tenant_not_found(tenant)
    form = request.POST
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type 'None'.")
    client_id = form.get("client_id", "")
    expected_id = getattr(settings, "M365_CLIENT_ID", "")
    if not expected_id or client_id != expected_id:
        return _oauth_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen "
            "if the application has not been installed by the administrator of the tenant or consented to by any "
            "user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    if form.get("client_assertion_type") == CLIENT_ASSERTION_TYPE:
        try:
            assertion_verify(
                form.get("client_assertion", ""), client_id=client_id, token_endpoint=_token_endpoint(tenant)
            )
        except AssertionRefused as refused:
            return _oauth_error(401, refused.error, refused.aadsts, refused.description)
    elif not (expected_secret := getattr(settings, "M365_CLIENT_SECRET", "")) or not secrets.compare_digest(
        form.get("client_secret", ""), expected_secret
    ):
        return _oauth_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{client_id}'.",
        )
    if "https://graph.microsoft.com/.default" not in form.get("scope", "").split():
        return _oauth_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope')} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    access_token, lifetime = token_issue(tenant=tenant, client_id=client_id)
    return JsonResponse(
        {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}
    )


@require_GET
def instance_discovery(request: HttpRequest, tenant: str) -> JsonResponse:
    """Entra's instance discovery, which msal reads to learn the login host's cache aliases."""
    return JsonResponse(
        {
            "tenant_discovery_endpoint": f"{LOGIN_HOST}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [
                {
                    "preferred_network": "login.microsoftonline.com",
                    "preferred_cache": "login.windows.net",
                    "aliases": [
                        "login.microsoftonline.com",
                        "login.windows.net",
                        "login.microsoft.com",
                        "sts.windows.net",
                    ],
                }
            ],
        }
    )
