"""A mailbox outside the app's management scope in Exchange Online: the run stops at its
first refused request without retrying, says what to do, and the setup needs attention;
scheduled runs after it make one request each and do not hammer the mailbox."""

from __future__ import annotations

from django.conf import settings

from exchange_sync.health import setup_health
from exchange_sync.models import SyncRun
from exchange_sync.sandbox.scoping import mailbox_scope_allow, mailbox_scope_deny
from tests.factories import make_person
from tests.sync.conftest import MAILBOX

SENTENCE = (
    f"This app is not allowed to open {MAILBOX}: add the mailbox to the app's management scope in Exchange Online"
)


def test_the_run_names_the_mailbox_and_the_fix_and_the_setup_needs_attention(sync, setup):
    make_person()
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(SENTENCE)
    assert "admin consent" not in run.error
    setup.refresh_from_db()
    assert setup.needs_attention
    health = setup_health(setup)
    assert health.needs_attention
    assert health.message.startswith(f"Needs attention: {SENTENCE}")


def test_a_refused_mailbox_is_asked_once_per_run_never_retried(sync, setup):
    make_person()
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)

    runs = [sync(), sync()]

    assert [(run.graph_requests, run.requests_served) for run in runs] == [(1, 1), (1, 1)]


def test_once_the_mailbox_is_in_scope_the_next_run_succeeds_and_clears_the_attention(sync, setup):
    make_person()
    mailbox_scope_deny(settings.M365_CLIENT_ID, MAILBOX)
    sync()

    mailbox_scope_allow(settings.M365_CLIENT_ID, MAILBOX)
    run = sync()

    setup.refresh_from_db()
    assert (run.status, run.created_in_outlook) == (SyncRun.Status.SUCCEEDED, 1)
    assert not setup.needs_attention
    assert setup_health(setup).message == "In sync. Nothing needs your attention."
