import pytest
from django.urls import reverse

from contacts.models import Contact
from tests.factories import make_company, make_person

LIST_URL = reverse("admin:contacts_contact_changelist")


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_the_list_shows_business_central_columns(staff_client):
    make_person(first_name="Ann", surname="Berg", city="Lyon", salesperson_code="JO")
    html = staff_client.get(LIST_URL).content.decode()
    for header in [
        "No.",
        "Name",
        "Type",
        "Company Name",
        "E-Mail",
        "Phone No.",
        "City",
        "Salesperson Code",
        "Last Modified",
    ]:
        assert f">{header}<" in html or f">{header}</a>" in html, header
    assert "Ann Berg" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [("berg", "surname"), ("ann.berg@", "email"), ("fabrikam", "company"), ("lyon", "city")],
)
def test_it_searches_name_email_company_and_city(staff_client, query, field):
    company = make_company("Fabrikam Inc.")
    make_person(first_name="Ann", surname="Berg", email="ann.berg@fabrikam.example", company=company, city="Lyon")
    make_person(first_name="Bob", surname="Other", email="bob@other.example", city="Paris")
    response = staff_client.get(LIST_URL, {"q": query})
    names = [c.name for c in response.context["cl"].result_list]
    assert "Ann Berg" in names, field
    assert "Bob Other" not in names


@pytest.mark.django_db
def test_it_filters_on_type_and_privacy(staff_client):
    make_company("Fabrikam Inc.")
    make_person(first_name="Ann", surname="Berg", privacy_blocked=True)
    make_person(first_name="Bob", surname="Open")
    companies = staff_client.get(LIST_URL, {"type__exact": "company"}).context["cl"].result_list
    assert [c.name for c in companies] == ["Fabrikam Inc."]
    blocked = staff_client.get(LIST_URL, {"privacy_blocked__exact": "1"}).context["cl"].result_list
    assert [c.name for c in blocked] == ["Ann Berg"]
    filters = {spec.title for spec in staff_client.get(LIST_URL).context["cl"].filter_specs}
    assert filters == {"Type", "Company Name", "City", "Salesperson Code", "Privacy Blocked"}


def _rows_after_choosing(client, filter_title: str, value: str) -> list[str]:
    """Follow the link the list's filter sidebar offers for `value`; return the names shown."""
    changelist = client.get(LIST_URL).context["cl"]
    spec = next(spec for spec in changelist.filter_specs if spec.title == filter_title)
    choice = next(choice for choice in spec.choices(changelist) if choice["display"] == value)
    response = client.get(LIST_URL + choice["query_string"])
    assert response.status_code == 200
    return sorted(c.name for c in response.context["cl"].result_list)


@pytest.mark.django_db
def test_it_filters_on_company_city_and_salesperson(staff_client):
    fabrikam = make_company("Fabrikam Inc.", city="Lyon", salesperson_code="JO")
    contoso = make_company("Contoso Ltd.", city="Paris", salesperson_code="PS")
    make_person(first_name="Ann", surname="Berg", company=fabrikam, city="Lyon", salesperson_code="JO")
    make_person(first_name="Bob", surname="Lund", company=fabrikam, city="Paris", salesperson_code="PS")
    make_person(first_name="Cai", surname="Moss", company=contoso, city="Lyon", salesperson_code="PS")
    make_person(first_name="Dag", surname="Nord", city="Oslo", salesperson_code="")

    assert _rows_after_choosing(staff_client, "Company Name", "Fabrikam Inc.") == [
        "Ann Berg",
        "Bob Lund",
        "Fabrikam Inc.",
    ]
    assert _rows_after_choosing(staff_client, "City", "Lyon") == ["Ann Berg", "Cai Moss", "Fabrikam Inc."]
    assert _rows_after_choosing(staff_client, "Salesperson Code", "PS") == ["Bob Lund", "Cai Moss", "Contoso Ltd."]
    # Filters combine: Contoso's people in Lyon.
    both = staff_client.get(LIST_URL, {"company_name": "Contoso Ltd.", "city": "Lyon"}).context["cl"]
    assert [c.name for c in both.result_list] == ["Cai Moss"]


@pytest.mark.django_db
def test_the_card_is_grouped_in_general_communication_and_address(staff_client):
    person = make_person()
    html = staff_client.get(reverse("admin:contacts_contact_change", args=[person.pk])).content.decode()
    general, communication, address = (html.find(f">{title}<") for title in ["General", "Communication", "Address"])
    assert 0 < general < communication < address


@pytest.mark.django_db
def test_the_list_makes_the_same_number_of_queries_for_more_rows(staff_client, django_assert_num_queries):
    company = make_company()
    for _ in range(3):
        make_person(company=company)
    staff_client.get(LIST_URL)  # warm caches (content types, session)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        staff_client.get(LIST_URL)
    for _ in range(40):
        make_person(company=company)
    with django_assert_num_queries(len(few.captured_queries)):
        response = staff_client.get(LIST_URL)
    assert len(response.context["cl"].result_list) == 44


@pytest.mark.django_db
def test_saving_the_card_numbers_and_validates_the_contact(staff_client):
    add_url = reverse("admin:contacts_contact_add")
    bad = staff_client.post(add_url, {"type": "person", "first_name": "Eve", "email": "nope"})
    assert bad.status_code == 200
    assert "Enter a valid email address." in bad.content.decode()
    ok = staff_client.post(
        add_url, {"type": "person", "first_name": "Eve", "surname": "Holm", "email": "eve@x.example"}
    )
    assert ok.status_code == 302
    eve = Contact.objects.get(email="eve@x.example")
    assert eve.name == "Eve Holm"
    assert eve.no.startswith("CT")
