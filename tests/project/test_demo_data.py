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
