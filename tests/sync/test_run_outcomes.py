"""What a run records when it ends, whatever its engine met: status, what to do about it,
counters, requests, progress; the setup's claim released and its health updated.
README, "What a sync guarantees": Never silent, and One run per setup at a time.

The engine is replaced by a stand-in that does what each test says, so every outcome is
reached directly (the engine's own tests reach them through the sandbox)."""

from __future__ import annotations

import pytest

from exchange_sync.graph.errors import (
    GraphAuthError,
    GraphBadRequestError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
)
from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.services import sync_run_claim, sync_run_create
from exchange_sync.sync import run as run_module
from exchange_sync.sync.engine import COUNTERS, SetupProblem
from exchange_sync.sync.guard import NeedsConfirmation
from exchange_sync.sync.run import sync_run_execute, sync_setup
from exchange_sync.sync.shutdown import RunInterrupted
from tests.factories import make_user

MAILBOX = "ann@cronus.example"


class Client:
    """Counts requests like GraphClient does."""

    def __init__(self) -> None:
        self.request_count = 7  # requests of earlier runs through the same client
        self.throttled_count = 1


class StandInEngine:
    """Does `work(engine)` as its run."""

    work = staticmethod(lambda engine: None)
    made: list[StandInEngine] = []

    def __init__(self, run, setup, client, progress) -> None:
        self.run, self.setup, self.client, self.progress = run, setup, client, progress
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.issues: list[SyncIssue] = []
        self.done = self.total = 0
        self.attention = ""
        StandInEngine.made.append(self)

    def execute(self) -> None:
        self.work(self)

    def save_issues(self) -> None:
        for issue in self.issues:
            issue.run = self.run
        SyncIssue.objects.bulk_create(self.issues)


@pytest.fixture
def engine(monkeypatch):
    """Set what the run's engine does: engine(work)."""
    StandInEngine.made = []
    monkeypatch.setattr(run_module, "Engine", StandInEngine)

    def does(work) -> None:
        monkeypatch.setattr(StandInEngine, "work", staticmethod(work))

    return does


@pytest.fixture
def setup(db):
    return ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox=MAILBOX))


def _execute(setup, **kwargs) -> SyncRun:
    run = sync_run_create(setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.JOB)
    finished = sync_run_execute(run, client=Client(), **kwargs)
    setup.refresh_from_db()
    saved = SyncRun.objects.get(pk=run.pk)
    assert (saved.status, saved.error) == (finished.status, finished.error)
    return saved


def _raising(exc: Exception):
    def work(engine) -> None:
        engine.client.request_count += 2
        engine.counts["created_in_outlook"] = 1
        engine.done, engine.total = 1, 3
        raise exc

    return work


def test_a_run_that_did_everything_succeeded_and_records_what_it_did(setup, engine):
    def work(engine) -> None:
        for number, name in enumerate(COUNTERS[:-2], start=1):
            engine.counts[name] = number  # "failed" and "conflicts" stay 0
        engine.client.request_count += 3
        engine.done, engine.total = 5, 5

    engine(work)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(needs_attention=True, last_error="Consent missing.")
    progress = []
    run = _execute(setup, progress=lambda done, total: progress.append((done, total)))
    assert run.status == SyncRun.Status.SUCCEEDED
    assert [getattr(run, name) for name in COUNTERS] == [*range(1, len(COUNTERS) - 1), 0, 0]
    assert run.graph_requests == 3  # this run's requests, not the client's total
    assert (run.progress_done, run.progress_total) == (5, 5)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert StandInEngine.made[0].progress is not None
    StandInEngine.made[0].progress(1, 2)
    assert progress == [(1, 2)]
    assert setup.running_run_id is None
    assert setup.changes_since == run.started_at  # the next incremental run starts from here
    assert (setup.needs_attention, setup.last_error) == (False, "")  # what a person had to fix is fixed
    assert setup.last_success_at is not None


