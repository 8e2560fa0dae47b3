"""Microsoft's own Graph SDK for Python (`msgraph-sdk`), used as its documentation says,
against the sandbox over HTTP: if the sandbox answered anything the SDK cannot read, or
refused what the SDK sends to Graph, these tests would fail.

Only the credential is ours: azure-identity refuses an authority that is not https, so
`SandboxCredential` fetches the token from the sandbox's token endpoint (the same
client-credentials request azure-identity's `ClientSecretCredential` makes). The SDK
accepts plain http for localhost, so nothing else changes.

Known SDK bugs, worked around here only:
- msgraph-core does not declare its dependency on `Deprecated`, so importing its batch
  classes fails (msgraph-sdk-python-core issue 1030,
  https://github.com/microsoftgraph/msgraph-sdk-python-core/issues/1030):
  requirements-dev.txt pins `Deprecated` itself.
- `BatchResponseItem` reads each member's `body` as base64 bytes, so the JSON object
  bodies Graph sends are dropped (`body` is None; kiota-python issue 737,
  https://github.com/microsoft/kiota-python/issues/737). The batch test sends the SDK's
  own batch request through the SDK's request adapter and reads the envelope as bytes.
- `BatchRequestItem` keeps the absolute URL of the request (msgraph-sdk-python issue
  1015, https://github.com/microsoftgraph/msgraph-sdk-python/issues/1015), which Graph
  answers per member with 400 "Resource not found for the segment 'https:'"; its own
  `set_url` cannot strip the version either (its regex is written with JavaScript
  slashes, `'/\\/(v1.0|beta)/'`). The test makes the member URLs relative.
- `BatchRequestItem` writes `depends_on` instead of `dependsOn` (msgraph-sdk-python-core
  pull request 996, https://github.com/microsoftgraph/msgraph-sdk-python-core/pull/996),
  so Graph ignores the ordering: the test does not rely on it.
- The SDK's `PageIterator` and delta builders work unchanged.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest
from azure.core.credentials import AccessToken
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.contact import Contact
from msgraph.generated.models.contact_folder import ContactFolder
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.users.item.contact_folders.item.contacts.contacts_request_builder import (
    ContactsRequestBuilder,
)
from msgraph.generated.users.item.contact_folders.item.contacts.item.contact_item_request_builder import (
    ContactItemRequestBuilder,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.tasks.page_iterator import PageIterator

from exchange_sync.sandbox.services import mailbox_add, mailbox_configure
from tests.sandbox.conftest import GRAPH_SCOPE, MAILBOX, token_request

STAMP = "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name BcContactNo"


class SandboxCredential:
    """An azure-core `TokenCredential` that asks the sandbox's token endpoint."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.requests = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == (GRAPH_SCOPE,)
        self.requests += 1
        response = token_request(self.site)
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))


@pytest.fixture
def client(live_server) -> GraphServiceClient:
    mailbox_add(MAILBOX, display_name="Alice Example")
    mailbox_configure(MAILBOX)
    client = GraphServiceClient(credentials=SandboxCredential(live_server.url), scopes=[GRAPH_SCOPE])
    client.request_adapter.base_url = f"{live_server.url}/graph-sandbox/v1.0"
    return client


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_sdk_creates_renames_reads_and_deletes_a_folder(client):
    folders = client.users.by_user_id(MAILBOX).contact_folders

    async def scenario():
        created = await folders.post(ContactFolder(display_name="Business Central"))
        renamed = await folders.by_contact_folder_id(created.id).patch(ContactFolder(display_name="BC"))
        listed = await folders.get()
        await folders.by_contact_folder_id(created.id).delete()
        with pytest.raises(ODataError) as gone:
            await folders.by_contact_folder_id(created.id).get()
        return created, renamed, listed, gone.value

    created, renamed, listed, gone = run(scenario())
    assert renamed.display_name == "BC"
    assert [f.id for f in listed.value] == [created.id]
    assert gone.response_status_code == 404
    assert gone.error.code == "ErrorItemNotFound"


def test_the_sdk_stamps_finds_updates_with_if_match_and_deletes_a_contact(client):
    user = client.users.by_user_id(MAILBOX)

    async def scenario():
        folder = await user.contact_folders.post(ContactFolder(display_name="Business Central"))
        contacts = user.contact_folders.by_contact_folder_id(folder.id).contacts
        created = await contacts.post(
            Contact(
                given_name="Ann",
                surname="Lee",
                email_addresses=[EmailAddress(address="ann@fabrikam.example", name="Ann Lee")],
                single_value_extended_properties=[SingleValueLegacyExtendedProperty(id=STAMP, value="CT000123")],
            )
        )
        found = await contacts.get(
            RequestConfiguration(
                query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                    filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP}' and ep/value eq 'ct000123')",
                    expand=[f"singleValueExtendedProperties($filter=id eq '{STAMP}')"],
                )
            )
        )
        by_id = user.contacts.by_contact_id(created.id)  # the short path, without the folder
        stale = RequestConfiguration()
        stale.headers.add("If-Match", 'W/"not-the-change-key"')
        with pytest.raises(ODataError) as conflict:
            await by_id.patch(Contact(job_title="Owner"), stale)
        fresh = RequestConfiguration()
        fresh.headers.add("If-Match", created.additional_data["@odata.etag"])
        updated = await by_id.patch(Contact(job_title="Owner"), fresh)
        read = await contacts.by_contact_id(created.id).get(
            RequestConfiguration(
                query_parameters=ContactItemRequestBuilder.ContactItemRequestBuilderGetQueryParameters(
                    select=["jobTitle"]
                )
            )
        )
        await by_id.delete()
        remaining = await contacts.get()
        return created, found, conflict.value, updated, read, remaining

    created, found, conflict, updated, read, remaining = run(scenario())
    assert created.display_name == "Ann Lee"
    assert [c.id for c in found.value] == [created.id]
    assert found.value[0].single_value_extended_properties[0].value == "CT000123"
    assert conflict.response_status_code == 412
    assert conflict.error.code == "ErrorIrresolvableConflict"
    assert updated.change_key != created.change_key
    assert read.job_title == "Owner"
    assert remaining.value == []


