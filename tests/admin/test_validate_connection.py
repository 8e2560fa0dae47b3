"""Validate Exchange Connection: each failure says what works and what to fix.

Through the Graph sandbox over real HTTP (msal's production code path included). A
refused secret or an unknown client id is arranged by giving the sandbox's "tenant" a
different app registration than the product sends. The one case the sandbox cannot
produce (mailbox readable, its contact folders refused) is answered by `responses`.
"""

from __future__ import annotations

import re

import pytest
import responses
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.urls import reverse

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.sandbox import views_identity
from exchange_sync.sandbox.scoping import mailbox_scope_deny
from exchange_sync.sandbox.services import folder_create, mailbox_add, mailbox_configure
from exchange_sync.sync import sync_setup
from tests.admin.conftest import grant_sync
from tests.certificates import make_certificate
from tests.factories import make_user

MAILBOX = "ann@cronus.example"


@pytest.fixture
def graph_settings(live_server, settings):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    return settings


@pytest.fixture
def validate(graph_settings, as_user, ann_setup):
    """POST Validate Exchange Connection for Ann's setup; return (level, message)."""

    def press(setup: ExchangeSyncSetup = ann_setup) -> tuple[str, str]:
        client = as_user(setup.user)
        response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[setup.pk]))
        assert response.status_code == 302
        assert response.url == reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])
        (message,) = get_messages(response.wsgi_request)
        page = client.get(response.url).content.decode()
        assert "Traceback" not in page
        return message.level_tag, str(message)

    return press


class SandboxTenant:
    """The app registration the sandbox's identity endpoint knows, when it differs from ours."""

    def __init__(self, **overrides: str) -> None:
        self._overrides = overrides

    def __getattr__(self, name: str):
        return self._overrides[name] if name in self._overrides else getattr(django_settings, name)


def test_a_working_connection_says_what_was_checked(validate):
    mailbox_add(MAILBOX)
    level, message = validate()
    assert level == "success"
    assert message.startswith(
        "The Exchange connection works. Checked: signed in to Microsoft 365 (App permission); found the mailbox"
    )
    assert "The Outlook folder 'Business Central' does not exist yet; the first sync creates it." in message


def test_an_existing_folder_is_reported_accessible(validate, ann_setup):
    mailbox = mailbox_add(MAILBOX)[0]
    ann_setup.folder_id = folder_create(mailbox, "Business Central").graph_id
    ann_setup.save()
    level, message = validate()
    assert level == "success"
    assert "the Outlook folder 'Business Central' is accessible" in message


def test_a_persons_folder_of_the_chosen_name_is_noted_as_not_used_until_adopted(validate, ann_setup):
    folder_create(mailbox_add(MAILBOX)[0], "Business Central")  # made in Outlook, not by bcsync
    level, message = validate()
    assert level == "success"
    assert "An Outlook folder 'Business Central' already exists and bcsync did not create it" in message
    assert "does not use it unless you adopt it" in message


def test_a_folder_deleted_in_outlook_is_noted_as_recreated_next_sync(validate, ann_setup):
    mailbox = mailbox_add(MAILBOX)[0]
    folder = folder_create(mailbox, "Business Central")
    ann_setup.folder_id = folder.graph_id
    ann_setup.save()
    folder.delete()
    level, message = validate()
    assert level == "success"
    assert "was deleted in Outlook; the next sync creates it again" in message


def test_a_user_without_email_is_told_to_enter_it_on_the_user_card(validate):
    setup = ExchangeSyncSetup.objects.create(user=grant_sync(make_user("nomail")))
    level, message = validate(setup)
    assert level == "error"
    assert "The user nomail has no Microsoft 365 email." in message
    assert "Microsoft 365 Authentication section of the user card" in message


def test_a_refused_client_secret_says_to_create_a_new_secret(validate, monkeypatch):
    mailbox_add(MAILBOX)
    monkeypatch.setattr(views_identity, "settings", SandboxTenant(M365_CLIENT_SECRET="the-tenants-real-secret"))
    level, message = validate()
    assert level == "error"
    assert "Signing in failed. Microsoft 365 refused the client secret." in message
    assert "set it as M365_CLIENT_SECRET" in message
    assert "Works:" not in message


def test_an_unknown_client_id_says_to_check_the_application_id(validate, monkeypatch):
    mailbox_add(MAILBOX)
    monkeypatch.setattr(views_identity, "settings", SandboxTenant(M365_CLIENT_ID="another-app"))
    level, message = validate()
    assert level == "error"
    assert "Microsoft 365 does not know the application (client) id." in message
    assert "Check M365_CLIENT_ID" in message


def test_an_unknown_tenant_says_to_check_the_tenant_id(validate, graph_settings):
    mailbox_add(MAILBOX)
    graph_settings.M365_TENANT_ID = "contoso-gone"
    graph_settings.GRAPH_SANDBOX_UNKNOWN_TENANTS = ["contoso-gone"]
    level, message = validate()
    assert level == "error"
    assert "Microsoft 365 does not know the tenant." in message
    assert "Check M365_TENANT_ID" in message


