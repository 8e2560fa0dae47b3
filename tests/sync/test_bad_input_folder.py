"""Bad input about the Outlook folder: a name that is a person's own folder, a rename
onto a folder that exists, and adopting a person's folder with or without importing its
other contacts. A person's folder is never taken over silently, and what is theirs in it
stays as it was unless they chose otherwise.

Each case runs real syncs against the sandbox; the person's folder is made the way
Outlook makes one (no bcsync stamp), with the sandbox's services.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox import services as outlook_side
from exchange_sync.sandbox.models import Contact as OutlookContact
from tests.factories import make_person
from tests.sync.conftest import MAILBOX

FAMILY = "Family"


def _family_folder(contacts: list[dict[str, Any]], name: str = FAMILY):
    """A folder a person made in Outlook, with their own contacts in it."""
    folder = outlook_side.folder_create(outlook_side.mailbox_get(MAILBOX), name)
    for body in contacts:
        outlook_side.contact_create(folder, body)
    return folder


def _person(given: str, email: str, **more: Any) -> dict[str, Any]:
    return {"givenName": given, "surname": "Family", "emailAddresses": [{"address": email}], **more}


def _state(folder) -> dict[str, tuple]:
    """Every contact of a sandbox folder as stored, by immutable id: values, change key, extended properties."""
    return {
        c.immutable_id: (c.data, c.change_key, sorted(c.extended_properties.values_list("property_id", "value")))
        for c in OutlookContact.objects.filter(folder=folder, is_deleted=False)
    }


def _folder_is_stamped(graph, folder_id: str) -> bool:
    return graph.get_contact_folder(MAILBOX, folder_id, expand_stamp=True)["isBcsyncFolder"]


PRIVATE = [
    _person("Mum", "mum@home.example", personalNotes="Birthday in May", homePhones=["+44 1632 960001"]),
    _person("Sis", "sis@home.example", categories=["Family"]),
    {"givenName": "Neighbour", "surname": "Next Door"},  # no email
]


@pytest.mark.parametrize("name", [FAMILY, "family", "FAMILY"])
def test_a_setup_named_like_a_personal_folder_never_takes_it_over(sync, setup, graph, name):
    colleague = make_person(email="mum@home.example", city="London")  # a company contact with a friend's email
    folder = _family_folder(PRIVATE)
    before = _state(folder)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=name)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert f"The Outlook folder '{name}' already exists and was not created by bcsync" in run.error
    assert "Adopt the existing folder" in run.error
    setup.refresh_from_db()
    assert setup.needs_attention and "already exists and was not created by bcsync" in setup.last_error
    assert setup.folder_id == ""
    # Nothing was written to the folder, nothing was copied from it.
    assert _state(folder) == before
    assert not _folder_is_stamped(graph, folder.graph_id)
    assert list(Contact.objects.values_list("pk", flat=True)) == [colleague.pk]
    assert not setup.links.exists()
    # Still refused on the next run: not "failing once, then taking it".
    assert sync().status == SyncRun.Status.FAILED
    assert _state(folder) == before


def test_a_personal_folder_adopted_without_import_links_matching_contacts_and_leaves_the_rest_alone(
    sync, setup, graph, outlook, admin_client
):
    colleague = make_person(first_name="Maria", surname="Mum", email="mum@home.example")
    other = make_person(first_name="Other", surname="Colleague", email="other@cronus.example")
    folder = _family_folder(PRIVATE)
    mum_id = OutlookContact.objects.get(folder=folder, data__givenName="Mum").immutable_id
    before = _state(folder)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY, adopted_folder_id=folder.graph_id)

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    setup.refresh_from_db()
    assert setup.folder_id == folder.graph_id and not setup.needs_attention
    assert _folder_is_stamped(graph, folder.graph_id)
    # The contact with the email of an in-scope contact is linked (not copied).
    assert run.linked_in_bc == 1 and run.created_in_bc == 0
    assert setup.links.get(contact=colleague).graph_id == mum_id
    # The other contacts are left alone: unchanged, unstamped, not in Business Central.
    after = _state(folder)
    for graph_id, state in before.items():
        if graph_id != mum_id:
            assert after[graph_id] == state
    assert set(Contact.objects.values_list("pk", flat=True)) == {colleague.pk, other.pk}
    left_alone = "2 contacts already in it matched no synchronized contact by email and were left alone"
    assert left_alone in run.error
    run_page = admin_client.get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).content.decode()
    assert left_alone in run_page
    # Business Central's contacts are synchronized into the folder.
    stamps = {item["stamp"] for item in outlook.contacts()}
    assert {colleague.no, other.no} <= stamps

    # Said once: a Full Sync leaves them alone again, without repeating it.
    full = sync(full=True)
    assert full.status == SyncRun.Status.SUCCEEDED, full.error
    assert "left alone" not in full.error
    assert set(Contact.objects.values_list("pk", flat=True)) == {colleague.pk, other.pk}
    after = _state(folder)
    assert all(after[k] == v for k, v in before.items() if k != mum_id)

    # An edit by the person does not make their contact a company contact either.
    sis_id = OutlookContact.objects.get(folder=folder, data__givenName="Sis").graph_id
    outlook.update(sis_id, jobTitle="Nurse")
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert not Contact.objects.filter(email="sis@home.example").exists()

    # A contact added after the adoption is handled as in any bcsync folder.
    outlook.create(givenName="New", surname="Customer", emailAddresses=[{"address": "new@customer.example"}])
    later = sync()
    assert later.created_in_bc == 1, later.error
    assert Contact.objects.filter(email="new@customer.example").exists()


def test_a_personal_folder_adopted_with_import_copies_its_other_contacts(sync, setup, graph):
    colleague = make_person(first_name="Maria", surname="Mum", email="mum@home.example")
    folder = _family_folder(PRIVATE)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(
        folder_name=FAMILY, adopted_folder_id=folder.graph_id, imports_existing_contacts=True
    )

    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.linked_in_bc == 1
    assert run.created_in_bc == 1  # Sis; the neighbour has no email and is reported
    assert Contact.objects.filter(email="sis@home.example", type=Contact.Type.PERSON).exists()
    assert setup.links.filter(contact=colleague).exists()
    assert run.issues.filter(reason__contains="it has no email address").count() == 1
    assert "left alone" not in run.error


def test_an_adopted_folder_replaced_by_another_of_the_same_name_is_refused(sync, setup):
    adopted = _family_folder([])
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY, adopted_folder_id=adopted.graph_id)
    outlook_side.folder_delete(adopted)
    replacement = _family_folder(PRIVATE)
    before = _state(replacement)

    run = sync()

    assert run.status == SyncRun.Status.FAILED
    assert "already exists and was not created by bcsync" in run.error
    assert _state(replacement) == before


def test_a_rename_onto_an_existing_folder_needs_attention_and_the_sync_goes_on_under_the_old_name(
    sync, setup, graph, outlook
):
    ann = make_person(email="ann.customer@cronus.example")
    assert sync().status == SyncRun.Status.SUCCEEDED
    setup.refresh_from_db()
    folder_id = setup.folder_id
    family = _family_folder(PRIVATE)
    before = _state(family)
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY)  # saved around the form's check
    Contact.objects.filter(pk=ann.pk).update(job_title="Buyer")

    for _ in range(2):  # every run goes on, none fails
        run = sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert "could not be renamed to 'Family'" in run.error
        setup.refresh_from_db()
        assert setup.needs_attention
        assert "could not be renamed to 'Family'" in setup.last_error
        assert "Choose another folder name" in setup.last_error
    assert setup.folder_id == folder_id
    assert graph.get_contact_folder(MAILBOX, folder_id)["displayName"] == "Business Central"
    assert outlook.by_stamp()[ann.no]["jobTitle"] == "Buyer"
    assert _state(family) == before

    # Choosing another name clears it.
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name="Customers")
    run = sync()
    setup.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and not setup.needs_attention
    assert graph.get_contact_folder(MAILBOX, folder_id)["displayName"] == "Customers"


def test_a_persons_own_contact_linked_in_an_adopted_folder_is_never_deleted_when_it_leaves_the_scope(sync, setup):
    colleague = make_person(first_name="Maria", surname="Mum", email="mum@home.example")
    folder = _family_folder(PRIVATE)
    mum_id = OutlookContact.objects.get(folder=folder, data__givenName="Mum").immutable_id
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY, adopted_folder_id=folder.graph_id)
    assert sync().status == SyncRun.Status.SUCCEEDED
    assert setup.links.get(contact=colleague).graph_id == mum_id

    # Her contact leaves the scope (privacy blocked), then is deleted in Business Central.
    Contact.objects.filter(pk=colleague.pk).update(privacy_blocked=True, modified_at=timezone.now())
    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.deleted_in_outlook == 0
    assert OutlookContact.objects.filter(immutable_id=mum_id, is_deleted=False).exists()
    assert any(
        "left in Outlook: it was in the folder before the folder was adopted" in i.reason for i in run.issues.all()
    )
    colleague.delete()
    assert sync(full=True).deleted_in_outlook == 0
    assert OutlookContact.objects.filter(immutable_id=mum_id, is_deleted=False).exists()


def test_a_persons_own_contact_let_go_stays_let_go_when_they_edit_it_in_outlook(sync, setup):
    # Let go, the link is stopped with the contact's id kept, as a contact moved to
    # another folder is: an edit in Outlook must not make it look "moved back".
    colleague = make_person(first_name="Maria", surname="Mum", email="mum@home.example", job_title="Buyer")
    folder = _family_folder(PRIVATE)
    mum = OutlookContact.objects.get(folder=folder, data__givenName="Mum")
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY, adopted_folder_id=folder.graph_id)
    assert sync().status == SyncRun.Status.SUCCEEDED
    Contact.objects.filter(pk=colleague.pk).update(privacy_blocked=True, modified_at=timezone.now())
    assert sync().status == SyncRun.Status.SUCCEEDED

    outlook_side.contact_update(mum.pk, {"personalNotes": "Birthday in May"})
    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert not run.issues.exists()  # not let go a second time
    # Back in scope and edited again in Outlook: still hers, nothing of Business Central's written.
    Contact.objects.filter(pk=colleague.pk).update(privacy_blocked=False, job_title="CEO", modified_at=timezone.now())
    outlook_side.contact_update(mum.pk, {"personalNotes": "Birthday on 3 May"})
    assert sync().status == SyncRun.Status.SUCCEEDED
    mum.refresh_from_db()
    assert mum.data.get("jobTitle") != "CEO"
    assert mum.data["personalNotes"] == "Birthday on 3 May"


def test_a_persons_own_contacts_let_go_from_an_adopted_folder_never_stop_a_run_for_confirmation(sync, setup):
    # 12 of the person's own contacts, each linked to a colleague with their email: all
    # 12 colleagues then leave the scope. Letting go deletes nothing, so the deletion
    # guard (more than half and more than 10) has nothing to count.
    colleagues = [make_person(first_name=f"Friend{n}", email=f"friend{n}@home.example") for n in range(12)]
    folder = _family_folder([_person(f"Friend{n}", f"friend{n}@home.example") for n in range(12)])
    ExchangeSyncSetup.objects.filter(pk=setup.pk).update(folder_name=FAMILY, adopted_folder_id=folder.graph_id)
    first = sync()
    assert (first.status, first.linked_in_bc) == (SyncRun.Status.SUCCEEDED, 12), first.error
    before = _state(folder)

    Contact.objects.filter(pk__in=[c.pk for c in colleagues]).update(privacy_blocked=True, modified_at=timezone.now())
    run = sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.deleted_in_outlook == 0
    assert set(_state(folder)) == set(before)  # all 12 still in Outlook
