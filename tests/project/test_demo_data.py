import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from contacts.models import Contact
from exchange_sync.sandbox.models import Mailbox


@pytest.mark.django_db
def test_demo_data_loads_realistic_contacts_once(capsys):
    call_command("load_demo_data", "--password", "first-pass-123")
    first_output = capsys.readouterr().out
    people = Contact.objects.filter(type=Contact.Type.PERSON)
    companies = Contact.objects.filter(type=Contact.Type.COMPANY)
    assert people.count() >= 200
    assert companies.count() >= 20
    assert people.filter(email="").exists()
    assert people.filter(privacy_blocked=True).exists()
    assert not people.filter(company__isnull=True).exists()
    assert "first-pass-123" in first_output

    contacts_before = Contact.objects.count()
    users_before = get_user_model().objects.count()
    call_command("load_demo_data")
    second_output = capsys.readouterr().out
    assert Contact.objects.count() == contacts_before
    assert get_user_model().objects.count() == users_before
    assert "demo contacts not loaded again" in second_output
    assert "first-pass-123" not in second_output
    assert "already exists" in second_output


@pytest.mark.django_db
def test_the_demo_superuser_can_sign_in_and_has_a_mailbox(client):
    call_command("load_demo_data", "--password", "first-pass-123")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.m365_identity.authentication_email == "admin@cronus.example"
    assert admin.exchange_sync_setup.folder_name == "Business Central"
    # Its mailbox exists in the built-in Graph sandbox, ready for a first sync.
    assert Mailbox.objects.filter(email="admin@cronus.example").exists()
    assert client.login(username="admin", password="first-pass-123")


@pytest.mark.django_db
def test_the_demo_salesperson_signs_in_with_the_role_not_as_superuser(client, capsys, monkeypatch):
    monkeypatch.setenv("DEMO_SALES_PASSWORD", "sales-pass-123")
    call_command("load_demo_data", "--password", "first-pass-123")
    first_output = capsys.readouterr().out
    jim = get_user_model().objects.get(username="jim")
    assert jim.is_staff and not jim.is_superuser
    assert list(jim.groups.values_list("name", flat=True)) == ["Contact Sync User"]
    assert jim.m365_identity.authentication_email == "jim@cronus.example"
    assert jim.exchange_sync_setup.folder_name == "Business Central"
    assert Mailbox.objects.filter(email="jim@cronus.example").exists()
    assert "'jim' with password 'sales-pass-123'" in first_output

    call_command("load_demo_data")
    assert "sales-pass-123" not in capsys.readouterr().out
    assert client.login(username="jim", password="sales-pass-123")
    assert client.get("/admin/exchange_sync/exchangesyncsetup/").status_code == 302  # to his own setup
