"""Fixtures for the Graph client tests: a client on the real Graph URL, mocked with `responses`."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import responses

from exchange_sync.graph import GraphClient

DATA = Path(__file__).resolve().parent.parent / "data" / "graph"
BASE = "https://graph.microsoft.com/v1.0"
MAILBOX = "ann@cronus.example"
FOLDER_ID = "AAMkAGI2TG93AAA="
CONTACT_ID = "AAMkAGI2Contact1+/A="
# The same ids as they appear in a URL path.
FOLDER_PATH = f"{BASE}/users/{MAILBOX}/contactFolders/AAMkAGI2TG93AAA%3D"
CONTACTS_URL = f"{FOLDER_PATH}/contacts"
CONTACT_URL = f"{CONTACTS_URL}/AAMkAGI2Contact1%2B%2FA%3D"


def load(name: str) -> Any:
    """A recorded Graph answer from tests/data/graph."""
    return json.loads((DATA / name).read_text())


class RecordingTokenProvider:
    """Hands out numbered tokens and records invalidations."""

    def __init__(self) -> None:
        self.issued = 0
        self.invalidations = 0

    def get_token(self) -> str:
        self.issued += 1
        return f"token-{self.invalidations + 1}"

    def invalidate(self) -> None:
        self.invalidations += 1


class RecordingSleep:
    """An injectable sleep that only remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeBatchEndpoint:
    """Answers ``$batch`` like Graph: members in reverse order, each from a per-id script.

    ``script[id]`` lists the member answers in turn (the last one repeats); members
    without a script answer 200 with an echo of their request.
    """

    def __init__(self, script: dict[str, list[dict]] | None = None, omit: set[str] | None = None) -> None:
        self.script = script or {}
        self.omit = omit or set()
        self.envelopes: list[list[dict]] = []
        self._seen: dict[str, int] = defaultdict(int)

    def __call__(self, request):
        members = json.loads(request.body)["requests"]
        self.envelopes.append(members)
        answers = []
        for member in members:
            turn = self._seen[member["id"]]
            self._seen[member["id"]] += 1
            if member["id"] in self.omit:
                continue
            steps = self.script.get(member["id"])
            if steps:
                answer = dict(steps[min(turn, len(steps) - 1)], id=member["id"])
            else:
                answer = {"id": member["id"], "status": 200, "headers": {}, "body": {"echo": member["url"]}}
            answers.append(answer)
        return 200, {"Content-Type": "application/json"}, json.dumps({"responses": list(reversed(answers))})


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def tokens() -> RecordingTokenProvider:
    return RecordingTokenProvider()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(tokens, sleep) -> GraphClient:
    # jitter pinned to 0: backoff is exactly half the capped exponential delay.
    return GraphClient(BASE, tokens, sleep=sleep, jitter=lambda: 0.0, max_attempts=4, max_backoff=30.0)


def sent_json(call) -> Any:
    """The JSON body of a recorded `responses` call."""
    return json.loads(call.request.body)