def test_the_sdk_pages_through_contacts_with_its_page_iterator(client):
    user = client.users.by_user_id(MAILBOX)

    async def scenario():
        await user.contacts.post(Contact(surname="first"))
        for index in range(11):
            await user.contacts.post(Contact(surname=f"n{index:02}"))
        first = await user.contacts.get(
            RequestConfiguration(
                query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                    top=5, orderby=["surname desc"], count=True
                )
            )
        )
        seen: list[str] = []

        def keep(contact: Contact) -> bool:
            seen.append(contact.surname)
            return True

        iterator = PageIterator(first, client.request_adapter)
        await iterator.iterate(keep)
        return first, seen

    first, seen = run(scenario())
    assert first.odata_count == 12
    assert "$skip=5" in first.odata_next_link
    assert seen == sorted([f"n{index:02}" for index in range(11)] + ["first"], reverse=True)


def test_the_sdk_follows_a_delta_round_and_sees_a_deletion(client):
    user = client.users.by_user_id(MAILBOX)

    async def scenario():
        folder = await user.contact_folders.post(ContactFolder(display_name="Business Central"))
        contacts = user.contact_folders.by_contact_folder_id(folder.id).contacts
        made = [await contacts.post(Contact(surname=f"d{index}")) for index in range(3)]
        delta = contacts.delta
        page = await delta.get(
            RequestConfiguration(
                query_parameters=delta.DeltaRequestBuilderGetQueryParameters(select=["surname"]),
                headers={"Prefer": "odata.maxpagesize=2"},
            )
        )
        listed = list(page.value)
        while page.odata_next_link:
            page = await delta.with_url(page.odata_next_link).get()
            listed += page.value
        await user.contacts.by_contact_id(made[0].id).delete()
        changes = await delta.with_url(page.odata_delta_link).get()
        return made, listed, changes

    made, listed, changes = run(scenario())
    assert sorted(c.surname for c in listed) == ["d0", "d1", "d2"]
    assert [c.id for c in changes.value] == [made[0].id]
    assert changes.value[0].additional_data["@removed"] == {"reason": "deleted"}
    assert changes.odata_delta_link


def test_the_sdk_sends_a_batch_of_twenty_requests(client):
    user = client.users.by_user_id(MAILBOX)

    async def scenario():
        folder = await user.contact_folders.post(ContactFolder(display_name="Business Central"))
        contacts = user.contact_folders.by_contact_folder_id(folder.id).contacts
        batch = BatchRequestContent()
        for index in range(20):
            information = contacts.to_post_request_information(Contact(surname=f"b{index:02}"))
            item = BatchRequestItem(information, id=str(index))
            _relative(item)  # msgraph-sdk-python issue 1015 (module docstring)
            batch.add_request(item.id, item)
        parsed = await client.batch.post(batch_request_content=batch)
        # kiota-python issue 737 (module docstring): the member bodies, read as Graph sent them.
        information = await client.batch.to_post_request_information(batch)
        raw = await client.request_adapter.send_primitive_async(information, "bytes", {})
        listed = await contacts.get(
            RequestConfiguration(
                query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(top=50)
            )
        )
        return parsed, json.loads(raw), listed

    parsed, raw, listed = run(scenario())
    assert parsed.get_response_status_codes() == {str(index): 201 for index in range(20)}
    assert {r["id"]: r["body"]["surname"] for r in raw["responses"]}["7"] == "b07"
    assert len(listed.value) == 40  # each batch sent once by the SDK, once raw


def _relative(item: BatchRequestItem) -> None:
    url = urlsplit(item.url)
    item.url = url.path.split("/v1.0", 1)[1] + (f"?{url.query}" if url.query else "")


def test_an_absolute_member_url_fails_in_that_member_as_on_graph(client):
    """What msgraph-sdk-python issue 1015 reports from Graph, without the workaround."""
    contacts = client.users.by_user_id(MAILBOX).contacts

    async def scenario():
        await contacts.get()  # once the client has sent a request, its builders make absolute URLs
        batch = BatchRequestContent()
        batch.add_request("1", BatchRequestItem(contacts.to_post_request_information(Contact(surname="x")), id="1"))
        information = await client.batch.to_post_request_information(batch)
        return json.loads(await client.request_adapter.send_primitive_async(information, "bytes", {}))

    member = run(scenario())["responses"][0]
    assert member["status"] == 400
    assert member["body"]["error"]["message"] == "Resource not found for the segment 'http:'."
