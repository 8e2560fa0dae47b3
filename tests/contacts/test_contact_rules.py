from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact
from tests.factories import make_company, make_person


@pytest.mark.django_db
def test_it_builds_a_persons_name_from_its_parts_when_not_typed():
    person = make_person(first_name="Ann", middle_name="M.", surname="Berg")
    assert person.name == "Ann M. Berg"


@pytest.mark.django_db
def test_it_keeps_a_typed_name():
    person = make_person(name="Dr. Ann Berg", first_name="Ann", surname="Berg")
    assert person.name == "Dr. Ann Berg"


@pytest.mark.django_db
def test_it_copies_the_company_name_from_the_linked_company():
    company = make_company("Fabrikam Inc.")
    person = make_person(company=company, company_name="typed by hand")
    assert person.company_name == "Fabrikam Inc."


@pytest.mark.django_db
def test_it_keeps_people_in_step_when_their_company_is_renamed():
    company = make_company("Fabrikam Inc.")
    person = make_person(company=company)
    company.name = "Fabrikam Europe"
    company.save()
    person.refresh_from_db()
    assert person.company_name == "Fabrikam Europe"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_deleting_a_company_clears_its_people_company_and_counts_as_a_change(how):
    company = make_company("Fabrikam Inc.")
    people = [make_person(company=company) for _ in range(3)]
    other = make_person(company=make_company("Contoso Ltd."))
    old = timezone.now() - timedelta(days=1)
    Contact.objects.update(modified_at=old)
    if how == "instance":
        company.delete()
    else:
        Contact.objects.filter(pk=company.pk).delete()
    for person in people:
        person.refresh_from_db()
        assert person.company is None
        assert person.company_name == ""
        assert person.modified_at > old
    other.refresh_from_db()
    assert other.company_name == "Contoso Ltd."
    assert other.modified_at == old


@pytest.mark.django_db
def test_deleting_a_company_updates_its_people_without_loading_them(django_assert_num_queries):
    small, large = make_company(), make_company()
    make_person(company=small)
    for _ in range(30):
        make_person(company=large)
    with CaptureQueriesContext(connection) as one_person:
        small.delete()
    # One UPDATE per field for all the people, never a query per person.
    with django_assert_num_queries(len(one_person.captured_queries)):
        large.delete()
    assert Contact.objects.filter(company_name=large.name).count() == 0


@pytest.mark.django_db
def test_it_rejects_an_invalid_email():
    person = make_person()
    person.email = "not an email"
    with pytest.raises(ValidationError) as excinfo:
        person.full_clean()
    assert "email" in excinfo.value.message_dict


@pytest.mark.django_db
def test_it_bumps_modified_at_on_save():
    person = make_person()
    Contact.objects.filter(pk=person.pk).update(modified_at=timezone.now() - timedelta(days=1))
    person.refresh_from_db()
    before = person.modified_at
    person.city = "Lyon"
    person.save()
    assert person.modified_at > before


@pytest.mark.django_db
def test_it_bumps_modified_at_on_queryset_update():
    person = make_person()
    old = timezone.now() - timedelta(days=1)
    Contact.objects.filter(pk=person.pk).update(modified_at=old)
    Contact.objects.filter(pk=person.pk).update(city="Aarhus")
    person.refresh_from_db()
    assert person.modified_at > old


@pytest.mark.django_db
def test_it_bumps_modified_at_on_bulk_update():
    person = make_person()
    old = timezone.now() - timedelta(days=1)
    Contact.objects.filter(pk=person.pk).update(modified_at=old)
    person.refresh_from_db()
    person.city = "Munich"
    Contact.objects.bulk_update([person], ["city"])
    person.refresh_from_db()
    assert person.city == "Munich"
    assert person.modified_at > old


def test_modified_at_is_indexed():
    assert Contact._meta.get_field("modified_at").db_index
