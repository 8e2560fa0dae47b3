"""A person connects their own mailbox (delegated sign-in) on their setup page, and the
setup's runs use their token: over real HTTP against the sandbox's sign-in page and
token endpoint, the product's pages through Django's test client."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.connection import graph_client_for_setup
from exchange_sync.connection_check import exchange_connection_validate
from exchange_sync.models import ExchangeSyncSetup, LiveSubscription, MailboxConnection, SyncRun
from exchange_sync.sandbox import delegated as sandbox_delegated
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_setup
from exchange_sync.tasks import live_poll_task
from exchange_sync.token_cache import token_cache_decrypt
from tests.factories import make_person, make_user

ANN = "ann@cronus.example"
BOB = "bob@cronus.example"
SETUP_PAGE = "admin:exchange_sync_exchangesyncsetup_change"


@pytest.fixture
def site(live_server, settings):
    """The live server is the Graph sandbox the product talks to. Access tokens that
    live 60 seconds are already "expired" for msal (it renews five minutes early), so
    every run renews the person's sign-in with their refresh token."""
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    settings.GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS = 60
    mailbox_add(ANN)
    mailbox_add(BOB)
    return live_server


@pytest.fixture
def ann_setup(site):
    user = make_user("ann", mailbox=ANN, is_superuser=True)
    return ExchangeSyncSetup.objects.create(user=user)


@pytest.fixture
def ann_client(client, ann_setup):
    client.force_login(ann_setup.user)
    return client


class SignInPage:
    """The sandbox's sign-in page, as a browser would use it."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def answer(self, auth_uri: str, email: str = ANN, *, button: str = "accept") -> str:
        """Sign in as `email` and press a button; the URL the page sends the browser back to."""
        page = self.session.get(auth_uri, timeout=10)
        assert page.status_code == 200, page.text
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        form.update(login=email, **{button: "1"})
        answer = self.session.post(auth_uri.split("?")[0], data=form, timeout=10, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def _start(client, setup) -> str:
    response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_connect", args=[setup.pk]))
    assert response.status_code == 302
    return response["Location"]


def _come_back(client, location: str):
    """Follow the sign-in page's redirect into the product (test client: path and query)."""
    parts = urlsplit(location)
    return client.get(parts.path, parse_qs(parts.query) and {k: v[0] for k, v in parse_qs(parts.query).items()})


def _connect(client, setup, email: str = ANN):
    return _come_back(client, SignInPage().answer(_start(client, setup), email))


def _sign_in_field(client, setup) -> str:
    """The setup page's "Microsoft 365 sign-in" field: the mode and its buttons."""
    page = client.get(reverse(SETUP_PAGE, args=[setup.pk])).content.decode()
    field = re.search(r'<span id="es-sign-in-mode".*?</div>', page, re.S)
    assert field, "no Microsoft 365 sign-in field on the setup page"
    return field.group(0).replace("&#x27;", "'")


