"""Carrying out a sync run: claim the setup, run the engine, record the outcome on the
run and the setup (health), release the claim. Never raises for sync problems."""

from __future__ import annotations

import json
import logging
import threading

from django.db import connection
from django.utils import timezone

from exchange_sync import services
from exchange_sync.graph.client import GraphClient
from exchange_sync.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
)
from exchange_sync.live.changes import live_changes_of_run
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.scope_messages import mailbox_scope_message
from exchange_sync.sync.engine import COUNTERS, Engine, SetupProblem
from exchange_sync.sync.folder import MAILBOX_NOT_FOUND
from exchange_sync.sync.guard import NeedsConfirmation
from exchange_sync.sync.shutdown import RunInterrupted

logger = logging.getLogger(__name__)

# How often a running run shows it is alive, whatever it is doing (several beats fit in
# services.STALE_RUN_AFTER, after which a run is taken to be dead).
PULSE_SECONDS = 20.0


def sync_setup(
    setup: ExchangeSyncSetup,
    *,
    client: GraphClient,
    kind: str = SyncRun.Kind.INCREMENTAL,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by=None,
    progress=None,
) -> SyncRun:
    """Create a run of `setup` and carry it out now; see `sync_run_execute`."""
    run = services.sync_run_create(setup, kind=kind, trigger=trigger, requested_by=requested_by)
    return sync_run_execute(run, client=client, progress=progress)


def sync_run_execute(run: SyncRun, *, client: GraphClient, progress=None) -> SyncRun:
    """Carry out a queued run and return it finished.

    Never raises for sync problems: the outcome is the run's status (refused when
    another run of the setup is going, failed, needs confirmation, partial, succeeded),
    its counters and issues. `progress(done, total)` is called as the run advances. A
    run another task has already started is returned as it stands.
    """
    if not services.sync_run_start(run):
        run.refresh_from_db()
        return run  # another task of this run started it (a task sent again, or delivered twice)
    if not services.sync_run_claim(run):
        return services.sync_run_refuse(run)
    setup = ExchangeSyncSetup.objects.select_related("user__m365_identity").get(pk=run.setup_id)
    requests_before, throttled_before = client.request_count, client.throttled_count
    engine = Engine(run, setup, client, progress)
    pulse = _Pulse(run.pk)
    pulse.start()
    try:
        with live_changes_of_run(setup.pk):
            engine.execute()
        run.status = SyncRun.Status.PARTIAL if engine.counts["failed"] else SyncRun.Status.SUCCEEDED
    except NeedsConfirmation as exc:
        run.status, run.error = SyncRun.Status.NEEDS_CONFIRMATION, str(exc)
        run.planned_deletions, run.planned_count, run.planned_reason = exc.planned, exc.count, exc.reason
    except RunInterrupted as exc:
        run.status, run.error = SyncRun.Status.INTERRUPTED, str(exc)
    except SetupProblem as exc:
        run.status, run.error = SyncRun.Status.FAILED, str(exc)
        services.setup_mark_attention(setup, str(exc))
    except GraphNotFoundError as exc:
        if exc.code in MAILBOX_NOT_FOUND:
            run.status, run.error = SyncRun.Status.FAILED, _mailbox_message(setup)
            services.setup_mark_attention(setup, run.error)
        else:
            # Something vanished under the run (the folder, deleted mid-run): the next
            # run finds the folder again or recreates it.
            run.status = SyncRun.Status.FAILED
            run.error = f"Outlook no longer had something this run needed ({exc}). The next sync repairs it."
    except GraphAuthError as exc:
        run.status, run.error = SyncRun.Status.FAILED, _auth_message(exc, setup)
        services.setup_mark_attention(setup, run.error)
    except (GraphThrottledError, GraphTransientError) as exc:
        run.status = SyncRun.Status.FAILED
        run.error = f"Microsoft 365 did not answer in time ({exc}). The next sync will try again."
    except GraphError as exc:
        run.status, run.error = SyncRun.Status.FAILED, f"Microsoft 365 refused the synchronization: {exc}"
    except Exception as exc:
        logger.exception("Sync run %s failed", run.pk)
        run.status, run.error = SyncRun.Status.FAILED, f"The synchronization stopped on an unexpected error: {exc!r}"
    finally:
        pulse.stop()
        engine.save_issues()
        for name in COUNTERS:
            setattr(run, name, engine.counts[name])
        run.graph_requests = client.request_count - requests_before
        run.progress_done, run.progress_total = engine.done, max(engine.total, engine.done)
        run.finished_at = timezone.now()
        run.save()
        services.sync_run_release(run)
        _log_outcome(run, setup, throttled=client.throttled_count - throttled_before)
    if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
        ExchangeSyncSetup.objects.filter(pk=setup.pk).update(changes_since=run.started_at)
    services.setup_mark_result(setup, run)
    if engine.attention and run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
        services.setup_mark_attention(setup, engine.attention)  # the run went on; the problem stays shown
    return run


