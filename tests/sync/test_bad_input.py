"""Bad input on both sides: each case gets a clear issue (or syncs correctly) and nothing is lost.

Business Central side: invalid and duplicate emails, values at their longest, unicode and
emoji, control characters, HTML, empty names, Company contacts, privacy, and contacts
that lose their email (or name, type, privacy) after they were synchronized. Outlook
side: contacts without name or email, invalid emails, values too long for Business
Central, control characters, unicode, HTML, and emails that match several, excluded or
already linked contacts.

All cases run in one world (two syncs against the sandbox), built once per module, so
each case is a cheap assertion on the recorded outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command

from contacts.models import Contact
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.graph.batch import error_from_batch_response
from exchange_sync.graph.stamp import stamp_value
from exchange_sync.mapping import GRAPH_SELECT, MAPPED_FIELDS, contact_values, outlook_values
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from exchange_sync.sync import sync_setup
from tests.factories import make_user

MAILBOX = "bad.input@cronus.example"
SYNCED = "synced"


@dataclass(frozen=True)
class BcCase:
    """A contact made in Business Central; `expect` is SYNCED or a text of its issue."""

    id: str
    fields: dict[str, Any]
    expect: str = SYNCED
    # Changes made after the first sync (a contact that loses its email, ...).
    then: dict[str, Any] = field(default_factory=dict)
    # An excluded contact whose Outlook copy from an earlier sync is left as it was.
    keeps_outlook_copy: bool = False


def _person(n: int, **fields: Any) -> dict[str, Any]:
    values = {"first_name": f"Bad{n}", "surname": "Input", "email": f"bc{n}@bad-input.example"}
    values.update(fields)
    return values


BC_CASES: list[BcCase] = [
    # Invalid emails: no Outlook copy with an address nobody can write to.
    *(
        BcCase(f"bc-invalid-email-{i}", _person(100 + i, email=email), "email")
        for i, email in enumerate(
            ["not-an-email", "ann@", "@cronus.example", "ann@@cronus.example", "ann smith@cronus.example"]
        )
    ),
    # Duplicate emails: both Business Central contacts are kept and synchronized.
    BcCase("bc-duplicate-email-first", _person(120, email="shared@bad-input.example")),
    BcCase("bc-duplicate-email-second", _person(121, email="shared@bad-input.example")),
    BcCase("bc-duplicate-email-other-case", _person(122, email="SHARED@bad-input.example")),
    BcCase(
        "bc-same-email-as-email-2", _person(123, email="twice@bad-input.example", email_2="twice@bad-input.example")
    ),
    # Values at the longest Business Central allows.
    BcCase("bc-longest-name", _person(130, name="N" * 100)),
    BcCase("bc-longest-name-parts", _person(131, first_name="F" * 30, middle_name="M" * 30, surname="S" * 30)),
    BcCase("bc-longest-email", _person(132, email="e" * 60 + "@bad-input.example" + "x" * 2)),
    BcCase("bc-longest-job-title", _person(133, job_title="J" * 30)),
    BcCase("bc-longest-company-name", _person(134, company_name="C" * 100)),
    BcCase("bc-longest-home-page", _person(135, home_page="https://cronus.example/" + "p" * 232)),
    BcCase("bc-longest-address", _person(136, address="A" * 100, address_2="B" * 50)),
    BcCase("bc-longest-city-county-post-code", _person(137, city="C" * 30, county="K" * 30, post_code="P" * 20)),
    BcCase("bc-longest-phones", _person(138, phone="1" * 30, mobile_phone="2" * 30)),
    # Unicode and emoji travel unchanged.
    BcCase("bc-accents", _person(140, first_name="Zoë", surname="Ångström-Ñúñez")),
    BcCase("bc-chinese", _person(141, first_name="小龙", surname="李")),
    BcCase("bc-japanese", _person(142, first_name="花子", surname="山田", city="東京")),
    BcCase("bc-arabic-rtl", _person(143, first_name="محمد", surname="العلي")),
    BcCase("bc-hebrew-rtl", _person(144, first_name="דוד", surname="כהן")),
    BcCase("bc-cyrillic", _person(145, first_name="Дмитрий", surname="Шостакович")),
    BcCase("bc-greek", _person(146, first_name="Σωκράτης", surname="Παπαδόπουλος")),
    BcCase("bc-emoji-name", _person(147, first_name="Ann 😀", surname="Smith 🎉")),
    BcCase("bc-emoji-zwj", _person(148, job_title="👩‍💻 Developer")),
    BcCase("bc-emoji-flag", _person(149, country_region_code="🇬🇧")),
    BcCase("bc-combining-marks", _person(150, first_name="Zoe\u0308", surname="Cafe\u0301")),
    BcCase("bc-zero-width", _person(151, first_name="Ann\u200bMarie")),
    # Valid for SMTPUTF8 mail, but not for Django's EmailValidator, which the card uses.
    BcCase("bc-unicode-email", _person(152, email="zoë@bad-input.example"), "email"),
    BcCase("bc-astral-plane", _person(153, surname="𝔘𝔫𝔦𝔠𝔬𝔡𝔢")),
    BcCase("bc-unicode-company", _person(154, company_name="Müller & Söhne GmbH")),
    # Control characters and whitespace.
    BcCase("bc-tab-in-name", _person(160, first_name="Ann\tMarie")),
    BcCase("bc-bell-in-job-title", _person(161, job_title="Buyer\x07"), "Job title contains control characters"),
    BcCase("bc-escape-in-surname", _person(162, surname="Smith\x1b[31m"), "Surname contains control characters"),
    BcCase("bc-newline-in-address", _person(163, address="1 High St\nFlat 2"), "Address"),
    BcCase("bc-spaces-around-name", _person(164, first_name="  Ann  ", surname=" Smith ")),
    BcCase("bc-nbsp-in-name", _person(165, first_name="Ann\u00a0Marie")),
    # HTML and markup are text.
    BcCase("bc-html-bold", _person(170, first_name="<b>Ann</b>")),
    BcCase("bc-html-script", _person(171, job_title="<script>x</script>")),
    BcCase("bc-html-entities", _person(172, company_name="Smith &amp; Sons &lt;Ltd&gt;")),
    BcCase("bc-html-attribute-quotes", _person(173, surname='O\'Brien "Jr"')),
    BcCase("bc-html-home-page", _person(174, home_page="javascript:alert(1)")),
    BcCase("bc-odata-quote", _person(175, city="Ann's 'City'")),
    BcCase("bc-json-like", _person(176, address='{"street": [1, 2]}')),
    BcCase("bc-backslashes", _person(177, address="C:\\Users\\ann")),
    BcCase("bc-percent-and-plus", _person(178, email="ann+tag%1@bad-input.example")),
    # Excluded by the rules of Business Central's sync, with the reason.
    BcCase("bc-no-name", {"email": "noname@bad-input.example"}, "without a name"),
    BcCase("bc-blank-name", _person(180, name="   ", first_name="", surname=""), "without a name"),
    BcCase("bc-no-email", _person(181, email=""), "without email"),
    BcCase("bc-only-email-2", _person(182, email="", email_2="second@bad-input.example"), "without email"),
    BcCase(
        "bc-company", {"type": Contact.Type.COMPANY, "name": "Cronus Ltd.", "email": "info@cronus.example"}, "Company"
    ),
    BcCase("bc-company-no-email", {"type": Contact.Type.COMPANY, "name": "Fabrikam Inc."}, "Company"),
    BcCase("bc-privacy-blocked", _person(183, privacy_blocked=True), "privacy blocked"),
    BcCase("bc-privacy-blocked-no-email", _person(184, email="", privacy_blocked=True), "privacy blocked"),
    # Synchronized first, then losing what keeps them in scope: removed from Outlook, kept here.
    BcCase("bc-loses-email", _person(190), "without email", then={"email": ""}),
    BcCase("bc-loses-name", _person(191), "without a name", then={"name": "", "first_name": "", "surname": ""}),
    BcCase("bc-becomes-company", _person(192), "Company", then={"type": Contact.Type.COMPANY}),
    BcCase("bc-becomes-privacy-blocked", _person(193), "privacy blocked", then={"privacy_blocked": True}),
    BcCase(
        "bc-email-becomes-invalid",
        _person(194),
        "'broken@' is not a valid email address",
        then={"email": "broken@"},
        keeps_outlook_copy=True,
    ),
    BcCase("bc-email-changes", _person(195), then={"email": "changed195@bad-input.example"}),
    BcCase("bc-gets-emoji", _person(196), then={"surname": "Input 🚀"}),
]


@dataclass(frozen=True)
class OutlookCase:
    """A contact made in Outlook: `expect` is "created", "linked:<bc case id>" or a text of its issue."""

    id: str
    body: dict[str, Any]
    expect: str = "created"


def _outlook(n: int, **body: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "givenName": f"Out{n}",
        "surname": "Look",
        "emailAddresses": [{"address": f"ol{n}@bad-input.example"}],
    }
    values.update(body)
    return values


def _email(address: str) -> dict[str, Any]:
    return {"emailAddresses": [{"address": address}]}


OUTLOOK_CASES: list[OutlookCase] = [
    # Without a name or an email: skipped, with the reason.
    OutlookCase("ol-no-name", {**_email("nameless@bad-input.example")}, "has no name"),
    OutlookCase("ol-blank-parts", {"givenName": "", "surname": "", **_email("blank@bad-input.example")}, "has no name"),
    OutlookCase("ol-company-only", {"companyName": "Contoso", **_email("contoso@bad-input.example")}, "has no name"),
    OutlookCase("ol-no-email", {"givenName": "Nomail", "surname": "Person"}, "no email address"),
    OutlookCase("ol-empty-email-list", {"givenName": "Empty", "surname": "List", "emailAddresses": []}, "no email"),
    OutlookCase("ol-empty-address", _outlook(201, emailAddresses=[{"address": ""}]), "no email address"),
    OutlookCase("ol-nothing", {}, "has no name"),
    # Invalid emails.
    *(
        OutlookCase(f"ol-invalid-email-{i}", _outlook(210 + i, **_email(address)), "not a valid email address")
        for i, address in enumerate(
            [
                "not-an-email",
                "ann@",
                "@cronus.example",
                "ann@@cronus.example",
                "ann smith@cronus.example",
                "ann@cronus..example",
                "ann@-cronus.example",
                "<ann@cronus.example>",
            ]
        )
    ),
    OutlookCase(
        "ol-invalid-second-email",
        _outlook(219, emailAddresses=[{"address": "ol219@bad-input.example"}, {"address": "nope"}]),
        "not a valid email address",
    ),
    # Values longer than Business Central holds: reported, never cut.
    OutlookCase("ol-long-given-name", _outlook(220, givenName="G" * 31), "longer than 30"),
    OutlookCase("ol-long-middle-name", _outlook(221, middleName="M" * 31), "longer than 30"),
    OutlookCase("ol-long-surname", _outlook(222, surname="S" * 31), "longer than 30"),
    OutlookCase("ol-long-display-name", _outlook(223, displayName="D" * 101), "longer than 100"),
    OutlookCase("ol-long-initials", _outlook(224, initials="I" * 31), "longer than 30"),
    OutlookCase("ol-long-job-title", _outlook(225, jobTitle="J" * 31), "longer than 30"),
    OutlookCase("ol-long-company", _outlook(226, companyName="C" * 101), "longer than 100"),
    OutlookCase("ol-long-email", _outlook(227, **_email("e" * 75 + "@bad-input.example")), "longer than 80"),
    OutlookCase("ol-long-home-page", _outlook(228, businessHomePage="https://x.example/" + "p" * 240), "than 255"),
    OutlookCase("ol-long-mobile", _outlook(229, mobilePhone="9" * 31), "longer than 30"),
    OutlookCase("ol-long-phone", _outlook(230, businessPhones=["8" * 31]), "longer than 30"),
    OutlookCase("ol-long-street", _outlook(231, businessAddress={"street": "A" * 101}), "longer than 100"),
    OutlookCase("ol-long-street-2", _outlook(232, businessAddress={"street": "A\n" + "B" * 51}), "longer than 50"),
    OutlookCase("ol-long-city", _outlook(233, businessAddress={"city": "C" * 31}), "longer than 30"),
    OutlookCase("ol-long-state", _outlook(234, businessAddress={"state": "K" * 31}), "longer than 30"),
    OutlookCase("ol-long-postal-code", _outlook(235, businessAddress={"postalCode": "P" * 21}), "longer than 20"),
    OutlookCase("ol-long-country", _outlook(236, businessAddress={"countryOrRegion": "United Kingdom"}), "than 10"),
    # Control characters: reported (tabs are text).
    OutlookCase("ol-newline-in-name", _outlook(240, givenName="Ann\nMarie"), "control characters"),
    OutlookCase("ol-bell-in-surname", _outlook(241, surname="Look\x07"), "control characters"),
    OutlookCase("ol-escape-in-job-title", _outlook(242, jobTitle="\x1b[31mBuyer"), "control characters"),
    OutlookCase("ol-carriage-return-city", _outlook(243, businessAddress={"city": "Lon\rdon"}), "control characters"),
    OutlookCase("ol-three-street-lines", _outlook(244, businessAddress={"street": "L1\nL2\nL3"}), "control characters"),
    OutlookCase("ol-tab-in-name", _outlook(245, givenName="Ann\tMarie")),
    # Unicode, emoji and HTML are text: created in Business Central as they are.
    OutlookCase("ol-accents", _outlook(250, givenName="Zoë", surname="Ångström")),
    OutlookCase("ol-chinese", _outlook(251, givenName="小龙", surname="李")),
    OutlookCase("ol-arabic", _outlook(252, givenName="محمد", surname="العلي")),
    OutlookCase("ol-cyrillic", _outlook(253, givenName="Дмитрий", surname="Шостакович")),
    OutlookCase("ol-emoji", _outlook(254, givenName="Ann 😀", surname="Look 🎉")),
    OutlookCase("ol-emoji-zwj", _outlook(255, jobTitle="👩‍💻 Dev")),
    OutlookCase("ol-astral", _outlook(256, surname="𝔘𝔫𝔦")),
    OutlookCase("ol-unicode-email", _outlook(257, **_email("zoë257@bad-input.example")), "not a valid email"),
    OutlookCase("ol-html", _outlook(258, givenName="<b>Ann</b>", companyName="<script>x</script>")),
    OutlookCase("ol-entities", _outlook(259, companyName="A &amp; B")),
    OutlookCase("ol-quotes", _outlook(260, surname='O\'Brien "Jr"')),
    OutlookCase("ol-display-name-only", {"displayName": "Only Display", **_email("display@bad-input.example")}),
    OutlookCase("ol-full-address", _outlook(261, businessAddress={"street": "1 High St\nFlat 2", "city": "Leeds"})),
    OutlookCase(
        "ol-three-emails", _outlook(262, emailAddresses=[{"address": f"ol262-{i}@x.example"} for i in range(3)])
    ),
    # Emails that match Business Central contacts.
    OutlookCase("ol-email-of-two-contacts", _outlook(270, **_email("shared@bad-input.example")), "more than one"),
    OutlookCase("ol-email-of-linked-contact", _outlook(271, **_email("bc140@bad-input.example")), "already in the"),
    OutlookCase("ol-email-of-excluded-contact", _outlook(272, **_email("bc183@bad-input.example")), "is excluded"),
    OutlookCase("ol-email-of-company", _outlook(273, **_email("info@cronus.example"))),
    OutlookCase("ol-email-of-new-contact", _outlook(274, **_email("late@bad-input.example")), "linked:late"),
    OutlookCase("ol-email-other-case", _outlook(275, **_email("LATE2@BAD-INPUT.EXAMPLE")), "linked:late2"),
    OutlookCase("ol-same-new-email-twice-a", _outlook(276, **_email("twin@bad-input.example"))),
    OutlookCase("ol-same-new-email-twice-b", _outlook(277, **_email("twin@bad-input.example")), "already in the"),
]
# Business Central contacts made between the two syncs, for Outlook contacts to link to.
LATE_CONTACTS = {
    "late": _person(280, email="late@bad-input.example"),
    "late2": _person(281, email="late2@bad-input.example"),
}


@dataclass
class Outcome:
    """What the two syncs did, read once for all cases."""

    runs: list[SyncRun]
    bc_before: dict[str, dict[str, Any]]  # case id -> the contact's state as intended, read before any sync
    bc_after: dict[str, dict[str, Any] | None]
    bc_numbers: dict[str, str]
    outlook_by_stamp: dict[str, list[dict[str, Any]]]
    outlook_ids: set[str]
    outlook_graph_ids: dict[str, str]  # Outlook case id -> its Graph id
    issues: list[SyncIssue]
    links: dict[str, ContactLink]  # graph id -> link
    contacts_by_no: dict[str, dict[str, Any]]


def _state(contact: Contact) -> dict[str, Any]:
    return {**contact_values(contact), "type": contact.type, "privacy_blocked": contact.privacy_blocked}


def _create_outlook_contacts(client, folder_id: str) -> dict[str, str]:
    requests_ = [
        client.batch_request_create_contact(str(i), MAILBOX, folder_id, case.body)
        for i, case in enumerate(OUTLOOK_CASES)
    ]
    ids = {}
    for case, response in zip(OUTLOOK_CASES, client.batch(requests_), strict=True):
        assert error_from_batch_response(response) is None, (case.id, response)
        ids[case.id] = response.body["id"]
    return ids


def _build(live_server) -> Outcome:
    mailbox_add(MAILBOX)
    setup = ExchangeSyncSetup.objects.create(user=make_user("bad-input", mailbox=MAILBOX))
    client = graph_client_from_settings(base_url=f"{live_server.url}/graph-sandbox/v1.0")
    try:
        contacts = {}
        for case in BC_CASES:
            fields = {"type": Contact.Type.PERSON, **case.fields}
            contacts[case.id] = Contact.objects.create(**fields)
        # Read before any sync, so whatever a sync changes in Business Central shows.
        unsynced = {key: Contact.objects.get(pk=c.pk) for key, c in contacts.items()}
        first = sync_setup(setup, client=client, kind=SyncRun.Kind.FULL)
        for case in BC_CASES:
            if case.then:
                Contact.objects.filter(pk=contacts[case.id].pk).update(**case.then)
                for name, value in case.then.items():
                    setattr(unsynced[case.id], name, value)
        bc_before = {key: _state(contact) for key, contact in unsynced.items()}
        for key, fields in LATE_CONTACTS.items():
            contacts[key] = Contact.objects.create(**fields)
            bc_before[key] = _state(Contact.objects.get(pk=contacts[key].pk))
        setup.refresh_from_db()
        outlook_graph_ids = _create_outlook_contacts(client, setup.folder_id)
        second = sync_setup(setup, client=client, kind=SyncRun.Kind.INCREMENTAL)
        setup.refresh_from_db()
        items = [
            item
            for page in client.iter_contacts(
                MAILBOX, setup.folder_id, select=GRAPH_SELECT, expand_stamp=True, page_size=1000
            )
            for item in page
        ]
    finally:
        client.close()
    by_stamp: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_stamp.setdefault((stamp_value(item) or "").upper(), []).append(item)
    after = {}
    for key, contact in contacts.items():
        current = Contact.objects.filter(pk=contact.pk).first()
        after[key] = _state(current) if current else None
    return Outcome(
        runs=[first, second],
        bc_before=bc_before,
        bc_after=after,
        bc_numbers={key: c.no for key, c in contacts.items()},
        outlook_by_stamp=by_stamp,
        outlook_ids={item["id"] for item in items},
        outlook_graph_ids=outlook_graph_ids,
        issues=list(SyncIssue.objects.filter(run__setup=setup).order_by("pk")),
        links={link.graph_id: link for link in setup.links.exclude(graph_id=None).select_related("contact")},
        contacts_by_no={c.no: _state(c) for c in Contact.objects.all()},
    )


@pytest.fixture(scope="module")
def outcome(django_db_setup, django_db_blocker, live_server):
    """Both syncs, once for the module; the database is emptied afterwards, as a
    transactional test does."""
    with django_db_blocker.unblock():
        try:
            yield _build(live_server)
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _params(cases):
    return [pytest.param(case, id=case.id) for case in cases]


def test_there_are_at_least_a_hundred_cases():
    assert len(BC_CASES) + len(OUTLOOK_CASES) >= 100


def test_both_runs_finished_and_reported_every_item(outcome: Outcome):
    for run in outcome.runs:
        assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), run.error
        assert not [i for i in outcome.issues if i.run_id == run.pk and i.kind == SyncIssue.Kind.FAILED]


@pytest.mark.parametrize("case", _params(BC_CASES))
def test_a_bad_business_central_contact_syncs_or_gets_a_clear_issue_and_is_kept(case: BcCase, outcome: Outcome):
    no = outcome.bc_numbers[case.id]
    # Nothing lost or changed in Business Central.
    assert outcome.bc_after[case.id] == outcome.bc_before[case.id]
    copies = outcome.outlook_by_stamp.get(no, [])
    issues = [i.reason for i in outcome.issues if i.contact_no == no]
    if case.expect == SYNCED:
        assert len(copies) == 1, f"{no} has {len(copies)} Outlook copies; issues: {issues}"
        assert outlook_values(copies[0]) == {k: outcome.bc_after[case.id][k] for k in MAPPED_FIELDS}
    else:
        if case.keeps_outlook_copy:
            assert len(copies) == 1, f"{no}'s earlier Outlook copy was not kept"
        else:
            assert copies == [], f"{no} is in Outlook although it should be excluded ({case.expect})"
        assert any(case.expect.lower() in reason.lower() for reason in issues), (
            f"no issue mentioning {case.expect!r} for {no}: {issues}"
        )


@pytest.mark.parametrize("case", _params(OUTLOOK_CASES))
def test_a_bad_outlook_contact_is_copied_or_skipped_with_a_clear_issue_and_kept(case: OutlookCase, outcome: Outcome):
    graph_id = outcome.outlook_graph_ids[case.id]
    # Nothing lost in Outlook: the contact made there is still in the folder.
    assert graph_id in outcome.outlook_ids
    link = outcome.links.get(graph_id)
    values = outlook_values(case.body)
    label = values["name"] or values["email"] or "(no name)"
    issues = [i.reason for i in outcome.issues if i.direction == SyncIssue.Direction.TO_BC and i.outlook_name == label]
    if case.expect == "created":
        assert link is not None, f"not copied to Business Central; issues for {label!r}: {issues}"
        contact = outcome.contacts_by_no[link.contact_no]
        assert {k: contact[k] for k in MAPPED_FIELDS} == values
    elif case.expect.startswith("linked:"):
        key = case.expect.removeprefix("linked:")
        assert link is not None and link.contact_no == outcome.bc_numbers[key], issues
        assert len(outcome.outlook_by_stamp[link.contact_no]) == 1  # linked, not duplicated
        assert outcome.bc_after[key] == outcome.bc_before[key]  # Business Central's values win
    else:
        assert link is None, f"linked to {link.contact_no} although it should be skipped"
        assert any(case.expect.lower() in reason.lower() for reason in issues), (
            f"no issue mentioning {case.expect!r} for {label!r}: {issues}"
        )
