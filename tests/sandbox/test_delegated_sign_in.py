"""The sandbox's delegated sign-in: `/authorize`, the authorization-code grant with PKCE,
the refresh-token grant, its knobs, and what a delegated token may reach on Graph.
Everything over HTTP against the live sandbox, msal included."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from exchange_sync.sandbox import delegated
from exchange_sync.sandbox.services import mailbox_add
from tests.sandbox.test_identity import SandboxHttpClient

ANN = "ann@cronus.example"
BOB = "bob@cronus.example"
REDIRECT = "http://app.example/exchange-sync/connect/done"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(40)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Browser:
    """A person on the sandbox's sign-in page: a session (for its CSRF cookie) that does not follow redirects."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.session = requests.Session()

    def sign_in(self, auth_uri: str, email: str, *, button: str = "accept") -> requests.Response:
        """Open the page, sign in as `email`, press Accept (or Cancel); the redirect answer."""
        page = self.session.get(auth_uri, timeout=10)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        form.update(login=email, **{button: "1"})
        return self.session.post(auth_uri.split("?")[0], data=form, timeout=10, allow_redirects=False)

    def code_for(self, email: str, challenge: str, *, redirect_uri: str = REDIRECT) -> str:
        query = {
            "client_id": settings.M365_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": "Contacts.ReadWrite offline_access openid profile",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        auth_uri = requests.Request("GET", f"{self.site}/graph-sandbox/contoso/oauth2/v2.0/authorize", params=query)
        answer = self.sign_in(auth_uri.prepare().url, email)
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def _token(site: str, **form: str) -> requests.Response:
    form = {"client_id": settings.M365_CLIENT_ID, "client_secret": settings.M365_CLIENT_SECRET, **form}
    return requests.post(f"{site}/graph-sandbox/contoso/oauth2/v2.0/token", data=form, timeout=10)


def _redeem(site: str, code: str, verifier: str, redirect_uri: str = REDIRECT) -> requests.Response:
    return _token(
        site,
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        scope="Contacts.ReadWrite offline_access openid profile",
    )


def _refresh(site: str, refresh_token: str) -> requests.Response:
    return _token(site, grant_type="refresh_token", refresh_token=refresh_token, scope="Contacts.ReadWrite")


def _aadsts(response: requests.Response) -> int:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_grant"
    return body["error_codes"][0]


@pytest.fixture
def mailboxes(transactional_db):
    mailbox_add(ANN, display_name="Ann Lee")
    mailbox_add(BOB)


@pytest.fixture
def signed_in(live_server, mailboxes) -> dict:
    """Ann's tokens, from a code redeemed over HTTP."""
    verifier, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    response = _redeem(live_server.url, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_signs_in_through_msal_and_graph_opens_only_the_users_own_mailbox(live_server, mailboxes):
    app = msal.ConfidentialClientApplication(
        settings.M365_CLIENT_ID,
        client_credential=settings.M365_CLIENT_SECRET,
        authority="https://login.microsoftonline.com/contoso",
        http_client=SandboxHttpClient(live_server.url),
    )
    flow = app.initiate_auth_code_flow(scopes=["Contacts.ReadWrite"], redirect_uri=REDIRECT)
    auth_uri = flow["auth_uri"].replace("https://login.microsoftonline.com/", f"{live_server.url}/graph-sandbox/")
    answer = Browser(live_server.url).sign_in(auth_uri, ANN)
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    auth_response = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert auth_response["state"] == flow["state"]

    result = app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == ANN
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["scp"] == "Contacts.ReadWrite offline_access"
    assert claims["upn"] == ANN
    assert [a["username"] for a in app.get_accounts()] == [ANN]
    headers = {"Authorization": f"Bearer {result['access_token']}"}
    graph = f"{live_server.url}/graph-sandbox/v1.0"
    assert requests.get(f"{graph}/me/contactFolders", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{graph}/users/{ANN}/contactFolders", headers=headers, timeout=10).status_code == 200
    other = requests.get(f"{graph}/users/{BOB}/contactFolders", headers=headers, timeout=10)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "ErrorAccessDenied"
    # msal refreshes silently with the refresh token once the access token is dropped.
    for entry in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        app.token_cache.remove_at(entry)
    again = app.acquire_token_silent(["Contacts.ReadWrite"], account=app.get_accounts()[0])
    assert again and "access_token" in again, again


def test_it_redirects_back_with_access_denied_when_the_person_cancels(live_server, mailboxes):
    _, challenge = _pkce()
    browser = Browser(live_server.url)
    query = (
        f"client_id={settings.M365_CLIENT_ID}&response_type=code&redirect_uri={REDIRECT}"
        f"&scope=Contacts.ReadWrite&state=xyz&code_challenge={challenge}&code_challenge_method=S256"
    )
    answer = browser.sign_in(
        f"{live_server.url}/graph-sandbox/contoso/oauth2/v2.0/authorize?{query}", ANN, button="cancel"
    )
    assert answer.status_code == 302
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["xyz"]
    assert params["error_description"][0].startswith("AADSTS65004")
    assert "code" not in params


def test_it_refuses_a_sign_in_page_without_pkce(live_server, mailboxes):
    query = f"client_id={settings.M365_CLIENT_ID}&response_type=code&redirect_uri={REDIRECT}&scope=Contacts.ReadWrite"
    page = requests.get(f"{live_server.url}/graph-sandbox/contoso/oauth2/v2.0/authorize?{query}", timeout=10)
    assert page.status_code == 400
    assert "Proof Key for Code Exchange" in page.text


def test_it_redeems_a_code_only_once(live_server, mailboxes):
    verifier, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    assert _redeem(live_server.url, code, verifier).status_code == 200
    assert _aadsts(_redeem(live_server.url, code, verifier)) == 54005


def test_it_refuses_a_code_with_the_wrong_pkce_verifier(live_server, mailboxes):
    _, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    other_verifier, _ = _pkce()
    assert _aadsts(_redeem(live_server.url, code, other_verifier)) == 501481


def test_it_refuses_a_code_redeemed_for_another_redirect_uri(live_server, mailboxes):
    verifier, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    assert _aadsts(_redeem(live_server.url, code, verifier, redirect_uri="http://evil.example/cb")) == 50011


def test_it_refuses_a_code_after_ten_minutes(live_server, mailboxes):
    verifier, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert _aadsts(_redeem(live_server.url, code, verifier)) == 70008


def test_it_hands_out_a_new_refresh_token_on_each_refresh(live_server, signed_in):
    first = _refresh(live_server.url, signed_in["refresh_token"])
    assert first.status_code == 200, first.text
    assert first.json()["refresh_token"] != signed_in["refresh_token"]
    assert _refresh(live_server.url, first.json()["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("knob", "aadsts"),
    [
        (lambda: delegated.consent_revoke(settings.M365_CLIENT_ID, ANN), 65001),
        (lambda: delegated.refresh_tokens_expire(ANN), 700082),
        (lambda: delegated.account_disable(ANN), 50057),
        (lambda: delegated.password_reset(ANN), 50173),
    ],
    ids=["consent revoked", "refresh token expired", "account disabled", "password reset"],
)
def test_it_refuses_a_refresh_as_entra_does_when(live_server, signed_in, knob, aadsts):
    knob()
    response = _refresh(live_server.url, signed_in["refresh_token"])
    assert _aadsts(response) == aadsts
    assert f"AADSTS{aadsts}:" in response.json()["error_description"]


def test_it_marks_a_refresh_refused_for_consent_as_consent_required(live_server, signed_in):
    delegated.consent_revoke(settings.M365_CLIENT_ID, ANN)
    assert _refresh(live_server.url, signed_in["refresh_token"]).json()["suberror"] == "consent_required"


def test_it_lets_a_person_sign_in_again_after_revoking_consent(live_server, signed_in):
    delegated.consent_revoke(settings.M365_CLIENT_ID, ANN)
    verifier, challenge = _pkce()
    code = Browser(live_server.url).code_for(ANN, challenge)
    response = _redeem(live_server.url, code, verifier)
    assert response.status_code == 200, response.text
    assert _refresh(live_server.url, response.json()["refresh_token"]).status_code == 200


def test_the_sandbox_app_command_revokes_a_consent(live_server, signed_in):
    call_command("sandbox_app", "revoke-consent", settings.M365_CLIENT_ID, ANN, stdout=io.StringIO())
    assert _aadsts(_refresh(live_server.url, signed_in["refresh_token"])) == 65001


def test_a_disabled_account_cannot_sign_in_on_the_page(live_server, mailboxes):
    call_command("sandbox_app", "disable-account", ANN, stdout=io.StringIO())
    _, challenge = _pkce()
    browser = Browser(live_server.url)
    query = (
        f"client_id={settings.M365_CLIENT_ID}&response_type=code&redirect_uri={REDIRECT}"
        f"&scope=Contacts.ReadWrite&state=xyz&code_challenge={challenge}&code_challenge_method=S256"
    )
    answer = browser.sign_in(f"{live_server.url}/graph-sandbox/contoso/oauth2/v2.0/authorize?{query}", ANN)
    assert answer.status_code == 200
    assert "AADSTS50057" in answer.text
