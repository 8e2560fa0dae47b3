"""msal client-credentials tokens, with msal's own HTTP calls mocked at login.microsoftonline.com."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import pytest
import requests
import responses

from exchange_sync.graph import GRAPH_SCOPE, GraphAuthError, GraphTransientError, MsalTokenProvider
from tests.graph.conftest import load

TENANT = "cronus.onmicrosoft.com"
CLIENT_ID = "00000000-0000-0000-0000-000000000001"
SECRET = "s3cr3t-value-never-logged"
LOGIN = "https://login.microsoftonline.com"
DISCOVERY_URL = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"


def openid_configuration(tenant: str = TENANT) -> dict:
    return json.loads(json.dumps(load("aad_openid_configuration.json")).replace("{tenant}", tenant))


def token_answer(access_token: str, expires_in: int = 3599) -> dict:
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
    }


@pytest.fixture
def identity(mocked):
    """Tenant discovery answers; the test adds the token endpoint's answers."""
    mocked.get(DISCOVERY_URL, json=openid_configuration())
    return mocked


@pytest.fixture
def provider() -> MsalTokenProvider:
    return MsalTokenProvider(TENANT, CLIENT_ID, SECRET)


def token_calls(rsps) -> list:
    return [call for call in rsps.calls if call.request.url == TOKEN_URL]


