"""A Microsoft identity platform stand-in for msal's client-credentials flow.

msal is built with authority `https://login.microsoftonline.com/{tenant}`; the product's
http_client rewrites that prefix to `<site>/graph-sandbox/`. msal then reads
`{tenant}/v2.0/.well-known/openid-configuration` and posts to the `token_endpoint` it
advertises (which names the real host, rewritten again by the client). Errors follow
Entra's OAuth shape (`error`, `error_description` with the AADSTS code, `error_codes`):
https://learn.microsoft.com/entra/identity-platform/reference-error-codes
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .assertions import CLIENT_ASSERTION_TYPE, AssertionRefused, assertion_verify
from .auth import delegated_token_issue, id_token_issue, token_issue
from .delegated import TOKEN_SCOPES, GrantRefused, code_redeem, refresh_redeem

LOGIN_HOST = "https://login.microsoftonline.com"


def _tenant_is_unknown(tenant: str) -> bool:
    return tenant in getattr(settings, "GRAPH_SANDBOX_UNKNOWN_TENANTS", [])


def _oauth_error(status: int, error: str, aadsts: int, description: str, suberror: str = "") -> JsonResponse:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    return JsonResponse(
        {
            **({"suberror": suberror} if suberror else {}),
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
    """The token endpoint: the client-credentials grant, and the delegated
    authorization-code and refresh-token grants (`delegated`), for the configured client
    id, authenticated with its secret or a client assertion signed by one of its
    registered certificates (`assertions`)."""
    if _tenant_is_unknown(tenant):
        return _tenant_not_found(tenant)
    form = request.POST
    grant_type = form.get("grant_type")
    if grant_type not in ("client_credentials", "authorization_code", "refresh_token"):
        return _oauth_error(
            400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
        )
    refused = _client_refused(form, tenant)
    if refused is not None:
        return refused
    if grant_type != "client_credentials":
        return _delegated_token(form, tenant)
    if "https://graph.microsoft.com/.default" not in form.get("scope", "").split():
        return _oauth_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope')} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    access_token, lifetime = token_issue(tenant=tenant, client_id=form["client_id"])
    return JsonResponse(
        {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}
    )


def _client_refused(form: QueryDict, tenant: str) -> JsonResponse | None:
    """Entra's answer when the app is unknown or its secret or assertion is wrong; None when it authenticates."""
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
    return None


def _delegated_token(form: QueryDict, tenant: str) -> JsonResponse:
    """Redeem a code or refresh token for the user's delegated tokens (Entra's v2 answer,
    with `client_info`, which msal asks for to name the account in its cache)."""
    client_id = form["client_id"]
    try:
        if form.get("grant_type") == "authorization_code":
            grant = code_redeem(
                client_id=client_id,
                code=form.get("code", ""),
                redirect_uri=form.get("redirect_uri", ""),
                code_verifier=form.get("code_verifier", ""),
            )
        else:
            grant = refresh_redeem(client_id=client_id, refresh_token=form.get("refresh_token", ""))
    except GrantRefused as refused:
        return _oauth_error(400, refused.error, refused.aadsts, refused.description, refused.suberror)
    mailbox = grant.mailbox
    access_token, lifetime = delegated_token_issue(
        tenant=tenant, client_id=client_id, user_id=str(mailbox.user_id), email=mailbox.email, scopes=TOKEN_SCOPES
    )
    id_token = id_token_issue(
        issuer=f"{LOGIN_HOST}/{tenant}/v2.0",
        client_id=client_id,
        tenant=tenant,
        user_id=str(mailbox.user_id),
        email=mailbox.email,
        name=mailbox.display_name,
        nonce=grant.nonce,
    )
    client_info = base64.urlsafe_b64encode(json.dumps({"uid": str(mailbox.user_id), "utid": tenant}).encode())
    return JsonResponse(
        {
            "token_type": "Bearer",
            "scope": f"{TOKEN_SCOPES} openid profile",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
            "refresh_token": grant.refresh_token,
            "id_token": id_token,
            "client_info": client_info.rstrip(b"=").decode(),
        }
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
