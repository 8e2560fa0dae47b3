"""Change-notification subscriptions on contacts, over real HTTP: the sandbox calls a
small receiver this test runs on a port the OS gave it (kept bound while it runs; see
`tests.sandbox.receiver`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.urls import reverse

from exchange_sync.sandbox import delivery, services, subscriptions
from exchange_sync.sandbox.models import Contact
from tests.sandbox.conftest import MAILBOX
from tests.sandbox.receiver import TOO_LATE
from tests.sandbox.test_sandbox_mailbox_command import run_in_another_process


@pytest.fixture
def fast_retries(settings):
    settings.GRAPH_SANDBOX_NOTIFICATION_RETRY_SECONDS = 0.2
    settings.GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS = 1.0


def expiry(minutes: float = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def subscribe(graph, receiver, resource: str, **overrides: object) -> requests.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url(),
        "resource": resource,
        "expirationDateTime": expiry(),
        "clientState": "secret-state",
        **overrides,
    }
    return graph.post("/subscriptions", {k: v for k, v in body.items() if v is not None})


@pytest.fixture
def folder_subscription(graph, receiver) -> tuple[str, dict]:
    folder = graph.folder()
    response = subscribe(
        graph,
        receiver,
        f"users/{MAILBOX}/contactFolders/{folder}/contacts",
        lifecycleNotificationUrl=receiver.url("/life"),
    )
    assert response.status_code == 201, response.text
    return folder, response.json()


def assert_error(response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"]


# --- the endpoints ------------------------------------------------------------------------


def test_it_creates_a_subscription_after_the_endpoint_echoes_the_token(graph, receiver, folder_subscription):
    _, created = folder_subscription
    assert created["changeType"] == "created,updated,deleted"
    assert created["clientState"] == "secret-state"
    assert created["notificationUrl"] == receiver.url()
    assert created["lifecycleNotificationUrl"] == receiver.url("/life")
    assert created["latestSupportedTlsVersion"] == "v1_2"
    paths = [path for path, _, _ in receiver.validations]
    assert paths == ["/notify", "/life"]
    path, token, kind = receiver.validations[0]
    assert kind.startswith("text/plain")
    assert " " in token  # decoded by the receiver: the sandbox sent it URL-encoded


def test_it_reads_lists_renews_and_deletes_a_subscription(graph, receiver, folder_subscription):
    _, created = folder_subscription
    path = f"/subscriptions/{created['id']}"
    assert graph.get(path).json()["expirationDateTime"] == created["expirationDateTime"]
    assert [s["id"] for s in graph.get("/subscriptions").json()["value"]] == [created["id"]]
    later = expiry(3 * 24 * 60)
    renewed = graph.patch(path, {"expirationDateTime": later})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["expirationDateTime"][:19] == later[:19]
    assert graph.get(path).json()["expirationDateTime"][:19] == later[:19]
    assert graph.post(f"{path}/reauthorize").status_code == 204
    assert graph.delete(path).status_code == 204
    assert_error(graph.get(path), 404, "ResourceNotFound")
    assert graph.get("/subscriptions").json()["value"] == []


def test_it_serves_subscriptions_inside_a_batch(graph, receiver):
    folder = graph.folder()
    body = {
        "changeType": "created",
        "notificationUrl": receiver.url(),
        "resource": f"users/{MAILBOX}/contactFolders/{folder}/contacts",
        "expirationDateTime": expiry(),
    }
    batch = graph.post(
        "/$batch",
        {
            "requests": [
                {
                    "id": "1",
                    "method": "POST",
                    "url": "/subscriptions",
                    "body": body,
                    "headers": {"Content-Type": "application/json"},
                },
                {"id": "2", "method": "GET", "url": "/subscriptions", "dependsOn": ["1"]},
            ]
        },
    ).json()
    answers = {r["id"]: r for r in batch["responses"]}
    assert answers["1"]["status"] == 201, answers["1"]
    assert [s["id"] for s in answers["2"]["body"]["value"]] == [answers["1"]["body"]["id"]]


def test_the_default_contacts_resource_covers_every_contact_folder(graph, receiver):
    response = subscribe(graph, receiver, f"users/{MAILBOX}/contacts", changeType="created")
    assert response.status_code == 201, response.text
    folder = graph.folder()
    contact = graph.contact(folder)
    (notification,) = receiver.wait_for(1)
    assert notification["resourceData"]["id"] == contact["id"]


@dataclass(frozen=True)
class MinutesAhead:
    """An expiry worked out when the test runs, not when it is collected (under xdist
    that can be minutes earlier, enough to bring 10,081 minutes under the limit)."""

    minutes: int


@pytest.mark.parametrize(
    ("override", "status", "code", "words"),
    [
        ({"expirationDateTime": MinutesAhead(10_081)}, 400, "ExtensionError", ["10080 minutes"]),
        ({"expirationDateTime": MinutesAhead(-5)}, 400, "ExtensionError", ["10080 minutes"]),
        ({"expirationDateTime": "next week"}, 400, "InvalidRequest", ["expirationDateTime"]),
        ({"notificationUrl": "http://example.com/notify"}, 400, "InvalidRequest", ["HTTPS"]),
        ({"lifecycleNotificationUrl": "http://example.com/life"}, 400, "InvalidRequest", ["HTTPS"]),
        ({"clientState": "x" * 129}, 400, "InvalidRequest", ["128"]),
        ({"changeType": "created,moved"}, 400, "InvalidRequest", ["changeType"]),
        ({"changeType": None}, 400, "InvalidRequest", ["changeType"]),
        ({"latestSupportedTlsVersion": "v2_0"}, 400, "InvalidRequest", ["latestSupportedTlsVersion"]),
        ({"includeResourceData": True}, 400, "InvalidRequest", ["encryptionCertificate"]),
        (
            {"includeResourceData": True, "encryptionCertificate": "MIIB", "encryptionCertificateId": "c1"},
            400,
            "InvalidRequest",
            ["resource data"],
        ),
        ({"colour": "blue"}, 400, "BadRequest", ["'colour'"]),
        ({"resource": "me/contacts"}, 400, "BadRequest", ["delegated"]),
        ({"resource": f"users/{MAILBOX}/messages"}, 400, "InvalidRequest", ["contacts"]),
        ({"resource": "users/nobody@cronus.example/contacts"}, 404, "ErrorInvalidUser", []),
        ({"resource": f"users/{MAILBOX}/contactFolders/AAMkNoSuchFolder/contacts"}, 404, "ErrorItemNotFound", []),
    ],
)
def test_it_refuses_a_subscription_graph_refuses(graph, receiver, override, status, code, words):
    override = {
        name: expiry(value.minutes) if isinstance(value, MinutesAhead) else value for name, value in override.items()
    }
    response = subscribe(graph, receiver, **{"resource": f"users/{MAILBOX}/contacts", **override})
    assert_error(response, status, code, *words)
    assert graph.get("/subscriptions").json()["value"] == []


def test_it_accepts_the_longest_expiry_outlook_allows(graph, receiver):
    assert subscribe(graph, receiver, f"users/{MAILBOX}/contacts", expirationDateTime=expiry(10_079)).status_code == 201


def test_it_refuses_a_renewal_beyond_the_limit_and_other_changes(graph, receiver, folder_subscription):
    _, created = folder_subscription
    path = f"/subscriptions/{created['id']}"
    assert_error(graph.patch(path, {"expirationDateTime": expiry(10_081)}), 400, "ExtensionError", "10080")
    assert_error(graph.patch(path, {"clientState": "other"}), 400, "InvalidRequest", "clientState")
    assert graph.get(path).json()["expirationDateTime"] == created["expirationDateTime"]


def test_it_refuses_a_mailbox_the_app_may_not_read(graph, receiver):
    services.mailbox_configure(MAILBOX, access_denied=True)
    assert_error(subscribe(graph, receiver, f"users/{MAILBOX}/contacts"), 403, "ErrorAccessDenied")


# --- the validation handshake -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("no-echo", "must exactly match validationToken"),
        ("json", "text/plain"),
        ("status-500", "200 OK"),
    ],
)
def test_it_refuses_a_subscription_whose_endpoint_does_not_echo_the_token(graph, receiver, mode, words):
    receiver.modes["/notify"] = mode
    response = subscribe(graph, receiver, f"users/{MAILBOX}/contacts")
    assert_error(response, 400, "ValidationError", "Subscription validation request failed.", words)
    assert graph.get("/subscriptions").json()["value"] == []


def test_it_refuses_a_subscription_whose_endpoint_answers_too_late(graph, receiver, settings):
    settings.GRAPH_SANDBOX_VALIDATION_TIMEOUT_SECONDS = 0.5  # Graph waits 10 s
    receiver.modes["/notify"] = "slow"
    assert_error(subscribe(graph, receiver, f"users/{MAILBOX}/contacts"), 400, "ValidationError", "timeout")


def test_it_refuses_a_subscription_whose_lifecycle_endpoint_fails_validation(graph, receiver):
    receiver.modes["/life"] = "no-echo"
    response = subscribe(graph, receiver, f"users/{MAILBOX}/contacts", lifecycleNotificationUrl=receiver.url("/life"))
    assert_error(response, 400, "ValidationError")


def test_an_unreachable_endpoint_is_refused(graph, receiver):
    url = receiver.url()
    receiver.close()  # nothing listens on its port any more
    response = graph.post(
        "/subscriptions",
        {
            "changeType": "created",
            "notificationUrl": url,
            "resource": f"users/{MAILBOX}/contacts",
            "expirationDateTime": expiry(),
        },
    )
    assert_error(response, 400, "ValidationError", "200 OK")


# --- delivery -------------------------------------------------------------------------------


def test_a_contact_created_updated_and_deleted_through_the_api_is_notified(graph, receiver, folder_subscription):
    folder, created = folder_subscription
    contact = graph.contact(folder)
    path = graph.contact_path(folder, contact["id"])
    graph.patch(path, {"jobTitle": "Buyer"})
    graph.delete(path)
    notifications = receiver.wait_for(3)
    assert sorted(n["changeType"] for n in notifications) == ["created", "deleted", "updated"]
    for notification in notifications:
        assert notification["subscriptionId"] == created["id"]
        assert notification["clientState"] == "secret-state"
        assert notification["subscriptionExpirationDateTime"] == created["expirationDateTime"]
        assert notification["resourceData"]["id"] == contact["id"]
        assert notification["resource"].endswith(f"/Contacts/{contact['id']}")
        assert set(notification) == {
            "subscriptionId",
            "subscriptionExpirationDateTime",
            "changeType",
            "resource",
            "resourceData",
            "clientState",
            "tenantId",
        }
    deleted = next(n for n in notifications if n["changeType"] == "deleted")
    assert "@odata.etag" not in deleted["resourceData"]
    updated = next(n for n in notifications if n["changeType"] == "updated")
    assert updated["resourceData"]["@odata.etag"].startswith('W/"')


def test_only_the_change_types_asked_for_are_sent(graph, receiver):
    folder = graph.folder()
    resource = f"users/{MAILBOX}/contactFolders/{folder}/contacts"
    assert subscribe(graph, receiver, resource, changeType="updated").status_code == 201
    contact = graph.contact(folder)
    graph.patch(graph.contact_path(folder, contact["id"]), {"jobTitle": "Buyer"})
    (notification,) = receiver.wait_for(1)
    assert notification["changeType"] == "updated"


def test_a_change_right_after_a_subscription_is_made_is_notified(graph, receiver):
    folder = graph.folder()
    graph.contact(folder)  # a change while nobody subscribes: the sandbox notes that
    response = subscribe(graph, receiver, f"users/{MAILBOX}/contactFolders/{folder}/contacts")
    assert response.status_code == 201, response.text

    contact = graph.contact(folder)  # well within a second of the subscription

    notification = receiver.wait_for(1)[0]
    assert (notification["changeType"], notification["resourceData"]["id"]) == ("created", contact["id"])


def test_other_folders_changes_are_not_sent(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    graph.contact(graph.folder("Other"))
    graph.contact(folder, surname="Mine")
    (notification,) = receiver.wait_for(1)
    assert notification["changeType"] == "created"


def test_a_subscription_made_for_immutable_ids_is_notified_with_them(graph, receiver):
    folder = graph.folder()
    response = graph.post(
        "/subscriptions",
        {
            "changeType": "created",
            "notificationUrl": receiver.url(),
            "resource": f"users/{MAILBOX}/contactFolders/{folder}/contacts",
            "expirationDateTime": expiry(),
        },
        headers={"Prefer": 'IdType="ImmutableId"'},
    )
    assert response.status_code == 201, response.text
    contact = graph.contact(folder)
    (notification,) = receiver.wait_for(1)
    assert notification["resourceData"]["id"] == Contact.objects.get(graph_id=contact["id"]).immutable_id


def test_a_move_and_a_delete_in_outlook_are_notified(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    contact = graph.contact(folder)
    other = services.folder_create(services.mailbox_get(MAILBOX), "Elsewhere")
    moved = services.contact_move(Contact.objects.get(graph_id=contact["id"]).pk, other)
    services.contact_move(moved.pk, services.folder_create(services.mailbox_get(MAILBOX), "Back"))
    receiver.wait_for(2)
    second = graph.contact(folder, surname="Second")
    services.contact_to_deleted_items(Contact.objects.get(graph_id=second["id"]).pk)
    notifications = receiver.wait_for(4)
    assert [(n["changeType"], n["resourceData"]["id"]) for n in notifications] == [
        ("created", contact["id"]),
        ("deleted", contact["id"]),
        ("created", second["id"]),
        ("deleted", second["id"]),
    ]


def test_a_contact_moved_to_deleted_items_is_gone_from_contacts_and_new_in_deleted_items(graph, receiver):
    every_folder = subscribe(graph, receiver, f"users/{MAILBOX}/contacts")
    assert every_folder.status_code == 201, every_folder.text
    bin_url = receiver.url("/bin")
    deleted_items = subscribe(
        graph, receiver, f"users/{MAILBOX}/contactFolders/deleteditems/contacts", notificationUrl=bin_url
    )
    assert deleted_items.status_code == 201, deleted_items.text
    contact = graph.contact(graph.folder())
    receiver.wait_for(1)
    services.contact_to_deleted_items(Contact.objects.get(graph_id=contact["id"]).pk)
    assert delivery.drain()  # every first attempt made
    assert [n["changeType"] for n in receiver.notifications("/bin")] == ["created"]
    assert [n["changeType"] for n in receiver.notifications()] == ["created", "deleted"]


def test_a_change_on_the_outlook_page_is_notified(graph, receiver, folder_subscription, admin_client):
    folder, _ = folder_subscription
    contact = graph.contact(folder)
    receiver.wait_for(1)
    row = Contact.objects.get(graph_id=contact["id"])
    page = {"mailbox": MAILBOX, "folder": row.folder_id, "contact": row.pk, "action": "delete"}
    assert admin_client.post("/graph-sandbox/outlook/", page).status_code == 302
    notifications = receiver.wait_for(2)
    assert notifications[1]["changeType"] == "deleted"


def test_a_change_by_the_sandbox_mailbox_command_in_another_process_is_notified(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    contact = graph.contact(folder)
    receiver.wait_for(1)
    # Delayed: the notification waits in the command's queue, which it must send before exiting.
    services.mailbox_configure(MAILBOX, notification_delay_seconds=1.0)
    done = run_in_another_process("delete", MAILBOX, contact["id"])
    assert done.returncode == 0, done.stderr
    notifications = receiver.wait_for(2)
    assert notifications[1]["changeType"] == "deleted"


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_mailbox", *args, stdout=out)
    return out.getvalue()


def test_the_command_sets_the_notification_knobs_and_acts_on_subscriptions(graph, receiver, folder_subscription):
    folder, created = folder_subscription
    run("set", MAILBOX, "--notification-drop-rate", "0.25", "--notification-delay", "0.1")
    run("set", MAILBOX, "--notification-reorder", "on", "--notification-duplicate-rate", "1")
    mailbox = services.mailbox_get(MAILBOX)
    assert (mailbox.notification_drop_rate, mailbox.notification_delay_seconds) == (0.25, 0.1)
    assert mailbox.is_notification_reordered
    run("set", MAILBOX, "--notification-drop-rate", "0", "--notification-reorder", "off")
    graph.contact(folder)
    assert len(receiver.wait_for(2)) == 2  # duplicated
    assert created["id"] in run("subscriptions", MAILBOX)
    assert run("subscription", created["id"], "missed") == f"Sent missed for {created['id']}\n"
    assert run("subscription", created["id"], "remove") == f"Removed {created['id']}; subscriptionRemoved sent\n"
    events = [n["lifecycleEvent"] for n in receiver.wait_for(2, "/life")]
    assert sorted(events) == ["missed", "subscriptionRemoved"]
    with pytest.raises(CommandError, match="No subscription"):
        run("subscription", created["id"], "expire")


def test_an_expired_subscription_sends_nothing_and_is_gone(graph, receiver, folder_subscription):
    folder, created = folder_subscription
    subscriptions.subscription_expire(created["id"])
    graph.contact(folder)
    assert graph.get("/subscriptions").json()["value"] == []
    assert_error(graph.get(f"/subscriptions/{created['id']}"), 404, "ResourceNotFound")
    assert receiver.notifications() == [] and receiver.notifications("/life") == []


# --- retries ----------------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_until_it_is_accepted(graph, receiver, folder_subscription, fast_retries):
    folder, _ = folder_subscription
    receiver.statuses["/notify"] = [500, 503]
    graph.contact(folder)
    notifications = receiver.wait_for(3)
    assert [n["changeType"] for n in notifications] == ["created"] * 3  # two failures, then 202


def test_a_delivery_not_answered_in_time_is_retried(graph, receiver, folder_subscription, fast_retries, settings):
    settings.GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS = 30.0  # past the 3-second wait
    folder, _ = folder_subscription
    receiver.statuses["/notify"] = [TOO_LATE]
    graph.contact(folder)
    first, again = receiver.wait_for(2, timeout=10)
    assert first == again


def test_a_delivery_that_keeps_failing_is_dropped_after_the_limit(graph, receiver, folder_subscription, fast_retries):
    folder, _ = folder_subscription
    receiver.statuses["/notify"] = [500] * 50
    graph.contact(folder)
    receiver.wait_for(2)
    time.sleep(2)  # past the retry limit (1 s): no attempt may follow
    attempts = len(receiver.notifications())
    time.sleep(1)
    assert len(receiver.notifications()) == attempts <= 4


# --- lifecycle notifications and knobs ----------------------------------------------------------


@pytest.mark.parametrize("event", ["reauthorizationRequired", "missed"])
def test_it_sends_a_lifecycle_notification(graph, receiver, folder_subscription, event):
    _, created = folder_subscription
    assert subscriptions.subscription_lifecycle(created["id"], event)
    (notification,) = receiver.wait_for(1, "/life")
    assert notification == {
        "subscriptionId": created["id"],
        "subscriptionExpirationDateTime": created["expirationDateTime"],
        "tenantId": notification["tenantId"],
        "clientState": "secret-state",
        "lifecycleEvent": event,
    }


def test_a_removed_subscription_says_so_and_sends_nothing_more(graph, receiver, folder_subscription):
    folder, created = folder_subscription
    assert subscriptions.subscription_remove(created["id"])
    (notification,) = receiver.wait_for(1, "/life")
    assert notification["lifecycleEvent"] == "subscriptionRemoved"
    assert_error(graph.get(f"/subscriptions/{created['id']}"), 404, "ResourceNotFound")
    graph.contact(folder)
    assert receiver.notifications() == []


def test_the_drop_knob_sends_nothing(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    services.mailbox_configure(MAILBOX, notification_drop_rate=1.0)
    graph.contact(folder)
    services.mailbox_configure(MAILBOX, notification_drop_rate=0.0)
    graph.contact(folder, surname="Marker")
    (notification,) = receiver.wait_for(1)
    assert notification["resourceData"]["id"] == Contact.objects.get(data__surname="Marker").graph_id


def test_the_duplicate_knob_sends_each_notification_twice(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    services.mailbox_configure(MAILBOX, notification_duplicate_rate=1.0)
    graph.contact(folder)
    first, second = receiver.wait_for(2)
    assert first == second


def test_the_delay_knob_holds_notifications_back(graph, receiver, folder_subscription):
    folder, _ = folder_subscription
    services.mailbox_configure(MAILBOX, notification_delay_seconds=2.0)
    graph.contact(folder)
    time.sleep(0.5)
    assert receiver.notifications() == []
    receiver.wait_for(1)


def test_the_reorder_knob_sends_a_burst_newest_first(graph, receiver, folder_subscription, settings):
    settings.GRAPH_SANDBOX_NOTIFICATION_REORDER_WINDOW_SECONDS = 1.0
    folder, _ = folder_subscription
    services.mailbox_configure(MAILBOX, notification_reorder=True)
    ids = [graph.contact(folder, surname=f"N{i}")["id"] for i in range(3)]
    notifications = receiver.wait_for(3)
    assert [n["resourceData"]["id"] for n in notifications] == list(reversed(ids))


def test_the_admin_lists_subscriptions_without_letting_anyone_change_them(
    folder_subscription, superuser, admin_client_for
):
    _, created = folder_subscription
    client = admin_client_for(superuser)
    page = client.get(reverse("admin:graph_sandbox_subscription_changelist")).content.decode()
    assert created["id"] in page
    assert client.get(reverse("admin:graph_sandbox_subscription_add")).status_code == 403
