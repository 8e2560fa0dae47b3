"""Fixtures for the job queue tests: test-only objects, entries, inline django-q2."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django_q.conf import Conf

from jobqueue import objects
from jobqueue.models import JobQueueEntry
from jobqueue.objects import ObjectType
from tests.factories import make_user
from tests.jobqueue import objects_for_tests
from tests.jobqueue.objects_for_tests import SUCCEED, TEST_OBJECTS

JOB_QUEUE_CLERK_PERMISSIONS = (
    "view_jobqueueentry",
    "add_jobqueueentry",
    "change_jobqueueentry",
    "delete_jobqueueentry",
    "view_jobqueuelogentry",
    "delete_jobqueuelogentry",
)


def grant(user, *codenames: str):
    """Give a user model permissions by codename, e.g. grant(ann, "run_contact_sync")."""
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # a fresh object: no stale permission cache


@pytest.fixture(autouse=True)
def test_objects(monkeypatch):
    """Register the test-only codeunits next to Codeunit 6700 and clear their call record."""
    for key, obj in TEST_OBJECTS.items():
        monkeypatch.setitem(objects.OBJECTS, key, obj)
    objects_for_tests.CALLS.clear()
    return objects_for_tests.CALLS


@pytest.fixture
def q_sync(monkeypatch):
    """Run django-q2 tasks inline. Q_CLUSTER is read once at import, so override_settings
    cannot do this; the class attribute that async_task reads can."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def copenhagen(settings):
    settings.TIME_ZONE = "Europe/Copenhagen"


@pytest.fixture
def runner(db):
    return make_user("runner", mailbox="runner@cronus.example")


@pytest.fixture
def make_entry(runner):
    """Create an entry (On Hold, like every new entry) with test defaults."""

    def make(object_id: int = SUCCEED, **fields) -> JobQueueEntry:
        fields.setdefault("user", runner)
        fields.setdefault("rerun_delay_seconds", 0)
        fields.setdefault("object_type_to_run", ObjectType.CODEUNIT)
        return JobQueueEntry.objects.create(object_id_to_run=object_id, **fields)

    return make