@pytest.mark.parametrize("counts", [{}, {"failed": 1}])
def test_a_problem_a_run_worked_around_stays_shown_on_the_setup(setup, engine, counts):
    def work(engine) -> None:
        engine.counts.update(counts)
        engine.attention = "The folder 'Business Central' was renamed in Outlook; rename it back."

    engine(work)
    run = _execute(setup)
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)
    assert (setup.needs_attention, setup.last_error) == (
        True,
        "The folder 'Business Central' was renamed in Outlook; rename it back.",
    )


def test_a_failed_run_shows_its_own_error_not_what_it_worked_around(setup, engine):
    def work(engine) -> None:
        engine.attention = "The folder was renamed in Outlook."
        raise GraphTransientError("down", status=503)

    engine(work)
    run = _execute(setup)
    assert (setup.needs_attention, setup.last_error) == (False, run.error)


def test_a_run_with_failed_contacts_is_partial_and_still_moves_changes_since(setup, engine):
    def work(engine) -> None:
        engine.counts["failed"] = 2
        engine.issues.append(
            SyncIssue(kind=SyncIssue.Kind.FAILED, direction=SyncIssue.Direction.TO_OUTLOOK, reason="refused by Outlook")
        )
        engine.done, engine.total = 7, 4  # a total that grew past its estimate

    engine(work)
    run = _execute(setup)
    assert (run.status, run.failed) == (SyncRun.Status.PARTIAL, 2)
    assert (run.progress_done, run.progress_total) == (7, 7)
    assert list(run.issues.values_list("reason", flat=True)) == ["refused by Outlook"]
    assert setup.changes_since == run.started_at
    assert setup.running_run_id is None


def test_a_run_that_needs_confirmation_keeps_its_plan_and_deletes_nothing(setup, engine):
    planned = [{"no": "C1", "name": "Ann"}]
    engine(_raising(NeedsConfirmation("12 of 12 are missing", reason="missing", planned=planned, count=12)))
    run = _execute(setup)
    assert (run.status, run.error) == (SyncRun.Status.NEEDS_CONFIRMATION, "12 of 12 are missing")
    assert (run.planned_deletions, run.planned_count, run.planned_reason) == (planned, 12, "missing")
    assert (run.created_in_outlook, run.graph_requests, run.progress_done, run.progress_total) == (1, 2, 1, 3)
    assert setup.changes_since is None  # the changes this run did not push are pushed by the next
    assert (setup.running_run_id, setup.needs_attention, setup.last_error) == (None, False, run.error)


def test_a_run_stopped_by_its_worker_shutting_down_is_interrupted_and_leaves_the_rest_to_the_next(setup, engine):
    engine(_raising(RunInterrupted()))
    run = _execute(setup)
    assert (run.status, run.error) == (
        SyncRun.Status.INTERRUPTED,
        "The job queue worker was shut down; the next sync carries on from here.",
    )
    assert (run.created_in_outlook, run.graph_requests) == (1, 2)
    assert (setup.running_run_id, setup.changes_since, setup.needs_attention) == (None, None, False)


def test_a_problem_only_a_person_can_fix_marks_the_setup(setup, engine):
    engine(_raising(SetupProblem("The user has no mailbox.")))
    run = _execute(setup)
    assert (run.status, run.error) == (SyncRun.Status.FAILED, "The user has no mailbox.")
    assert (setup.needs_attention, setup.last_error) == (True, "The user has no mailbox.")
    assert (setup.running_run_id, setup.changes_since) == (None, None)


@pytest.mark.parametrize("code", ["ErrorInvalidUser", "Request_ResourceNotFound", "MailboxNotEnabledForRESTAPI"])
def test_an_unknown_mailbox_marks_the_setup_with_what_to_check(setup, engine, code):
    engine(_raising(GraphNotFoundError("no such user", status=404, code=code)))
    run = _execute(setup)
    assert run.status == SyncRun.Status.FAILED
    assert run.error == (
        f"The mailbox {MAILBOX} was not found in Microsoft 365. Check the Microsoft 365 email on the user card, "
        "or ask an administrator whether the mailbox exists."
    )
    assert (setup.needs_attention, setup.last_error) == (True, run.error)


