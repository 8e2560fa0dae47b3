"""No duplicates, nothing lost, never silent: the engine's guarantees."""

import threading
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from exchange_sync import services
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox import views_graph
from exchange_sync.sandbox.services import mailbox_configure
from exchange_sync.services import sync_run_claim, sync_run_confirm, sync_run_create, sync_run_is_confirmable
from exchange_sync.sync import sync_run_execute, sync_setup
from tests.factories import make_person, make_user
from tests.sync.conftest import MAILBOX


def test_a_create_whose_answer_was_lost_never_yields_a_duplicate(sync, outlook, setup):
    people = [make_person() for _ in range(12)]
    mailbox_configure(MAILBOX, lost_create_rate=1.0)
    first = sync()
    mailbox_configure(MAILBOX, lost_create_rate=0.0)
    second = sync()
    third = sync(full=True)
    assert first.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), first.error
    assert (second.status, third.status) == (SyncRun.Status.SUCCEEDED, SyncRun.Status.SUCCEEDED)
    assert set(outlook.by_stamp()) == {p.no for p in people}  # by_stamp fails on a duplicate
    assert len(outlook.contacts()) == 12
    # Never two copies at any moment, not only none left at the end.
    assert outlook.most_copies() == {p.no.upper(): 1 for p in people}


@pytest.fixture
def answers_held_back(monkeypatch):
    """A lost answer's stall lasts until the test ends, not a number of seconds: the
    client's timeout always runs out first, however slow the machine."""
    released = threading.Event()
    monkeypatch.setattr(views_graph, "time", SimpleNamespace(sleep=lambda seconds: released.wait(120)))
    yield
    released.set()


def test_a_create_that_timed_out_never_yields_a_duplicate(live_server, settings, setup, outlook, answers_held_back):
    # The answer of a $batch with creates never comes back before the client's timeout:
    # the creates happened, and the client cannot know.
    settings.GRAPH_TIMEOUT_SECONDS, settings.GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS = 5.0, 120.0
    people = [make_person() for _ in range(30)]
    mailbox_configure(MAILBOX, lost_create_rate=0.1)
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    try:
        first = sync_setup(setup, client=client, kind=SyncRun.Kind.FULL)
        mailbox_configure(MAILBOX, lost_create_rate=0.0)
        second = sync_setup(setup, client=client)
    finally:
        client.close()
    assert first.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), first.error
    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert set(outlook.by_stamp()) == {p.no for p in people}  # by_stamp fails on a duplicate
    assert len(outlook.contacts()) == 30
    assert outlook.most_copies() == {p.no.upper(): 1 for p in people}


def test_a_second_run_of_the_same_setup_is_refused_and_says_so(sync, setup):
    make_person()
    running = sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB)
    assert sync_run_claim(running)
    refused = sync()
    assert refused.status == SyncRun.Status.REFUSED
    assert f"run #{running.pk}" in refused.error
    assert refused.created_in_outlook == 0


