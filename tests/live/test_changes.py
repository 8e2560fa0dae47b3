"""Every way a contact is written asks for a live run of exactly the setups it touches,
once its transaction commits (exchange_sync/live/changes.py, scope.py)."""

from __future__ import annotations

import pytest
import responses
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.live.changes import live_changes_connect, live_changes_disconnect, live_changes_of_run
from exchange_sync.models import ExchangeSyncSetup, LiveSyncRequest
from tests.factories import make_company, make_person
from tests.live.conftest import forget_requests, link, make_setup, requested


def test_a_contact_saved_in_a_scope_asks_for_that_setups_run_only(london, paris):
    make_person(city="London")
    assert requested() == {"ann"}


def test_a_contact_changed_outside_every_scope_asks_for_nothing(london, paris):
    person = make_person(city="Berlin")
    person.job_title = "Buyer"
    person.save()
    assert requested() == set()


def test_a_contact_entering_a_scope_asks_for_that_setups_run(london, paris):
    person = make_person(city="Berlin")
    person.city = "Paris"
    person.save()
    assert requested() == {"bob"}


def test_a_contact_changing_within_a_scope_asks_for_that_setups_run(london, paris):
    person = make_person(city="London")
    link(london, person)
    forget_requests()
    person.phone = "+44 20 7946 0000"
    person.save()
    assert requested() == {"ann"}


def test_a_contact_leaving_a_scope_asks_for_the_run_of_the_setup_that_holds_it(london, paris):
    person = make_person(city="London")
    link(london, person)
    forget_requests()
    person.city = "Paris"
    person.save()
    assert requested() == {"ann", "bob"}  # removed from Ann's folder, added to Bob's


def test_a_contact_losing_its_email_leaves_the_scope_and_asks_for_the_run_that_removes_it(london, paris):
    person = make_person(city="London")
    link(london, person)
    forget_requests()
    person.email = ""
    person.save()
    assert requested() == {"ann"}


def test_a_contact_leaving_a_scope_it_never_reached_outlook_in_asks_for_nothing(london, paris):
    person = make_person(city="London")
    forget_requests()
    person.city = "Berlin"
    person.save()
    assert requested() == set()


def test_deleting_a_synchronized_contact_asks_for_the_run_that_removes_it(london, paris):
    person = make_person(city="London")
    link(london, person)
    forget_requests()
    person.delete()
    assert requested() == {"ann"}


def test_a_queryset_update_asks_for_the_setups_it_touches(london, paris):
    make_person(city="Berlin")
    make_person(city="Berlin")
    Contact.objects.filter(city="Berlin").update(city="Paris")
    assert requested() == {"bob"}


def test_a_queryset_update_moving_contacts_out_of_a_scope_asks_for_the_setup_that_holds_them(london, paris):
    link(london, make_person(city="London"))
    forget_requests()
    Contact.objects.filter(city="London").update(city="Berlin")
    assert requested() == {"ann"}


def test_a_bulk_create_asks_for_the_setups_it_touches(london, paris):
    Contact.objects.bulk_create(
        [Contact(no=f"BULK{n}", name=f"Bulk {n}", email=f"bulk{n}@example.com", city="Paris") for n in range(3)]
    )
    assert requested() == {"bob"}


def test_a_bulk_update_asks_for_the_setups_it_touches(london, paris):
    people = [make_person(city="Berlin") for _ in range(3)]
    for person in people:
        person.city = "London"
    Contact.objects.bulk_update(people, ["city"])
    assert requested() == {"ann"}


def test_a_queryset_delete_asks_for_the_runs_that_remove_the_contacts(london, paris):
    link(paris, make_person(city="Paris"))
    make_person(city="London")  # never synchronized: nothing to remove
    forget_requests()
    Contact.objects.filter(type=Contact.Type.PERSON).delete()
    assert requested() == {"bob"}


