"""The run page's progress polling gives up after a few failures and says so on the page
(session expired, run gone, server down) instead of retrying forever. The page's
markup here; the script's behaviour in a browser: tests/browser/test_run_progress.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from exchange_sync.models import SyncRun

pytestmark = pytest.mark.django_db
MESSAGE = "Progress could not be loaded; reload the page."


def run_of(setup, **fields) -> SyncRun:
    return SyncRun.objects.create(setup=setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON, **fields)


def page(client, run: SyncRun) -> str:
    return client.get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).content.decode()


def test_a_running_run_page_holds_the_hidden_message_the_script_shows_after_failures(as_user, ann, ann_setup):
    content = page(as_user(ann), run_of(ann_setup, status=SyncRun.Status.RUNNING))
    assert f'<p id="es-run-progress-error" class="es-attention" role="alert" hidden>{MESSAGE}</p>' in content
    assert "exchange_sync/run.js" in content


def test_a_finished_run_page_neither_polls_nor_shows_the_message(as_user, ann, ann_setup):
    now = timezone.now()
    run = run_of(ann_setup, status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now)
    content = page(as_user(ann), run)
    assert "exchange_sync/run.js" not in content
    assert "es-run-progress-error" not in content
