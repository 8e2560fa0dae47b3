"""Mailbox scoping: an app that Exchange Online keeps out of a mailbox gets Graph's 403
on every request there, batch members included; other apps and mailboxes do not."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from exchange_sync.sandbox.auth import token_issue
from exchange_sync.sandbox.models import AppCertificate
from exchange_sync.sandbox.scoping import OUT_OF_SCOPE_MESSAGE, mailbox_scope_allow, mailbox_scope_deny
from exchange_sync.sandbox.services import mailbox_add
from tests.certificates import make_certificate
from tests.sandbox.conftest import MAILBOX
from tests.sandbox.test_subscriptions import subscribe

OTHER_MAILBOX = "bob@cronus.example"


def _out_of_scope(response: requests.Response) -> bool:
    error = response.json().get("error", {})
    return (response.status_code, error.get("code"), error.get("message")) == (
        403,
        "ErrorAccessDenied",
        OUT_OF_SCOPE_MESSAGE,
    )


def test_every_request_of_the_app_on_a_denied_mailbox_answers_403(graph):
    folder = graph.folder()
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)

    responses = [
        graph.get(f"/users/{MAILBOX}"),
        graph.get(f"/users/{MAILBOX}/contactFolders"),
        graph.get(graph.contacts_path(folder)),
        graph.post(graph.contacts_path(folder), {"givenName": "Ann"}),
        graph.get(f"{graph.contacts_path(folder)}/delta"),
    ]

    assert [_out_of_scope(response) for response in responses] == [True] * 5
    assert OUT_OF_SCOPE_MESSAGE.startswith("Access to OData is disabled")


def test_batch_members_on_a_denied_mailbox_answer_403_and_others_run(graph):
    mailbox_add(OTHER_MAILBOX)
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)

    answer = graph.post(
        "/$batch",
        {
            "requests": [
                {"id": "1", "method": "GET", "url": f"/users/{MAILBOX}/contactFolders"},
                {"id": "2", "method": "GET", "url": f"/users/{OTHER_MAILBOX}/contactFolders"},
            ]
        },
    )

    assert answer.status_code == 200
    members = {member["id"]: member for member in answer.json()["responses"]}
    assert members["1"]["status"] == 403
    assert members["1"]["body"]["error"]["code"] == "ErrorAccessDenied"
    assert members["1"]["body"]["error"]["message"] == OUT_OF_SCOPE_MESSAGE
    assert members["2"]["status"] == 200


def test_another_app_and_another_mailbox_are_not_affected(graph):
    mailbox_add(OTHER_MAILBOX)
    mailbox_scope_deny("another-app", MAILBOX)
    other_app_token, _ = token_issue(tenant="contoso", client_id="another-app")

    assert graph.get(f"/users/{MAILBOX}").status_code == 200
    assert (
        graph.get(f"/users/{OTHER_MAILBOX}", headers={"Authorization": f"Bearer {other_app_token}"}).status_code == 200
    )
    assert _out_of_scope(graph.get(f"/users/{MAILBOX}", headers={"Authorization": f"Bearer {other_app_token}"}))


def test_allowing_the_mailbox_again_opens_it_at_the_next_request(graph):
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)
    assert _out_of_scope(graph.get(f"/users/{MAILBOX}"))

    mailbox_scope_allow(settings.M365_CLIENT_ID, MAILBOX)

    assert graph.get(f"/users/{MAILBOX}").status_code == 200


def test_the_sandbox_app_command_denies_allows_and_lists(graph, capsys):
    call_command("sandbox_app", "deny-mailbox", settings.M365_CLIENT_ID, MAILBOX.upper())
    assert _out_of_scope(graph.get(f"/users/{MAILBOX}"))
    call_command("sandbox_app", "list")
    assert f"denied\t{settings.M365_CLIENT_ID}\t{MAILBOX}" in capsys.readouterr().out

    call_command("sandbox_app", "allow-mailbox", settings.M365_CLIENT_ID, MAILBOX)

    assert graph.get(f"/users/{MAILBOX}").status_code == 200


def test_the_sandbox_app_command_registers_a_certificate_file(transactional_db, tmp_path, capsys):
    made = make_certificate()
    certificate_path, _ = made.write(tmp_path)

    call_command("sandbox_app", "add-certificate", "some-app", str(certificate_path))

    (registered,) = AppCertificate.objects.all()
    assert registered.client_id == "some-app"
    assert registered.thumbprint_sha1 in capsys.readouterr().out
    with pytest.raises(CommandError, match="Not a PEM certificate"):
        call_command("sandbox_app", "add-certificate", "some-app", str(tmp_path / "app.key.pem"))


def test_a_subscription_on_a_denied_mailbox_is_refused_the_same_way(graph, receiver):
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)

    response = subscribe(graph, receiver, f"users/{MAILBOX}/contacts")

    assert _out_of_scope(response)
