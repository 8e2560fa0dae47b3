"""The identity endpoints answer msal's client-credentials flow; Graph takes only their tokens."""

from __future__ import annotations

import time

import jwt
import msal
import pytest
import requests
import time_machine
from django.conf import settings
from django.test import override_settings

from exchange_sync.sandbox import auth
from tests.sandbox.conftest import MAILBOX, token_request


class SandboxHttpClient:
    """What the product does: msal talks to the login host, routed to the sandbox."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.session = requests.Session()

    def _route(self, url: str) -> str:
        return url.replace("https://login.microsoftonline.com/", f"{self.site}/graph-sandbox/")

    def get(self, url, **kwargs):
        return self.session.get(self._route(url), **kwargs)

    def post(self, url, **kwargs):
        return self.session.post(self._route(url), **kwargs)

    def close(self):
        self.session.close()


def _msal_app(site: str, *, secret: str = settings.M365_CLIENT_SECRET, tenant: str = "contoso"):
    return msal.ConfidentialClientApplication(
        settings.M365_CLIENT_ID,
        client_credential=secret,
        authority=f"https://login.microsoftonline.com/{tenant}",
        http_client=SandboxHttpClient(site),
    )


def test_it_issues_a_token_through_msal_that_graph_accepts(live_server, transactional_db):
    from exchange_sync.sandbox.services import mailbox_add

    mailbox_add(MAILBOX)
    result = _msal_app(live_server.url).acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    response = requests.get(
        f"{live_server.url}/graph-sandbox/v1.0/users/{MAILBOX}",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["mail"] == MAILBOX


def test_it_advertises_the_real_login_host_in_discovery(live_server):
    body = requests.get(
        f"{live_server.url}/graph-sandbox/contoso/v2.0/.well-known/openid-configuration", timeout=10
    ).json()
    assert body["token_endpoint"] == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
    assert body["authorization_endpoint"] == "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize"
    assert body["issuer"] == "https://login.microsoftonline.com/contoso/v2.0"


def test_it_refuses_a_wrong_secret_like_entra(live_server):
    response = token_request(live_server.url, client_secret="wrong")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_it_reports_a_wrong_secret_through_msal(live_server):
    result = _msal_app(live_server.url, secret="wrong").acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"]
    )
    assert result["error"] == "invalid_client"
    assert "access_token" not in result


def test_it_refuses_an_unknown_client_id(live_server):
    response = token_request(live_server.url, client_id="someone-else")
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert response.json()["error_codes"] == [700016]


def test_it_refuses_a_scope_without_default(live_server):
    response = token_request(live_server.url, scope="Contacts.ReadWrite")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@override_settings(GRAPH_SANDBOX_UNKNOWN_TENANTS=["nowhere"])
def test_it_does_not_know_listed_tenants(live_server):
    response = token_request(live_server.url, tenant="nowhere")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith("AADSTS90002: Tenant 'nowhere' not found.")
    discovery = requests.get(
        f"{live_server.url}/graph-sandbox/nowhere/v2.0/.well-known/openid-configuration", timeout=10
    )
    assert discovery.status_code == 400
    assert discovery.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        _msal_app(live_server.url, tenant="nowhere")


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Access token is empty."),
        ("Bearer not-a-token", "Access token validation failure. Invalid audience or signature."),
        ("Basic abc", "Access token is empty."),
    ],
)
def test_it_refuses_graph_calls_without_its_own_token(graph, authorization, message):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{graph.base}/users/{MAILBOX}", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"] == message
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@override_settings(GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS=120)
def test_it_refuses_an_expired_token(graph, live_server):
    token = token_request(live_server.url).json()
    assert token["expires_in"] == 120
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{graph.base}/users/{MAILBOX}", headers=headers, timeout=10).status_code == 200
    with time_machine.travel(time.time() + 121, tick=True):
        response = requests.get(f"{graph.base}/users/{MAILBOX}", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"] == "Lifetime validation failed, the token is expired."


def _claims(**changes: object) -> dict:
    """Claims like the sandbox's own tokens carry, with some changed (None: left out)."""
    now = int(time.time())
    claims = {
        "aud": "https://graph.microsoft.com",
        "iss": "https://sts.windows.net/contoso/",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "appid": settings.M365_CLIENT_ID,
        "tid": "contoso",
        "roles": ["Contacts.ReadWrite"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (lambda: jwt.encode(_claims(), auth._key()), None),  # the control: accepted
        (lambda: jwt.encode(_claims(), b"the signing key of another site, not ours"), "Invalid audience or signature."),
        (lambda: jwt.encode(_claims(aud="api://another-api"), auth._key()), "Invalid audience or signature."),
        (lambda: jwt.encode(_claims(aud=None), auth._key()), "Invalid audience or signature."),
        (lambda: jwt.encode(_claims(iss="https://sts.windows.net/fabrikam/"), auth._key()), "Invalid issuer."),
        (lambda: jwt.encode(_claims(iss="https://evil.example/"), auth._key()), "Invalid issuer."),
        (lambda: jwt.encode(_claims(exp=None), auth._key()), "Invalid audience or signature."),
        (lambda: jwt.encode(_claims(), None, algorithm="none"), "Invalid audience or signature."),
    ],
)
def test_it_refuses_well_formed_tokens_it_did_not_issue(graph, token, message):
    headers = {"Authorization": f"Bearer {token()}"}
    response = requests.get(f"{graph.base}/users/{MAILBOX}", headers=headers, timeout=10)
    if message is None:
        assert response.status_code == 200
        return
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"] == f"Access token validation failure. {message}"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
