"""The person's own Outlook data: only what bcsync maps is ever written.

A rich Outlook contact (three email addresses, two business phones, the category VIP,
notes, birthday, home phones, home and other addresses, nickname, department and an
extended property of another app) goes through a link made in Outlook, a Business
Central edit, an Outlook edit and a full sync; every PATCH bcsync sends is recorded.
"""

from __future__ import annotations

import math
from urllib.parse import unquote

import pytest

from exchange_sync.graph.stamp import EXTENDED_PROPERTIES, STAMP_PROPERTY_ID
from exchange_sync.models import ContactLink, SyncRun
from exchange_sync.sandbox.models import Contact as OutlookRow
from exchange_sync.sandbox.models import ExtendedProperty
from tests.factories import make_person

OTHER_APP_PROPERTY = "String {6a1f3c52-9d0e-4b7a-8e21-5c4d3b2a1f00} Name CrmRating"
# Graph properties bcsync maps (and its own stamp); nothing else may appear in a PATCH.
MAPPED_PROPERTIES = {
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
PERSONAL = {
    "personalNotes": "Met at the Lyon fair; two children.",
    "birthday": "1980-05-04T00:00:00Z",
    "homePhones": ["+33 4 11 11 11 11"],
    "homeAddress": {"street": "1 Rue Home", "city": "Lyon", "postalCode": "69001", "countryOrRegion": "France"},
    "otherAddress": {"street": "2 Chemin Autre", "city": "Annecy"},
    "nickName": "Riri",
    "department": "Purchasing",
}


@pytest.fixture
def patches(graph, monkeypatch):
    """Every PATCH bcsync sends, as (Graph contact id, body)."""
    sent: list[tuple[str, dict]] = []
    batch = graph.batch

    def recording_batch(requests_):
        for request in requests_:
            if request.method == "PATCH":
                sent.append((unquote(request.url.rsplit("/", 1)[-1]), request.body))
        return batch(requests_)

    monkeypatch.setattr(graph, "batch", recording_batch)
    return sent


def _rich_contact(outlook) -> dict:
    return outlook.create(
        displayName="Rita Rich",
        givenName="Rita",
        surname="Rich",
        emailAddresses=[
            {"address": "rita@rich.example", "name": "Rita Rich"},
            {"address": "rita.second@rich.example", "name": "Rita (second)"},
            {"address": "rita.home@rich.example", "name": "Rita (home)"},
        ],
        businessPhones=["+33 4 22 22 22 22", "+33 4 33 33 33 33"],
        categories=["VIP"],
        singleValueExtendedProperties=[{"id": OTHER_APP_PROPERTY, "value": "5 stars"}],
        **PERSONAL,
    )


def _stored(graph_id: str) -> dict:
    """The contact as the sandbox holds it (what Outlook would show); bcsync holds its immutable id."""
    return OutlookRow.objects.get(immutable_id=graph_id, is_deleted=False).data


def _other_apps_properties(graph_id: str) -> dict[str, str]:
    rows = ExtendedProperty.objects.filter(contact__immutable_id=graph_id, contact__is_deleted=False)
    rows = rows.exclude(property_id__icontains="BcContactNo")
    return {row.property_id: row.value for row in rows}


def _assert_only_mapped(body: dict) -> None:
    assert set(body) - {EXTENDED_PROPERTIES} <= MAPPED_PROPERTIES, f"unmapped properties sent: {body}"
    assert [p["id"] for p in body.get(EXTENDED_PROPERTIES, [])] in ([], [STAMP_PROPERTY_ID])


def test_a_rich_outlook_contact_keeps_everything_bcsync_does_not_own_through_link_push_pull_and_full_sync(
    sync, outlook, setup, patches
):
    setup.keep_outlook_edits = True
    setup.save()
    assert sync().status == SyncRun.Status.SUCCEEDED  # the folder
    rita = make_person(
        first_name="Rita",
        surname="Rich",
        email="rita@rich.example",
        email_2="rita.two@rich.example",
        phone="+33 4 99 99 99 99",
        city="Lyon",
    )
    graph_id = _rich_contact(outlook)["id"]
    before = _stored(graph_id)
    other_apps = _other_apps_properties(graph_id)
    assert other_apps == {OTHER_APP_PROPERTY: "5 stars"}

    # Link: matched by email; Business Central's values win, in its own slots only.
    run = sync()
    assert (run.status, run.linked_in_bc, run.created_in_bc) == (SyncRun.Status.SUCCEEDED, 1, 0), run.error
    [(patched_id, link_body)] = patches
    assert patched_id == graph_id
    _assert_only_mapped(link_body)
    linked = _stored(graph_id)
    assert [e["address"] for e in linked["emailAddresses"]] == [
        "rita@rich.example",
        "rita.two@rich.example",  # E-Mail 2 owns the second slot
        "rita.home@rich.example",  # the third address stays
    ]
    assert linked["businessPhones"] == ["+33 4 99 99 99 99", "+33 4 33 33 33 33"]
    assert linked["categories"] == ["VIP", "Business Central"]
    # Equal values are not sent again: given name and surname agreed already.
    assert not {"givenName", "surname", "jobTitle", "mobilePhone"} & set(link_body)

    # A Business Central edit: only what changed is sent (displayName always, see patch.py).
    patches.clear()
    rita.refresh_from_db()
    rita.job_title = "Director"
    rita.save()
    assert sync().updated_in_outlook == 1
    [(_, edit_body)] = patches
    assert set(edit_body) == {"displayName", "jobTitle", EXTENDED_PROPERTIES}

    # An Outlook edit of a mapped field and of the person's own data; with "keep Outlook
    # edits" the mapped one comes back, and nothing is written to Outlook for it.
    patches.clear()
    outlook.update(
        graph_id,
        companyName="Rich & Co",
        personalNotes="Met at the Lyon fair; three children now.",
        categories=["VIP", "Business Central", "Golf"],
    )
    run = sync()
    assert run.updated_in_bc == 1, run.error
    rita.refresh_from_db()
    assert rita.company_name == "Rich & Co"
    assert patches == []

    # A full sync finds nothing to write.
    assert sync(full=True).status == SyncRun.Status.SUCCEEDED
    assert patches == []

    after = _stored(graph_id)
    for name, value in PERSONAL.items():
        expected = "Met at the Lyon fair; three children now." if name == "personalNotes" else value
        assert after[name] == expected, name
    assert after["emailAddresses"][2] == before["emailAddresses"][2]
    assert after["businessPhones"][1] == before["businessPhones"][1]
    assert after["categories"] == ["VIP", "Business Central", "Golf"]
    assert _other_apps_properties(graph_id) == other_apps


def test_a_business_central_edit_of_the_phone_keeps_the_second_business_phone(sync, outlook, patches):
    person = make_person(phone="+1 555 0100")
    sync()
    item = outlook.by_stamp()[person.no]
    outlook.update(item["id"], businessPhones=["+1 555 0100", "+1 555 0199"])
    sync()
    patches.clear()
    person.phone = "+1 555 0111"
    person.save()
    sync()
    [(_, body)] = patches
    assert body["businessPhones"] == ["+1 555 0111", "+1 555 0199"]
    assert _stored(item["id"])["businessPhones"] == ["+1 555 0111", "+1 555 0199"]


def test_clearing_e_mail_2_in_business_central_removes_only_that_address(sync, outlook):
    person = make_person(email_2="second@two.example")
    sync()
    item = outlook.by_stamp()[person.no]
    emails = item["emailAddresses"] + [{"address": "third@two.example", "name": "third"}]
    outlook.update(item["id"], emailAddresses=emails)
    sync()
    person.email_2 = ""
    person.save()
    sync()
    assert [e["address"] for e in _stored(item["id"])["emailAddresses"]] == [person.email, "third@two.example"]
    # Read back, the third address is now in the second slot: it stays there.
    sync(full=True)
    assert [e["address"] for e in _stored(item["id"])["emailAddresses"]] == [person.email, "third@two.example"]
    person.refresh_from_db()
    assert person.email_2 == ""


def test_a_second_address_the_person_had_stays_when_business_central_has_no_e_mail_2(sync, outlook, setup):
    setup.keep_outlook_edits = True
    setup.save()
    sync()
    person = make_person(email="only@one.example", surname="One")
    made = outlook.create(
        givenName=person.first_name,
        surname="One",
        emailAddresses=[{"address": "only@one.example"}, {"address": "private@one.example"}],
    )
    sync()
    assert [e["address"] for e in _stored(made["id"])["emailAddresses"]] == ["only@one.example", "private@one.example"]
    run = sync(full=True)
    assert (run.updated_in_outlook, run.updated_in_bc, run.conflicts) == (0, 0, 0)
    person.refresh_from_db()
    assert person.email_2 == ""  # present before the link: not an Outlook edit
    assert [e["address"] for e in _stored(made["id"])["emailAddresses"]] == ["only@one.example", "private@one.example"]


def test_a_link_made_before_outlook_lists_were_kept_reads_them_before_writing_a_list(sync, outlook, graph, setup):
    people = [make_person(email_2=f"two.{n}@x.example") for n in range(21)]
    sync()
    by_stamp = outlook.by_stamp()
    for person in people:
        item = by_stamp[person.no]
        outlook.update(item["id"], emailAddresses=item["emailAddresses"] + [{"address": f"own.{person.no}@x.example"}])
    sync()
    ContactLink.objects.filter(setup=setup).update(outlook_lists={})  # as links made before 0006
    for person in people:
        person.email_2 = f"new.{person.no}@x.example"
        person.save()
    run = sync()
    assert run.updated_in_outlook == 21, run.error
    for person in people:
        stored = _stored(by_stamp[person.no]["id"])
        assert [e["address"] for e in stored["emailAddresses"]] == [
            person.email,
            person.email_2,
            f"own.{person.no}@x.example",
        ]
    # One extra batch round per flush, once per link: then the lists are known again.
    assert run.graph_requests <= 2 * math.ceil(21 / 20) + 3
    assert not ContactLink.objects.filter(setup=setup, outlook_lists={}).exists()
    for person in people:
        person.email_2 = f"again.{person.no}@x.example"
        person.save()
    assert sync().graph_requests <= math.ceil(21 / 20) + 3


def test_a_link_made_before_outlook_lists_were_kept_sends_a_changed_job_title_without_a_read(
    sync, outlook, setup, patches
):
    person = make_person()
    sync()
    ContactLink.objects.filter(setup=setup).update(outlook_lists={})
    person.job_title = "Buyer"
    person.save()
    run = sync()
    [(_, body)] = patches
    assert set(body) == {"displayName", "jobTitle", EXTENDED_PROPERTIES}
    assert run.graph_requests <= math.ceil(1 / 20) + 3


def test_a_stamped_contact_found_again_keeps_the_second_address_the_person_added(sync, outlook, setup):
    person = make_person()
    sync()
    item = outlook.by_stamp()[person.no]
    outlook.update(item["id"], emailAddresses=[*item["emailAddresses"], {"address": "own@person.example"}])
    sync()
    ContactLink.objects.filter(setup=setup).delete()  # a reset setup: its contacts are found by their stamp
    run = sync(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert [e["address"] for e in _stored(item["id"])["emailAddresses"]] == [person.email, "own@person.example"]
