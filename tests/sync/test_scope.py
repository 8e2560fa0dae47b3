"""Which contacts a setup synchronizes: the filter and the requirements."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_q, contact_filter_text, contact_filter_validate
from exchange_sync.selectors import scope_preview
from tests.factories import make_company, make_person


@pytest.mark.django_db
def test_the_preview_counts_what_will_sync_and_why_the_rest_will_not():
    make_person(city="London")
    make_person(city="London")
    make_person(city="London", email="")
    make_person(city="London", privacy_blocked=True)
    make_company("Contoso", city="London")
    make_person(city="Paris")
    preview = scope_preview({"city": "London"})
    assert preview.in_scope == 2
    assert str(preview) == (
        "2 contacts will sync; 3 match the filter but are excluded: "
        "1 of type Company, 1 privacy blocked, 1 without email."
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contact_filter", "expected"),
    [
        ({}, {"Ann Berg", "Bob Stone", "Cleo Berg"}),
        ({"name": "*Berg"}, {"Ann Berg", "Cleo Berg"}),
        ({"name": "@ann*|@bob*"}, {"Ann Berg", "Bob Stone"}),
        ({"city": "@LONDON"}, {"Ann Berg"}),
        ({"city": "LONDON"}, set()),
        ({"city": "London|Paris", "salesperson_code": "JO"}, {"Bob Stone"}),
        ({"type": "Person", "name": "C*"}, {"Cleo Berg"}),
    ],
)
def test_the_filter_follows_business_central_syntax(contact_filter, expected):
    make_person(first_name="Ann", surname="Berg", city="London", salesperson_code="PS")
    make_person(first_name="Bob", surname="Stone", city="Paris", salesperson_code="JO")
    make_person(first_name="Cleo", surname="Berg", city="Rome", salesperson_code="JO")
    matched = Contact.objects.filter(contact_filter_q(contact_filter))
    assert {c.name for c in matched} == expected


def test_the_filter_only_accepts_allow_listed_fields():
    with pytest.raises(ValidationError, match="cannot be filtered on 'email'"):
        contact_filter_validate({"email": "x"})
    with pytest.raises(ValidationError, match="must be text"):
        contact_filter_validate({"city": 3})
    with pytest.raises(ValidationError, match="longer than 250"):
        contact_filter_validate({"city": "x" * 251})


def test_the_filter_reads_as_text():
    assert contact_filter_text({}) == "All contacts"
    assert contact_filter_text({"salesperson_code": "JO", "city": "London|Paris"}) == (
        "City: London|Paris; Salesperson Code: JO"
    )
