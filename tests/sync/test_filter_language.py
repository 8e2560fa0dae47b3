"""The filter language, operator by operator, as Business Central documents it: what each
expression selects, Type as an option field, the fixed values a contact made in Outlook
takes, and the preview counting what the run synchronizes."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_fixed_values, contact_filter_q
from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.selectors import contacts_in_scope, scope_preview
from tests.factories import make_company, make_person, make_user

CITIES = ["London", "london", "Leeds", "Lyon", "Paris", "Berlin", "Hansen", "Hanson", "J & V", "O'Neil", ""]
EVERY = set(CITIES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        # A plain value is exact and case-sensitive; = says the same.
        ("London", {"London"}),
        ("=London", {"London"}),
        ("'London'", {"London"}),
        ("LONDON", set()),
        # @ ignores case.
        ("@LONDON", {"London", "london"}),
        ("@l*", {"London", "london", "Leeds", "Lyon"}),
        # Wildcards are case-sensitive too.
        ("L*", {"London", "Leeds", "Lyon"}),
        ("*on", {"London", "london", "Lyon", "Hanson"}),
        ("Hans?n", {"Hansen", "Hanson"}),
        # Not equal, also to a pattern.
        ("<>London", EVERY - {"London"}),
        ("<>L*", EVERY - {"London", "Leeds", "Lyon"}),
        ("<>@london", EVERY - {"London", "london"}),
        # Blank, and not blank.
        ("''", {""}),
        ("<>''", EVERY - {""}),
        ("London|''", {"London", ""}),
        # Comparisons and ranges, in code point order (capitals before small letters).
        ("<Hansen", {"", "Berlin"}),
        ("<=Hansen", {"", "Berlin", "Hansen"}),
        (">Paris", {"london"}),
        (">=Paris", {"Paris", "london"}),
        ("L..Lz", {"Leeds", "London", "Lyon"}),
        ("Lyon..Lyon", {"Lyon"}),  # a range whose ends are equal holds that value
        ("..B", {""}),
        ("P..", {"Paris", "london"}),
        # Either, both, and grouping: & binds tighter than |.
        ("London|Paris", {"London", "Paris"}),
        ("London&Paris", set()),
        ("L*&<>Lyon", {"London", "Leeds"}),
        ("Paris|L*&<>Lyon", {"Paris", "London", "Leeds"}),
        ("(Paris|L*)&<>Lyon", {"Paris", "London", "Leeds"}),
        ("Paris|Lyon&L*", {"Paris", "Lyon"}),
        ("(Paris|Lyon)&L*", {"Lyon"}),
        (">=H&<=Hz|''", {"Hansen", "Hanson", ""}),
        # Quotes take the symbols that structure an expression; '' inside is one quote.
        ("'J & V'", {"J & V"}),
        ("'J & *'", {"J & V"}),
        ("'O''Neil'", {"O'Neil"}),
        ("O'Neil", {"O'Neil"}),
        # Spaces around operators do not count.
        (" London | Paris ", {"London", "Paris"}),
        ("<> London", EVERY - {"London"}),
    ],
)
def test_each_operator_selects_what_business_central_documents(expression, selected):
    Contact.objects.bulk_create(Contact(no=f"T{i}", name=f"T{i}", city=city) for i, city in enumerate(CITIES))
    matched = Contact.objects.filter(contact_filter_q({"city": expression}))
    assert set(matched.values_list("city", flat=True)) == selected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("Person", {"person"}),
        ("person", {"person"}),
        ("@COMPANY", {"company"}),
        ("<>Company", {"person"}),
        ("Person|Company", {"person", "company"}),
        ("=Company", {"company"}),
    ],
)
def test_type_takes_person_or_company_in_any_case(expression, selected):
    make_person()
    make_company()
    matched = Contact.objects.filter(contact_filter_q({"type": expression}))
    assert set(matched.values_list("type", flat=True)) == selected


def test_only_a_single_exact_value_is_a_fixed_value_for_contacts_made_in_outlook():
    contact_filter = {
        "salesperson_code": "=JO",
        "post_code": "'75001'",
        "county": "Kent",
        "company_name": "'J & V'",
        "city": "@lyon",
        "name": "A*",
        "country_region_code": "<>GB",
        "type": "Person",
    }
    assert contact_filter_fixed_values(contact_filter) == {
        "salesperson_code": "JO",
        "post_code": "75001",
        "county": "Kent",
        "company_name": "J & V",
    }
    for not_fixed in ["GB|FR", "G?", "''", "<GB", "A..Z", "GB&FR", "(GB)|(FR)", "@gb"]:
        assert contact_filter_fixed_values({"country_region_code": not_fixed}) == {}, not_fixed


def test_a_contact_made_in_outlook_takes_only_the_exact_values_of_the_filter(sync, outlook, setup):
    setup.contact_filter = {"salesperson_code": "=JO", "post_code": "'75001'", "city": "@lyon|''", "county": "<>Kent"}
    setup.save()
    sync()
    outlook.create(displayName="Nora Quist", emailAddresses=[{"address": "nora@quist.example"}])
    run = sync()
    assert run.created_in_bc == 1, run.error
    nora = Contact.objects.get(email="nora@quist.example")
    assert (nora.salesperson_code, nora.post_code, nora.city, nora.county) == ("JO", "75001", "", "")
    assert contacts_in_scope(setup).filter(pk=nora.pk).exists()


@pytest.mark.django_db
def test_the_preview_counts_what_the_run_synchronizes():
    setup = ExchangeSyncSetup.objects.create(
        user=make_user(), contact_filter={"city": "@l*&<>Leeds", "name": "<>''", "salesperson_code": "''|J..K"}
    )
    make_person(city="London")
    make_person(city="london", salesperson_code="JO")
    make_person(city="Leeds")
    make_person(city="Lyon", salesperson_code="PS")
    make_person(city="Lyon", email="")
    make_company(city="LYON")
    preview = scope_preview(setup.contact_filter)
    assert preview.in_scope == contacts_in_scope(setup).count() == 2
    assert str(preview) == (
        "2 contacts will sync; 2 match the filter but are excluded: 1 of type Company, 1 without email."
    )


@pytest.mark.django_db
def test_any_case_matches_the_letter_in_either_case_and_nothing_else():
    Contact.objects.bulk_create(
        Contact(no=f"T{i}", name=f"T{i}", city=c) for i, c in enumerate(["Xanten", "lyon", "Lyon"])
    )
    matched = Contact.objects.filter(contact_filter_q({"city": "@l*"}))
    assert set(matched.values_list("city", flat=True)) == {"lyon", "Lyon"}
