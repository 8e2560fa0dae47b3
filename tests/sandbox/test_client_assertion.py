"""The token endpoint takes a certificate's client assertion as Entra ID does: signed by
a certificate registered for the app, for this token endpoint, from the app itself,
within its dates; every refusal with Entra's AADSTS code. Over HTTP, as msal posts it."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from django.conf import settings

from exchange_sync.sandbox.assertions import CLIENT_ASSERTION_TYPE, CLOCK_SKEW_SECONDS, app_certificate_add
from exchange_sync.sandbox.services import mailbox_add
from tests.certificates import make_certificate, rsa_key
from tests.sandbox.conftest import GRAPH_SCOPE, MAILBOX, token_request

TENANT = "contoso"
AUDIENCE = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"


@pytest.fixture
def registered(transactional_db):
    made = make_certificate()
    app_certificate_add(settings.M365_CLIENT_ID, made.certificate_pem)
    return made


def _post(live_server, assertion: str):
    return token_request(
        live_server.url,
        TENANT,
        client_secret="",
        client_assertion_type=CLIENT_ASSERTION_TYPE,
        client_assertion=assertion,
    )


def _assertion(made, **overrides) -> str:
    return made.assertion(client_id=settings.M365_CLIENT_ID, audience=AUDIENCE, **overrides)


def _refused(response, code: int, words: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert words in body["error_description"]
    assert "access_token" not in body


@pytest.mark.parametrize("algorithm", ["PS256", "RS256"])
def test_an_assertion_signed_by_a_registered_certificate_gets_a_token_that_graph_accepts(
    live_server, registered, algorithm
):
    response = _post(live_server, _assertion(registered, algorithm=algorithm))

    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["appid"] == settings.M365_CLIENT_ID
    mailbox_add(MAILBOX)
    user = requests.get(
        f"{live_server.url}/graph-sandbox/v1.0/users/{MAILBOX}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert user.status_code == 200, user.text


def test_an_assertion_signed_by_another_key_is_refused(live_server, registered):
    response = _post(live_server, _assertion(registered, signed_by=rsa_key()))

    _refused(response, 700027, "did not match the expected signature value")


def test_a_certificate_the_app_does_not_have_is_refused(live_server, registered):
    stranger = make_certificate(key=rsa_key())

    _refused(_post(live_server, _assertion(stranger)), 700027, "The key was not found.")
    thumbprint = stranger.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (x5t)
    _refused(_post(live_server, _assertion(stranger, algorithm="RS256")), 700027, thumbprint)


def test_a_certificate_registered_for_another_app_is_refused(live_server, transactional_db):
    made = make_certificate()
    app_certificate_add("another-app", made.certificate_pem)

    _refused(_post(live_server, _assertion(made)), 700027, "The key was not found.")


def test_an_assertion_for_another_audience_is_refused(live_server, registered):
    other = "https://login.microsoftonline.com/fabrikam/oauth2/v2.0/token"

    _refused(
        _post(live_server, registered.assertion(client_id=settings.M365_CLIENT_ID, audience=other)), 700023, "audience"
    )


@pytest.mark.parametrize("claim", ["issuer", "subject"])
def test_an_assertion_from_another_app_is_refused(live_server, registered, claim):
    response = _post(live_server, _assertion(registered, **{claim: "another-app"}))

    _refused(response, 700021, "doesn't match 'client_id' parameter")


def test_an_expired_assertion_is_refused(live_server, registered):
    response = _post(live_server, _assertion(registered, expires_in=-(CLOCK_SKEW_SECONDS + 60)))

    _refused(response, 700024, "not within its valid time range")


def test_an_assertion_not_valid_yet_is_refused(live_server, registered):
    response = _post(live_server, _assertion(registered, not_before=time.time() + CLOCK_SKEW_SECONDS + 600))

    _refused(response, 700024, "not within its valid time range")


def test_a_client_clock_a_little_off_is_tolerated(live_server, registered):
    response = _post(live_server, _assertion(registered, expires_in=-60, not_before=time.time() - 600))

    assert response.status_code == 200, response.text


def test_an_assertion_without_jti_is_refused(live_server, registered):
    _refused(_post(live_server, _assertion(registered, jti=None)), 50027, "'jti' claim is missing")


def test_the_same_assertion_may_be_used_again_as_msal_does(live_server, registered):
    # msal reuses one assertion for up to nine minutes and Entra ID takes it each time.
    assertion = _assertion(registered, jti="one")

    assert [_post(live_server, assertion).status_code for _ in range(2)] == [200, 200]


def test_a_malformed_assertion_is_refused(live_server, registered):
    _refused(_post(live_server, "not-a-jwt"), 50027, "malformed")


def test_without_an_assertion_the_secret_is_still_required(live_server, registered):
    response = token_request(live_server.url, TENANT, client_secret="wrong", scope=GRAPH_SCOPE)

    assert response.json()["error_codes"] == [7000215]