class _Pulse(threading.Thread):
    """Shows the run is alive while it waits: a long Retry-After (Outlook may ask for
    minutes, several times) must not let the run look dead, or another run of the setup
    would take over its claim (services.STALE_RUN_AFTER) and both would write."""

    def __init__(self, run_id: int) -> None:
        super().__init__(name=f"sync-run-{run_id}-pulse", daemon=True)
        self.run_id = run_id
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(PULSE_SECONDS):
                SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()  # this thread's own database connection

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _log_outcome(run: SyncRun, setup: ExchangeSyncSetup, *, throttled: int) -> None:
    """One structured line per run, for log search and monitoring: JSON after a fixed
    prefix. Counts and ids only: never a contact's data, a token or an error's text."""
    started = run.started_at or run.created_at
    fields = {
        "run": run.pk,
        "setup": setup.pk,
        "mailbox": setup.mailbox,
        "kind": run.kind,
        "trigger": run.trigger,
        "status": run.status,
        **{name: getattr(run, name) for name in COUNTERS},
        "graph_requests": run.graph_requests,
        "throttled_429": throttled,
        "duration_s": round((run.finished_at - started).total_seconds(), 3),
    }
    logger.info("sync_run_finished %s", json.dumps(fields, sort_keys=True))


def _mailbox_message(setup: ExchangeSyncSetup) -> str:
    return (
        f"The mailbox {setup.mailbox} was not found in Microsoft 365. Check the Microsoft 365 email on the "
        "user card, or ask an administrator whether the mailbox exists."
    )


def _auth_message(exc: GraphAuthError, setup: ExchangeSyncSetup) -> str:
    if exc.reason == "reconnect":
        return exc.message  # the person's own sign-in: why it stopped, and "Press Reconnect"
    if exc.reason == "mailbox_scope":
        # Only an administrator can change it, and every run would meet it again: the
        # setup is marked as needing attention and the run stops at its first request.
        return f"{mailbox_scope_message(setup.mailbox)} ({exc})"
    what = {
        "invalid_client": "The client secret (M365_CLIENT_SECRET) was refused.",
        "unknown_client": "The application id (M365_CLIENT_ID) is not registered in the tenant.",
        "unknown_tenant": "The tenant (M365_TENANT_ID) is unknown to Microsoft.",
        "certificate": (
            "Microsoft 365 refused the app's certificate (M365_CLIENT_CERTIFICATE_PATH): it is unreadable, "
            "expired, or not uploaded to the app registration in Entra ID."
        ),
        "consent": (
            "The application has no access to this mailbox: an administrator must grant admin consent "
            "for Contacts.ReadWrite (or widen the application access policy)."
        ),
    }.get(exc.reason, "Microsoft 365 refused the sign-in.")
    return f"{what} ({exc})"
