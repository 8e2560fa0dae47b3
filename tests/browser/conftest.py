"""Browser tests: Playwright drives Debian's Chromium against a live server with the
Graph sandbox, and a real django-q2 worker runs what the pages queue.

Screenshots of every step go to test-artifacts/browser/ (or BROWSER_SCREENSHOT_DIR;
`make screenshots` points it at docs/screenshots/ for the README).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps calling hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by
    # the test itself are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def sandbox_site(live_server, settings):
    """The live server is also the Graph sandbox the product talks to."""
    settings.SITE_URL = live_server.url
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    return live_server


def _test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def worker(sandbox_site, tmp_path):
    """A real `manage.py qcluster` on this test's queue and database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bcsync_project.settings_test",
        "DJANGO_READ_DOT_ENV": "0",
        "DATABASE_URL": _test_database_url(),
        "BCSYNC_TEST_QUEUE": settings.Q_CLUSTER["name"],
        "SITE_URL": sandbox_site.url,
        "GRAPH_BASE_URL": f"{sandbox_site.url}/graph-sandbox/v1.0",
        "Q_WORKERS": "1",
    }
    log = (tmp_path / "qcluster.log").open("w")
    # Its own process group: qcluster forks workers, and all of them must be gone (with
    # their database sessions) before the test database is dropped.
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group
    process.wait()


class Steps:
    """Numbered screenshots of a walk-through."""

    def __init__(self, page, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def steps(page, request):
    folder = Path(os.environ.get("BROWSER_SCREENSHOT_DIR") or ROOT / "test-artifacts" / "browser")
    return Steps(page, folder / request.node.name if "BROWSER_SCREENSHOT_DIR" not in os.environ else folder)


def wait_until(condition, seconds: float = 30, every: float = 0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"still not true after {seconds} s")
