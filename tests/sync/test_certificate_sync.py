"""A sync with the app signing in by certificate: msal's client assertion, checked by the
sandbox over HTTP as Entra ID checks it, with no client secret configured at all."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import SyncRun
from exchange_sync.sandbox.assertions import app_certificate_add
from exchange_sync.sandbox.models import AppCertificate
from exchange_sync.sync import sync_setup
from tests.certificates import make_certificate
from tests.factories import make_person


@pytest.fixture
def certificate_files(tmp_path):
    made = make_certificate()
    certificate_path, key_path = made.write(tmp_path)
    return made, certificate_path, key_path


def _sync_with_certificate(live_server, setup, certificate_path, key_path) -> SyncRun:
    with override_settings(
        GRAPH_BASE_URL=f"{live_server.url}/graph-sandbox/v1.0",
        M365_CLIENT_SECRET="",
        M365_CLIENT_CERTIFICATE_PATH=str(certificate_path),
        M365_CLIENT_PRIVATE_KEY_PATH=str(key_path),
    ):
        client = graph_client_from_settings()
        try:
            return sync_setup(setup, client=client)
        finally:
            client.close()


def test_it_synchronizes_signed_in_with_a_registered_certificate(live_server, setup, certificate_files, outlook):
    made, certificate_path, key_path = certificate_files
    app_certificate_add(settings.M365_CLIENT_ID, made.certificate_pem)
    people = [make_person() for _ in range(3)]

    run = _sync_with_certificate(live_server, setup, certificate_path, key_path)

    assert (run.status, run.created_in_outlook) == (SyncRun.Status.SUCCEEDED, 3), run.error
    assert set(outlook.by_stamp()) == {p.no for p in people}


def test_a_certificate_not_uploaded_to_the_app_stops_the_run_and_marks_the_setup(live_server, setup, certificate_files):
    _, certificate_path, key_path = certificate_files
    make_person()
    assert not AppCertificate.objects.exists()

    run = _sync_with_certificate(live_server, setup, certificate_path, key_path)

    setup.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "refused the app's certificate" in run.error
    assert "AADSTS700027" in run.error
    assert setup.needs_attention and setup.last_error == run.error
    assert run.graph_requests == 0  # refused at sign-in: nothing reached Graph


def test_an_unreadable_certificate_fails_the_run_with_its_path_not_a_crash(live_server, setup, tmp_path):
    run = _sync_with_certificate(live_server, setup, tmp_path / "gone.crt.pem", tmp_path / "gone.key.pem")

    setup.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert f"The certificate file {tmp_path / 'gone.crt.pem'} cannot be read" in run.error
    assert setup.needs_attention
