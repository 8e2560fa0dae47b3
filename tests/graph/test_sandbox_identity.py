"""The sandbox's identity: msal's production code path, its calls routed by its http_client."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from exchange_sync.graph import (
    GraphAuthError,
    GraphClient,
    MsalTokenProvider,
    SandboxIdentityHttpClient,
    msal_token_provider,
)
from tests.graph.conftest import load

ROOT = "http://127.0.0.1:8000/graph-sandbox"
SANDBOX_DISCOVERY = f"{ROOT}/sandbox/v2.0/.well-known/openid-configuration"
SANDBOX_TOKEN = f"{ROOT}/sandbox/oauth2/v2.0/token"


def sandbox_openid_configuration() -> dict:
    # The sandbox advertises the real login host; the http_client routes it back.
    return json.loads(json.dumps(load("aad_openid_configuration.json")).replace("{tenant}", "sandbox"))


def test_it_rewrites_login_urls_to_the_sandbox_and_leaves_others_alone():
    http = SandboxIdentityHttpClient(ROOT + "/")

    assert http.rewrite("https://login.microsoftonline.com/sandbox/oauth2/v2.0/token") == SANDBOX_TOKEN
    assert http.rewrite("https://example.com/x") == "https://example.com/x"
    assert http.rewrite("https://login.microsoftonline.com.evil.example/x") == (
        "https://login.microsoftonline.com.evil.example/x"
    )


def test_msal_gets_its_token_from_the_sandbox_through_the_production_code_path(mocked):
    mocked.get(SANDBOX_DISCOVERY, json=sandbox_openid_configuration())
    mocked.post(SANDBOX_TOKEN, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "sandbox-token"})
    provider = msal_token_provider("sandbox", "bcsync-sandbox-client", "bcsync-sandbox-secret", sandbox_root=ROOT)

    assert provider.get_token() == "sandbox-token"
    assert provider.get_token() == "sandbox-token"

    assert isinstance(provider, MsalTokenProvider)
    assert provider.authority == "https://login.microsoftonline.com/sandbox"
    assert [call.request.url for call in mocked.calls] == [SANDBOX_DISCOVERY, SANDBOX_TOKEN]
    form = parse_qs(mocked.calls[1].request.body)
    assert form["client_secret"] == ["bcsync-sandbox-secret"]


def test_it_passes_the_timeout_to_every_call(mocked):
    mocked.get(SANDBOX_DISCOVERY, json=sandbox_openid_configuration())
    mocked.post(SANDBOX_TOKEN, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "t"})

    msal_token_provider("sandbox", "c", "s", sandbox_root=ROOT, timeout=7.5).get_token()

    assert [call.request.req_kwargs["timeout"] for call in mocked.calls] == [7.5, 7.5]


def test_a_wrong_sandbox_secret_is_reported_like_a_wrong_real_one(mocked):
    mocked.get(SANDBOX_DISCOVERY, json=sandbox_openid_configuration())
    mocked.post(SANDBOX_TOKEN, status=401, json=load("aad_invalid_client.json"))

    with pytest.raises(GraphAuthError) as caught:
        msal_token_provider("sandbox", "c", "wrong", sandbox_root=ROOT).get_token()

    assert caught.value.reason == "invalid_client"


def test_the_graph_client_uses_the_sandbox_token(mocked):
    mocked.get(SANDBOX_DISCOVERY, json=sandbox_openid_configuration())
    mocked.post(SANDBOX_TOKEN, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "sandbox-token"})
    mocked.get(f"{ROOT}/v1.0/users/ann@cronus.example", json=load("user.json"))
    provider = msal_token_provider("sandbox", "c", "s", sandbox_root=ROOT)

    GraphClient(f"{ROOT}/v1.0", provider).get_user("ann@cronus.example")

    assert mocked.calls[-1].request.headers["Authorization"] == "Bearer sandbox-token"
