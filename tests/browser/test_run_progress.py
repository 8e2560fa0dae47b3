"""The run page in a browser, when its progress cannot be loaded: it polls a few times,
then stops and says so, instead of polling forever."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from tests.factories import make_user

MESSAGE = "Progress could not be loaded; reload the page."


@pytest.fixture
def running_run(transactional_db) -> SyncRun:
    user = make_user("boss", is_superuser=True, mailbox="boss@cronus.example")
    setup = ExchangeSyncSetup.objects.create(user=user)
    return SyncRun.objects.create(
        setup=setup, kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON, status=SyncRun.Status.RUNNING
    )


@pytest.mark.parametrize("answer", [500, 404, "login page"])
def test_the_run_page_stops_polling_after_three_failures_and_says_to_reload(page, live_server, running_run, answer):
    progress_url = reverse("admin:exchange_sync_syncrun_progress", args=[running_run.pk])
    polls: list[str] = []

    def progress_fails(route) -> None:
        polls.append(route.request.url)
        if answer == "login page":  # the session expired: HTML instead of progress
            route.fulfill(status=200, content_type="text/html", body="<form>Log in</form>")
        else:
            route.fulfill(status=answer, content_type="application/json", body="{}")

    page.route(f"**{progress_url}", progress_fails)
    page.clock.install()  # the page's timers run only as the test moves this clock
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-for-tests-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('admin:exchange_sync_syncrun_change', args=[running_run.pk])}")
    problem = page.locator("#es-run-progress-error")
    assert problem.is_hidden()

    advance_until(page, lambda: len(polls) >= 1)
    assert problem.is_hidden()  # one failure is no reason to give up
    advance_until(page, problem.is_visible)

    assert problem.inner_text() == MESSAGE
    assert len(polls) == 3
    for _ in range(20):  # twenty more minutes of the page's time: no more polls
        page.clock.run_for(60_000)
        page.wait_for_timeout(50)
    assert len(polls) == 3


def advance_until(page, condition, *, seconds: float = 60) -> None:
    """Move the page's clock a second at a time until `condition` holds; the page's
    fetches and their answers run in real time between the steps."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the page never got there"
        page.clock.run_for(1_000)
        page.wait_for_timeout(20)
