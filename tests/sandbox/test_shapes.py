"""The sandbox's answers have the property names and JSON types of Graph's documented examples."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from exchange_sync.sandbox import services, subscriptions
from exchange_sync.sandbox.models import Contact
from exchange_sync.sandbox.services import mailbox_configure
from tests.sandbox.conftest import MAILBOX

DATA = Path(__file__).resolve().parent.parent / "data" / "sandbox"
STAMP = "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name Color"


def documented(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _kind(value: object) -> str:
    return type(value).__name__


def assert_same_shape(actual: dict, example: dict, *, not_shown: frozenset[str] = frozenset()) -> None:
    """Same keys (plus `not_shown`: keys the shortened documented example leaves out);
    same JSON type wherever both sides have a value (null means "any")."""
    assert set(actual) == set(example) | not_shown
    for key, value in example.items():
        if value is not None and actual[key] is not None:
            assert _kind(actual[key]) == _kind(value), key


def test_a_contact_looks_like_the_documented_one(graph):
    folder = graph.folder()
    created = graph.contact(folder, businessPhones=["+1 732 555 0102"], emailAddresses=[{"address": "p@x.example"}])
    example = documented("contact.json")
    assert_same_shape(created, example)
    fetched = graph.get(f"{graph.contact_path(folder, created['id'])}").json()
    assert_same_shape(fetched, example)
    assert_same_shape(fetched["emailAddresses"][0], example["emailAddresses"][0])


def test_an_expanded_contact_carries_the_documented_property_list(graph):
    folder = graph.folder()
    created = graph.contact(folder, singleValueExtendedProperties=[{"id": STAMP, "value": "Green"}])
    body = graph.get(
        f"{graph.contact_path(folder, created['id'])}",
        params={"$select": "id", "$expand": f"singleValueExtendedProperties($filter=id eq '{STAMP}')"},
    ).json()
    example = documented("contact_with_extended_property.json")
    assert_same_shape(body, example)
    assert body["singleValueExtendedProperties"] == example["singleValueExtendedProperties"]


# The documented folder and user examples are shortened: they leave out the entity's
# @odata.context, which Graph sends (as the documented contact example shows).
ENTITY_CONTEXT = frozenset({"@odata.context"})


def test_a_folder_looks_like_the_documented_one(graph):
    folder = graph.folder()
    body = graph.get(graph.folder_path(folder)).json()
    assert_same_shape(body, documented("contact_folder.json"), not_shown=ENTITY_CONTEXT)


def test_deleted_items_read_as_a_contact_folder_and_a_contact_there_by_immutable_id_look_documented(graph):
    folder = graph.folder()
    created = graph.post(graph.contacts_path(folder), {"surname": "Lee"}, headers={"Prefer": 'IdType="ImmutableId"'})
    contact = Contact.objects.get(immutable_id=created.json()["id"])
    services.contact_to_deleted_items(contact.pk)
    deleted_items = graph.get(f"/users/{MAILBOX}/contactFolders/deleteditems").json()
    assert_same_shape(deleted_items, documented("contact_folder.json"), not_shown=ENTITY_CONTEXT)
    there = graph.get(
        f"/users/{MAILBOX}/contacts/{quote(contact.immutable_id, safe='')}",
        headers={"Prefer": 'IdType="ImmutableId"'},
    ).json()
    assert_same_shape(there, documented("contact.json"))


def test_a_user_looks_like_the_documented_one(graph):
    assert_same_shape(graph.get(f"/users/{MAILBOX}").json(), documented("user.json"), not_shown=ENTITY_CONTEXT)


def test_a_contacts_page_looks_like_the_documented_shape(graph):
    folder = graph.folder()
    for _ in range(2):
        graph.contact(folder)
    page = graph.get(graph.contacts_path(folder), params={"$top": "1"}).json()
    example = documented("contacts_page.json")
    assert_same_shape(page, example)
    assert_same_shape(page["value"][0], example["value"][0])
    last = graph.get(page["@odata.nextLink"]).json()
    assert set(last) == set(example) - {"@odata.nextLink"}  # the last page has no link


def test_a_removed_contact_in_delta_looks_like_the_documented_shape(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    body = graph.get(f"{graph.contacts_path(folder)}/delta").json()
    graph.delete(graph.contact_path(folder, contact["id"]))
    changes = graph.get(body["@odata.deltaLink"]).json()
    example = documented("contacts_delta_removed.json")
    assert_same_shape(changes, example)
    assert_same_shape(changes["value"][0], example["value"][0])
    assert changes["value"][0]["@removed"] == example["value"][0]["@removed"] == {"reason": "deleted"}
    assert changes["value"][0]["id"] == contact["id"]


def test_a_delta_page_looks_like_the_documented_one(graph):
    folder = graph.folder()
    for _ in range(2):
        graph.contact(folder)
    page = graph.get(f"{graph.contacts_path(folder)}/delta", headers={"Prefer": "odata.maxpagesize=1"}).json()
    example = documented("contacts_delta_page.json")
    assert_same_shape(page, example)
    assert_same_shape(page["value"][0], example["value"][0])
    assert "$skiptoken=" in page["@odata.nextLink"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/users/{mailbox}/contactFolders/AAMkAGI2AAEOAAA=", 400),
        ("/users/nobody@cronus.example", 404),
        ("/users/{mailbox}/contactFolders/{missing}", 404),
        ("/users/{mailbox}/contactFolders/{folder}/contacts/{missing_contact}", 404),
        ("/users/{mailbox}/contactFolders/{folder}/contacts/AAMkAGI2THk0AAA=", 400),
        ("/users/{mailbox}/calendars", 400),
    ],
)
def test_errors_look_like_the_documented_one(graph, path, status):
    folder = graph.folder()
    gone = graph.folder("Gone")
    graph.delete(graph.folder_path(gone))
    contact = graph.contact(folder)
    graph.delete(graph.contact_path(folder, contact["id"]))
    ids = {"folder": folder, "missing": gone, "missing_contact": contact["id"]}
    url = path.format(mailbox=MAILBOX, **{name: quote(value, safe="") for name, value in ids.items()})
    response = graph.get(url)
    assert response.status_code == status
    example = documented("error.json")
    body = response.json()
    assert_same_shape(body, example)
    assert_same_shape(body["error"], example["error"])
    assert_same_shape(body["error"]["innerError"], example["error"]["innerError"])
    assert response.headers["request-id"]


def test_an_error_echoes_the_client_request_id_as_documented(graph):
    client_request_id = "f0e1d2c3-0000-0000-0000-000000000000"
    response = graph.get("/users/nobody@cronus.example", headers={"client-request-id": client_request_id})
    # The documented batch example shows the innerError of a request that sent one.
    example = documented("batch_response.json")["responses"][1]["body"]["error"]["innerError"]
    assert_same_shape(response.json()["error"]["innerError"], example)
    assert response.json()["error"]["innerError"]["client-request-id"] == client_request_id
    assert response.headers["client-request-id"] == client_request_id


def test_malformed_ids_are_graphs_400(graph):
    response = graph.get(f"/users/{MAILBOX}/contactFolders/AAMkAGI2AAEOAAA=")
    assert response.json()["error"]["code"] == "ErrorInvalidIdMalformed"


def test_a_batch_answer_looks_like_the_documented_one(graph):
    members = [
        {"id": "1", "method": "GET", "url": f"/users/{MAILBOX}"},
        {"id": "2", "method": "GET", "url": "/users/nobody@cronus.example"},
    ]
    response = graph.post("/$batch", {"requests": members}, headers={"client-request-id": "e70c5c1b-0000"})
    body = response.json()
    example = documented("batch_response.json")
    assert_same_shape(body, example)
    answers = {r["id"]: r for r in body["responses"]}
    assert_same_shape(answers["1"], example["responses"][0])
    assert_same_shape(answers["2"], example["responses"][1])
    documented_error = example["responses"][1]["body"]["error"]
    assert_same_shape(answers["2"]["body"]["error"], documented_error)
    assert_same_shape(answers["2"]["body"]["error"]["innerError"], documented_error["innerError"])


def test_ids_are_long_standard_base64_with_padding(graph):
    folder = graph.folder()
    contact = graph.contact(folder)
    for value in (folder, contact["id"]):
        assert len(value) >= 52
        assert value.endswith("=")
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    truncated = graph.get(graph.contact_path(folder, contact["id"][:-4]))
    assert truncated.json()["error"]["code"] == "ErrorInvalidIdMalformed"


def test_a_default_folder_page_with_a_count_looks_like_the_documented_shape(graph):
    for surname in ("One", "Two"):
        graph.post(f"/users/{MAILBOX}/contacts", {"surname": surname})
    page = graph.get(f"/users/{MAILBOX}/contacts", params={"$count": "true", "$top": "1"}).json()
    example = documented("default_contacts_page.json")
    assert_same_shape(page, example)
    assert_same_shape(page["value"][0], example["value"][0])
    assert "$skip=1" in page["@odata.nextLink"]


def test_a_contact_addressed_without_its_folder_looks_like_the_documented_one(graph):
    contact = graph.contact(graph.folder())
    body = graph.get(f"/users/{MAILBOX}/contacts/{quote(contact['id'], safe='')}").json()
    assert_same_shape(body, documented("contact.json"))


def test_the_default_folder_delta_looks_like_the_documented_one(graph):
    for surname in ("One", "Two"):
        graph.post(f"/users/{MAILBOX}/contacts", {"surname": surname})
    page = graph.get(f"/users/{MAILBOX}/contacts/delta", headers={"Prefer": "odata.maxpagesize=1"}).json()
    example = documented("contacts_delta_page.json")
    assert_same_shape(page, example)
    assert_same_shape(page["value"][0], example["value"][0])


def test_child_folders_look_like_the_documented_ones(graph):
    path = f"{graph.folder_path(graph.folder())}/childFolders"
    created = graph.post(path, {"displayName": "Family"}).json()
    assert_same_shape(created, documented("child_folder.json"), not_shown=ENTITY_CONTEXT)
    listed = graph.get(path).json()
    example = documented("child_folders.json")
    assert_same_shape(listed, example)
    assert_same_shape(listed["value"][0], example["value"][0])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/users/{mailbox}/contactz", {}),
        ("/users/{mailbox}/contacts", {"$skip": "-1"}),
        ("/users/{mailbox}/contacts/delta", {"$top": "1"}),
        ("/users/{mailbox}/contactFolders/{folder}/childFolders", {"$count": "maybe"}),
    ],
)
def test_refusals_of_paths_and_options_look_like_the_documented_error(graph, path, params):
    folder = quote(graph.folder(), safe="")
    response = graph.get(path.format(mailbox=MAILBOX, folder=folder), params=params)
    assert response.status_code == 400
    example = documented("error.json")
    assert_same_shape(response.json(), example)
    assert_same_shape(response.json()["error"], example["error"])
    assert_same_shape(response.json()["error"]["innerError"], example["error"]["innerError"])


def test_a_throttled_answer_looks_like_the_documented_error_with_retry_after(graph, settings):
    settings.GRAPH_SANDBOX_THROTTLE_LIMIT = 1
    mailbox_configure(MAILBOX, throttle=True)
    graph.get(f"/users/{MAILBOX}")
    response = graph.get(f"/users/{MAILBOX}")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    example = documented("error.json")
    assert_same_shape(response.json(), example)
    assert_same_shape(response.json()["error"], example["error"])
    assert response.json()["error"]["code"] == "TooManyRequests"


# --- change notifications -------------------------------------------------------------------

# The documented subscription examples are shortened: Graph sends every property of the
# subscription resource (https://learn.microsoft.com/graph/api/resources/subscription),
# null where unset.
SUBSCRIPTION_NOT_SHOWN = frozenset(
    {
        "lifecycleNotificationUrl",
        "includeResourceData",
        "encryptionCertificate",
        "encryptionCertificateId",
        "notificationQueryOptions",
        "notificationUrlAppId",
    }
)


def _subscribe(graph, receiver, **extra: str) -> dict:
    folder = graph.folder()
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = graph.post(
        "/subscriptions",
        {
            "changeType": "created,updated,deleted",
            "notificationUrl": receiver.url(),
            "resource": f"users/{MAILBOX}/contactFolders/{folder}/contacts",
            "expirationDateTime": expires,
            "clientState": "secretClientValue",
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return {"folder": folder, **response.json()}


def test_a_subscription_looks_like_the_documented_one(graph, receiver):
    created = _subscribe(graph, receiver)
    created.pop("folder")
    assert_same_shape(created, documented("subscription.json"), not_shown=SUBSCRIPTION_NOT_SHOWN)
    fetched = graph.get(f"/subscriptions/{created['id']}").json()
    assert_same_shape(fetched, documented("subscription.json"), not_shown=SUBSCRIPTION_NOT_SHOWN)


def test_a_list_of_subscriptions_looks_like_the_documented_one_without_client_state(graph, receiver):
    _subscribe(graph, receiver, lifecycleNotificationUrl=receiver.url("/life"))
    body = graph.get("/subscriptions").json()
    example = documented("subscriptions_page.json")
    assert_same_shape(body, example)
    item = body["value"][0]
    assert_same_shape(
        item, example["value"][0], not_shown=frozenset({"notificationQueryOptions", "notificationUrlAppId"})
    )
    # "the clientState property value is not returned for security purposes" (subscription-list).
    assert item["clientState"] is None


def test_a_change_notification_looks_like_the_documented_one(graph, receiver):
    created = _subscribe(graph, receiver)
    graph.contact(created["folder"])
    (notification,) = receiver.wait_for(1)
    example = documented("change_notification_collection.json")["value"][0]
    # The example's notification `id` is optional (changeNotification); the sandbox leaves it out.
    assert set(notification) == set(example) - {"id"}
    assert_same_shape(notification["resourceData"], example["resourceData"])
    assert notification["resourceData"]["@odata.type"] == "#Microsoft.Graph.Contact"
    for key in ("subscriptionId", "tenantId"):
        assert str(uuid.UUID(notification[key])) == notification[key]


def test_a_lifecycle_notification_looks_like_the_documented_one(graph, receiver):
    created = _subscribe(graph, receiver, lifecycleNotificationUrl=receiver.url("/life"))
    subscriptions.subscription_lifecycle(created["id"], "missed")
    (notification,) = receiver.wait_for(1, "/life")
    assert_same_shape(notification, documented("lifecycle_notification_collection.json")["value"][0])
