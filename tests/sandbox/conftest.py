"""Fixtures for the Graph sandbox suite: a live server, a token from its identity
endpoint over HTTP, and a provisioned mailbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
import requests
from django.conf import settings

from exchange_sync.sandbox import clock
from exchange_sync.sandbox.devserver import devserver_tune
from exchange_sync.sandbox.services import mailbox_add, mailbox_configure
from tests.sandbox.receiver import Receiver

MAILBOX = "alice@cronus.example"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def token_request(base: str, tenant: str = "contoso", **overrides: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.M365_CLIENT_ID,
        "client_secret": settings.M365_CLIENT_SECRET,
        "scope": GRAPH_SCOPE,
        **overrides,
    }
    return requests.post(f"{base}/graph-sandbox/{tenant}/oauth2/v2.0/token", data=form, timeout=10)


@dataclass
class Graph:
    """A Graph v1.0 client for one mailbox of the live sandbox."""

    site: str
    session: requests.Session
    mailbox: str = MAILBOX

    @property
    def base(self) -> str:
        return f"{self.site}/graph-sandbox/v1.0"

    @property
    def user(self) -> str:
        return f"{self.base}/users/{quote(self.mailbox)}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}{path}"

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kw)

    def post(self, path: str, json: object = None, **kw) -> requests.Response:
        return self.session.post(self.url(path), json=json, timeout=30, **kw)

    def patch(self, path: str, json: object = None, **kw) -> requests.Response:
        return self.session.patch(self.url(path), json=json, timeout=30, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30, **kw)

    # Shortcuts for the common set-up steps.
    def folder(self, name: str = "Business Central") -> str:
        response = self.post(f"/users/{self.mailbox}/contactFolders", {"displayName": name})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def folder_path(self, folder_id: str) -> str:
        """Ids may contain `+`, `/` and `=`: encoded as a client must (graph-notes.md)."""
        return f"/users/{self.mailbox}/contactFolders/{quote(folder_id, safe='')}"

    def contacts_path(self, folder_id: str) -> str:
        return f"{self.folder_path(folder_id)}/contacts"

    def contact_path(self, folder_id: str, contact_id: str) -> str:
        return f"{self.contacts_path(folder_id)}/{quote(contact_id, safe='')}"

    def contact(self, folder_id: str, **body) -> dict:
        body = {"givenName": "Ann", "surname": "Lee", **body}
        response = self.post(self.contacts_path(folder_id), body)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="session", autouse=True)
def _fast_live_server() -> None:
    devserver_tune()


@pytest.fixture
def access_token(live_server) -> str:
    response = token_request(live_server.url)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def graph(live_server, access_token) -> Graph:
    mailbox_add(MAILBOX, display_name="Alice Example")
    mailbox_configure(MAILBOX)  # fresh throttle window and random sequence for this test
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token}"
    return Graph(live_server.url, session)


@dataclass
class FakeClock:
    """The sandbox's clock under the test's control: time moves only by `advance`,
    latency waits are recorded (in seconds) instead of slept."""

    time: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds

    def latency_wait(self, seconds: float, *, started: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake.now)
    monkeypatch.setattr(clock, "latency_wait", fake.latency_wait)
    return fake


class Gate:
    """Holds requests inside the sandbox, in their latency wait (so while they hold
    their concurrency slots), until the test opens it. No timing involved."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.held = 0
        self._is_open = False

    def latency_wait(self, seconds: float, *, started: float) -> None:
        with self._condition:
            self.held += 1
            self._condition.notify_all()
            self._condition.wait_for(lambda: self._is_open, timeout=60)

    def wait_until_held(self, count: int) -> None:
        with self._condition:
            assert self._condition.wait_for(lambda: self.held >= count, timeout=60), f"{self.held} held"

    def open(self) -> None:
        with self._condition:
            self._is_open = True
            self._condition.notify_all()


@pytest.fixture
def gate(monkeypatch) -> Gate:
    """Requests that would wait for simulated latency (latency_ms > 0) wait at the gate."""
    held = Gate()
    monkeypatch.setattr(clock, "latency_wait", held.latency_wait)
    yield held
    held.open()


@pytest.fixture
def receiver():
    """A notification endpoint for subscriptions (see `tests.sandbox.receiver`)."""
    running = Receiver()
    yield running
    running.close()