def test_renaming_a_company_asks_for_the_setups_its_people_enter_and_leave(transactional_db):
    acme_setup = make_setup("ann", {"company_name": "Acme"})
    globex_setup = make_setup("bob", {"company_name": "Globex"})
    make_setup("carol", {"company_name": "Initech"})
    company = make_company(name="Acme")
    link(acme_setup, make_person(company=company))
    forget_requests()
    company.name = "Globex"
    company.save()
    assert requested() == {"ann", "bob"}
    assert globex_setup.pk in set(LiveSyncRequest.objects.values_list("setup_id", flat=True))


def test_deleting_a_company_asks_for_the_setups_its_people_enter(transactional_db):
    make_setup("ann", {"company_name": "''"})  # the contacts of no company
    make_setup("bob", {"company_name": "Acme"})
    company = make_company(name="Acme")
    make_person(company=company)
    forget_requests()
    company.delete()
    assert requested() == {"ann"}


def test_a_rolled_back_transaction_asks_for_nothing(london, paris):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_person(city="London")
        Contact.objects.filter(city="London").update(city="Paris")
        raise RuntimeError("the request failed")
    assert requested() == set()


def test_nothing_is_asked_before_the_transaction_commits(london, paris):
    with transaction.atomic():
        make_person(city="London")
        assert requested() == set()
    assert requested() == {"ann"}


def test_a_rolled_back_savepoint_asks_for_nothing_and_the_rest_of_the_transaction_still_does(london, paris):
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            make_person(city="London")
            raise RuntimeError("this part failed")
        make_person(city="Paris")
    assert requested() == {"bob"}


def test_setups_that_cannot_run_or_are_switched_off_get_no_request(transactional_db):
    make_setup("off", {"city": "London"}, is_live_sync_enabled=False)
    make_setup("paused", {"city": "London"}, is_enabled=False)
    make_setup("nomailbox", {"city": "London"}, mailbox=False)
    make_setup("broken", {"city": "London"}, needs_attention=True)
    gone = make_setup("gone", {"city": "London"})
    gone.user.is_active = False
    gone.user.save()
    make_setup("on", {"city": "London"})
    make_person(city="London")
    assert requested() == {"on"}


def test_a_transaction_of_many_writes_asks_once_after_commit_with_a_few_queries_whatever_the_number_of_setups(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        for n in range(12):
            make_setup(f"sales{n}", {"city": f"City{n}"})
        people = [make_person(city="Berlin") for _ in range(40)]
    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as saving:
        for n, person in enumerate(people):
            person.city = f"City{n % 12}"
            person.save()
    assert not any("exchange_sync" in query["sql"] for query in saving)  # nothing before the commit
    assert len(callbacks) == 1
    with CaptureQueriesContext(connection) as after_commit:
        callbacks[0]()
    # The setups; links and scopes of the 40 contacts; insert and move the requests.
    assert len(after_commit) <= 5, [query["sql"] for query in after_commit]
    assert len(requested()) == 12


def test_saving_a_contact_card_costs_a_few_queries_more_and_never_waits_for_graph(
    db, client, superuser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        for n in range(12):
            make_setup(f"sales{n}", {"city": f"City{n}"})
        person = make_person(city="Berlin", first_name="Eve", surname="Holm")
    client.force_login(superuser)
    url = reverse("admin:contacts_contact_change", args=[person.pk])
    form = {"type": "person", "first_name": "Eve", "surname": "Holm", "email": person.email}

    def save(city: str) -> int:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, {**form, "city": city}).status_code == 302
        return len(queries)

    save("City0")  # warm caches (content types, the session)
    live_changes_disconnect()
    try:
        without_live_sync = save("City1")
    finally:
        live_changes_connect()
    forget_requests()
    with responses.RequestsMock():  # any HTTP request (Graph) would fail the test
        with_live_sync = save("City2")
    assert with_live_sync - without_live_sync <= 5
    assert requested() == {"sales2"}


def test_a_run_bringing_contacts_from_outlook_asks_for_the_other_setups_once_at_its_end(london, paris):
    with live_changes_of_run(london.pk):
        make_person(city="London")
        make_person(city="Paris")
        assert requested() == set()
    assert requested() == {"bob"}  # Ann's own run has just linked what it brought


def test_live_sync_is_on_for_a_new_setup(transactional_db):
    assert ExchangeSyncSetup._meta.get_field("is_live_sync_enabled").default is True
