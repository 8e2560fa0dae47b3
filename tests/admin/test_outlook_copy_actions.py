"""The run page's actions on a copy a person made in Outlook: "Link this one instead" and
"Remove the Outlook copy", POST only, CSRF-protected, for whoever may run the setup's
sync, reported with messages; against the Graph sandbox."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.mapping import GRAPH_SELECT
from exchange_sync.models import SyncIssue, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_setup
from tests.admin.conftest import grant_view
from tests.factories import make_person, make_user

MAILBOX = "ann@cronus.example"


@pytest.fixture
def graph(live_server, settings):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    mailbox_add(MAILBOX)
    client = graph_client_from_settings()
    yield client
    client.close()


@pytest.fixture
def world(graph, ann_setup):
    """Eva synchronized, then made again by hand in Outlook; a full run reports the copy."""
    eva = make_person(first_name="Eva", surname="Holm", email="eva@holm.example")
    sync_setup(ann_setup, client=graph)
    ann_setup.refresh_from_db()
    copy = graph.create_contact(
        MAILBOX,
        ann_setup.folder_id,
        {"givenName": "Eva", "surname": "Holm", "emailAddresses": [{"address": "eva@holm.example"}]},
    )
    run = sync_setup(ann_setup, client=graph, kind=SyncRun.Kind.FULL)
    return eva, copy, run, run.issues.get(outlook_id=copy["id"])


def _url(run: SyncRun, issue: SyncIssue, action: str) -> str:
    return reverse("admin:exchange_sync_syncrun_copy_action", args=[run.pk, issue.pk, action])


def _folder(graph, setup) -> set[str]:
    setup.refresh_from_db()
    return {item["id"] for page in graph.iter_contacts(MAILBOX, setup.folder_id, select=GRAPH_SELECT) for item in page}


def test_the_run_page_offers_both_actions_and_says_before_the_click_what_each_deletes(as_user, ann, world):
    eva, copy, run, issue = world

    page = as_user(ann).get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).content.decode()

    assert 'value="Link this one instead"' in page
    assert 'value="Remove the Outlook copy"' in page
    assert f"bcsync's own copy of {eva.no} is deleted from the folder" in page
    assert f"Remove the Outlook copy: '{escape(issue.outlook_name)}' is deleted" in page
    assert "Nothing is deleted until you click." in page
    assert _url(run, issue, "link-copy") in page and _url(run, issue, "remove-copy") in page


def test_remove_the_outlook_copy_deletes_it_reports_and_the_page_shows_it_done(as_user, ann, ann_setup, graph, world):
    eva, copy, run, issue = world
    client = as_user(ann)

    response = client.post(_url(run, issue, "remove-copy"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:exchange_sync_syncrun_change", args=[run.pk])
    page = response.content.decode()
    assert "was deleted" in page
    assert "The Outlook copy was removed by ann" in page
    assert 'value="Remove the Outlook copy"' not in page
    assert copy["id"] not in _folder(graph, ann_setup)
    assert len(_folder(graph, ann_setup)) == 1  # bcsync's copy of Eva stays


def test_link_this_one_instead_keeps_the_copy_and_deletes_bcsyncs(as_user, ann, ann_setup, graph, world):
    eva, copy, run, issue = world

    response = as_user(ann).post(_url(run, issue, "link-copy"), follow=True)

    assert f"is now the Outlook contact of {eva.no}" in response.content.decode()
    assert _folder(graph, ann_setup) == {copy["id"]}


def test_clicking_again_after_it_was_done_gives_a_message_not_an_error(as_user, ann, ann_setup, graph, world):
    eva, copy, run, issue = world
    client = as_user(ann)
    client.post(_url(run, issue, "remove-copy"))

    response = client.post(_url(run, issue, "link-copy"), follow=True)

    assert response.status_code == 200
    assert "already dealt with" in response.content.decode()
    assert len(_folder(graph, ann_setup)) == 1


def test_a_copy_deleted_in_outlook_meanwhile_gives_a_message_not_an_error(as_user, ann, ann_setup, graph, world):
    eva, copy, run, issue = world
    graph.delete_contact(MAILBOX, ann_setup.folder_id, copy["id"])

    response = as_user(ann).post(_url(run, issue, "remove-copy"), follow=True)

    assert response.status_code == 200
    assert "no longer in the folder" in response.content.decode()


def test_a_get_changes_nothing(as_user, ann, ann_setup, graph, world):
    eva, copy, run, issue = world

    assert as_user(ann).get(_url(run, issue, "remove-copy")).status_code == 405
    assert copy["id"] in _folder(graph, ann_setup)


def test_a_post_without_the_csrf_token_is_refused(ann, ann_setup, graph, world):
    eva, copy, run, issue = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)

    assert client.post(_url(run, issue, "remove-copy")).status_code == 403
    assert copy["id"] in _folder(graph, ann_setup)


def test_staff_without_the_sync_permission_see_no_actions_and_are_refused(as_user, ann_setup, graph, world):
    eva, copy, run, issue = world
    # The setup's own user, but without "Can start contact synchronization".
    ann_setup.user.groups.clear()
    client = as_user(grant_view(ann_setup.user))

    page = client.get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).content.decode()
    assert 'value="Remove the Outlook copy"' not in page
    assert client.post(_url(run, issue, "remove-copy")).status_code == 403
    assert copy["id"] in _folder(graph, ann_setup)


def test_another_user_cannot_act_on_anns_copies(as_user, ann_setup, bob_setup, graph, world):
    eva, copy, run, issue = world

    assert as_user(bob_setup.user).post(_url(run, issue, "remove-copy")).status_code == 404
    assert copy["id"] in _folder(graph, ann_setup)


def test_a_superuser_may_act_on_anyones_copies(as_user, ann_setup, graph, world):
    eva, copy, run, issue = world
    boss = make_user("boss", is_superuser=True)

    as_user(boss).post(_url(run, issue, "remove-copy"))

    assert copy["id"] not in _folder(graph, ann_setup)
