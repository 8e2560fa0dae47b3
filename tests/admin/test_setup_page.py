"""The Exchange Sync. Setup / Contact Sync. Setup page: one per user, filter with live
preview, policies, buttons, health; the setup list for superusers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.models import ContactLink, ExchangeSyncSetup
from tests.admin.conftest import grant_sync
from tests.factories import make_company, make_person, make_user

pytestmark = pytest.mark.django_db
SETUPS = reverse("admin:exchange_sync_exchangesyncsetup_changelist")


def preview_of(setup: ExchangeSyncSetup) -> str:
    return reverse("admin:exchange_sync_exchangesyncsetup_preview", args=[setup.pk])


def page_of(setup: ExchangeSyncSetup) -> str:
    return reverse("admin:exchange_sync_exchangesyncsetup_change", args=[setup.pk])


def form_data(**overrides) -> dict:
    data = {
        "is_enabled": "on",
        "is_live_sync_enabled": "on",
        "folder_name": "Business Central",
        "on_outlook_delete": ExchangeSyncSetup.OnOutlookDelete.RECREATE,
        "filter_name": "",
        "filter_type": "",
        "filter_company_name": "",
        "filter_city": "",
        "filter_county": "",
        "filter_country_region_code": "",
        "filter_salesperson_code": "",
        "filter_post_code": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_a_user_without_a_setup_creates_it_with_the_button_and_it_opens(as_user, ann):
    client = as_user(ann)
    page = client.get(SETUPS).content.decode()
    assert not ExchangeSyncSetup.objects.filter(user=ann).exists()  # opening the list writes nothing
    assert "Create my setup" in page
    response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_add"))
    setup = ExchangeSyncSetup.objects.get(user=ann)
    assert response.status_code == 302
    assert response.url == page_of(setup)


def test_a_user_with_a_setup_opening_the_list_goes_to_their_setup(as_user, ann, ann_setup):
    response = as_user(ann).get(SETUPS)
    assert response.status_code == 302
    assert response.url == page_of(ann_setup)


def test_the_page_reads_like_business_central(as_user, ann, ann_setup):
    ann.user_permissions.add(Permission.objects.get(codename="add_jobqueueentry"))
    page = as_user(ann).get(page_of(ann_setup)).content.decode()
    for words in [
        "Exchange Sync. Setup",
        "Contact Sync. Setup",
        "Background sync enabled",
        "ann@cronus.example",
        "Validate Exchange Connection",
        "Outlook folder",
        "City filter",
        "Salesperson Code filter",
        "Keep Outlook edits",
        "When deleted in Outlook",
        "Sync with Microsoft 365",
        "Full Sync with Microsoft 365",
        "Set up job queue entry",
        "Last successful sync",
    ]:
        assert words in page, words
    assert reverse("admin:auth_user_change", args=[ann.pk]) in page
    assert f'action="{reverse("admin:jobqueue_jobqueueentry_contact_sync")}"' in page
    assert "Traceback" not in page


def test_the_job_queue_button_is_hidden_from_users_who_may_not_add_job_queue_entries(as_user, ann, ann_setup):
    ann.groups.clear()
    codenames = ["view_exchangesyncsetup", "change_exchangesyncsetup", "run_contact_sync"]
    ann.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    page = as_user(ann).get(page_of(ann_setup)).content.decode()
    assert "Sync with Microsoft 365" in page
    assert "Set up job queue entry" not in page
    assert reverse("admin:jobqueue_jobqueueentry_contact_sync") not in page


def test_the_job_queue_button_on_another_users_setup_sets_it_up_for_that_user(as_user, superuser, bob_setup):
    page = as_user(superuser).get(page_of(bob_setup)).content.decode()
    assert "Set up job queue entry" in page
    assert f'<input type="hidden" name="user" value="{bob_setup.user_id}">' in page


def test_a_user_without_email_is_told_to_enter_it_on_the_user_card(as_user):
    user = grant_sync(make_user("nomail"))
    setup = ExchangeSyncSetup.objects.create(user=user)
    page = as_user(user).get(page_of(setup)).content.decode()
    assert "has no Microsoft 365 email" in page
    assert "Enter it on the user card" in page


def test_saving_stores_the_filter_and_the_policies(as_user, ann, ann_setup):
    response = as_user(ann).post(
        page_of(ann_setup),
        form_data(
            filter_city=" London|Paris ",
            filter_name="A*",
            folder_name="Customers",
            keep_outlook_edits="on",
            on_outlook_delete=ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING,
            is_enabled=None,
        ),
    )
    assert response.status_code == 302
    ann_setup.refresh_from_db()
    assert ann_setup.contact_filter == {"city": "London|Paris", "name": "A*"}
    assert (ann_setup.folder_name, ann_setup.keep_outlook_edits, ann_setup.is_enabled) == ("Customers", True, False)
    assert ann_setup.on_outlook_delete == ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING
    page = as_user(ann).get(page_of(ann_setup)).content.decode()
    assert 'value="London|Paris"' in page
    assert "Name: A*; City: London|Paris" in page


def test_a_too_long_condition_is_refused_with_a_message(as_user, ann, ann_setup):
    response = as_user(ann).post(page_of(ann_setup), form_data(filter_city="x" * 251))
    assert response.status_code == 200
    assert "at most 250 characters" in response.content.decode()
    ann_setup.refresh_from_db()
    assert ann_setup.contact_filter == {}


def test_the_page_shows_the_preview_of_the_saved_filter_without_javascript(as_user, ann, ann_setup):
    make_person(city="London")
    make_person(city="London", email="")
    make_company(city="London")
    make_person(city="Paris")
    ann_setup.contact_filter = {"city": "London"}
    ann_setup.save()
    page = as_user(ann).get(page_of(ann_setup)).content.decode()
    assert "1 contacts will sync; 2 match the filter but are excluded: 1 of type Company, 1 without email." in page


def test_the_preview_endpoint_counts_what_the_typed_filter_would_sync(as_user, ann, ann_setup):
    make_person(city="London", salesperson_code="JO")
    make_person(city="Paris", salesperson_code="JO")
    make_person(city="Paris", salesperson_code="JO", email="")
    make_company(city="Paris", salesperson_code="JO")
    make_person(city="Rome", salesperson_code="JO")
    answer = (
        as_user(ann)
        .get(preview_of(ann_setup), {"filter_city": "London|@paris", "filter_salesperson_code": "J*"})
        .json()
    )
    assert answer["text"] == (
        "2 contacts will sync; 2 match the filter but are excluded: 1 of type Company, 1 without email."
    )
    assert answer["in_scope"] == 2
    assert answer["filter"] == "City: London|@paris; Salesperson Code: J*"


def test_the_preview_endpoint_explains_an_invalid_filter(as_user, ann, ann_setup):
    answer = as_user(ann).get(preview_of(ann_setup), {"filter_city": "x" * 251}).json()
    assert answer == {"error": "The condition on City is longer than 250 characters."}


def test_a_user_cannot_open_or_change_another_users_setup(as_user, ann, ann_setup, bob_setup):
    client = as_user(ann)
    assert client.get(page_of(bob_setup)).status_code == 404
    assert client.post(page_of(bob_setup), form_data(folder_name="Hijacked")).status_code in (403, 404)
    bob_setup.refresh_from_db()
    assert bob_setup.folder_name == "Business Central"
    validate = reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[bob_setup.pk])
    assert client.post(validate).status_code == 404


def test_a_superuser_sees_every_setup_with_its_health(as_user, superuser, ann_setup, bob_setup):
    ann_setup.needs_attention, ann_setup.last_error = True, "The mailbox was not found. Check the email."
    ann_setup.save()
    make_person()
    make_person(email="")
    make_person(privacy_blocked=True)
    make_company()
    page = as_user(superuser).get(SETUPS).content.decode()
    assert "3 (1 of type Company, 1 privacy blocked, 1 without email)" in page  # the Excluded column
    assert "ann@cronus.example" in page and "bob@cronus.example" in page
    assert "Needs attention: The mailbox was not found. Check the email." in page
    assert "Not synchronized yet" in page
    assert as_user(superuser).get(page_of(bob_setup)).status_code == 200


def test_health_counts_in_sync_excluded_by_reason_and_failing(as_user, ann, ann_setup):
    synced, failing = make_person(), make_person()
    make_person(email="")
    make_company()
    ContactLink.objects.create(
        setup=ann_setup, contact=synced, contact_no=synced.no, graph_id="g1", state=ContactLink.State.LINKED
    )
    ContactLink.objects.create(
        setup=ann_setup,
        contact=failing,
        contact_no=failing.no,
        graph_id="g2",
        state=ContactLink.State.LINKED,
        failure_count=2,
    )
    page = as_user(ann).get(page_of(ann_setup)).content.decode()
    assert "1 in sync, 2 (1 of type Company, 1 without email) excluded, 1 failing." in page
    assert "Needs attention: 1 contact failed to synchronize." in page


def test_the_setup_list_costs_the_same_queries_for_two_or_six_setups(as_user, superuser, django_assert_max_num_queries):
    client = as_user(superuser)
    for n in range(2):
        ExchangeSyncSetup.objects.create(user=make_user(f"u{n}", mailbox=f"u{n}@cronus.example"))
    make_person(city="London")
    client.get(SETUPS)  # session and permissions warm
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(SETUPS).status_code == 200
    for n in range(2, 6):
        setup = ExchangeSyncSetup.objects.create(user=make_user(f"u{n}", mailbox=f"u{n}@cronus.example"))
        setup.contact_filter = {"city": "London"}
        setup.save()
    with CaptureQueriesContext(connection) as many:
        page = client.get(SETUPS).content.decode()
    assert "u5@cronus.example" in page
    assert len(many) == len(few)


def test_contact_type_filter_reads_person_and_company(as_user, ann, ann_setup):
    make_person()
    make_company()
    answer = as_user(ann).get(preview_of(ann_setup), {"filter_type": "Company"}).json()
    assert answer["text"] == "0 contacts will sync; 1 match the filter but are excluded: 1 of type Company."
    assert Contact.objects.count() == 2
