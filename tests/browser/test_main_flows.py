"""The main flows as a person goes through them, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from contacts.models import Contact
from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from jobqueue.models import JobQueueLogEntry
from tests.browser.conftest import wait_until
from tests.factories import make_company, make_person, make_user

MAILBOX = "ann@cronus.example"
PASSWORD = "pw-for-tests-123"
PERMISSIONS = [
    "contacts.view_contact",
    "contacts.change_contact",
    "exchange_sync.view_exchangesyncsetup",
    "exchange_sync.add_exchangesyncsetup",
    "exchange_sync.change_exchangesyncsetup",
    "exchange_sync.run_contact_sync",
    "exchange_sync.view_syncrun",
    "exchange_sync.view_syncissue",
    "jobqueue.add_jobqueueentry",
    "jobqueue.view_jobqueueentry",
    "jobqueue.change_jobqueueentry",
    "jobqueue.view_jobqueuelogentry",
    "graph_sandbox.view_mailbox",
    "graph_sandbox.change_mailbox",
    "auth.view_user",
    "auth.change_user",
    "exchange_sync.add_m365identity",
    "exchange_sync.change_m365identity",
    "exchange_sync.view_m365identity",
]


@pytest.fixture
def ann(transactional_db):
    user = make_user("ann", first_name="Ann", last_name="Berg")
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def contacts(transactional_db):
    london = make_company("Fabrikam Inc.", city="London")
    people = [make_person(company=london, city="London", job_title="Buyer") for _ in range(8)]
    make_person(city="London", email="")  # excluded: no email
    make_person(city="Paris")  # outside the filter
    return people


def _wait_for_run_to_finish(page) -> str:
    page.wait_for_function(
        "() => !/Queued|Running/.test(document.querySelector('#es-run-status').textContent)", timeout=60_000
    )
    return page.inner_text("#es-run-status")


def test_a_salesperson_sets_up_and_runs_contact_sync(page, steps, sandbox_site, worker, ann, contacts):
    site = sandbox_site.url
    mailbox_add(MAILBOX)

    # Sign in.
    page.goto(f"{site}/admin/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    steps.shot("sign in")
    page.click("input[type=submit]")
    assert page.locator("#site-name").is_visible()

    # Set the Microsoft 365 email on the user card.
    page.goto(f"{site}{reverse('admin:auth_user_change', args=[ann.pk])}")
    page.get_by_text("Microsoft 365 Authentication").first.scroll_into_view_if_needed()
    page.fill("input[name='m365_identity-0-authentication_email']", MAILBOX)
    steps.shot("microsoft 365 email")
    page.click("input[name='_continue']")
    assert ann.m365_identity.authentication_email == MAILBOX

    # Exchange Sync. Setup: validate the connection.
    page.goto(f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_changelist')}")
    page.get_by_role("button", name="Create my setup").click()
    assert "Exchange Sync. Setup" in page.content()
    page.get_by_role("button", name="Validate Exchange Connection").click()
    page.wait_for_selector(".messagelist")
    messages = page.inner_text(".messagelist")
    assert MAILBOX in messages
    steps.shot("validate exchange connection")

    # Contact Sync. Setup: folder name and filter, with the live preview.
    page.fill("input[name='folder_name']", "CRM Contacts")
    page.fill("input[name='filter_city']", "London")
    page.wait_for_function(
        "() => document.querySelector('#es-scope-preview').textContent.includes('8 contacts will sync')"
    )
    assert "1 without email" in page.inner_text("#es-scope-preview")
    steps.shot("contact sync setup with filter preview")
    page.click("input[name='_continue']")
    setup = ExchangeSyncSetup.objects.get(user=ann)
    assert (setup.folder_name, setup.contact_filter) == ("CRM Contacts", {"city": "London"})

    # Sync with Microsoft 365 from the contact list, and watch the run.
    page.goto(f"{site}{reverse('admin:contacts_contact_changelist')}")
    steps.shot("contact list")
    page.get_by_role("button", name="Sync with Microsoft 365", exact=True).click()
    page.wait_for_selector("#es-run-progress")
    steps.shot("run page while it runs")
    assert _wait_for_run_to_finish(page) == "Succeeded"
    page.wait_for_selector("#es-run-counts")
    counts = page.inner_text("#es-run-counts")
    assert re.search(r"To Outlook\s+Created: 8\s", counts), counts
    assert "Excluded: 2" in counts  # the company and the person without email
    steps.shot("run page with counts")

    # The Outlook (sandbox) page shows the folder's contacts; edit one, delete another.
    page.goto(f"{site}{reverse('graph_sandbox:outlook')}?mailbox={MAILBOX}")
    page.wait_for_selector("#sandbox-contacts")
    assert "CRM Contacts: 8 contacts" in page.content()
    steps.shot("outlook sandbox folder")
    edited, deleted = contacts[0], contacts[1]
    page.locator("#sandbox-contacts tr", has_text=edited.name).get_by_role("link", name="Edit").click()
    page.fill("input[name='job_title']", "Changed in Outlook")
    steps.shot("outlook sandbox edit contact")
    page.get_by_role("button", name="Save").click()
    page.locator("#sandbox-contacts tr", has_text=deleted.name).get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_selector("text=CRM Contacts: 7 contacts")
    steps.shot("outlook sandbox after delete")

    # Full Sync puts Business Central's values back and recreates the deleted contact.
    page.goto(f"{site}{reverse('admin:contacts_contact_changelist')}")
    page.get_by_role("button", name="Full Sync with Microsoft 365").click()
    assert _wait_for_run_to_finish(page) == "Succeeded"
    page.wait_for_selector("#es-run-counts")
    counts = page.inner_text("#es-run-counts")
    assert re.search(r"To Outlook\s+Created: 1\s+Updated: 1\s", counts), counts
    steps.shot("full sync result")
    assert Contact.objects.get(pk=edited.pk).job_title == "Buyer"
    run = SyncRun.objects.filter(setup=setup).first()
    assert run.kind == SyncRun.Kind.FULL

    # Set up the job queue entry (Codeunit 6700) and see its log after it runs.
    page.goto(f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_change', args=[setup.pk])}")
    page.get_by_role("button", name="Set up job queue entry").click()
    page.wait_for_selector("text=6700")
    steps.shot("job queue entry card")
    page.get_by_role("button", name="Run Once (Foreground)").click()
    wait_until(lambda: JobQueueLogEntry.objects.filter(status="Success").exists())
    wait_until(lambda: SyncRun.objects.filter(setup=setup, trigger=SyncRun.Trigger.JOB, status="succeeded").exists())
    page.goto(f"{site}{reverse('admin:jobqueue_jobqueuelogentry_changelist')}")
    assert "Success" in page.content()
    steps.shot("job queue log entries")


def test_the_setup_page_asks_before_a_button_would_ignore_unsaved_changes(page, sandbox_site, ann):
    from exchange_sync.models import M365Identity

    M365Identity.objects.create(user=ann, authentication_email=MAILBOX)
    setup = ExchangeSyncSetup.objects.create(user=ann)
    site = sandbox_site.url
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_change', args=[setup.pk])}")
    page.fill("input[name='folder_name']", "Not saved yet")
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("button", name="Sync with Microsoft 365", exact=True).click()
    assert dialogs and "not saved yet" in dialogs[0]
    assert not SyncRun.objects.exists()  # cancelled: nothing queued, the edit still on the page
    assert page.input_value("input[name='folder_name']") == "Not saved yet"
