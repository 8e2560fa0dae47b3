"""The client secret, or the certificate's signed client assertion, only ever goes to the
configured sign-in host: Entra ID's (or another cloud's) in production, the sandbox only in
sandbox mode and only at the sandbox's own URL."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import jwt
import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from exchange_sync.checks import graph_settings_check
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.errors import GraphNotFoundError
from tests.certificates import make_certificate
from tests.graph.conftest import load

TENANT = "cronus.onmicrosoft.com"
SECRET = "s3cr3t-only-for-the-authority"
GRAPH = "https://graph.microsoft.com/v1.0"


def _discovery(host: str) -> dict:
    text = json.dumps(load("aad_openid_configuration.json")).replace("{tenant}", TENANT)
    return json.loads(text.replace("https://login.microsoftonline.com", host))


def _hosts_that_saw_the_secret(rsps: responses.RequestsMock) -> set[str]:
    return {
        call.request.url.split("/")[2]
        for call in rsps.calls
        if SECRET in (call.request.body if isinstance(call.request.body, str) else str(call.request.body or ""))
    }


@pytest.mark.parametrize("host", ["https://login.microsoftonline.com", "https://login.microsoftonline.us"])
def test_in_production_the_secret_goes_to_the_configured_sign_in_host_only(host):
    with (
        override_settings(
            GRAPH_SANDBOX=False,
            GRAPH_BASE_URL=GRAPH,
            M365_AUTHORITY_HOST=host,
            M365_TENANT_ID=TENANT,
            M365_CLIENT_SECRET=SECRET,
        ),
        responses.RequestsMock() as rsps,
    ):
        rsps.get(f"{host}/{TENANT}/v2.0/.well-known/openid-configuration", json=_discovery(host))
        rsps.post(
            f"{host}/{TENANT}/oauth2/v2.0/token", json={"token_type": "Bearer", "expires_in": 3599, "access_token": "t"}
        )
        rsps.get(f"{GRAPH}/users/ann@cronus.example", json={"id": "u1", "mail": "ann@cronus.example"})

        graph_client_from_settings().get_user("ann@cronus.example")

        assert _hosts_that_saw_the_secret(rsps) == {host.removeprefix("https://")}


def test_sandbox_mode_with_a_real_graph_address_is_refused_before_any_request():
    with (
        override_settings(GRAPH_SANDBOX=True, GRAPH_BASE_URL=GRAPH, M365_CLIENT_SECRET=SECRET),
        responses.RequestsMock(assert_all_requests_are_fired=False) as rsps,
    ):
        with pytest.raises(ImproperlyConfigured, match="not a Graph sandbox"):
            graph_client_from_settings()
        assert [error.id for error in graph_settings_check()] == ["exchange_sync.E001"]
        assert len(rsps.calls) == 0


def test_sandbox_mode_signs_in_at_the_sandbox_that_serves_graph(live_server):
    sandbox = f"{live_server.url}/graph-sandbox/v1.0"
    with override_settings(GRAPH_SANDBOX=True, GRAPH_BASE_URL=sandbox):
        assert graph_settings_check() == []
        # Signed in (at the sandbox) and asked: the mailbox is unknown there, not the app.
        with pytest.raises(GraphNotFoundError):
            graph_client_from_settings().get_user("nobody@cronus.example")


def test_an_unencrypted_sign_in_host_is_refused_by_the_system_check():
    with override_settings(GRAPH_SANDBOX=False, M365_AUTHORITY_HOST="http://login.example"):
        assert [error.id for error in graph_settings_check()] == ["exchange_sync.E002"]


@pytest.mark.parametrize("host", ["https://login.microsoftonline.com", "https://login.microsoftonline.us"])
def test_in_production_the_client_assertion_goes_to_the_configured_sign_in_host_only(host, tmp_path):
    certificate_path, key_path = make_certificate().write(tmp_path)
    with (
        override_settings(
            GRAPH_SANDBOX=False,
            GRAPH_BASE_URL=GRAPH,
            M365_AUTHORITY_HOST=host,
            M365_TENANT_ID=TENANT,
            M365_CLIENT_SECRET="",
            M365_CLIENT_CERTIFICATE_PATH=str(certificate_path),
            M365_CLIENT_PRIVATE_KEY_PATH=str(key_path),
        ),
        responses.RequestsMock() as rsps,
    ):
        rsps.get(f"{host}/{TENANT}/v2.0/.well-known/openid-configuration", json=_discovery(host))
        rsps.post(
            f"{host}/{TENANT}/oauth2/v2.0/token", json={"token_type": "Bearer", "expires_in": 3599, "access_token": "t"}
        )
        rsps.get(f"{GRAPH}/users/ann@cronus.example", json={"id": "u1", "mail": "ann@cronus.example"})

        graph_client_from_settings().get_user("ann@cronus.example")

        carried = [
            call.request.url.split("/")[2]
            for call in rsps.calls
            if "client_assertion" in parse_qs(call.request.body if isinstance(call.request.body, str) else "")
        ]
        assert carried == [host.removeprefix("https://")]
        (token_call,) = [call for call in rsps.calls if call.request.method == "POST"]
        form = parse_qs(token_call.request.body)
        assert "client_secret" not in form
        # Signed for that host's token endpoint, so no other host could use it either.
        claims = jwt.decode(form["client_assertion"][0], options={"verify_signature": False})
        assert claims["aud"] == f"{host}/{TENANT}/oauth2/v2.0/token"
