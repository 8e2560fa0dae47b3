"""Bearer tokens the sandbox's identity endpoint issues and its Graph endpoints accept.

Tokens are JWTs signed with HS256 under a key derived from SECRET_KEY, so only tokens
this site issued verify. Lifetime: GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS (3600, like
Entra's default). Graph answers a missing, foreign or expired token with 401
`InvalidAuthenticationToken` (https://learn.microsoft.com/graph/errors): one signed with
another key, for another audience than Graph, from another issuer than the tenant's
`https://sts.windows.net/{tid}/`, or without an expiry.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
from django.conf import settings

from .errors import GraphError

GRAPH_AUDIENCE = "https://graph.microsoft.com"
_ALGORITHM = "HS256"
# Graph tells clients where to authenticate when it refuses a token.
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


def _key() -> bytes:
    return hashlib.sha256(b"graph-sandbox-token:" + settings.SECRET_KEY.encode()).digest()


def token_lifetime() -> int:
    return int(getattr(settings, "GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS", 3600))


def token_issue(*, tenant: str, client_id: str) -> tuple[str, int]:
    """Sign an app-only access token for Graph; return it and its lifetime in seconds."""
    return _token_sign(tenant=tenant, client_id=client_id, roles=["Contacts.ReadWrite"])


def delegated_token_issue(*, tenant: str, client_id: str, user_id: str, email: str, scopes: str) -> tuple[str, int]:
    """Sign a delegated access token for Graph on behalf of a signed-in user: `scp`
    instead of `roles`, the user's `oid` and `upn`."""
    return _token_sign(tenant=tenant, client_id=client_id, scp=scopes, oid=user_id, upn=email)


def _token_sign(*, tenant: str, client_id: str, **grant: object) -> tuple[str, int]:
    """An access token for Graph with the claims every token has, plus `grant` (what it
    may do, and for whom); and its lifetime in seconds."""
    now = int(time.time())
    lifetime = token_lifetime()
    claims = {
        "aud": GRAPH_AUDIENCE,
        "iss": _issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "tid": tenant,
        **grant,
        "uti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _key(), algorithm=_ALGORITHM), lifetime


def id_token_issue(*, issuer: str, client_id: str, tenant: str, user_id: str, email: str, name: str, nonce: str) -> str:
    """The OpenID id_token naming the signed-in user (msal reads it, checking `iss`,
    `aud` and `nonce`, to know the account)."""
    now = int(time.time())
    claims = {
        "aud": client_id,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "sub": hashlib.sha256(f"{client_id}:{user_id}".encode()).hexdigest()[:43],
        "oid": user_id,
        "tid": tenant,
        "upn": email,
        "preferred_username": email,
        "name": name or email,
        "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode(claims, _key(), algorithm=_ALGORITHM)


def token_verify(authorization: str | None) -> dict:
    """Return the claims of a valid `Authorization: Bearer` token; raise 401 otherwise."""
    if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
        raise _unauthorized("Access token is empty.")
    try:
        claims = jwt.decode(
            authorization[7:].strip(),
            _key(),
            algorithms=[_ALGORITHM],
            audience=GRAPH_AUDIENCE,
            options={"require": ["exp", "iat", "aud", "iss", "tid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("Lifetime validation failed, the token is expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise _unauthorized("Access token validation failure. Invalid audience or signature.") from exc
    if claims["iss"] != _issuer(str(claims["tid"])):
        raise _unauthorized("Access token validation failure. Invalid issuer.")
    return claims


def _issuer(tenant: str) -> str:
    return f"https://sts.windows.net/{tenant}/"


def _unauthorized(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": _WWW_AUTHENTICATE})
