"""Sync with Microsoft 365 / Full Sync with Microsoft 365 buttons on the contact list."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from tests.admin.conftest import contact_permissions, grant_sync
from tests.factories import make_user

pytestmark = pytest.mark.django_db
SYNC = reverse("admin:exchange_sync_exchangesyncsetup_sync")
FULL_SYNC = reverse("admin:exchange_sync_exchangesyncsetup_full_sync")
CONTACTS = reverse("admin:contacts_contact_changelist")


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_contact_list_shows_both_buttons_as_post_forms_with_csrf(as_user, ann):
    page = as_user(ann).get(CONTACTS).content.decode()
    assert "Sync with Microsoft 365" in page
    assert "Full Sync with Microsoft 365" in page
    assert f'method="post" action="{SYNC}"' in page
    assert f'method="post" action="{FULL_SYNC}"' in page
    assert page.count("csrfmiddlewaretoken") >= 2


def test_staff_without_the_sync_permission_see_no_buttons(as_user):
    user = make_user("viewer", mailbox="viewer@cronus.example")
    user.user_permissions.add(*contact_permissions())
    page = as_user(user).get(CONTACTS).content.decode()
    assert "Sync with Microsoft 365" not in page


def test_sync_queues_a_button_run_of_the_users_setup_and_opens_its_page(as_user, ann, ann_setup):
    response = as_user(ann).post(SYNC)
    run = SyncRun.objects.get()
    assert (run.setup, run.kind, run.trigger, run.status) == (
        ann_setup,
        SyncRun.Kind.INCREMENTAL,
        SyncRun.Trigger.BUTTON,
        SyncRun.Status.QUEUED,
    )
    assert run.requested_by == ann
    assert response.status_code == 302
    assert response.url == reverse("admin:exchange_sync_syncrun_change", args=[run.pk])
    assert texts(response) == ["Sync with Microsoft 365 has been queued. This page shows its progress."]


def test_full_sync_queues_a_full_run(as_user, ann, ann_setup):
    as_user(ann).post(FULL_SYNC)
    assert SyncRun.objects.get().kind == SyncRun.Kind.FULL


def test_the_run_is_handed_to_django_q_after_commit(as_user, ann, ann_setup, django_capture_on_commit_callbacks):
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    with django_capture_on_commit_callbacks(execute=True):
        as_user(ann).post(SYNC)
    run = SyncRun.objects.get()
    # Read it back from whichever broker is configured (database or Redis).
    broker = get_broker()
    [(ack_id, package)] = broker.dequeue()
    broker.acknowledge(ack_id)
    task = SignedPackage.loads(package)
    assert (task["func"], tuple(task["args"])) == ("exchange_sync.tasks.sync_run_task", (run.pk,))


def test_a_second_click_while_a_run_is_going_shows_that_run(as_user, ann, ann_setup):
    client = as_user(ann)
    first = client.post(SYNC)
    again = client.post(FULL_SYNC)
    run = SyncRun.objects.get()
    assert again.url == first.url == reverse("admin:exchange_sync_syncrun_change", args=[run.pk])
    assert "A synchronization is already running" in texts(again)[-1]


def test_a_user_without_a_setup_gets_a_link_to_the_setup_page(as_user, ann):
    response = as_user(ann).post(SYNC, HTTP_REFERER=f"http://testserver{CONTACTS}")
    assert response.url == f"http://testserver{CONTACTS}"
    (message,) = texts(response)
    assert "You have no Exchange Sync. Setup yet" in message
    assert reverse("admin:exchange_sync_exchangesyncsetup_changelist") in message
    assert not SyncRun.objects.exists()


def test_a_user_without_a_microsoft_365_email_gets_a_link_to_the_setup_page(as_user):
    user = grant_sync(make_user("nomail"))
    setup = ExchangeSyncSetup.objects.create(user=user)
    response = as_user(user).post(SYNC)
    (message,) = texts(response)
    assert "has no Microsoft 365 email" in message
    assert reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk]) in message
    assert not SyncRun.objects.exists()


def test_staff_without_the_sync_permission_cannot_start_a_run(as_user):
    user = make_user("viewer", mailbox="viewer@cronus.example")
    ExchangeSyncSetup.objects.create(user=user)
    client = as_user(user)
    assert client.post(SYNC).status_code == 403
    assert client.post(FULL_SYNC).status_code == 403
    assert not SyncRun.objects.exists()


def test_a_get_never_starts_a_run(as_user, ann, ann_setup):
    assert as_user(ann).get(SYNC).status_code == 405
    assert not SyncRun.objects.exists()


def test_a_user_cannot_sync_another_users_setup(as_user, ann, ann_setup, bob_setup):
    assert as_user(ann).post(SYNC, {"setup": bob_setup.pk}).status_code == 404
    assert not SyncRun.objects.exists()


def test_a_superuser_can_sync_another_users_setup_from_its_page(as_user, superuser, bob_setup):
    as_user(superuser).post(SYNC, {"setup": bob_setup.pk})
    assert SyncRun.objects.get().setup == bob_setup
