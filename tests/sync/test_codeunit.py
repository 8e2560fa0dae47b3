"""Codeunit 6700: what a Job Queue Entry runs to synchronize contacts."""

import pytest

from exchange_sync.background import ParameterError, codeunit_contact_sync, parse_parameters
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.tasks import sync_run_task
from tests.factories import make_person, make_user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (None, False)),
        ("FULL", (None, True)),
        ("USER=Ann@Cronus.example", ("ann@cronus.example", False)),
        ("user=ann@cronus.example; full", ("ann@cronus.example", True)),
    ],
)
def test_it_reads_the_parameter_string(text, expected):
    assert parse_parameters(text) == expected


def test_it_refuses_an_unknown_parameter_clearly():
    with pytest.raises(ParameterError, match="Unknown parameter 'EVERYTHING'"):
        parse_parameters("EVERYTHING")


@pytest.fixture
def setups(db):
    enabled = [ExchangeSyncSetup.objects.create(user=make_user(mailbox=f"user{i}@cronus.example")) for i in range(3)]
    ExchangeSyncSetup.objects.create(user=make_user(mailbox="off@cronus.example"), is_enabled=False)
    return enabled


@pytest.fixture
def admin(db):
    """Entries that sync every mailbox run as a superuser; a salesperson's own entry
    syncs only their setup (tests/jobqueue/test_permissions.py)."""
    return make_user("jq-admin", is_superuser=True)


def test_it_queues_one_task_per_enabled_mailbox(setups, admin, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    with django_capture_on_commit_callbacks(execute=True):
        text = codeunit_contact_sync("FULL", admin)
    runs = SyncRun.objects.all()
    assert {run.setup for run in runs} == set(setups)
    assert {(run.kind, run.trigger, run.status) for run in runs} == {("full", "job", "queued")}
    assert sorted(queued) == sorted(("exchange_sync.tasks.sync_run_task", (run.pk,)) for run in runs)
    assert text.startswith("Queued 3 mailbox(es)")


def test_user_narrows_it_to_one_mailbox(setups, admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        codeunit_contact_sync("USER=user1@cronus.example", admin)
    assert [run.setup for run in SyncRun.objects.all()] == [setups[1]]


def test_it_fails_clearly_for_a_mailbox_without_an_enabled_setup(setups, admin):
    with pytest.raises(ParameterError, match="off@cronus.example"):
        codeunit_contact_sync("USER=off@cronus.example", admin)


def test_a_mailbox_already_syncing_is_not_queued_twice(setups, admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        codeunit_contact_sync("", admin)
        text = codeunit_contact_sync("", admin)
    assert SyncRun.objects.count() == 3
    assert "already running" in text


def test_one_failing_mailbox_does_not_stop_the_others(live_server, transactional_db, settings):
    """Each queued run is its own task: one mailbox without a sandbox mailbox fails,
    the other synchronizes."""
    from exchange_sync.sandbox.services import mailbox_add

    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    mailbox_add("good@cronus.example")
    good = ExchangeSyncSetup.objects.create(user=make_user(mailbox="good@cronus.example"))
    bad = ExchangeSyncSetup.objects.create(user=make_user(mailbox="missing@cronus.example"))
    make_person()
    codeunit_contact_sync("", make_user("jq-admin", is_superuser=True))
    results = {run.setup_id: sync_run_task(run.pk) for run in SyncRun.objects.all()}
    assert "Failed" in results[bad.pk]
    assert "Succeeded" in results[good.pk]
