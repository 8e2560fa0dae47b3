"""The ticker's upkeep of change subscriptions: created for live setups, renewed before
they expire, recreated after Outlook removed them, retried with a backoff after a
failure (polling meanwhile), deleted at Graph when live sync is switched off. Graph is
mocked with `responses`; the tick's queued tasks are carried out here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses

from exchange_sync.graph import GraphClient
from exchange_sync.live import subscriptions
from exchange_sync.live.modes import live_mode
from exchange_sync.live.subscriptions import RENEW_BEFORE, live_subscription_upkeep, subscriptions_maintain
from exchange_sync.models import ExchangeSyncSetup, LiveSubscription
from tests.live.conftest import make_setup

BASE = "https://graph.microsoft.com/v1.0"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SUBSCRIPTION_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"


class Tokens:
    def get_token(self) -> str:
        return "token"

    def invalidate(self) -> None:
        pass


@pytest.fixture
def graph():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


@pytest.fixture
def client():
    return GraphClient(BASE, Tokens(), sleep=lambda s: None, jitter=lambda: 0.0, max_attempts=2)


@pytest.fixture
def queued(monkeypatch, settings):
    """Tasks the tick queues, and a fresh scan for each test."""
    settings.GRAPH_NOTIFICATION_URL = "https://bcsync.example"
    monkeypatch.setattr(subscriptions, "_last_scan", None)
    tasks: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: tasks.append((func, args)))
    return tasks


@pytest.fixture
def ann(db):
    return make_setup("ann", {"city": "London"}, folder_id="AAMkFolder=")


def created_answer(expires: datetime, subscription_id: str = SUBSCRIPTION_ID) -> dict:
    return {"id": subscription_id, "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")}


def upkeep_due(client, queued, now: datetime) -> list[str]:
    """One tick's upkeep, its tasks carried out: what each did."""
    queued.clear()
    subscriptions_maintain(now)
    done = []
    for func, args in list(queued):
        assert func == "exchange_sync.tasks.live_subscription_upkeep_task"
        done.append(live_subscription_upkeep(args[0], client, now))
    return done


def test_a_live_setup_is_subscribed_at_the_first_tick(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(minutes=10_000)))

    assert upkeep_due(client, queued, NOW) == ["created"]

    row = LiveSubscription.objects.get(setup=ann)
    sent = json.loads(graph.calls[0].request.body)
    assert sent["notificationUrl"] == "https://bcsync.example/graph/notifications/"
    assert sent["lifecycleNotificationUrl"] == "https://bcsync.example/graph/lifecycle/"
    assert sent["resource"] == "users/ann@cronus.example/contactFolders/AAMkFolder%3D/contacts"
    assert sent["clientState"] == row.client_state and len(row.client_state) >= 32
    assert (row.status, row.graph_id) == (LiveSubscription.Status.ACTIVE, SUBSCRIPTION_ID)
    assert row.poll_at == NOW  # one poll at once, then the safety polls (test_safety_polls.py)
    assert live_mode(ExchangeSyncSetup.objects.get(pk=ann.pk), NOW).name == "live"
    assert upkeep_due(client, queued, NOW + timedelta(minutes=5)) == []  # nothing until renewal


def test_each_subscription_gets_its_own_secret(graph, client, queued, ann):
    make_setup("bob", {"city": "Paris"}, folder_id="AAMkBob=")
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))

    upkeep_due(client, queued, NOW)

    states = [json.loads(call.request.body)["clientState"] for call in graph.calls]
    assert len(set(states)) == 2


def test_it_renews_a_day_before_expiry(graph, client, queued, ann):
    expires = NOW + timedelta(minutes=10_000)
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(expires))
    upkeep_due(client, queued, NOW)
    later = expires - RENEW_BEFORE - timedelta(minutes=1)
    assert upkeep_due(client, queued, later) == []  # not yet
    renewed = expires + timedelta(days=5)
    graph.patch(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", json=created_answer(renewed))

    assert upkeep_due(client, queued, expires - RENEW_BEFORE + timedelta(seconds=1)) == ["renewed"]

    row = LiveSubscription.objects.get(setup=ann)
    assert row.expires_at == renewed
    assert row.upkeep_at == renewed - RENEW_BEFORE


def test_a_subscription_removed_by_outlook_is_recreated_at_the_next_tick(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))
    upkeep_due(client, queued, NOW)
    row = LiveSubscription.objects.get(setup=ann)
    old_state = row.client_state
    # What the lifecycle endpoint does on subscriptionRemoved.
    LiveSubscription.objects.filter(pk=row.pk).update(status=LiveSubscription.Status.REMOVED, upkeep_at=NOW)
    graph.replace(
        responses.POST, f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6), "new-id")
    )

    assert upkeep_due(client, queued, NOW + timedelta(seconds=2)) == ["created"]

    row.refresh_from_db()
    assert (row.status, row.graph_id) == (LiveSubscription.Status.ACTIVE, "new-id")
    assert row.client_state != old_state


def test_a_failed_create_polls_and_retries_after_a_growing_backoff(graph, client, queued, ann):
    graph.post(
        f"{BASE}/subscriptions",
        status=400,
        json={"error": {"code": "ValidationError", "message": "Subscription validation request failed."}},
    )

    assert upkeep_due(client, queued, NOW)[0].startswith("failed")
    row = LiveSubscription.objects.get(setup=ann)
    assert row.upkeep_at == NOW + timedelta(minutes=1)
    assert row.poll_at is not None
    assert "ValidationError" in row.last_error
    assert live_mode(ExchangeSyncSetup.objects.get(pk=ann.pk), NOW).text == "Polling every 60 s"
    # Not tried again at every tick.
    assert upkeep_due(client, queued, NOW + timedelta(seconds=30)) == []
    assert upkeep_due(client, queued, NOW + timedelta(minutes=1))[0].startswith("failed")
    row.refresh_from_db()
    assert row.upkeep_at == NOW + timedelta(minutes=1) + timedelta(minutes=2)
    assert len(graph.calls) == 2


