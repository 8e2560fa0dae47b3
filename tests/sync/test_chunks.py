"""The engine reads the database in chunks, each its own query, so it never holds a
read open while it talks to Graph (on SQLite, an open read keeps the embedded
sandbox and the web server from committing)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from exchange_sync.models import SyncRun
from exchange_sync.sync import engine
from tests.factories import make_company, make_person


@pytest.mark.django_db
def test_chunks_are_separate_queries_in_primary_key_order():
    people = [make_person() for _ in range(7)]
    chunks = engine._pk_chunks(Contact.objects.filter(type=Contact.Type.PERSON), 3)
    with CaptureQueriesContext(connection) as queries:
        first = next(chunks)
    assert [c.pk for c in first] == [p.pk for p in people[:3]]
    assert len(queries) == 1
    # The query is finished: the caller can change what it read before the next chunk.
    Contact.objects.filter(pk=people[1].pk).delete()
    rest = [c.pk for chunk in chunks for c in chunk]
    assert rest == [p.pk for p in people[3:]]


def test_a_sync_larger_than_a_chunk_reaches_every_contact(sync, outlook, setup, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK", 4)
    company = make_company("Northwind")
    people = [make_person(company=company) for _ in range(11)]
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 11
    assert run.excluded == 1  # the company

    for person in people[:5]:
        person.email = ""
        person.save()
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.deleted_in_outlook == 5
    assert set(outlook.by_stamp()) == {p.no for p in people[5:]}
