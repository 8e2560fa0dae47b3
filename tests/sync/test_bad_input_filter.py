"""Bad input in the contact filter: every expression Business Central's filter syntax does
not allow, and every value longer than its field, is refused when the setup is saved with
a message that names the field and the part not understood. A filter saved before these
rules (or written around them) stops the run with that message as a setup problem, and
is never copied into a contact made in Outlook.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.contact_filter import FILTER_FIELDS, contact_filter_validate
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from tests.admin.conftest import grant_sync
from tests.factories import make_user

NO_VALUE = "To ask for a blank value, write ''."

REFUSED: list[tuple[str, str, str]] = [
    # Empty alternatives and operands: "nothing" is not blank, '' is.
    ("city", "London|", f'City filter "London|": There is no value after "|". {NO_VALUE}'),
    ("city", "|London", f'City filter "|London": There is no value before "|". {NO_VALUE}'),
    (
        "city",
        "London||Paris",
        f'City filter "London||Paris": There is no value after "|" and before "|". {NO_VALUE}',
    ),
    ("city", "London&", f'City filter "London&": There is no value after "&". {NO_VALUE}'),
    ("city", "()", f'City filter "()": There is no value after "(" and before ")". {NO_VALUE}'),
    # Operators without a value.
    ("city", "<>", 'City filter "<>": "<>" needs a value after it (for a blank value write <>\'\').'),
    ("city", "=", 'City filter "=": "=" needs a value after it (for a blank value write =\'\').'),
    ("city", "<=|x", 'City filter "<=|x": "<=" needs a value after it.'),
    ("city", "@", 'City filter "@": "@" needs a value after it.'),
    # Ranges.
    ("city", "..", 'City filter "..": ".." needs a value on at least one side.'),
    ("city", "A..B..C", 'City filter "A..B..C": A range has one ".." only: write low..high.'),
    ("city", "Z..A", 'City filter "Z..A": The range "Z..A" is empty: write the lower value first.'),
    ("city", "<>..B", 'City filter "<>..B": "<>" cannot be combined with a range ("..").'),
    ("city", ">A..B", 'City filter ">A..B": ">" cannot be combined with a range ("..").'),
    # Comparisons and ranges compare exactly: no @, no wildcards.
    ("city", "@A..M", 'City filter "@A..M": "@" (any case) cannot be used with "..": it compares exactly.'),
    ("city", ">=@m", 'City filter ">=@m": "@" (any case) cannot be used with ">=": it compares exactly.'),
    ("city", "A*..M", 'City filter "A*..M": "*" and "?" cannot be used with ".." (in "A*").'),
    ("city", "<L?", 'City filter "<L?": "*" and "?" cannot be used with "<" (in "L?").'),
    # Quotes and parentheses.
    ("city", "'London", 'City filter "\'London": The quote at position 1 ("\'London") is not closed.'),
    (
        "city",
        "'London'x",
        "City filter \"'London'x\": Unexpected text after the quoted value 'London': \"x\". "
        "Put the whole value in the quotes.",
    ),
    ("city", "(London|Paris", 'City filter "(London|Paris": "(" at position 1 is not closed.'),
    ("city", "London)", 'City filter "London)": ")" at position 7 has no matching "(".'),
    # Operator characters inside a value.
    (
        "name",
        "A=B",
        'Name filter "A=B": "=" can only start a condition, not stand inside "A=B". '
        "Put a value that contains it in quotes.",
    ),
    (
        "city",
        "London<>Paris",
        'City filter "London<>Paris": "<" can only start a condition, not stand inside "London<>Paris". '
        "Put a value that contains it in quotes.",
    ),
    # Values longer than their field: they could never match, and must never be copied.
    (
        "country_region_code",
        "United Kingdom",
        'Country/Region Code filter "United Kingdom": '
        'Country/Region Code holds at most 10 characters, and "United Kingdom" has 14.',
    ),
    (
        "country_region_code",
        "GB|United Kingdom",
        'Country/Region Code filter "GB|United Kingdom": '
        'Country/Region Code holds at most 10 characters, and "United Kingdom" has 14.',
    ),
    (
        "country_region_code",
        "*United Kingdom*",
        'Country/Region Code filter "*United Kingdom*": '
        'Country/Region Code holds at most 10 characters, and "United Kingdom" has 14.',
    ),
    (
        "salesperson_code",
        "<ABCDEFGHIJKLMNOPQRSTU",
        'Salesperson Code filter "<ABCDEFGHIJKLMNOPQRSTU": '
        'Salesperson Code holds at most 20 characters, and "ABCDEFGHIJKLMNOPQRSTU" has 21.',
    ),
    # Type is an option field: Person or Company.
    *(
        (
            "type",
            expression,
            f'Type filter "{expression}": Type is Person or Company: '
            "write Person, Company, Person|Company or <>Company.",
        )
        for expression in ["Persons", "P*", "''", "<Person"]
    ),
]


@pytest.mark.parametrize(("field", "expression", "message"), REFUSED, ids=[f"{f}:{e}" for f, e, _m in REFUSED])
def test_it_refuses_what_business_central_syntax_does_not_allow_and_says_what(field, expression, message):
    with pytest.raises(ValidationError) as refused:
        contact_filter_validate({field: expression})
    assert refused.value.messages == [message]


@pytest.mark.django_db
def test_the_setup_page_refuses_the_filter_and_keeps_the_saved_one(client):
    ann = grant_sync(make_user("ann", mailbox="ann@cronus.example"))
    setup = ExchangeSyncSetup.objects.create(user=ann, contact_filter={"city": "London"})
    client.force_login(ann)
    page = reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])
    form = {
        "is_enabled": "on",
        "folder_name": "Business Central",
        "on_outlook_delete": ExchangeSyncSetup.OnOutlookDelete.RECREATE,
        "filter_city": "London|",
        "filter_country_region_code": "United Kingdom",
    }
    response = client.post(page, form)
    assert response.status_code == 200
    assert "There is no value after &quot;|&quot;" in response.content.decode()
    setup.refresh_from_db()
    assert setup.contact_filter == {"city": "London"}
    preview = client.get(
        reverse("admin:exchange_sync_exchangesyncsetup_preview", args=[setup.pk]),
        {"filter_country_region_code": "United Kingdom"},
    ).json()
    assert preview == {"error": REFUSED[[r[1] for r in REFUSED].index("United Kingdom")][2]}


@pytest.mark.parametrize(
    "saved",
    [{"city": "London|"}, {"country_region_code": "United Kingdom"}],
    ids=["empty alternative", "longer than the field"],
)
def test_a_saved_filter_the_syntax_refuses_stops_the_run_and_copies_nothing(sync, outlook, setup, saved, client):
    sync()
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(contact_filter=saved)  # saved before these rules
    outlook.create(displayName="Nora Quist", emailAddresses=[{"address": "nora@quist.example"}])
    run = sync()
    assert run.status == SyncRun.Status.FAILED
    ((field, expression),) = saved.items()
    assert run.error.startswith("The contact filter cannot be used: ")
    assert f'filter "{expression}": ' in run.error
    assert run.requests_served == 0  # stopped before anything was read from Outlook or written to it
    assert not Contact.objects.filter(email="nora@quist.example").exists()
    setup.refresh_from_db()
    assert setup.needs_attention
    assert setup.last_error == run.error
    grant_sync(setup.user)
    client.force_login(setup.user)
    page = client.get(reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])).content.decode()
    assert f"The saved filter is not valid: {FILTER_FIELDS[field]} filter" in page