def test_a_switched_off_setup_has_its_subscription_deleted_at_graph(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))
    upkeep_due(client, queued, NOW)
    graph.delete(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", status=204)
    ExchangeSyncSetup.objects.filter(pk=ann.pk).update(is_live_sync_enabled=False)
    subscriptions._last_scan = None  # the next scan

    assert upkeep_due(client, queued, NOW + timedelta(minutes=1)) == ["deleted"]

    assert graph.calls[-1].request.method == "DELETE"
    assert not LiveSubscription.objects.exists()
    assert live_mode(ExchangeSyncSetup.objects.get(pk=ann.pk), NOW).text == "Scheduled only"


def test_a_deleted_setup_has_its_subscription_deleted_at_graph(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))
    upkeep_due(client, queued, NOW)
    graph.delete(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", status=204)
    ann.delete()
    subscriptions._last_scan = None

    assert upkeep_due(client, queued, NOW + timedelta(minutes=1)) == ["deleted"]
    assert not LiveSubscription.objects.exists()


def test_without_a_public_url_a_setup_only_polls(graph, client, queued, ann, settings):
    settings.GRAPH_NOTIFICATION_URL = ""

    assert upkeep_due(client, queued, NOW) == []

    row = LiveSubscription.objects.get(setup=ann)
    assert (row.status, row.upkeep_at) == (LiveSubscription.Status.POLLING, None)
    assert NOW <= row.poll_at < NOW + timedelta(seconds=60)
    assert len(graph.calls) == 0


def test_reauthorization_required_reauthorizes_and_renews(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))
    upkeep_due(client, queued, NOW)
    row = LiveSubscription.objects.get(setup=ann)
    LiveSubscription.objects.filter(pk=row.pk).update(status=LiveSubscription.Status.REAUTHORIZE, upkeep_at=NOW)
    graph.post(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}/reauthorize", status=204)
    graph.patch(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", json=created_answer(NOW + timedelta(days=7)))

    assert upkeep_due(client, queued, NOW + timedelta(seconds=2)) == ["renewed"]

    assert [(c.request.method, c.request.url.rsplit("/", 1)[-1]) for c in graph.calls[-2:]] == [
        ("POST", "reauthorize"),
        ("PATCH", SUBSCRIPTION_ID),
    ]
    row.refresh_from_db()
    assert row.status == LiveSubscription.Status.ACTIVE


def test_a_subscription_graph_no_longer_knows_is_recreated_at_renewal(graph, client, queued, ann):
    expires = NOW + timedelta(days=6)
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(expires))
    upkeep_due(client, queued, NOW)
    graph.patch(
        f"{BASE}/subscriptions/{SUBSCRIPTION_ID}",
        status=404,
        json={"error": {"code": "ResourceNotFound", "message": "The object was not found."}},
    )
    graph.replace(responses.POST, f"{BASE}/subscriptions", status=201, json=created_answer(expires, "new-id"))

    assert upkeep_due(client, queued, expires - RENEW_BEFORE) == ["created"]

    assert LiveSubscription.objects.get(setup=ann).graph_id == "new-id"


def test_two_clusters_ticking_together_queue_an_upkeep_once(queued, ann):
    subscriptions_maintain(NOW)
    subscriptions_maintain(NOW)  # the other cluster, same moment

    assert len(queued) == 1


def test_a_failed_renewal_polls_until_a_renewal_succeeds(graph, client, queued, ann):
    expires = NOW + timedelta(days=6)
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(expires))
    upkeep_due(client, queued, NOW)
    due = expires - RENEW_BEFORE
    graph.patch(
        f"{BASE}/subscriptions/{SUBSCRIPTION_ID}",
        status=403,
        json={"error": {"code": "ExtensionError", "message": "Operation: Update; Exception: [Status Code: Forbidden]"}},
    )

    assert upkeep_due(client, queued, due)[0].startswith("failed")
    row = LiveSubscription.objects.get(setup=ann)
    assert row.poll_at == due  # polls from now on
    assert row.upkeep_at == due + timedelta(minutes=1)

    graph.replace(
        responses.PATCH, f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", json=created_answer(expires + timedelta(days=5))
    )
    assert upkeep_due(client, queued, due + timedelta(minutes=1)) == ["renewed"]
    row.refresh_from_db()
    assert row.failures == 0
    assert row.poll_at == due  # the poll already due; then the safety polls


def test_a_folder_recreated_in_outlook_gets_a_new_subscription(graph, client, queued, ann):
    graph.post(f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6)))
    upkeep_due(client, queued, NOW)
    graph.delete(f"{BASE}/subscriptions/{SUBSCRIPTION_ID}", status=204)
    ExchangeSyncSetup.objects.filter(pk=ann.pk).update(folder_id="AAMkNewFolder=")  # what the next run does
    subscriptions._last_scan = None

    assert upkeep_due(client, queued, NOW + timedelta(minutes=1)) == ["deleted"]  # the old folder's
    subscriptions._last_scan = None
    graph.replace(
        responses.POST, f"{BASE}/subscriptions", status=201, json=created_answer(NOW + timedelta(days=6), "new-id")
    )
    assert upkeep_due(client, queued, NOW + timedelta(minutes=2)) == ["created"]

    assert json.loads(graph.calls[-1].request.body)["resource"].endswith("/AAMkNewFolder%3D/contacts")
    assert LiveSubscription.objects.get(setup=ann).graph_id == "new-id"
