"""Change-notification subscriptions: create, renew, reauthorize, delete, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from exchange_sync.graph import GraphBadRequestError, GraphNotFoundError, GraphTransientError
from exchange_sync.graph.client import parse_graph_datetime
from tests.graph.conftest import BASE, FOLDER_ID, MAILBOX, sent_json

SUBSCRIPTIONS_URL = f"{BASE}/subscriptions"
SUBSCRIPTION_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
SUBSCRIPTION_URL = f"{SUBSCRIPTIONS_URL}/{SUBSCRIPTION_ID}"
EXPIRES = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _subscription(**fields) -> dict:
    return {
        "id": SUBSCRIPTION_ID,
        "resource": f"users/{MAILBOX}/contactFolders/{FOLDER_ID}/contacts",
        "changeType": "created,updated,deleted",
        "clientState": "secret",
        "notificationUrl": "https://bcsync.example/graph/notifications/",
        "expirationDateTime": "2026-12-06T08:00:00.0000000Z",
        **fields,
    }


def test_it_subscribes_to_a_folders_contacts(mocked, client):
    mocked.post(SUBSCRIPTIONS_URL, status=201, json=_subscription())

    subscription = client.create_subscription(
        MAILBOX,
        FOLDER_ID,
        notification_url="https://bcsync.example/graph/notifications/",
        lifecycle_notification_url="https://bcsync.example/graph/lifecycle/",
        expires_at=EXPIRES,
        client_state="secret",
    )

    assert subscription["id"] == SUBSCRIPTION_ID
    assert sent_json(mocked.calls[0]) == {
        "changeType": "created,updated,deleted",
        "notificationUrl": "https://bcsync.example/graph/notifications/",
        "lifecycleNotificationUrl": "https://bcsync.example/graph/lifecycle/",
        # The folder id percent-encoded, as in every path (graph/paths.py).
        "resource": f"users/{MAILBOX}/contactFolders/AAMkAGI2TG93AAA%3D/contacts",
        "expirationDateTime": "2026-12-06T08:00:00.000000Z",
        "clientState": "secret",
    }
    # Notifications carry the ids the delta query uses.
    assert mocked.calls[0].request.headers["Prefer"] == 'IdType="ImmutableId"'


def test_a_refused_validation_is_a_bad_request(mocked, client):
    mocked.post(
        SUBSCRIPTIONS_URL,
        status=400,
        json={"error": {"code": "ValidationError", "message": "Subscription validation request failed."}},
    )

    with pytest.raises(GraphBadRequestError) as caught:
        client.create_subscription(
            MAILBOX,
            FOLDER_ID,
            notification_url="https://x.example/n",
            lifecycle_notification_url="https://x.example/l",
            expires_at=EXPIRES,
            client_state="s",
        )

    assert caught.value.code == "ValidationError"


def test_a_create_is_not_sent_twice_after_a_server_error(mocked, client):
    mocked.post(SUBSCRIPTIONS_URL, status=503, json={"error": {"code": "ServiceUnavailable", "message": "busy"}})

    with pytest.raises(GraphTransientError):
        client.create_subscription(
            MAILBOX,
            FOLDER_ID,
            notification_url="https://x.example/n",
            lifecycle_notification_url="https://x.example/l",
            expires_at=EXPIRES,
            client_state="s",
        )

    assert len(mocked.calls) == 1


def test_it_renews_by_moving_the_expiry(mocked, client):
    mocked.patch(SUBSCRIPTION_URL, json=_subscription(expirationDateTime="2026-12-07T09:30:00.1234567Z"))

    subscription = client.renew_subscription(SUBSCRIPTION_ID, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))

    assert sent_json(mocked.calls[0]) == {"expirationDateTime": "2026-12-07T09:30:00.000000Z"}
    assert parse_graph_datetime(subscription["expirationDateTime"]) == datetime(
        2026, 12, 7, 9, 30, 0, 123456, tzinfo=UTC
    )


def test_renewing_a_subscription_graph_removed_is_not_found(mocked, client):
    mocked.patch(
        SUBSCRIPTION_URL,
        status=404,
        json={"error": {"code": "ResourceNotFound", "message": "The object was not found."}},
    )

    with pytest.raises(GraphNotFoundError):
        client.renew_subscription(SUBSCRIPTION_ID, EXPIRES)


def test_it_reauthorizes_and_deletes(mocked, client):
    mocked.post(f"{SUBSCRIPTION_URL}/reauthorize", status=204)
    mocked.delete(SUBSCRIPTION_URL, status=204)

    client.reauthorize_subscription(SUBSCRIPTION_ID)
    client.delete_subscription(SUBSCRIPTION_ID)

    assert [(c.request.method, c.request.url) for c in mocked.calls] == [
        (responses.POST, f"{SUBSCRIPTION_URL}/reauthorize"),
        (responses.DELETE, SUBSCRIPTION_URL),
    ]
