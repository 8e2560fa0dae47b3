"""The endpoints Graph posts change and lifecycle notifications to: the validation
handshake, clientState checked, refusals, and what each notification asks for."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from exchange_sync.models import LiveSubscription
from tests.live.conftest import make_setup, requested

SUBSCRIPTION_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
SECRET = "the-secret-of-this-subscription"


@pytest.fixture
def subscribed(db):
    """Ann's setup, subscribed to her folder's changes."""
    setup = make_setup("ann", {"city": "London"})
    return LiveSubscription.objects.create(
        setup=setup, status=LiveSubscription.Status.ACTIVE, graph_id=SUBSCRIPTION_ID, client_state=SECRET
    )


def change(subscription_id: str = SUBSCRIPTION_ID, client_state: object = SECRET) -> dict:
    """A change notification as Graph sends it (ids only)."""
    return {
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": "2026-12-09T08:00:00.0000000Z",
        "changeType": "updated",
        "resource": "Users/u-1/Contacts/AAMkC1=",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Contact",
            "@odata.id": "Users/u-1/Contacts/AAMkC1=",
            "id": "AAMkC1=",
        },
        "clientState": client_state,
        "tenantId": "00000000-0000-0000-0000-000000000001",
    }


def lifecycle(event: str, client_state: str = SECRET) -> dict:
    return {
        "subscriptionId": SUBSCRIPTION_ID,
        "subscriptionExpirationDateTime": "2026-12-09T08:00:00.0000000Z",
        "tenantId": "00000000-0000-0000-0000-000000000001",
        "clientState": client_state,
        "lifecycleEvent": event,
    }


def post(client, path: str, body: object):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("path", ["/graph/notifications/", "/graph/lifecycle/"])
def test_it_answers_the_validation_handshake_with_the_decoded_token(client, db, path):
    token = "Validation: Testing client application reachability for subscription Request-Id: 5a1c"

    response = client.post(f"{path}?validationToken={quote(token, safe='')}", content_type="text/plain")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == token


def test_a_change_asks_for_a_live_run_of_its_setup(client, subscribed):
    make_setup("bob", {"city": "Paris"})  # not notified: not asked

    response = post(client, "/graph/notifications/", {"value": [change()]})

    assert response.status_code == 202
    assert requested() == {"ann"}
    subscribed.refresh_from_db()
    assert subscribed.last_notification_at is not None


def test_a_wrong_client_state_is_refused_and_asks_for_nothing(client, subscribed):
    response = post(client, "/graph/notifications/", {"value": [change(client_state="guessed")]})

    assert response.status_code == 403
    assert response.content == b""
    assert requested() == set()


def test_a_notification_of_an_unknown_subscription_is_refused(client, subscribed):
    response = post(client, "/graph/notifications/", {"value": [change(subscription_id="someone-else")]})

    assert response.status_code == 403
    assert requested() == set()


def test_the_valid_notifications_of_a_mixed_collection_are_taken(client, subscribed):
    response = post(client, "/graph/notifications/", {"value": [change(client_state="guessed"), change()]})

    assert response.status_code == 202
    assert requested() == {"ann"}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"", b"[]", b'{"value": []}', b'{"value": "x"}', b'{"value": [1]}', b"\xff\xfe", b'{"value": [{}]}'],
)
def test_malformed_requests_get_a_bare_4xx(client, subscribed, body):
    response = client.post("/graph/notifications/", data=body, content_type="application/json")

    assert 400 <= response.status_code < 500
    assert response.content == b""
    assert requested() == set()


def test_a_client_state_that_is_not_a_string_is_refused(client, subscribed):
    response = post(client, "/graph/notifications/", {"value": [change(client_state={"x": 1})]})

    assert response.status_code == 403


def test_only_post_is_answered(client, subscribed):
    assert client.get("/graph/notifications/").status_code == 405


def test_subscription_removed_marks_it_for_recreation_and_catches_up(client, subscribed):
    response = post(client, "/graph/lifecycle/", {"value": [lifecycle("subscriptionRemoved")]})

    assert response.status_code == 202
    subscribed.refresh_from_db()
    assert subscribed.status == LiveSubscription.Status.REMOVED
    assert subscribed.upkeep_at is not None  # recreated at the next tick
    assert subscribed.poll_at is not None  # polls meanwhile
    assert requested() == {"ann"}


def test_reauthorization_required_marks_it_for_reauthorization(client, subscribed):
    response = post(client, "/graph/lifecycle/", {"value": [lifecycle("reauthorizationRequired")]})

    assert response.status_code == 202
    subscribed.refresh_from_db()
    assert subscribed.status == LiveSubscription.Status.REAUTHORIZE
    assert subscribed.upkeep_at is not None


def test_missed_asks_for_a_catch_up_run(client, subscribed):
    response = post(client, "/graph/lifecycle/", {"value": [lifecycle("missed")]})

    assert response.status_code == 202
    assert requested() == {"ann"}
    subscribed.refresh_from_db()
    assert subscribed.status == LiveSubscription.Status.ACTIVE


def test_a_lifecycle_notification_with_a_wrong_client_state_changes_nothing(client, subscribed):
    response = post(client, "/graph/lifecycle/", {"value": [lifecycle("subscriptionRemoved", client_state="x")]})

    assert response.status_code == 403
    subscribed.refresh_from_db()
    assert subscribed.status == LiveSubscription.Status.ACTIVE
