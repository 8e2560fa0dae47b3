import pytest

from contacts.models import Contact
from exchange_sync.models import ContactLink, SyncRun
from tests.factories import make_company, make_person


@pytest.fixture
def people(setup):
    company = make_company("Fabrikam Inc.")
    return [make_person(company=company, city="London", phone="+44 20 1234") for _ in range(25)]


def test_it_creates_the_folder_and_every_in_scope_contact(sync, outlook, people, setup):
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 25
    found = outlook.by_stamp()
    assert set(found) == {p.no for p in people}
    item = found[people[0].no]
    assert item["displayName"] == people[0].name
    assert item["emailAddresses"][0]["address"] == people[0].email
    assert item["companyName"] == "Fabrikam Inc."
    assert item["businessPhones"] == ["+44 20 1234"]
    assert "Business Central" in item["categories"]
    setup.refresh_from_db()
    assert setup.folder_name_in_outlook == "Business Central"
    assert setup.delta_link
    assert ContactLink.objects.filter(setup=setup, state=ContactLink.State.LINKED).count() == 25


def test_it_reports_contacts_it_cannot_sync_with_the_reason(sync, outlook, setup):
    make_person()
    make_person(email="")
    make_person(privacy_blocked=True)
    make_company("Contoso")
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.created_in_outlook == 1
    assert run.excluded == 3
    reasons = sorted(issue.reason for issue in run.issues.all())
    assert reasons == [
        "Not synchronized: of type Company.",
        "Not synchronized: privacy blocked.",
        "Not synchronized: without email.",
    ]
    assert len(outlook.contacts()) == 1


def test_a_second_sync_with_no_changes_makes_at_most_two_graph_requests(sync, people):
    sync()
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.created_in_outlook == run.updated_in_outlook == 0
    assert run.graph_requests == run.requests_served <= 2


def test_k_changed_contacts_cost_at_most_a_batch_per_twenty_plus_three(sync, outlook, people):
    sync()
    sync()  # absorbs the echo of the first run's creates
    for person in people[:21]:
        person.job_title = "Buyer"
        person.save()
    run = sync()
    assert run.updated_in_outlook == 21
    assert run.graph_requests == run.requests_served <= 2 + 3  # ceil(21 / 20) + 3
    assert all(
        item["jobTitle"] == "Buyer"
        for item in outlook.by_stamp().values()
        if item["stamp"] in {p.no for p in people[:21]}
    )


def test_the_filter_limits_what_is_synchronized(sync, outlook, setup):
    london = make_person(city="London")
    make_person(city="Paris")
    setup.contact_filter = {"city": "London"}
    setup.save()
    sync()
    assert set(outlook.by_stamp()) == {london.no}


def test_it_renames_the_folder_when_the_name_changes(sync, outlook, graph, setup, people):
    sync()
    setup.folder_name = "CRM contacts"
    setup.save()
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    setup.refresh_from_db()
    folder = graph.get_contact_folder("ann@cronus.example", setup.folder_id)
    assert folder["displayName"] == "CRM contacts"
    assert len(outlook.contacts()) == 25


def test_it_recreates_and_refills_a_folder_deleted_in_outlook(sync, outlook, graph, setup, people):
    sync()
    setup.refresh_from_db()
    graph.delete_contact_folder("ann@cronus.example", setup.folder_id)
    run = sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created_in_outlook == 25
    assert set(outlook.by_stamp()) == {p.no for p in people}
    assert Contact.objects.count() == 26
