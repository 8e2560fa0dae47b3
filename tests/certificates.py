"""Self-signed certificates made in the test, with cryptography, for certificate credentials."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_KEYS: list[rsa.RSAPrivateKey] = []


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class MadeCertificate:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def write(self, folder: Path, name: str = "app") -> tuple[Path, Path]:
        """(certificate file, key file), both PEM."""
        certificate_path, key_path = folder / f"{name}.crt.pem", folder / f"{name}.key.pem"
        certificate_path.write_text(self.certificate_pem)
        key_path.write_text(self.key_pem)
        return certificate_path, key_path

    def x5t(self) -> str:
        return _b64(self.certificate.fingerprint(hashes.SHA1()))  # noqa: S303 (the x5t header is SHA-1)

    def x5t_s256(self) -> str:
        return _b64(self.certificate.fingerprint(hashes.SHA256()))

    def assertion(
        self,
        *,
        client_id: str,
        audience: str,
        algorithm: str = "PS256",
        signed_by: rsa.RSAPrivateKey | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        expires_in: float = 600,
        not_before: float | None = None,
        jti: str | None = "fresh",
        headers: dict | None = None,
    ) -> str:
        """A client assertion as msal makes it (PS256 + x5t#S256, or RS256 + x5t), with
        each part replaceable to make it wrong."""
        now = time.time()
        claims = {
            "aud": audience,
            "iss": issuer if issuer is not None else client_id,
            "sub": subject if subject is not None else client_id,
            "iat": int(now),
            "exp": int(now + expires_in),
        }
        if jti is not None:
            claims["jti"] = str(uuid.uuid4()) if jti == "fresh" else jti
        if not_before is not None:
            claims["nbf"] = int(not_before)
        header = {"x5t#S256": self.x5t_s256()} if algorithm == "PS256" else {"x5t": self.x5t()}
        header.update(headers or {})
        return jwt.encode(claims, signed_by or self.key, algorithm=algorithm, headers=header)


def make_certificate(
    *,
    key: rsa.RSAPrivateKey | None = None,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> MadeCertificate:
    """A self-signed certificate, valid from an hour ago for a year unless told otherwise."""
    key = key or _shared_key()
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bcsync test app")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - dt.timedelta(hours=1))
        .not_valid_after(valid_until or now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return MadeCertificate(key, certificate)


def _shared_key() -> rsa.RSAPrivateKey:
    # Making an RSA key takes a while on a busy machine: one for the session's certificates.
    if not _KEYS:
        _KEYS.append(rsa_key())
    return _KEYS[0]


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