def _messages(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


def _sync(setup) -> SyncRun:
    setup.refresh_from_db()
    client = graph_client_for_setup(setup)
    try:
        return sync_setup(setup, client=client, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.COMMAND)
    finally:
        client.close()


def test_it_connects_the_persons_own_mailbox_and_runs_with_their_token(ann_client, ann_setup):
    make_person(email="dana@fabrikam.example")
    response = _connect(ann_client, ann_setup)

    assert response.status_code == 302
    assert "Connected as ann@cronus.example" in _messages(response)
    connection = MailboxConnection.objects.get(setup=ann_setup)
    assert connection.username == ANN
    page = ann_client.get(reverse(SETUP_PAGE, args=[ann_setup.pk])).content.decode()
    assert "Connected as ann@cronus.example" in page
    assert "Disconnect" in page
    run = _sync(ann_setup)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == Contact.objects.count() == 1
    check = exchange_connection_validate(ann_setup)
    assert check.is_ok, str(check)
    assert "Connected as ann@cronus.example" in str(check)


def test_it_stores_the_token_cache_only_encrypted_and_renews_it(ann_client, ann_setup):
    _connect(ann_client, ann_setup)
    stored = MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted
    assert "RefreshToken" not in stored and "refresh" not in stored.lower()
    assert "RefreshToken" in token_cache_decrypt(stored)

    run = _sync(ann_setup)  # the 60-second access token is renewed with the refresh token

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted != stored


def test_the_setup_page_shows_app_permission_until_connected(ann_client, ann_setup):
    page = ann_client.get(reverse(SETUP_PAGE, args=[ann_setup.pk])).content.decode()
    assert "App permission" in page
    assert "Connect my Microsoft 365 mailbox" in page
    check = exchange_connection_validate(ann_setup)
    assert "App permission" in str(check)


@pytest.mark.parametrize(
    ("knob", "reason"),
    [
        (lambda: sandbox_delegated.consent_revoke(settings.M365_CLIENT_ID, ANN), "removed bcsync's permission"),
        (lambda: sandbox_delegated.password_reset(ANN), "password was changed or reset"),
        (lambda: sandbox_delegated.account_disable(ANN), "account is disabled"),
        (lambda: sandbox_delegated.refresh_tokens_expire(ANN), "expired after a long time without use"),
    ],
    ids=["consent revoked", "password reset", "account disabled", "refresh token expired"],
)
def test_a_run_whose_sign_in_is_refused_fails_with_the_reason_and_asks_to_reconnect(
    ann_client, ann_setup, knob, reason
):
    _connect(ann_client, ann_setup)
    knob()

    run = _sync(ann_setup)

    assert run.status == SyncRun.Status.FAILED
    # In the person's words alone, not wrapped in the app sign-in's wording and codes.
    assert run.error.startswith(f"Microsoft 365 refused to renew the sign-in of {ANN}: ")
    assert reason in run.error
    assert "Press Reconnect" in run.error
    field = _sign_in_field(ann_client, ann_setup)
    assert ">Reconnect</button>" in field
    assert reason in field


def test_reconnecting_after_a_revoked_consent_lets_runs_go_again(ann_client, ann_setup):
    _connect(ann_client, ann_setup)
    sandbox_delegated.consent_revoke(settings.M365_CLIENT_ID, ANN)
    assert _sync(ann_setup).status == SyncRun.Status.FAILED

    _connect(ann_client, ann_setup)

    assert not MailboxConnection.objects.get(setup=ann_setup).needs_reconnect
    assert _sync(ann_setup).status == SyncRun.Status.SUCCEEDED


def test_disconnect_deletes_the_tokens(ann_client, ann_setup):
    _connect(ann_client, ann_setup)
    response = ann_client.post(reverse("admin:exchange_sync_exchangesyncsetup_disconnect", args=[ann_setup.pk]))
    assert "tokens were deleted" in _messages(response)
    assert not MailboxConnection.objects.filter(setup=ann_setup).exists()


def test_another_account_than_the_persons_own_mailbox_is_refused(ann_client, ann_setup):
    response = _connect(ann_client, ann_setup, email=BOB)
    text = _messages(response)
    assert "You can connect only your own mailbox" in text
    assert "bob@cronus.example" in text
    assert not MailboxConnection.objects.exists()


def test_a_cancelled_sign_in_stores_nothing(ann_client, ann_setup):
    location = SignInPage().answer(_start(ann_client, ann_setup), button="cancel")
    response = _come_back(ann_client, location)
    assert "cancelled" in _messages(response)
    assert not MailboxConnection.objects.exists()


def test_an_answer_with_another_state_stores_nothing(ann_client, ann_setup):
    location = SignInPage().answer(_start(ann_client, ann_setup))
    response = _come_back(ann_client, location.replace("state=", "state=tampered"))
    assert "does not belong to this sign-in" in _messages(response)
    assert not MailboxConnection.objects.exists()


def test_a_tampered_pkce_verifier_stores_nothing(ann_client, ann_setup):
    auth_uri = _start(ann_client, ann_setup)
    session = ann_client.session
    pending = session["exchange_sync_m365_connect"]
    pending["flow"]["code_verifier"] = "x" * 50
    session["exchange_sync_m365_connect"] = pending
    session.save()
    response = _come_back(ann_client, SignInPage().answer(auth_uri))
    assert "AADSTS501481" in _messages(response)
    assert not MailboxConnection.objects.exists()


def test_a_replayed_answer_is_refused_and_changes_nothing(ann_client, ann_setup):
    location = SignInPage().answer(_start(ann_client, ann_setup))
    _come_back(ann_client, location)
    stored = MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted

    response = _come_back(ann_client, location)

    assert "already used" in _messages(response)
    assert MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted == stored


def test_a_token_cache_no_key_can_read_asks_the_person_to_reconnect(ann_client, ann_setup, settings):
    _connect(ann_client, ann_setup)
    settings.M365_TOKEN_CACHE_KEYS = [Fernet.generate_key().decode()]  # the old key was dropped

    run = _sync(ann_setup)

    assert run.status == SyncRun.Status.FAILED
    assert "can no longer read the saved Microsoft 365 sign-in" in run.error
    field = _sign_in_field(ann_client, ann_setup)
    assert ">Reconnect</button>" in field
    assert "encryption key" in field


def test_a_rotated_key_still_reads_the_cache_and_re_encrypts_it_on_use(ann_client, ann_setup, settings):
    _connect(ann_client, ann_setup)
    old_key = settings.M365_TOKEN_CACHE_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.M365_TOKEN_CACHE_KEYS = [new_key, old_key]

    assert _sync(ann_setup).status == SyncRun.Status.SUCCEEDED

    stored = MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted
    assert Fernet(new_key).decrypt(stored.encode())


def test_the_reencrypt_command_moves_every_cache_to_the_first_key(ann_client, ann_setup, settings):
    _connect(ann_client, ann_setup)
    old_key = settings.M365_TOKEN_CACHE_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.M365_TOKEN_CACHE_KEYS = [new_key, old_key]
    out = io.StringIO()

    call_command("token_cache_reencrypt", stdout=out)

    assert "Re-encrypted 1 token cache(s)" in out.getvalue()
    settings.M365_TOKEN_CACHE_KEYS = [new_key]  # the old key is gone: the cache still reads
    assert "RefreshToken" in token_cache_decrypt(MailboxConnection.objects.get(setup=ann_setup).token_cache_encrypted)


def test_with_per_user_sign_in_off_nothing_connects_and_runs_use_the_app_permission(ann_client, ann_setup, settings):
    _connect(ann_client, ann_setup)
    settings.M365_DELEGATED_SIGN_IN = False

    response = ann_client.post(reverse("admin:exchange_sync_exchangesyncsetup_connect", args=[ann_setup.pk]))

    assert "not enabled" in _messages(response)
    assert "App permission" in str(exchange_connection_validate(ann_setup))
    sandbox_delegated.consent_revoke(settings.M365_CLIENT_ID, ANN)  # would stop Ann's own sign-in
    assert _sync(ann_setup).status == SyncRun.Status.SUCCEEDED


def test_live_sync_polls_a_connected_setup_with_the_persons_own_sign_in(ann_client, ann_setup):
    _connect(ann_client, ann_setup)
    assert _sync(ann_setup).status == SyncRun.Status.SUCCEEDED  # the folder and its delta link
    subscription = LiveSubscription.objects.create(setup=ann_setup)
    sandbox_delegated.consent_revoke(settings.M365_CLIENT_ID, ANN)

    live_poll_task(subscription.pk)

    # The poll renewed Ann's sign-in (not the app's token) and met the revoked consent.
    assert MailboxConnection.objects.get(setup=ann_setup).needs_reconnect