class _ClaimsThatReadBeforeEitherWrites:
    """`ExchangeSyncSetup` as `sync_run_claim` sees it, with the worst interleaving of
    two claims made every time: neither may write itself into the setup before both
    have read who holds it (both read "nobody"). Releasing a claim is not held back."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.objects = _HeldBackManager(barrier)

    def __getattr__(self, name: str):
        return getattr(ExchangeSyncSetup, name)


class _HeldBackManager:
    def __init__(self, barrier: threading.Barrier) -> None:
        self._barrier = barrier

    def filter(self, *args, **kwargs):
        return _HeldBackQuerySet(ExchangeSyncSetup.objects.filter(*args, **kwargs), self._barrier)

    def __getattr__(self, name: str):
        return getattr(ExchangeSyncSetup.objects, name)


class _HeldBackQuerySet:
    def __init__(self, queryset, barrier: threading.Barrier) -> None:
        self._queryset, self._barrier = queryset, barrier

    def update(self, **values):
        if values.get("running_run") is not None:  # a claim, not a release
            self._barrier.wait(timeout=120)  # a safety against a hang, never reached when both claim
        return self._queryset.update(**values)

    def __getattr__(self, name: str):
        return getattr(self._queryset, name)


def test_two_runs_that_both_see_the_setup_free_never_both_sync(live_server, setup, outlook, monkeypatch):
    # A person's button and a schedule at the same moment: both runs read that no run
    # holds the setup before either claims it. Only the compare-and-swap tells them apart.
    people = [make_person() for _ in range(30)]
    monkeypatch.setattr(services, "ExchangeSyncSetup", _ClaimsThatReadBeforeEitherWrites(threading.Barrier(2)))
    results: list[SyncRun] = []

    def start() -> None:
        client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
        try:
            results.append(sync_setup(ExchangeSyncSetup.objects.get(pk=setup.pk), client=client))
        finally:
            client.close()
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused, succeeded = sorted(results, key=lambda run: run.status != SyncRun.Status.REFUSED)
    assert (refused.status, succeeded.status) == (SyncRun.Status.REFUSED, SyncRun.Status.SUCCEEDED), [
        (run.status, run.error) for run in results
    ]
    assert f"run #{succeeded.pk}" in refused.error
    assert refused.created_in_outlook == refused.graph_requests == 0
    assert set(outlook.by_stamp()) == {p.no for p in people}
    assert outlook.most_copies() == {p.no.upper(): 1 for p in people}


def test_of_many_runs_claiming_one_setup_at_the_same_moment_exactly_one_wins(setup):
    for _round in range(5):
        runs = [sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB) for _ in range(6)]
        barrier = threading.Barrier(len(runs))
        won: list[bool] = []

        def claim(run: SyncRun, barrier: threading.Barrier, won: list[bool]) -> None:
            try:
                barrier.wait()
                won.append(sync_run_claim(run))
            finally:
                connection.close()

        threads = [threading.Thread(target=claim, args=(run, barrier, won)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert won.count(True) == 1, won
        SyncRun.objects.filter(pk__in=[r.pk for r in runs]).update(status=SyncRun.Status.SUCCEEDED)


@pytest.mark.parametrize("expiry", ["410", "syncStateNotFound"])
def test_an_expired_delta_link_falls_back_to_a_full_reconciliation(sync, outlook, setup, expiry):
    people = [make_person() for _ in range(5)]
    sync()
    outlook.create(displayName="New In Outlook", emailAddresses=[{"address": "new@outlook.example"}])
    people[0].job_title = "Changed"
    people[0].save()
    mailbox_configure(MAILBOX, expire_delta=expiry)
    run = sync()
    mailbox_configure(MAILBOX, expire_delta="")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "full reconciliation" in run.error
    assert Contact.objects.filter(email="new@outlook.example").count() == 1
    assert outlook.by_stamp()[people[0].no]["jobTitle"] == "Changed"
    assert sync().status == SyncRun.Status.SUCCEEDED
    setup.refresh_from_db()
    assert setup.delta_link


def test_a_run_that_would_delete_most_contacts_waits_for_confirmation(sync, outlook, graph, setup):
    keep = [make_person(city="Lyon") for _ in range(5)]
    leave = [make_person(city="Paris") for _ in range(12)]
    sync()
    setup.contact_filter = {"city": "Lyon"}
    setup.save()
    run = sync()
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert "would delete 12 of the 17" in run.error
    assert {row["no"] for row in run.planned_deletions} == {p.no for p in leave}
    assert len(outlook.contacts()) == 17  # nothing deleted

    confirmed = sync_run_create(setup, kind=run.kind, trigger=SyncRun.Trigger.BUTTON, confirms=run)
    confirmed = sync_run_execute(confirmed, client=graph)
    assert confirmed.status == SyncRun.Status.SUCCEEDED, confirmed.error
    assert confirmed.deleted_in_outlook == 12
    assert set(outlook.by_stamp()) == {p.no for p in keep}
    assert Contact.objects.count() == 17  # nothing deleted in Business Central


def test_a_folder_emptied_in_outlook_waits_for_confirmation(sync, outlook, graph, setup):
    people = [make_person() for _ in range(12)]
    sync()
    for item in outlook.contacts():
        outlook.delete(item["id"])
    run = sync()
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert "missing from the Outlook folder" in run.error
    assert outlook.contacts() == []
    confirmed = sync_run_execute(
        sync_run_create(setup, kind=run.kind, trigger=SyncRun.Trigger.BUTTON, confirms=run), client=graph
    )
    assert confirmed.created_in_outlook == 12
    assert set(outlook.by_stamp()) == {p.no for p in people}


def test_a_small_folder_emptied_in_outlook_also_waits_for_confirmation(sync, outlook, setup):
    setup.on_outlook_delete = ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING
    setup.save()
    people = [make_person() for _ in range(3)]
    sync()
    for item in outlook.contacts():
        outlook.delete(item["id"])
    run = sync()
    assert run.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert run.planned_count == 3
    assert {row["no"] for row in run.planned_deletions} == {p.no for p in people}
    assert not setup.links.filter(state="stopped").exists()


def test_a_confirmation_allows_no_more_deletions_than_it_was_shown(sync, outlook, graph, setup):
    make_person(city="Lyon")
    leave = [make_person(city="Paris") for _ in range(12)]
    sync()
    setup.contact_filter = {"city": "Lyon"}
    setup.save()
    run = sync()
    assert (run.status, run.planned_count) == (SyncRun.Status.NEEDS_CONFIRMATION, 12)
    Contact.objects.filter(pk=leave[0].pk).update(city="Lyon")  # back in scope: fewer deletions is fine
    fewer = sync_run_execute(
        sync_run_create(setup, kind=run.kind, trigger=SyncRun.Trigger.BUTTON, confirms=run), client=graph
    )
    assert fewer.status == SyncRun.Status.SUCCEEDED, fewer.error
    assert fewer.deleted_in_outlook == 11


def test_a_confirmation_that_would_now_delete_more_asks_again(sync, outlook, graph, setup):
    make_person(city="Lyon")
    [make_person(city="Paris") for _ in range(12)]
    more = [make_person(city="Rome") for _ in range(3)]
    sync()
    setup.contact_filter = {"city": "Lyon|Rome"}
    setup.save()
    run = sync()
    assert run.planned_count == 12
    Contact.objects.filter(pk__in=[p.pk for p in more]).update(city="Oslo")
    again = sync_run_execute(
        sync_run_create(setup, kind=run.kind, trigger=SyncRun.Trigger.BUTTON, confirms=run), client=graph
    )
    assert again.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert again.planned_count == 15
    assert len(outlook.contacts()) == 16  # nothing deleted


def test_confirming_missing_contacts_never_lets_other_deletions_through(sync, outlook, graph, setup):
    deleted_in_outlook = [make_person(city="Lyon") for _ in range(13)]
    untouched = [make_person(city="Paris") for _ in range(12)]
    sync()
    for person in deleted_in_outlook:
        outlook.delete(outlook.by_stamp()[person.no]["id"])
    run = sync()
    assert (run.status, run.planned_reason, run.planned_count) == (SyncRun.Status.NEEDS_CONFIRMATION, "missing", 13)
    # Before the confirmed run goes, the filter changes: 13 others would leave Outlook.
    setup.contact_filter = {"city": "Lyon"}
    setup.save()
    Contact.objects.filter(pk=deleted_in_outlook[0].pk).update(city="Oslo")
    again = sync_run_execute(
        sync_run_create(setup, kind=run.kind, trigger=SyncRun.Trigger.BUTTON, confirms=run), client=graph
    )
    assert (again.status, again.planned_reason) == (SyncRun.Status.NEEDS_CONFIRMATION, "leaving")
    assert {p.no for p in untouched} <= set(outlook.by_stamp())  # none deleted


def test_only_the_latest_run_of_a_setup_can_be_confirmed(sync, setup):
    make_person(city="Lyon")
    [make_person(city="Paris") for _ in range(12)]
    sync()
    setup.contact_filter = {"city": "Lyon"}
    setup.save()
    old = sync()
    newer = sync()
    assert old.status == newer.status == SyncRun.Status.NEEDS_CONFIRMATION
    assert not sync_run_is_confirmable(old)
    assert sync_run_is_confirmable(newer)
    with pytest.raises(ValueError, match="synchronized again since this run"):
        sync_run_confirm(old)


def test_a_few_deletions_need_no_confirmation(sync, outlook, setup):
    people = [make_person() for _ in range(4)]
    sync()
    people[0].delete()
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.deleted_in_outlook == 1
    assert "deleted in Business Central" in run.issues.get().reason
    assert set(outlook.by_stamp()) == {p.no for p in people[1:]}


def test_one_bad_contact_never_aborts_the_run(sync, outlook, setup):
    people = [make_person() for _ in range(5)]
    sync()
    broken = setup.links.get(contact=people[0])
    broken.graph_id = "not-a-graph-id"
    broken.save()
    for person in people:
        person.job_title = "Changed"
        person.save()
    run = sync()
    assert run.status == SyncRun.Status.PARTIAL
    assert run.updated_in_outlook == 4
    assert run.failed == 1
    issue = run.issues.get(kind="failed")
    assert issue.contact_no == people[0].no
    assert "ErrorInvalidIdMalformed" in issue.reason


def test_missing_consent_marks_the_setup_as_needing_attention(sync, setup):
    make_person()
    mailbox_configure(MAILBOX, access_denied=True)
    run = sync()
    assert run.status == SyncRun.Status.FAILED
    setup.refresh_from_db()
    assert setup.needs_attention
    assert "admin consent" in setup.last_error
    mailbox_configure(MAILBOX, access_denied=False)
    assert sync().status == SyncRun.Status.SUCCEEDED
    setup.refresh_from_db()
    assert not setup.needs_attention


def test_an_unknown_mailbox_marks_the_setup_as_needing_attention(graph, transactional_db):
    user = make_user("ghost", mailbox="ghost@cronus.example")
    setup = ExchangeSyncSetup.objects.create(user=user)
    make_person()
    run = sync_setup(setup, client=graph)
    assert run.status == SyncRun.Status.FAILED
    setup.refresh_from_db()
    assert setup.needs_attention
    assert "ghost@cronus.example was not found" in setup.last_error


def test_a_user_without_a_mailbox_is_told_where_to_set_it(graph, transactional_db):
    setup = ExchangeSyncSetup.objects.create(user=make_user("nomail"))
    run = sync_setup(setup, client=graph)
    assert run.status == SyncRun.Status.FAILED
    assert "Microsoft 365 Authentication" in run.error


def test_the_delta_link_is_kept_when_the_run_fails_after_pulling(sync, outlook, setup, monkeypatch):
    make_person()
    sync()
    link_before = setup.delta_link
    outlook.create(displayName="Pulled Once", emailAddresses=[{"address": "once@outlook.example"}])

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr("exchange_sync.sync.engine.Engine._push", crash)
    failed = sync()
    monkeypatch.undo()
    assert failed.status == SyncRun.Status.FAILED
    setup.refresh_from_db()
    assert setup.delta_link == link_before
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert Contact.objects.filter(email="once@outlook.example").count() == 1


def test_database_work_does_not_grow_with_the_number_of_contacts(sync, setup):
    def queries_for_unchanged_full_sync(count: int) -> int:
        for _ in range(count):
            make_person()
        sync()
        sync()
        with CaptureQueriesContext(connection) as captured:
            run = sync(full=True)
        assert run.unchanged >= count
        return len(captured.captured_queries)

    small = queries_for_unchanged_full_sync(20)
    large = queries_for_unchanged_full_sync(60)  # 80 contacts in all
    assert large == small


def test_a_full_sync_after_outlook_touched_every_contact_costs_the_same_queries_for_more_contacts(sync, outlook, setup):
    def queries_for_full_sync_after_outlook_touch(count: int) -> int:
        for _ in range(count):
            make_person()
        sync()
        sync()
        for item in outlook.contacts():
            outlook.update(item["id"], jobTitle=item["jobTitle"])  # a new changeKey, the same values
        with CaptureQueriesContext(connection) as captured:
            run = sync(full=True)
        assert run.unchanged >= count and run.updated_in_outlook == 0
        return len(captured.captured_queries)

    small = queries_for_full_sync_after_outlook_touch(20)
    large = queries_for_full_sync_after_outlook_touch(60)  # 80 contacts in all
    assert large == small


def test_adopting_a_folder_of_stamped_contacts_costs_the_same_queries_for_more_contacts(sync, setup):
    def queries_for_adopting_the_folder(count: int) -> int:
        for _ in range(count):
            make_person()
        sync()
        # A reset setup finds its folder by name and links every stamped contact in it.
        setup.links.all().delete()
        ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_id="", delta_link="")
        with CaptureQueriesContext(connection) as captured:
            run = sync(full=True)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert run.unchanged >= count and run.created_in_outlook == run.created_in_bc == 0
        return len(captured.captured_queries)

    small = queries_for_adopting_the_folder(20)
    large = queries_for_adopting_the_folder(60)  # 80 contacts in all
    assert large == small


def test_a_filter_that_cannot_be_used_fails_the_run_with_what_to_fix(sync, setup):
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(contact_filter={"email": "x@y"})
    run = sync()
    assert run.status == SyncRun.Status.FAILED
    assert "The contact filter cannot be used: Contacts cannot be filtered on 'email'" in run.error
    setup.refresh_from_db()
    assert setup.needs_attention
