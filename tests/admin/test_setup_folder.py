"""The setup page checks the Outlook folder name when the setup is saved: a person's own
folder is named with its size and used only when adopted, a rename onto an existing
folder is refused, and an Outlook that cannot be reached is a warning, never an error.

Through the Django test client and the Graph sandbox over real HTTP.
"""

from __future__ import annotations

import socket

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup
from exchange_sync.sandbox import ids
from exchange_sync.sandbox import services as outlook_side
from exchange_sync.sandbox.models import Contact as OutlookContact
from tests.admin.test_setup_page import form_data, page_of

MAILBOX = "ann@cronus.example"


@pytest.fixture
def graph_settings(live_server, settings):
    settings.GRAPH_BASE_URL = f"{live_server.url}/graph-sandbox/v1.0"
    return settings


@pytest.fixture
def mailbox(graph_settings, ann_setup):
    return outlook_side.mailbox_add(MAILBOX)[0]


def _folder(mailbox, name: str, contacts: int = 0):
    folder = outlook_side.folder_create(mailbox, name)
    for n in range(contacts):
        outlook_side.contact_create(
            folder, {"givenName": f"Friend{n}", "emailAddresses": [{"address": f"f{n}@home.example"}]}
        )
    return folder


def _messages(response) -> list[tuple[str, str]]:
    """The messages other than Django's "was changed successfully"."""
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request) if m.level_tag != "success"]


def test_saving_a_personal_folder_name_says_so_and_the_person_can_adopt_it(as_user, ann, ann_setup, mailbox):
    family = _folder(mailbox, "Family", contacts=3)
    client = as_user(ann)

    response = client.post(page_of(ann_setup), form_data(folder_name="Family"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "The folder &#x27;Family&#x27; already exists in Outlook with 3 contacts" in page
    assert "Adopt the existing folder" in page and "Import its other contacts" in page
    ann_setup.refresh_from_db()
    assert (ann_setup.folder_name, ann_setup.adopted_folder_id) == ("Business Central", "")

    response = client.post(page_of(ann_setup), form_data(folder_name="Family", adopt_existing_folder="on"))

    assert response.status_code == 302
    ann_setup.refresh_from_db()
    assert ann_setup.folder_name == "Family"
    assert ann_setup.adopted_folder_id == family.graph_id
    assert ann_setup.imports_existing_contacts is False
    (level, text), *_ = _messages(response)
    assert level == "info"
    assert "The existing Outlook folder 'Family' (3 contacts) is adopted" in text
    assert "its other contacts are left alone by Business Central" in text
    assert 'id="id_adopt_existing_folder" checked' in client.get(page_of(ann_setup)).content.decode()


def test_adopting_with_import_records_the_choice(as_user, ann, ann_setup, mailbox):
    family = _folder(mailbox, "Family", contacts=1)

    response = as_user(ann).post(
        page_of(ann_setup),
        form_data(folder_name="Family", adopt_existing_folder="on", imports_existing_contacts="on"),
    )

    assert response.status_code == 302
    ann_setup.refresh_from_db()
    assert (ann_setup.adopted_folder_id, ann_setup.imports_existing_contacts) == (family.graph_id, True)
    assert "(1 contact) is adopted" in _messages(response)[0][1]
    assert "imported into Business Central" in _messages(response)[0][1]


def test_the_contact_count_pages_through_folders_of_any_size(as_user, ann, ann_setup, mailbox):
    family = _folder(mailbox, "Family")
    now = timezone.now()
    OutlookContact.objects.bulk_create(  # more than one page of 1,000 ids, made quickly
        OutlookContact(
            mailbox=mailbox,
            folder=family,
            graph_id=ids.new_id(ids.CONTACT),
            change_key=ids.new_change_key(),
            seq=n,
            data={"displayName": f"Friend {n}"},
            created_at=now,
            modified_at=now,
        )
        for n in range(1203)
    )

    response = as_user(ann).post(page_of(ann_setup), form_data(folder_name="Family"))

    assert "already exists in Outlook with 1203 contacts" in response.content.decode()


def test_a_free_name_and_bcsyncs_own_folder_are_saved_without_a_question(as_user, ann, ann_setup, mailbox):
    client = as_user(ann)
    response = client.post(page_of(ann_setup), form_data(folder_name="Customers"))
    assert response.status_code == 302
    assert _messages(response) == []

    stamp = {"id": "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name BcSyncFolder", "value": "bcsync"}
    outlook_side.folder_create(mailbox, "Old install", [stamp])
    response = client.post(page_of(ann_setup), form_data(folder_name="Old install"))
    assert response.status_code == 302
    ann_setup.refresh_from_db()
    assert (ann_setup.folder_name, ann_setup.adopted_folder_id) == ("Old install", "")


@pytest.mark.parametrize("stamped", [False, True])
def test_renaming_onto_an_existing_folder_is_refused_with_a_form_error(as_user, ann, ann_setup, mailbox, stamped):
    ours = _folder(mailbox, "Business Central")
    ExchangeSyncSetup.objects.filter(pk=ann_setup.pk).update(
        folder_id=ours.graph_id, folder_name_in_outlook="Business Central"
    )
    extended = [{"id": "String {0f45d569-41fc-4de0-ac45-db55ad04fd7d} Name BcSyncFolder", "value": "x"}]
    outlook_side.folder_create(mailbox, "Family", extended if stamped else [])
    client = as_user(ann)

    response = client.post(page_of(ann_setup), form_data(folder_name="family"))

    assert response.status_code == 200
    assert (
        "The folder &#x27;family&#x27; already exists in Outlook, so the folder &#x27;Business Central&#x27; "
        "cannot be renamed to it" in response.content.decode()
    )
    ann_setup.refresh_from_db()
    assert ann_setup.folder_name == "Business Central"
    # A change of case of its own name is no conflict.
    assert client.post(page_of(ann_setup), form_data(folder_name="business central")).status_code == 302


def test_saving_when_outlook_cannot_be_reached_saves_with_a_warning(as_user, ann, ann_setup, settings):
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        settings.GRAPH_BASE_URL = f"http://127.0.0.1:{closed.getsockname()[1]}/graph-sandbox/v1.0"

        response = as_user(ann).post(page_of(ann_setup), form_data(folder_name="Family"))

    assert response.status_code == 302
    ann_setup.refresh_from_db()
    assert ann_setup.folder_name == "Family"
    ((level, text),) = _messages(response)
    assert level == "warning"
    assert text.startswith("Outlook could not be reached to check whether a folder 'Family' already exists")
    assert "the next sync stops without writing to it" in text


def test_saving_when_outlook_refuses_access_saves_with_a_warning(as_user, ann, ann_setup, mailbox):
    outlook_side.mailbox_configure(MAILBOX, access_denied=True)

    response = as_user(ann).post(page_of(ann_setup), form_data(folder_name="Family"))

    assert response.status_code == 302
    assert _messages(response)[0][0] == "warning"
