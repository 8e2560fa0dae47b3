"""Certificate credentials: the certificates registered per app, and the check of a
client assertion on the token endpoint, as Entra ID makes it.

https://learn.microsoft.com/entra/identity-platform/certificate-credentials: the
assertion is a JWT signed with the certificate's private key (msal signs PS256 and names
the certificate by its SHA-256 thumbprint in `x5t#S256` when it has the certificate, RS256
with the SHA-1 thumbprint in `x5t` when given a thumbprint only), whose `aud` is the
tenant's token endpoint, `iss` and `sub` the client id, with `exp`, optional `nbf` and a
`jti`. Refusals carry Entra's AADSTS codes: 700027 (no such certificate on the app, or a
bad signature), 700024 (outside its valid time range), 700021 (issuer or subject is not
the client id), 700023 (audience is not this token endpoint).

A `jti` is required but not remembered: msal reuses one assertion for up to nine minutes
(`msal/oauth2cli/assertion.py`, AutoRefresher) and Entra ID accepts that, so refusing a
repeated `jti` would refuse msal itself.
"""

from __future__ import annotations

import base64
import binascii
import time
from datetime import UTC, datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .models import AppCertificate

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Entra ID tolerates this much difference between the client's clock and its own.
CLOCK_SKEW_SECONDS = 300
_ALGORITHMS = ["RS256", "PS256"]
_MALFORMED = "JWT token is invalid or malformed."
_UNVERIFIED = {"verify_aud": False, "verify_iss": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False}
_DOC = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."


class AssertionRefused(Exception):
    """The assertion is refused: Entra's OAuth error, AADSTS code and description."""

    def __init__(self, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {description}")
        self.error, self.aadsts, self.description = error, aadsts, description


def app_certificate_add(client_id: str, certificate_pem: str) -> AppCertificate:
    """Register a certificate (PEM) for an app, as uploading it in Entra ID does;
    idempotent. ValueError when the text is not a PEM certificate."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError as exc:
        raise ValueError("Not a PEM certificate (a block starting with '-----BEGIN CERTIFICATE-----').") from exc
    sha1 = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (Entra's x5t)
    registered, _ = AppCertificate.objects.get_or_create(
        client_id=client_id,
        thumbprint_sha1=sha1,
        defaults={
            "certificate_pem": certificate_pem,
            "thumbprint_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        },
    )
    return registered


def app_certificate_remove(client_id: str, thumbprint: str) -> int:
    """Remove an app's certificate by its SHA-1 thumbprint; the number removed."""
    removed, _ = AppCertificate.objects.filter(client_id=client_id, thumbprint_sha1=thumbprint.upper()).delete()
    return removed


def assertion_verify(assertion: str, *, client_id: str, token_endpoint: str, now: float | None = None) -> None:
    """Accept the client assertion of `client_id` posted to `token_endpoint`, or raise AssertionRefused."""
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise AssertionRefused("invalid_client", 50027, _MALFORMED) from exc
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        text = "Client assertion application identifier doesn't match 'client_id' parameter."
        raise AssertionRefused("invalid_client", 700021, f"{text} {_DOC}")
    if claims.get("aud") != token_endpoint:
        raise AssertionRefused(
            "invalid_client", 700023, f"Client assertion audience claim does not match Realm issuer. {_DOC}"
        )
    certificate = _registered_certificate(header, client_id)
    if header.get("alg") not in _ALGORITHMS:
        text = _signature_text("The signing algorithm is not supported.", header)
        raise AssertionRefused("invalid_client", 700027, text)
    try:
        jwt.decode(
            assertion,
            x509.load_pem_x509_certificate(certificate.certificate_pem.encode()).public_key(),
            algorithms=[header["alg"]],
            options=_UNVERIFIED,
        )
    except jwt.InvalidSignatureError as exc:
        raise AssertionRefused(
            "invalid_client",
            700027,
            _signature_text("The provided signature value did not match the expected signature value.", header),
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise AssertionRefused("invalid_client", 50027, _MALFORMED) from exc
    _check_times(claims, now)
    if not claims.get("jti"):
        raise AssertionRefused("invalid_client", 50027, f"{_MALFORMED} The 'jti' claim is missing.")


def _registered_certificate(header: dict, client_id: str) -> AppCertificate:
    certificates = AppCertificate.objects.filter(client_id=client_id)
    sha256 = _thumbprint_hex(header.get("x5t#S256"))
    sha1 = _thumbprint_hex(header.get("x5t"))
    found = None
    if sha256:
        found = certificates.filter(thumbprint_sha256=sha256.lower()).first()
    elif sha1:
        found = certificates.filter(thumbprint_sha1=sha1.upper()).first()
    if found is None:
        raise AssertionRefused("invalid_client", 700027, _signature_text("The key was not found.", header))
    return found


def _thumbprint_hex(value: object) -> str:
    """A JOSE thumbprint header (base64url of the digest) as hex; "" when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except (binascii.Error, ValueError):
        return ""


def _signature_text(reason: str, header: dict) -> str:
    thumbprint = (_thumbprint_hex(header.get("x5t#S256")) or _thumbprint_hex(header.get("x5t"))).upper()
    return (
        f"Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key used by client: "
        f"'{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
        "configured keys for app.]"
    )


def _check_times(claims: dict, now: float) -> None:
    expires, not_before = claims.get("exp"), claims.get("nbf")
    if not isinstance(expires, int | float):
        raise AssertionRefused("invalid_client", 50027, f"{_MALFORMED} The 'exp' claim is missing.")
    early = isinstance(not_before, int | float) and now + CLOCK_SKEW_SECONDS < not_before
    if now - CLOCK_SKEW_SECONDS >= expires or early:
        valid_from = _time(not_before) if isinstance(not_before, int | float) else "(not given)"
        raise AssertionRefused(
            "invalid_client",
            700024,
            f"Client assertion is not within its valid time range. Current time: {_time(now)}, assertion valid "
            f"from {valid_from}, expiry time of assertion {_time(expires)}. {_DOC}",
        )


def _time(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%dT%H:%M:%S.%f}0Z"
