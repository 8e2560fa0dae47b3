"""The app's certificate files: what bcsync refuses before anything is sent, in words a
person can act on, at startup (system check) and when it signs in."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from django.test import override_settings

from exchange_sync.checks import certificate_check
from exchange_sync.graph.auth import MsalTokenProvider
from exchange_sync.graph.certificate import CertificateProblem, certificate_credential_load
from exchange_sync.graph.errors import GraphAuthError
from tests.certificates import make_certificate, rsa_key

NOW = dt.datetime.now(dt.UTC)


def test_it_reads_a_certificate_and_its_key_and_names_the_thumbprint(tmp_path):
    made = make_certificate()
    certificate_path, key_path = made.write(tmp_path)

    credential = certificate_credential_load(str(certificate_path), str(key_path))

    assert credential.thumbprint_sha1 == made.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert credential.msal_credential()["public_certificate"] == made.certificate_pem
    assert "PRIVATE KEY" not in repr(credential)


def test_the_key_may_sit_in_the_certificate_file(tmp_path):
    made = make_certificate()
    both = tmp_path / "both.pem"
    both.write_text(made.certificate_pem + made.key_pem)

    assert certificate_credential_load(str(both)).certificate_pem == made.certificate_pem


def test_a_key_of_another_certificate_is_refused(tmp_path):
    certificate_path, _ = make_certificate().write(tmp_path, "mine")
    other_key = tmp_path / "other.key.pem"
    other_key.write_text(make_certificate(key=rsa_key()).key_pem)

    with pytest.raises(CertificateProblem, match="does not belong to the certificate"):
        certificate_credential_load(str(certificate_path), str(other_key))


def test_an_expired_certificate_is_refused(tmp_path):
    made = make_certificate(valid_from=NOW - dt.timedelta(days=400), valid_until=NOW - dt.timedelta(days=1))
    certificate_path, key_path = made.write(tmp_path)

    with pytest.raises(CertificateProblem, match="expired on .* upload it to the app registration"):
        certificate_credential_load(str(certificate_path), str(key_path))


def test_a_certificate_not_valid_yet_is_refused(tmp_path):
    made = make_certificate(valid_from=NOW + dt.timedelta(days=2), valid_until=NOW + dt.timedelta(days=300))
    certificate_path, key_path = made.write(tmp_path)

    with pytest.raises(CertificateProblem, match="is valid only from .* this machine's clock"):
        certificate_credential_load(str(certificate_path), str(key_path))


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(CertificateProblem, match=r"certificate file .*nowhere.pem cannot be read"):
        certificate_credential_load(str(tmp_path / "nowhere.pem"))


def test_a_file_without_a_certificate_is_refused(tmp_path):
    made = make_certificate()
    key_only = tmp_path / "key.pem"
    key_only.write_text(made.key_pem)

    with pytest.raises(CertificateProblem, match="holds no PEM certificate"):
        certificate_credential_load(str(key_only))


def test_an_encrypted_key_without_its_passphrase_is_refused(tmp_path):
    made = make_certificate()
    certificate_path, key_path = made.write(tmp_path)
    key_path.write_bytes(
        made.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"open sesame"),
        )
    )

    with pytest.raises(CertificateProblem, match="encrypted and no passphrase is set"):
        certificate_credential_load(str(certificate_path), str(key_path))
    assert certificate_credential_load(str(certificate_path), str(key_path), passphrase="open sesame")


def test_the_system_check_refuses_an_unusable_certificate_at_startup(tmp_path):
    made = make_certificate(valid_from=NOW - dt.timedelta(days=400), valid_until=NOW - dt.timedelta(days=1))
    certificate_path, key_path = made.write(tmp_path)
    with override_settings(
        M365_CLIENT_CERTIFICATE_PATH=str(certificate_path), M365_CLIENT_PRIVATE_KEY_PATH=str(key_path)
    ):
        errors = certificate_check()
    assert [error.id for error in errors] == ["exchange_sync.E003"]
    assert "expired" in errors[0].msg


def test_the_system_check_accepts_a_good_certificate_and_no_certificate(tmp_path):
    certificate_path, key_path = make_certificate().write(tmp_path)
    with override_settings(
        M365_CLIENT_CERTIFICATE_PATH=str(certificate_path), M365_CLIENT_PRIVATE_KEY_PATH=str(key_path)
    ):
        assert certificate_check() == []
    with override_settings(M365_CLIENT_CERTIFICATE_PATH=""):
        assert certificate_check() == []


def test_signing_in_with_an_unusable_certificate_is_a_sign_in_failure_not_a_crash(tmp_path):
    def unusable() -> dict[str, str]:
        raise CertificateProblem("The certificate file /x cannot be read (No such file or directory).")

    with pytest.raises(GraphAuthError) as caught:
        MsalTokenProvider("sandbox", "client", unusable).get_token()

    assert caught.value.reason == "certificate"
    assert "cannot be read" in str(caught.value)
