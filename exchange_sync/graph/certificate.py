"""The app's certificate credential: read the PEM files once and refuse what Entra ID would.

msal signs its client assertion with the private key and names the certificate by
thumbprint (https://learn.microsoft.com/entra/identity-platform/certificate-credentials).
A key that does not belong to the certificate, or a certificate past its dates, is only
refused by Entra ID at the first sign-in, with an AADSTS code; here it is refused before
anything is sent, with a sentence a person can act on (:class:`CertificateProblem`).

The private key never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


class CertificateProblem(ValueError):
    """The configured certificate or key cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate and its private key, checked to belong together."""

    certificate_pem: str
    private_key_pem: str = field(repr=False)
    thumbprint_sha1: str  # hex, as the Entra admin center shows it
    not_after: dt.datetime

    def msal_credential(self) -> dict[str, str]:
        """msal's ``client_credential``: with the certificate, msal signs PS256 and sends
        the SHA-256 thumbprint (``x5t#S256``), which Entra ID accepts."""
        return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}


def certificate_credential_load(
    certificate_path: str, private_key_path: str = "", *, passphrase: str = "", now: dt.datetime | None = None
) -> CertificateCredential:
    """Read the certificate (PEM) and its private key (PEM; by default from the same file).

    Raises :class:`CertificateProblem` for an unreadable file, a file without a
    certificate or key, a wrong passphrase, a key of another certificate, or a
    certificate that has expired or is not valid yet.
    """
    now = now or dt.datetime.now(dt.UTC)
    certificate_text = _read(certificate_path, "certificate")
    key_text = _read(private_key_path, "private key") if private_key_path else certificate_text
    try:
        certificate = x509.load_pem_x509_certificate(certificate_text.encode())
    except ValueError as exc:
        raise CertificateProblem(
            f"The file {certificate_path} holds no PEM certificate (a block starting with "
            "'-----BEGIN CERTIFICATE-----'). Export the certificate as PEM (Base64)."
        ) from exc
    key_source = private_key_path or certificate_path
    try:
        key = serialization.load_pem_private_key(key_text.encode(), password=passphrase.encode() or None)
    except TypeError as exc:
        # Encrypted without a passphrase given, or a passphrase for an unencrypted key.
        raise CertificateProblem(
            f"The private key in {key_source} is encrypted and no passphrase is set, or a passphrase is set "
            "for a key that has none. Set M365_CLIENT_CERTIFICATE_PASSPHRASE to the key's passphrase, or clear it."
        ) from exc
    except ValueError as exc:
        raise CertificateProblem(
            f"The file {key_source} holds no readable private key (a block starting with '-----BEGIN "
            "PRIVATE KEY-----'), or its passphrase is wrong."
        ) from exc
    if key.public_key().public_numbers() != certificate.public_key().public_numbers():
        raise CertificateProblem(
            f"The private key in {key_source} does not belong to the certificate in {certificate_path}: "
            "Microsoft 365 would refuse every sign-in. Use the key the certificate was made with."
        )
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (the id Entra shows)
    if certificate.not_valid_after_utc <= now:
        raise CertificateProblem(
            f"The certificate {thumbprint} expired on {certificate.not_valid_after_utc:%Y-%m-%d}: Microsoft 365 "
            "refuses it. Make a new certificate, upload it to the app registration in Entra ID and point "
            "M365_CLIENT_CERTIFICATE_PATH at it."
        )
    if certificate.not_valid_before_utc > now:
        raise CertificateProblem(
            f"The certificate {thumbprint} is valid only from {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} "
            "UTC: Microsoft 365 refuses it until then. Check the certificate's dates and this machine's clock."
        )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return CertificateCredential(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=private_pem,
        thumbprint_sha1=thumbprint,
        not_after=certificate.not_valid_after_utc,
    )


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not a PEM text file"
        raise CertificateProblem(
            f"The {what} file {path} cannot be read ({reason}). Check the path and that the user running "
            "bcsync may read it."
        ) from exc
