"""The "Outlook (sandbox)" page: see and change a mailbox's contacts, from the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from exchange_sync.sandbox import services
from exchange_sync.sandbox.models import Contact, Mailbox
from tests.factories import make_user

URL = "/graph-sandbox/outlook/"


@pytest.fixture
def folder(db):
    mailbox, _ = services.mailbox_add("alice@cronus.example")
    return services.folder_create(mailbox, "Business Central")


def test_it_shows_a_mailboxs_contacts(superuser, admin_client_for, folder):
    services.contact_create(
        folder, {"givenName": "Ann", "surname": "Lee", "emailAddresses": [{"address": "ann@x.example"}]}
    )
    response = admin_client_for(superuser).get(URL, {"mailbox": "alice@cronus.example"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ann Lee" in html
    assert "ann@x.example" in html
    assert "Business Central: 1 contact" in html
    assert "Business Central (1)" in html
    assert "Gone" not in html


def test_it_creates_edits_and_deletes_a_contact(superuser, admin_client_for, folder):
    client = admin_client_for(superuser)
    target = {"mailbox": "alice@cronus.example", "folder": folder.pk}
    response = client.post(
        URL, {**target, "action": "create", "given_name": "Ann", "surname": "Lee", "email": "a@x.example"}
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.data["displayName"] == "Ann Lee"
    seq = contact.seq
    client.post(URL, {**target, "contact": contact.pk, "action": "update", "given_name": "Ann", "surname": "Park"})
    contact.refresh_from_db()
    assert contact.data["surname"] == "Park"
    assert contact.seq > seq  # a change the next delta round reports
    client.post(URL, {**target, "contact": contact.pk, "action": "delete"})
    contact.refresh_from_db()
    assert contact.is_deleted


def test_it_needs_a_staff_login(client, folder):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_lets_a_viewer_look_but_not_change(admin_client_for, folder):
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mailbox"))
    client = admin_client_for(viewer)
    assert client.get(URL).status_code == 200
    response = client.post(
        URL, {"mailbox": "alice@cronus.example", "folder": folder.pk, "action": "create", "surname": "X"}
    )
    assert response.status_code == 403
    assert Contact.objects.count() == 0


def test_it_is_linked_from_the_mailbox_admin(superuser, admin_client_for, folder):
    html = admin_client_for(superuser).get(reverse("admin:graph_sandbox_mailbox_changelist")).content.decode()
    assert URL in html
    assert "Outlook (sandbox)" in html


def test_changing_a_mailboxs_knobs_in_the_admin_restarts_its_simulation(superuser, admin_client_for, folder):
    mailbox = Mailbox.objects.get(email="alice@cronus.example")
    before = mailbox.knobs_version
    url = reverse("admin:graph_sandbox_mailbox_change", args=[mailbox.pk])
    response = admin_client_for(superuser).post(
        url,
        {
            "display_name": mailbox.display_name,
            "latency_ms": 25,
            "transient_error_rate": 0,
            "lost_create_rate": 0,
            "delta_expiry": mailbox.delta_expiry,
            "notification_drop_rate": 0.3,
            "notification_duplicate_rate": 0,
            "notification_delay_seconds": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mailbox.refresh_from_db()
    assert mailbox.latency_ms == 25
    assert mailbox.notification_drop_rate == 0.3
    assert mailbox.knobs_version != before


def test_it_moves_a_contact_deletes_it_to_deleted_items_and_deletes_it_permanently(superuser, admin_client_for, folder):
    other = services.folder_create(folder.mailbox, "Suppliers")
    contact = services.contact_create(folder, {"givenName": "Ann", "surname": "Lee"})
    immutable_id, regular_id = contact.immutable_id, contact.graph_id
    client = admin_client_for(superuser)
    target = {"mailbox": "alice@cronus.example", "folder": folder.pk}

    moved = client.post(URL, {**target, "contact": contact.pk, "action": "move", "to_folder": other.pk})
    assert moved.status_code == 302
    live = Contact.objects.get(is_deleted=False)
    assert (live.folder, live.immutable_id) == (other, immutable_id)
    assert live.graph_id != regular_id
    assert Contact.objects.get(graph_id=regular_id).is_deleted  # what the source folder's delta reports

    client.post(URL, {**target, "folder": other.pk, "contact": live.pk, "action": "delete"})
    in_deleted_items = Contact.objects.get(is_deleted=False)
    assert in_deleted_items.folder.display_name == "Deleted Items"
    assert in_deleted_items.immutable_id == immutable_id

    deleted_items = {**target, "folder": in_deleted_items.folder.pk}
    page = client.get(URL, deleted_items).content.decode()
    assert "Deleted Items: 1 contact" in page
    client.post(URL, {**deleted_items, "contact": in_deleted_items.pk, "action": "delete_permanently"})
    assert not Contact.objects.filter(is_deleted=False).exists()
