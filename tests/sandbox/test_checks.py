"""System checks warn about a sandbox exposed in production or unable to issue tokens."""

from __future__ import annotations

from django.test import override_settings

from exchange_sync.sandbox.checks import sandbox_settings_check


def _ids() -> list[str]:
    return [w.id for w in sandbox_settings_check()]


@override_settings(GRAPH_SANDBOX=True, DEBUG=False)
def test_it_warns_when_the_sandbox_is_on_without_debug():
    assert _ids() == ["graph_sandbox.W001"]


@override_settings(GRAPH_SANDBOX=True, DEBUG=True, M365_CLIENT_SECRET="")
def test_it_warns_when_no_client_secret_is_configured():
    assert _ids() == ["graph_sandbox.W002"]


@override_settings(GRAPH_SANDBOX=False, DEBUG=False)
def test_it_is_quiet_when_the_sandbox_is_off():
    assert _ids() == []
