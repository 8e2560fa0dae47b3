"""Fixtures for engine tests: a live sandbox, a user with a mailbox and a setup, a
Graph client reaching the sandbox through msal, and a view of the Outlook folder."""

from __future__ import annotations

import pytest

from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.stamp import STAMP_PROPERTY_ID, stamp_value
from exchange_sync.mapping import GRAPH_SELECT
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.models import ValueCopies
from exchange_sync.sandbox.served import requests_served
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_setup
from tests.factories import make_user
from tests.sync.fast_engine import offline_engine_for_tests

MAILBOX = "ann@cronus.example"


@pytest.fixture
def graph(live_server):
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    yield client
    client.close()


@pytest.fixture
def setup(transactional_db):
    mailbox_add(MAILBOX)
    user = make_user("ann", mailbox=MAILBOX)
    return ExchangeSyncSetup.objects.create(user=user)


class Outlook:
    """The setup's Outlook folder as a person would see it, read through Graph."""

    def __init__(self, graph, setup: ExchangeSyncSetup) -> None:
        self.graph, self.setup = graph, setup

    @property
    def folder_id(self) -> str:
        self.setup.refresh_from_db()
        return self.setup.folder_id

    def contacts(self) -> list[dict]:
        items = []
        for page in self.graph.iter_contacts(
            MAILBOX, self.folder_id, select=GRAPH_SELECT, expand_stamp=True, page_size=1000
        ):
            items.extend(page)
        for item in items:
            item["stamp"] = stamp_value(item)
        return items

    def by_stamp(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for item in self.contacts():
            assert item["stamp"] not in found, f"duplicate of {item['stamp']} in Outlook"
            found[item["stamp"]] = item
        return found

    def most_copies(self) -> dict[str, int]:
        """Per contact number (upper case): the most copies the folder ever held of it at one moment,
        as the sandbox noted them (copies cleaned up later still count)."""
        rows = ValueCopies.objects.filter(folder__graph_id=self.folder_id, property_id=STAMP_PROPERTY_ID)
        return {row.value_folded.upper(): row.most for row in rows}

    def create(self, **body) -> dict:
        return self.graph.create_contact(MAILBOX, self.folder_id, body)

    def update(self, graph_id: str, **body) -> dict:
        return self.graph.update_contact(MAILBOX, self.folder_id, graph_id, body)

    def delete(self, graph_id: str) -> None:
        self.graph.delete_contact(MAILBOX, self.folder_id, graph_id)


@pytest.fixture
def outlook(graph, setup):
    return Outlook(graph, setup)


@pytest.fixture
def sync(graph, setup):
    """Run a sync of the setup now; full=True for Full Sync. The run returned also
    carries `requests_served`: the Graph requests the sandbox served during it."""

    def run(full: bool = False) -> SyncRun:
        setup.refresh_from_db()
        kind = SyncRun.Kind.FULL if full else SyncRun.Kind.INCREMENTAL
        before = requests_served(MAILBOX)
        result = sync_setup(setup, client=graph, kind=kind, trigger=SyncRun.Trigger.COMMAND)
        # The sandbox's own count of the run's requests, to compare with run.graph_requests.
        result.requests_served = requests_served(MAILBOX) - before
        setup.refresh_from_db()  # the engine's folder id and delta link, for later saves
        return result

    return run


@pytest.fixture
def offline_engine(db):
    """An engine without a sandbox or Graph client, its outbox a stand-in (fast_engine.py)."""
    return offline_engine_for_tests()