def test_it_gets_an_app_only_token_with_client_credentials_for_the_graph_default_scope(identity, provider):
    identity.post(TOKEN_URL, json=token_answer("access-token-1"))

    assert provider.get_token() == "access-token-1"

    (call,) = token_calls(identity)
    form = parse_qs(call.request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [CLIENT_ID]
    assert form["scope"] == [GRAPH_SCOPE]
    assert provider.authority == f"{LOGIN}/{TENANT}"


def test_it_reuses_the_cached_token_without_asking_again(identity, provider):
    identity.post(TOKEN_URL, json=token_answer("access-token-1"))

    assert provider.get_token() == provider.get_token() == "access-token-1"

    assert len(token_calls(identity)) == 1
    assert len(identity.calls) == 2  # one discovery, one token; no instance discovery


def test_it_fetches_a_new_token_shortly_before_the_cached_one_expires(identity, provider):
    # msal treats a token with less than five minutes left as expired.
    identity.post(TOKEN_URL, json=token_answer("short-lived", expires_in=240))
    identity.post(TOKEN_URL, json=token_answer("fresh"))

    assert provider.get_token() == "short-lived"
    assert provider.get_token() == "fresh"
    assert provider.get_token() == "fresh"

    assert len(token_calls(identity)) == 2


def test_it_fetches_a_new_token_after_being_invalidated(identity, provider):
    identity.post(TOKEN_URL, json=token_answer("refused"))
    identity.post(TOKEN_URL, json=token_answer("fresh"))
    provider.get_token()

    provider.invalidate()

    assert provider.get_token() == "fresh"


def test_invalidating_before_any_token_lets_the_first_call_fetch_one_that_is_then_kept(identity, provider):
    identity.post(TOKEN_URL, json=token_answer("first"))

    provider.invalidate()

    assert provider.get_token() == "first"
    assert provider.get_token() == "first"  # not invalidated again: the token is kept
    assert len(token_calls(identity)) == 1


def test_it_reports_a_wrong_secret_as_invalid_client(identity, provider):
    identity.post(TOKEN_URL, status=401, json=load("aad_invalid_client.json"))

    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    assert caught.value.reason == "invalid_client"
    assert caught.value.code == "invalid_client"
    assert "AADSTS7000215" in caught.value.message
    assert "Trace ID" not in caught.value.message
    assert caught.value.request_id == "6c5b9a3e-bbbb-4d3b-9e55-9f1a3b0a7d01"


def test_it_reports_an_unknown_application_id_as_unknown_client(identity, provider):
    identity.post(TOKEN_URL, status=400, json=load("aad_unknown_client.json"))

    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    assert caught.value.reason == "unknown_client"


def test_it_reports_missing_admin_consent_as_consent(identity, provider):
    identity.post(TOKEN_URL, status=400, json=load("aad_consent_required.json"))

    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    assert caught.value.reason == "consent"


def test_it_reports_an_unknown_error_as_a_token_problem(identity, provider):
    identity.post(TOKEN_URL, status=400, json={"error": "invalid_scope", "error_description": "AADSTS70011: bad"})

    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    assert caught.value.reason == "token"


def test_it_reports_a_wrong_tenant_found_by_tenant_discovery_as_unknown_tenant(mocked):
    url = f"{LOGIN}/no-such-tenant/v2.0/.well-known/openid-configuration"
    mocked.get(url, status=400, json=load("aad_unknown_tenant.json"))

    with pytest.raises(GraphAuthError) as caught:
        MsalTokenProvider("no-such-tenant", CLIENT_ID, SECRET).get_token()

    assert caught.value.reason == "unknown_tenant"
    assert "no-such-tenant" in caught.value.message


def test_it_reports_a_wrong_tenant_found_by_the_token_endpoint_as_unknown_tenant(identity, provider):
    identity.post(TOKEN_URL, status=400, json=load("aad_unknown_tenant.json"))

    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    assert caught.value.reason == "unknown_tenant"


@pytest.mark.parametrize(
    ("tenant", "client_id", "secret", "reason"),
    [
        ("", CLIENT_ID, SECRET, "unknown_tenant"),
        (TENANT, "", SECRET, "unknown_client"),
        (TENANT, CLIENT_ID, "", "invalid_client"),
    ],
)
def test_it_reports_missing_settings_without_calling_microsoft(mocked, tenant, client_id, secret, reason):
    with pytest.raises(GraphAuthError) as caught:
        MsalTokenProvider(tenant, client_id, secret).get_token()

    assert caught.value.reason == reason
    assert len(mocked.calls) == 0


def test_it_reports_an_unreachable_identity_service_as_transient(mocked, provider):
    mocked.get(DISCOVERY_URL, body=requests.ConnectionError("connection refused"))

    with pytest.raises(GraphTransientError):
        provider.get_token()


def test_it_reports_a_token_endpoint_timeout_as_transient(identity, provider):
    identity.post(TOKEN_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(GraphTransientError):
        provider.get_token()


def test_it_reports_a_token_endpoint_outage_as_transient(identity, provider):
    identity.post(TOKEN_URL, status=503, body="Service Unavailable")

    with pytest.raises(GraphTransientError):
        provider.get_token()


def test_it_never_shows_the_secret_or_the_token(identity, provider, caplog):
    identity.post(TOKEN_URL, json=token_answer("tok-abc"))
    identity.post(TOKEN_URL, status=401, json=load("aad_invalid_client.json"))
    caplog.set_level(logging.DEBUG)

    provider.get_token()
    provider.invalidate()
    with pytest.raises(GraphAuthError) as caught:
        provider.get_token()

    shown = caplog.text + repr(provider) + str(caught.value)
    assert SECRET not in shown
    assert "tok-abc" not in shown


def test_it_uses_the_http_client_it_is_given_for_every_identity_call():
    class Recording(requests.Session):
        def __init__(self):
            super().__init__()
            self.urls: list[str] = []

        def get(self, url, **kwargs):
            self.urls.append(url)
            return super().get(url, **kwargs)

        def post(self, url, **kwargs):
            self.urls.append(url)
            return super().post(url, **kwargs)

    http = Recording()
    with responses.RequestsMock() as rsps:
        rsps.get(DISCOVERY_URL, json=openid_configuration())
        rsps.post(TOKEN_URL, json=token_answer("access-token-1"))

        MsalTokenProvider(TENANT, CLIENT_ID, SECRET, http_client=http).get_token()

    assert http.urls == [DISCOVERY_URL, TOKEN_URL]
