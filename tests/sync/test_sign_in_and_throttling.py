"""What a run does with a sign-in Microsoft 365 refuses, and with throttling that
outlasts the client's retries (README, "Never silent"): a wrong secret, client id or
tenant is something only a person can fix, so it marks the setup as needing attention
with what to fix; throttling is not, so the run fails saying the next sync tries again,
and the setup does not ask for attention.

Through the sandbox over HTTP and msal's real client-credentials flow: the sandbox's
identity endpoint knows one app registration, the product sends another."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import SyncRun
from exchange_sync.sandbox import views_identity
from exchange_sync.sandbox.services import mailbox_configure
from exchange_sync.sync import sync_setup
from tests.factories import make_person
from tests.sync.conftest import MAILBOX


class SandboxTenant:
    """The app registration the sandbox's identity endpoint knows: the real one, whatever
    the product is configured with."""

    def __init__(self, **known: str) -> None:
        self._known = known

    def __getattr__(self, name: str):
        return self._known[name] if name in self._known else getattr(django_settings, name)


def _sync_with_settings(live_server, setup) -> SyncRun:
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    try:
        return sync_setup(setup, client=client)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("setting", "wrong", "what_to_fix"),
    [
        ("M365_CLIENT_SECRET", "not-the-secret", "The client secret (M365_CLIENT_SECRET) was refused."),
        (
            "M365_CLIENT_ID",
            "11111111-2222-3333-4444-555555555555",
            "The application id (M365_CLIENT_ID) is not registered in the tenant.",
        ),
        ("M365_TENANT_ID", "gone.onmicrosoft.com", "The tenant (M365_TENANT_ID) is unknown to Microsoft."),
    ],
)
def test_a_refused_sign_in_marks_the_setup_with_what_to_fix(
    live_server, settings, setup, monkeypatch, setting, wrong, what_to_fix
):
    make_person()
    known = {name: getattr(settings, name) for name in ("M365_CLIENT_ID", "M365_CLIENT_SECRET")}
    monkeypatch.setattr(views_identity, "settings", SandboxTenant(**known))
    settings.GRAPH_SANDBOX_UNKNOWN_TENANTS = ["gone.onmicrosoft.com"]
    setattr(settings, setting, wrong)

    run = _sync_with_settings(live_server, setup)

    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(what_to_fix), run.error
    setup.refresh_from_db()
    assert setup.needs_attention
    assert setup.last_error == run.error
    assert run.created_in_outlook == 0


def test_throttling_that_outlasts_the_retries_fails_the_run_for_later_without_asking_for_attention(
    live_server, settings, setup
):
    make_person()
    settings.GRAPH_SANDBOX_THROTTLE_ERROR_RATE = 1.0  # every request: 429 with Retry-After: 1
    mailbox_configure(MAILBOX, throttle=True)

    run = _sync_with_settings(live_server, setup)

    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("Microsoft 365 did not answer in time"), run.error
    assert run.error.endswith("The next sync will try again.")
    setup.refresh_from_db()
    assert not setup.needs_attention
    assert setup.last_error == run.error
