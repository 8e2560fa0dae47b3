"""'Set up job queue entry' for contact sync: the user's recurring Codeunit 6700 entry."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from jobqueue import services
from jobqueue.models import WEEKDAY_FIELDS, JobQueueEntry
from tests.factories import make_user

pytestmark = pytest.mark.django_db
URL = reverse("admin:jobqueue_jobqueueentry_contact_sync")


def test_it_creates_a_ready_recurring_codeunit_6700_entry_every_30_minutes(runner):
    entry, created = services.job_queue_entry_contact_sync_ensure(runner)
    assert created
    assert (entry.object_type_to_run, entry.object_id_to_run) == ("Codeunit", 6700)
    assert entry.object_caption_to_run == "Exchange Contact Sync."
    assert entry.parameter_string == "USER=runner@cronus.example"
    assert entry.minutes_between_runs == 30
    assert all(getattr(entry, name) for name in WEEKDAY_FIELDS)
    assert (entry.user, entry.status) == (runner, JobQueueEntry.Status.READY)


def test_it_opens_the_existing_entry_instead_of_creating_another(runner):
    first, _ = services.job_queue_entry_contact_sync_ensure(runner)
    again, created = services.job_queue_entry_contact_sync_ensure(runner)
    assert (again, created) == (first, False)
    other, created = services.job_queue_entry_contact_sync_ensure(make_user(mailbox="ann@cronus.example"))
    assert created and other != first


def test_a_user_without_a_microsoft_365_email_gets_a_clear_error():
    with pytest.raises(services.JobQueueError, match="no Microsoft 365 authentication email"):
        services.job_queue_entry_contact_sync_ensure(make_user("nomail"))
    assert not JobQueueEntry.objects.exists()


def test_the_admin_url_creates_the_entry_and_redirects_to_its_card(admin_client_for, superuser):
    client = admin_client_for(superuser)
    assert client.get(URL).status_code == 405
    response = client.post(URL)
    entry = JobQueueEntry.objects.get(user=superuser)
    assert response.url == reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])
    assert "Job queue entry created" in str(next(iter(get_messages(response.wsgi_request))))


def test_the_admin_url_sends_a_user_without_mailbox_back_with_the_message(admin_client_for):
    client = admin_client_for(make_user("nomail", is_superuser=True))
    response = client.post(URL, headers={"referer": "http://testserver/admin/exchange_sync/"})
    assert response.url == "http://testserver/admin/exchange_sync/"
    assert "no Microsoft 365 authentication email" in str(next(iter(get_messages(response.wsgi_request))))


def test_the_admin_url_needs_permission_to_add_entries(admin_client_for):
    client = admin_client_for(make_user("clerk", mailbox="clerk@cronus.example"))
    assert client.post(URL).status_code == 403
    assert not JobQueueEntry.objects.exists()
