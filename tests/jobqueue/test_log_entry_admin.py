"""Job Queue Log Entries: listed per entry, cleaned up after 7 days."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobqueue import services
from jobqueue.models import JobQueueLogEntry

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:jobqueue_jobqueuelogentry_changelist")


def log(entry_id: int, age: timedelta, user=None) -> JobQueueLogEntry:
    return JobQueueLogEntry.objects.create(
        entry_id=entry_id,
        user=user,
        started_at=timezone.now() - age,
        object_type_to_run="Codeunit",
        object_id_to_run=6700,
        status="Success",
    )


def test_the_entry_card_links_to_its_log_entries_and_the_list_filters_them(admin_client_for, superuser, make_entry):
    client = admin_client_for(superuser)
    entry, other = make_entry(), make_entry()
    log(entry.pk, timedelta(hours=1), superuser)
    log(other.pk, timedelta(hours=2), superuser)
    card = client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).content.decode()
    url = f"{CHANGELIST}?entry_id={entry.pk}"
    assert url in card
    response = client.get(url)
    assert response.context["cl"].result_count == 1


def test_the_log_list_has_no_n_plus_1(admin_client_for, superuser, django_assert_num_queries):
    client = admin_client_for(superuser)
    log(1, timedelta(hours=1), superuser)
    with CaptureQueriesContext(connection) as few:
        client.get(CHANGELIST)
    for n in range(5):
        log(n, timedelta(hours=1), superuser)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(CHANGELIST)


def test_delete_entries_older_than_7_days_keeps_the_recent_ones(admin_client_for, superuser):
    client = admin_client_for(superuser)
    old, recent = log(1, timedelta(days=8)), log(1, timedelta(days=6))
    assert (
        f'action="{reverse("admin:jobqueue_jobqueuelogentry_delete_older")}"' in client.get(CHANGELIST).content.decode()
    )
    response = client.post(reverse("admin:jobqueue_jobqueuelogentry_delete_older"))
    assert response.status_code == 302
    assert list(JobQueueLogEntry.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not JobQueueLogEntry.objects.filter(pk=old.pk).exists()


def test_log_entries_outlive_their_entry(make_entry):
    entry = services.job_queue_entry_set_ready(make_entry())
    entry_id = entry.pk
    log(entry_id, timedelta(0))
    entry.delete()
    assert JobQueueLogEntry.objects.filter(entry_id=entry_id).exists()