def test_missing_consent_says_signing_in_works_and_asks_for_admin_consent(validate):
    mailbox_add(MAILBOX)
    mailbox_configure(MAILBOX, access_denied=True)
    level, message = validate()
    assert level == "error"
    assert "Checked: signed in to Microsoft 365." in message
    assert f"Access to the mailbox {MAILBOX} was denied." in message
    assert "grant admin consent for the Contacts.ReadWrite application permission" in message


def test_a_mailbox_not_found_says_to_check_the_email_on_the_user_card(validate):
    level, message = validate()  # the sandbox holds no such mailbox
    assert level == "error"
    assert f"The mailbox {MAILBOX} was not found in Microsoft 365." in message
    assert "Check the Microsoft 365 email on the user card" in message


def test_contact_folders_not_accessible_says_the_mailbox_was_found(validate, live_server):
    mailbox_add(MAILBOX)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.add_passthru(live_server.url)
        mocked.get(
            re.compile(r".*/users/[^/]+/contactFolders.*"),
            status=403,
            json={
                "error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}
            },
        )
        level, message = validate()
    assert level == "error"
    assert f"Checked: signed in to Microsoft 365 (App permission); found the mailbox {MAILBOX}." in message
    assert f"The contact folders of {MAILBOX} are not accessible (access denied)." in message
    assert "application access policy" in message


def test_microsoft_365_not_answering_says_to_try_again_later(validate, live_server):
    mailbox_add(MAILBOX)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.add_passthru(live_server.url)
        mocked.get(
            re.compile(r".*/users/[^/]+\?.*"),
            status=503,
            headers={"Retry-After": "0"},
            json={"error": {"code": "ServiceUnavailable", "message": "Service Unavailable"}},
        )
        level, message = validate()
    assert level == "error"
    assert "Microsoft 365 did not answer in time" in message
    assert "try again in a few minutes" in message


def test_an_unexpected_error_is_a_sentence_not_a_stack_trace(validate, monkeypatch):
    from exchange_sync.graph import GraphClient

    def broken(self, mailbox):
        raise RuntimeError("socket exploded")

    monkeypatch.setattr(GraphClient, "get_user", broken)
    level, message = validate()
    assert level == "error"
    assert "The validation failed: socket exploded" in message


def test_validate_is_post_only(graph_settings, as_user, ann, ann_setup):
    url = reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[ann_setup.pk])
    assert as_user(ann).get(url).status_code == 405


def test_a_mailbox_outside_the_apps_scope_names_it_and_says_how_to_add_it(validate):
    mailbox_add(MAILBOX)
    mailbox_scope_deny(django_settings.M365_CLIENT_ID, MAILBOX)
    level, message = validate()
    assert level == "error"
    assert "Checked: signed in to Microsoft 365." in message
    assert f"Problem: This app is not allowed to open {MAILBOX}." in message
    assert "To fix: Add the mailbox to the app's management scope in Exchange Online" in message
    assert "admin consent" not in message


def test_a_certificate_the_app_registration_lacks_says_to_upload_it(validate, graph_settings, tmp_path):
    mailbox_add(MAILBOX)
    certificate_path, key_path = make_certificate().write(tmp_path)  # never registered in the sandbox
    graph_settings.M365_CLIENT_CERTIFICATE_PATH = str(certificate_path)
    graph_settings.M365_CLIENT_PRIVATE_KEY_PATH = str(key_path)
    level, message = validate()
    assert level == "error"
    assert "Signing in failed. Microsoft 365 refused the app's certificate" in message
    assert "uploaded to the app registration in Entra ID" in message


def test_an_unreadable_certificate_file_is_named_without_a_stack_trace(validate, graph_settings, tmp_path):
    mailbox_add(MAILBOX)
    graph_settings.M365_CLIENT_CERTIFICATE_PATH = str(tmp_path / "gone.pem")
    level, message = validate()
    assert level == "error"
    assert f"The certificate file {tmp_path / 'gone.pem'} cannot be read" in message
    assert "Check M365_CLIENT_CERTIFICATE_PATH" in message


def test_after_a_run_the_setup_page_shows_the_mailbox_scope_sentence(graph_settings, as_user, ann_setup):
    mailbox_add(MAILBOX)
    mailbox_scope_deny(django_settings.M365_CLIENT_ID, MAILBOX)
    client = graph_client_from_settings()
    sync_setup(ann_setup, client=client)
    client.close()

    page = (
        as_user(ann_setup.user)
        .get(reverse("admin:exchange_sync_exchangesyncsetup_change", args=[ann_setup.pk]))
        .content.decode()
    )

    assert f"Needs attention: This app is not allowed to open {MAILBOX}: add the mailbox to the app&#x27;s" in page