def test_something_that_vanished_mid_run_fails_the_run_but_not_the_setup(setup, engine):
    engine(_raising(GraphNotFoundError("gone", status=404, code="ErrorItemNotFound")))
    run = _execute(setup)
    assert run.status == SyncRun.Status.FAILED
    assert run.error == (
        "Outlook no longer had something this run needed (404 ErrorItemNotFound: gone). The next sync repairs it."
    )
    assert (setup.needs_attention, setup.last_error) == (False, run.error)


@pytest.mark.parametrize(
    ("reason", "what"),
    [
        ("invalid_client", "The client secret (M365_CLIENT_SECRET) was refused."),
        ("unknown_client", "The application id (M365_CLIENT_ID) is not registered in the tenant."),
        ("unknown_tenant", "The tenant (M365_TENANT_ID) is unknown to Microsoft."),
        (
            "consent",
            "The application has no access to this mailbox: an administrator must grant admin consent "
            "for Contacts.ReadWrite (or widen the application access policy).",
        ),
        ("token", "Microsoft 365 refused the sign-in."),
    ],
)
def test_a_refused_sign_in_marks_the_setup_with_what_to_fix(setup, engine, reason, what):
    engine(_raising(GraphAuthError("AADSTS7000215", status=401, code="invalid", reason=reason)))
    run = _execute(setup)
    assert (run.status, run.error) == (SyncRun.Status.FAILED, f"{what} (401 invalid: AADSTS7000215)")
    assert (setup.needs_attention, setup.last_error) == (True, run.error)


@pytest.mark.parametrize(
    "exc",
    [GraphThrottledError("slow down", status=429, code="TooManyRequests"), GraphTransientError("down", status=503)],
)
def test_microsoft_365_not_answering_in_time_fails_the_run_and_the_next_tries_again(setup, engine, exc):
    engine(_raising(exc))
    run = _execute(setup)
    assert (run.status, run.error) == (
        SyncRun.Status.FAILED,
        f"Microsoft 365 did not answer in time ({exc}). The next sync will try again.",
    )
    assert (setup.needs_attention, setup.running_run_id) == (False, None)


def test_any_other_refusal_of_graph_fails_the_run_with_graphs_words(setup, engine):
    engine(_raising(GraphBadRequestError("bad", status=400, code="ErrorInvalidRequest")))
    run = _execute(setup)
    assert (run.status, run.error) == (
        SyncRun.Status.FAILED,
        "Microsoft 365 refused the synchronization: 400 ErrorInvalidRequest: bad",
    )
    assert setup.needs_attention is False


def test_an_unexpected_error_fails_the_run_and_says_what_it_was(setup, engine):
    engine(_raising(ValueError("boom")))
    run = _execute(setup)
    assert (run.status, run.error) == (
        SyncRun.Status.FAILED,
        "The synchronization stopped on an unexpected error: ValueError('boom')",
    )
    assert (run.created_in_outlook, run.graph_requests) == (1, 2)
    assert (setup.running_run_id, setup.needs_attention, setup.last_error) == (None, False, run.error)
    assert setup.last_sync_at is not None


def test_a_run_refused_for_another_never_starts_its_engine(setup, engine):
    other = sync_run_create(setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON)
    assert sync_run_claim(other)
    run = _execute(setup)
    assert run.status == SyncRun.Status.REFUSED
    assert StandInEngine.made == []
    assert setup.running_run_id == other.pk


def test_sync_setup_runs_a_new_run_of_the_kind_asked_for(setup, engine):
    user = make_user("boss")

    def progress(done: int, total: int) -> None:
        pass

    run = sync_setup(
        setup,
        client=Client(),
        kind=SyncRun.Kind.FULL,
        trigger=SyncRun.Trigger.BUTTON,
        requested_by=user,
        progress=progress,
    )
    assert (run.kind, run.trigger, run.requested_by, run.status) == (
        SyncRun.Kind.FULL,
        SyncRun.Trigger.BUTTON,
        user,
        SyncRun.Status.SUCCEEDED,
    )
    assert (StandInEngine.made[0].run, StandInEngine.made[0].progress) == (run, progress)
    assert sync_setup(setup, client=Client()).kind == SyncRun.Kind.INCREMENTAL
