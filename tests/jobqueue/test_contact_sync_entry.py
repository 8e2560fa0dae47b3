"""'Set up job queue entry' for contact sync: the setup owner's recurring Codeunit 6700 entry."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup
from jobqueue import contact_sync, services
from jobqueue.models import WEEKDAY_FIELDS, JobQueueEntry
from tests.factories import make_user
from tests.jobqueue.conftest import JOB_QUEUE_CLERK_PERMISSIONS, grant

pytestmark = pytest.mark.django_db
URL = reverse("admin:jobqueue_jobqueueentry_contact_sync")


def syncing_user(username: str, *, enabled: bool = True, **fields):
    """A user with a mailbox, an Exchange Sync. Setup and the right to synchronize."""
    user = grant(make_user(username, mailbox=f"{username}@cronus.example", **fields), "run_contact_sync")
    ExchangeSyncSetup.objects.create(user=user, is_enabled=enabled)
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def bob():
    return syncing_user("bob")


@pytest.fixture
def boss_client(admin_client_for, superuser):
    ExchangeSyncSetup.objects.create(user=superuser)
    return admin_client_for(superuser)


def test_it_creates_a_ready_recurring_codeunit_6700_entry_every_30_minutes(bob):
    result = contact_sync.job_queue_entry_contact_sync_ensure(bob)
    entry = result.entry
    assert result.created and not result.background_sync_switched_on
    assert (entry.object_type_to_run, entry.object_id_to_run) == ("Codeunit", 6700)
    assert entry.object_caption_to_run == "Exchange Contact Sync."
    assert entry.parameter_string == "USER=bob@cronus.example"
    assert entry.minutes_between_runs == 30
    assert all(getattr(entry, name) for name in WEEKDAY_FIELDS)
    assert (entry.user, entry.status) == (bob, JobQueueEntry.Status.READY)


def test_it_opens_the_existing_entry_instead_of_creating_another(bob):
    first = contact_sync.job_queue_entry_contact_sync_ensure(bob).entry
    again = contact_sync.job_queue_entry_contact_sync_ensure(bob)
    assert (again.entry, again.created) == (first, False)
    other = contact_sync.job_queue_entry_contact_sync_ensure(syncing_user("ann"))
    assert other.created and other.entry != first


def test_a_user_without_a_microsoft_365_email_gets_a_clear_error():
    with pytest.raises(services.JobQueueError, match="no Microsoft 365 authentication email"):
        contact_sync.job_queue_entry_contact_sync_ensure(make_user("nomail"))
    assert not JobQueueEntry.objects.exists()


def test_a_user_without_a_setup_gets_a_clear_error_and_no_entry():
    user = grant(make_user("nosetup", mailbox="nosetup@cronus.example"), "run_contact_sync")
    with pytest.raises(services.JobQueueError, match="no Exchange Sync. Setup yet"):
        contact_sync.job_queue_entry_contact_sync_ensure(user)
    assert not JobQueueEntry.objects.exists()


def test_a_user_without_the_sync_permission_gets_a_clear_error_and_no_entry():
    user = make_user("clerk", mailbox="clerk@cronus.example")
    ExchangeSyncSetup.objects.create(user=user)
    with pytest.raises(services.JobQueueError, match="may not start contact synchronizations"):
        contact_sync.job_queue_entry_contact_sync_ensure(user)
    assert not JobQueueEntry.objects.exists()


def test_background_sync_that_is_off_is_switched_on_so_the_entry_can_run():
    user = syncing_user("ann", enabled=False)
    result = contact_sync.job_queue_entry_contact_sync_ensure(user)
    assert result.created and result.background_sync_switched_on
    assert ExchangeSyncSetup.objects.get(user=user).is_enabled


def test_the_admin_url_creates_the_entry_and_redirects_to_its_card(boss_client, superuser):
    assert boss_client.get(URL).status_code == 405
    response = boss_client.post(URL)
    entry = JobQueueEntry.objects.get(user=superuser)
    assert response.url == reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])
    assert "Job queue entry created" in messages_of(response)[0]


def test_a_superuser_pressing_it_on_bobs_setup_creates_bobs_entry_running_as_bob(boss_client, bob, superuser):
    response = boss_client.post(URL, {"user": bob.pk})
    entry = JobQueueEntry.objects.get()
    assert (entry.user, entry.parameter_string) == (bob, "USER=bob@cronus.example")
    assert response.url == reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])
    assert "runs as bob every 30 minutes" in messages_of(response)[0]
    again = boss_client.post(URL, {"user": bob.pk})
    assert "bob's job queue entry for" in messages_of(again)[-1]
    assert not JobQueueEntry.objects.filter(user=superuser).exists()


def test_the_message_says_when_background_sync_was_switched_on(boss_client):
    ann = syncing_user("ann", enabled=False)
    response = boss_client.post(URL, {"user": ann.pk})
    assert "Background sync was off on the Exchange Sync. Setup and has been switched on" in messages_of(response)[0]


def test_a_user_cannot_set_up_an_entry_for_another_user(admin_client_for, bob):
    clerk = grant(syncing_user("clerk"), *JOB_QUEUE_CLERK_PERMISSIONS)
    client = admin_client_for(clerk)
    assert client.post(URL, {"user": bob.pk}).status_code == 403
    assert not JobQueueEntry.objects.exists()
    client.post(URL, {"user": clerk.pk})
    assert JobQueueEntry.objects.get().user == clerk


def test_the_admin_url_sends_a_user_without_mailbox_back_with_the_message(admin_client_for):
    client = admin_client_for(make_user("nomail", is_superuser=True))
    response = client.post(URL, headers={"referer": "http://testserver/admin/exchange_sync/"})
    assert response.url == "http://testserver/admin/exchange_sync/"
    assert "no Microsoft 365 authentication email" in messages_of(response)[0]


def test_the_admin_url_needs_permission_to_add_entries(admin_client_for):
    client = admin_client_for(make_user("clerk", mailbox="clerk@cronus.example"))
    assert client.post(URL).status_code == 403
    assert not JobQueueEntry.objects.exists()
