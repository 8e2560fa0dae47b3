"""Per-user sign-in in a real browser: connect one's own mailbox on the sandbox's sign-in
page, sync, have the consent revoked in the sandbox, see "Reconnect", reconnect, sync again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.sandbox.services import mailbox_add
from tests.browser.test_main_flows import PASSWORD, PERMISSIONS
from tests.factories import make_company, make_person, make_user

MAILBOX = "ann@cronus.example"


@pytest.fixture
def ann(transactional_db):
    user = make_user("ann", mailbox=MAILBOX, first_name="Ann", last_name="Berg")
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _sync_and_wait(page, site: str) -> str:
    page.get_by_role("button", name="Sync with Microsoft 365", exact=True).click()
    page.wait_for_selector("#es-run-status")
    page.wait_for_function(
        "() => !/Queued|Running/.test(document.querySelector('#es-run-status').textContent)", timeout=60_000
    )
    return page.inner_text("#es-run-status")


def test_a_person_connects_their_mailbox_loses_consent_and_reconnects(page, steps, sandbox_site, settings, worker, ann):
    # msal renews an access token five minutes before it expires: with 60-second tokens
    # every run renews the sign-in with the refresh token, as a run a day later would.
    settings.GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS = 60
    site = sandbox_site.url
    mailbox_add(MAILBOX)
    london = make_company("Fabrikam Inc.", city="London")
    for _ in range(3):
        make_person(company=london, city="London")
    setup = ExchangeSyncSetup.objects.create(user=ann)
    setup_url = f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_change', args=[setup.pk])}"

    page.goto(f"{site}/admin/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    # Connect: Microsoft's (the sandbox's) sign-in and consent page, then back.
    page.goto(setup_url)
    assert "App permission" in page.inner_text(".field-sign_in_mode")
    page.get_by_role("button", name="Connect my Microsoft 365 mailbox").click()
    page.wait_for_selector("#requested-scopes")
    assert "Contacts.ReadWrite" in page.inner_text("#requested-scopes")
    assert page.input_value("#id_login") == MAILBOX  # msal's login_hint
    steps.shot("sandbox sign-in and consent page")
    page.get_by_role("button", name="Accept").click()
    page.wait_for_selector(".messagelist")
    assert f"Connected as {MAILBOX}" in page.inner_text(".messagelist")
    assert f"Connected as {MAILBOX}" in page.inner_text(".field-sign_in_mode")
    steps.shot("setup connected as the person")

    assert _sync_and_wait(page, site) == "Succeeded"

    # The consent is revoked in the sandbox (Entra ID: the user removes the app's permissions).
    page.goto(f"{site}{reverse('admin:graph_sandbox_mailbox_changelist')}")
    page.locator("tr", has_text=MAILBOX).locator("input[name='_selected_action']").check()
    page.select_option("select[name='action']", "revoke_consents")
    page.click("button[name=index]")  # the actions bar's "Go"
    page.wait_for_selector(".messagelist")
    assert "Removed 1 app consent" in page.inner_text(".messagelist")

    page.goto(setup_url)
    assert _sync_and_wait(page, site) == "Failed"
    assert "removed bcsync's permission" in page.content().replace("&#x27;", "'")
    page.goto(setup_url)
    mode = page.inner_text(".field-sign_in_mode")
    assert "the sign-in no longer works" in mode and "removed bcsync's permission" in mode
    steps.shot("setup asks to reconnect")

    page.get_by_role("button", name="Reconnect").click()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_selector(".messagelist")
    assert f"Connected as {MAILBOX}" in page.inner_text(".field-sign_in_mode")
    assert _sync_and_wait(page, site) == "Succeeded"
    steps.shot("synced again after reconnecting")
