"""With 10,000 contacts and 1,000 runs, the list pages of the main flows cost the same
number of queries whatever the number of rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from tests.factories import make_user


@pytest.fixture
def big_database(db):
    boss = make_user("boss", is_superuser=True, mailbox="boss@cronus.example")
    Contact.objects.bulk_create(
        [
            Contact(
                no=f"CT{i:06d}",
                type=Contact.Type.PERSON,
                name=f"Person {i}",
                email=f"p{i}@example.com",
                city=f"City {i % 40}",
                company_name=f"Company {i % 200}",
                salesperson_code=f"S{i % 7}",
            )
            for i in range(1, 10_001)
        ],
        batch_size=2000,
    )
    setups = [ExchangeSyncSetup.objects.create(user=boss)] + [
        ExchangeSyncSetup.objects.create(user=make_user(mailbox=f"u{i}@cronus.example")) for i in range(30)
    ]
    runs = SyncRun.objects.bulk_create(
        [
            SyncRun(setup=setups[i % len(setups)], kind="full", trigger="job", status="succeeded", requested_by=boss)
            for i in range(1000)
        ]
    )
    SyncIssue.objects.bulk_create(
        [SyncIssue(run=runs[i % 1000], kind="excluded", direction="to_outlook", reason="x") for i in range(2000)]
    )
    entries = [
        JobQueueEntry.objects.create(
            object_type_to_run="Codeunit", object_id_to_run=6700, user=make_user(), description=f"E{i}"
        )
        for i in range(30)
    ]
    JobQueueLogEntry.objects.bulk_create(
        [
            JobQueueLogEntry(
                entry_id=entries[i % 30].pk,
                user=entries[i % 30].user,
                status="Success",
                started_at=entries[i % 30].created_at,
                object_type_to_run="Codeunit",
                object_id_to_run=6700,
            )
            for i in range(300)
        ]
    )
    return boss


LIST_PAGES = [
    ("admin:contacts_contact_changelist", {"q": "p7777@"}),
    ("admin:exchange_sync_exchangesyncsetup_changelist", {"q": "u1@"}),
    ("admin:exchange_sync_syncrun_changelist", {"kind__exact": "incremental"}),
    ("admin:exchange_sync_syncissue_changelist", {"q": "nothing-matches"}),
    ("admin:jobqueue_jobqueueentry_changelist", {"q": "E11"}),
    ("admin:jobqueue_jobqueuelogentry_changelist", {"q": "nothing-matches"}),
    ("admin:auth_user_changelist", {"q": "boss"}),
]


@pytest.mark.parametrize(("url_name", "narrowing"), LIST_PAGES, ids=[name for name, _ in LIST_PAGES])
def test_a_list_page_costs_the_same_queries_for_few_or_many_rows(client, big_database, url_name, narrowing):
    client.force_login(big_database)
    url = reverse(url_name)
    client.get(url)  # warm per-session caches

    def queries(params: dict) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, params)
        assert response.status_code == 200, response.content[:500]
        return len(captured.captured_queries), len(response.context["cl"].result_list)

    many_queries, many_rows = queries({})
    few_queries, few_rows = queries(narrowing)
    assert many_rows > few_rows
    assert many_queries == few_queries
