"""Bad and unusual input in the person's own Outlook data: whatever bcsync does not own
reads the same after it synced, and its own slots hold Business Central's values.

Outlook contacts with odd lists (full, duplicated, nameless or differently cased
addresses, phones with blanks, categories in another case, many or unicode categories),
unmapped properties with long, unicode or markup text, and extended properties of other
apps, each linked by email to a Business Central contact (or created from Outlook). One
world per module: a link run, a Business Central edit of every linked contact, and a
full sync; each case is an assertion on the sandbox's stored contact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command

from contacts.models import Contact
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.batch import error_from_batch_response
from exchange_sync.graph.stamp import EXTENDED_PROPERTIES, STAMP_PROPERTY_ID
from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.sandbox.models import Contact as OutlookRow
from exchange_sync.sandbox.models import ExtendedProperty
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_setup
from tests.factories import make_user

MAILBOX = "outlook.data@cronus.example"
OTHER_APP = "String {1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d} Name Rating"
THIRD_APP = "String {9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a} Name LastMeeting"
# What bcsync maps: never compared as "the person's own" below.
MAPPED = {
    "displayName",
    "givenName",
    "middleName",
    "surname",
    "initials",
    "jobTitle",
    "companyName",
    "emailAddresses",
    "businessPhones",
    "mobilePhone",
    "businessHomePage",
    "businessAddress",
    "categories",
}


@dataclass(frozen=True)
class DataCase:
    """An Outlook contact and, when linked, its Business Central contact; `emails`,
    `phones` and `categories` are what Outlook holds at the end (None: not checked)."""

    id: str
    body: dict[str, Any]
    bc: dict[str, Any] | None = None
    emails: list[str] | None = None
    phones: list[str] | None = None
    categories: list[str] | None = None
    # Business Central edits made after the link (each linked case gets a job title too).
    then: dict[str, Any] = field(default_factory=dict)


def _body(n: int, *emails: str, **body: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"givenName": f"Data{n}", "surname": "Case"}
    values["emailAddresses"] = [{"address": a} for a in (emails or (f"d{n}@data.example",))]
    values.update(body)
    return values


def _bc(n: int, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"first_name": f"Data{n}", "surname": "Case", "email": f"d{n}@data.example"}
    values.update(fields)
    return values


LONG_NOTES = "Notes of a long relationship. " * 400  # 12,000 characters
CASES: list[DataCase] = [
    # Lists at Graph's limits and beyond bcsync's slots.
    DataCase(
        "three-emails-bc-has-two",
        _body(1, "d1@data.example", "mine@data.example", "third@data.example"),
        _bc(1, email_2="bc2@data.example"),
        emails=["d1@data.example", "bc2@data.example", "third@data.example"],
    ),
    DataCase(
        "three-emails-bc-has-one",
        _body(2, "d2@data.example", "second@data.example", "third2@data.example"),
        _bc(2),
        emails=["d2@data.example", "second@data.example", "third2@data.example"],
    ),
    DataCase(
        "one-email-bc-has-two",
        _body(3),
        _bc(3, email_2="bc3@data.example"),
        emails=["d3@data.example", "bc3@data.example"],
    ),
    DataCase(
        "first-email-other-case",
        _body(4, "D4@DATA.EXAMPLE", "keep4@data.example", "keep4b@data.example"),
        _bc(4),
        emails=["d4@data.example", "keep4@data.example", "keep4b@data.example"],
    ),
    DataCase(
        "same-address-three-times",
        _body(5, "d5@data.example", "d5@data.example", "d5@data.example"),
        _bc(5),
        emails=["d5@data.example", "d5@data.example", "d5@data.example"],
    ),
    DataCase(
        "nameless-third-address",
        {**_body(6), "emailAddresses": [{"address": "d6@data.example"}, {"address": "x6@data.example", "name": ""}]},
        _bc(6),
        emails=["d6@data.example", "x6@data.example"],
    ),
    DataCase(
        "bc-email-2-becomes-blank",
        _body(7, "d7@data.example", "bc7@data.example", "third7@data.example"),
        _bc(7, email_2="bc7@data.example"),
        emails=["d7@data.example", "third7@data.example"],
        then={"email_2": ""},
    ),
    DataCase(
        "bc-email-changes",
        _body(8, "d8@data.example", "second8@data.example", "third8@data.example"),
        _bc(8),
        emails=["new8@data.example", "second8@data.example", "third8@data.example"],
        then={"email": "new8@data.example"},
    ),
    # Business phones.
    DataCase(
        "two-phones-bc-has-one",
        _body(10, businessPhones=["+1 100", "+1 101"]),
        _bc(10, phone="+1 999"),
        phones=["+1 999", "+1 101"],
    ),
    DataCase(
        "two-phones-bc-has-none",
        _body(11, businessPhones=["+1 110", "+1 111"]),
        _bc(11),
        phones=["+1 110", "+1 111"],
    ),
    DataCase(
        "bc-phone-changes",
        _body(12, businessPhones=["+1 120", "+1 121"]),
        _bc(12, phone="+1 120"),
        phones=["+1 129", "+1 121"],
        then={"phone": "+1 129"},
    ),
    DataCase(
        "bc-phone-becomes-blank",
        _body(13, businessPhones=["+1 130", "+1 131"]),
        _bc(13, phone="+1 130"),
        phones=["+1 131"],
        then={"phone": ""},
    ),
    DataCase("phone-with-spaces-only", _body(14, businessPhones=["   ", "+1 141"]), _bc(14), phones=["   ", "+1 141"]),
    # Categories.
    DataCase("category-vip", _body(20, categories=["VIP"]), _bc(20), categories=["VIP", "Business Central"]),
    DataCase(
        "category-ours-other-case",
        _body(21, categories=["business central", "VIP"]),
        _bc(21),
        categories=["business central", "VIP"],
    ),
    DataCase(
        "category-ours-already",
        _body(22, categories=["Business Central", "Golf"]),
        _bc(22),
        categories=["Business Central", "Golf"],
    ),
    DataCase(
        "many-categories",
        _body(23, categories=[f"Tag {i}" for i in range(25)]),
        _bc(23),
        categories=[*(f"Tag {i}" for i in range(25)), "Business Central"],
    ),
    DataCase(
        "unicode-categories",
        _body(24, categories=["Família 👪", "顧客", "<b>x</b>"]),
        _bc(24),
        categories=["Família 👪", "顧客", "<b>x</b>", "Business Central"],
    ),
    DataCase(
        "duplicated-categories", _body(25, categories=["A", "A"]), _bc(25), categories=["A", "A", "Business Central"]
    ),
    DataCase(
        "category-with-comma",
        _body(26, categories=["Sales, North"]),
        _bc(26),
        categories=["Sales, North", "Business Central"],
    ),
    # Unmapped properties with unusual values: never sent, so read the same.
    DataCase("long-personal-notes", _body(30, personalNotes=LONG_NOTES), _bc(30)),
    DataCase("html-notes", _body(31, personalNotes="<script>alert(1)</script>\n<b>bold</b>"), _bc(31)),
    DataCase("emoji-nickname", _body(32, nickName="👩‍💻 Dev", department="R&D 🧪"), _bc(32)),
    DataCase("rtl-and-cjk", _body(33, nickName="محمد", spouseName="花子", profession="エンジニア"), _bc(33)),
    DataCase("birthday", _body(34, birthday="1975-02-28T00:00:00Z"), _bc(34)),
    DataCase("home-phones", _body(35, homePhones=["+1 350", "+1 351"]), _bc(35)),
    DataCase("partial-home-address", _body(36, homeAddress={"city": "Lyon"}), _bc(36)),
    DataCase("full-other-address", _body(37, otherAddress={"street": "1\n2", "city": "X", "postalCode": "1"}), _bc(37)),
    DataCase("children-and-im", _body(38, children=["Ann", "Bo"], imAddresses=["sip:d38@data.example"]), _bc(38)),
    DataCase("title-and-generation", _body(39, title="Dr.", generation="Jr.", fileAs="Case, Data"), _bc(39)),
    DataCase(
        "other-apps-properties",
        _body(40, **{EXTENDED_PROPERTIES: [{"id": OTHER_APP, "value": "5"}, {"id": THIRD_APP, "value": "2026-11-30"}]}),
        _bc(40),
    ),
    DataCase(
        "other-app-property-with-our-name",
        _body(41, **{EXTENDED_PROPERTIES: [{"id": OTHER_APP.replace("Rating", "BcContactNo"), "value": "theirs"}]}),
        _bc(41),
    ),
    # Made in Outlook (no Business Central contact): created in Business Central, and
    # still the person's in everything bcsync does not map.
    DataCase(
        "new-rich-contact",
        _body(
            50,
            "d50@data.example",
            "two50@data.example",
            "three50@data.example",
            businessPhones=["+1 500", "+1 501"],
            categories=["Friends"],
            personalNotes="Made in Outlook",
            **{EXTENDED_PROPERTIES: [{"id": OTHER_APP, "value": "new"}]},
        ),
        emails=["d50@data.example", "two50@data.example", "three50@data.example"],
        phones=["+1 500", "+1 501"],
        categories=["Friends", "Business Central"],
    ),
]


@dataclass
class Outcome:
    runs: list[SyncRun]
    before: dict[str, dict[str, Any]]  # case id -> stored Outlook data before any sync
    after: dict[str, dict[str, Any]]
    extended_before: dict[str, dict[str, str]]
    extended_after: dict[str, dict[str, str]]
    patches: list[dict[str, Any]]
    issues: list[SyncIssue]
    bc_after: dict[str, Contact | None]


def _stored(graph_id: str) -> dict:
    """The contact's data as the sandbox holds it; bcsync's ids are immutable ids."""
    return dict(OutlookRow.objects.get(immutable_id=graph_id, is_deleted=False).data)


def _extended(graph_id: str) -> dict[str, str]:
    rows = ExtendedProperty.objects.filter(contact__immutable_id=graph_id, contact__is_deleted=False)
    return {row.property_id: row.value for row in rows if "{0f45d569" not in row.property_id}


def _build(live_server) -> Outcome:
    mailbox_add(MAILBOX)
    setup = ExchangeSyncSetup.objects.create(user=make_user("outlook-data", mailbox=MAILBOX))
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    patches: list[dict[str, Any]] = []
    batch = client.batch

    def recording_batch(requests_):
        patches.extend(r.body for r in requests_ if r.method == "PATCH")
        return batch(requests_)

    client.batch = recording_batch
    try:
        runs = [sync_setup(setup, client=client, kind=SyncRun.Kind.FULL)]  # the folder
        setup.refresh_from_db()
        contacts = {case.id: Contact.objects.create(type=Contact.Type.PERSON, **case.bc) for case in CASES if case.bc}
        requests_ = [
            client.batch_request_create_contact(str(i), MAILBOX, setup.folder_id, case.body)
            for i, case in enumerate(CASES)
        ]
        graph_ids = {}
        for case, response in zip(CASES, client.batch(requests_), strict=True):
            assert error_from_batch_response(response) is None, (case.id, response)
            graph_ids[case.id] = response.body["id"]
        patches.clear()
        before = {key: _stored(gid) for key, gid in graph_ids.items()}
        extended_before = {key: _extended(gid) for key, gid in graph_ids.items()}
        runs.append(sync_setup(setup, client=client, kind=SyncRun.Kind.INCREMENTAL))  # link
        for case in CASES:
            if case.id in contacts:
                contact = Contact.objects.get(pk=contacts[case.id].pk)
                for name, value in {"job_title": "Edited", **case.then}.items():
                    setattr(contact, name, value)
                contact.save()
        runs.append(sync_setup(setup, client=client, kind=SyncRun.Kind.INCREMENTAL))  # push
        runs.append(sync_setup(setup, client=client, kind=SyncRun.Kind.FULL))
    finally:
        client.close()
    return Outcome(
        runs=runs,
        before=before,
        after={key: _stored(gid) for key, gid in graph_ids.items()},
        extended_before=extended_before,
        extended_after={key: _extended(gid) for key, gid in graph_ids.items()},
        patches=patches,
        issues=list(SyncIssue.objects.filter(run__setup=setup)),
        bc_after={key: Contact.objects.filter(pk=c.pk).first() for key, c in contacts.items()},
    )


@pytest.fixture(scope="module")
def outcome(django_db_setup, django_db_blocker, live_server):
    with django_db_blocker.unblock():
        try:
            yield _build(live_server)
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _params(cases):
    return [pytest.param(case, id=case.id) for case in cases]


def test_every_run_succeeded_without_failures(outcome: Outcome):
    for run in outcome.runs:
        assert run.status == SyncRun.Status.SUCCEEDED, (run.error, [i.reason for i in outcome.issues])


def test_no_patch_ever_named_an_unmapped_property_or_another_apps_extended_property(outcome: Outcome):
    assert outcome.patches
    for body in outcome.patches:
        assert set(body) - {EXTENDED_PROPERTIES} <= MAPPED, body
        assert [p["id"] for p in body.get(EXTENDED_PROPERTIES, [])] == [STAMP_PROPERTY_ID]


@pytest.mark.parametrize("case", _params(CASES))
def test_what_bcsync_does_not_own_reads_the_same_and_its_slots_hold_business_centrals_values(
    case: DataCase, outcome: Outcome
):
    before, after = outcome.before[case.id], outcome.after[case.id]
    for name in set(before) | set(after):
        if name not in MAPPED:
            assert after.get(name) == before.get(name), f"{name} changed"
    assert outcome.extended_after[case.id] == outcome.extended_before[case.id]
    if case.emails is not None:
        assert [e["address"] for e in after["emailAddresses"]] == case.emails
    if case.phones is not None:
        assert after["businessPhones"] == case.phones
    if case.categories is not None:
        assert after["categories"] == case.categories
    else:
        assert "business central" in {c.casefold() for c in after["categories"]}
    if case.bc:
        contact = outcome.bc_after[case.id]
        assert contact is not None and after["jobTitle"] == contact.job_title == "Edited"
