"""The whole flow as a salesperson who holds only the Contact Sync User role (not a
superuser, no permission of their own): their setup, the preview, a sync from the
contact list, the job queue entry, and nothing of another user's."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sandbox.services import mailbox_add
from jobqueue.models import JobQueueEntry
from jobqueue.roles import USER_ROLE, contact_sync_roles_ensure
from tests.browser.conftest import wait_until
from tests.factories import make_company, make_person, make_user

PASSWORD = "pw-for-tests-123"


@pytest.fixture
def jim(transactional_db):
    """What the README's "Give a coworker access" makes: staff, the role, a mailbox."""
    contact_sync_roles_ensure()  # an earlier transactional test may have flushed the groups
    user = make_user("jim", mailbox="jim@cronus.example", first_name="Jim", last_name="Olive")
    user.groups.add(Group.objects.get(name=USER_ROLE))
    return user


@pytest.fixture
def bobs_history(transactional_db):
    bob = make_user("bob", mailbox="bob@cronus.example")
    setup = ExchangeSyncSetup.objects.create(user=bob)
    run = SyncRun.objects.create(
        setup=setup, user_name="bob", kind=SyncRun.Kind.INCREMENTAL, trigger=SyncRun.Trigger.BUTTON
    )
    return setup, run


def test_a_salesperson_with_the_role_syncs_their_contacts_and_sees_no_one_elses(
    page, sandbox_site, worker, jim, bobs_history
):
    site = sandbox_site.url
    mailbox_add("jim@cronus.example")
    london = make_company("Fabrikam Inc.", city="London")
    for _ in range(5):
        make_person(company=london, city="London")
    make_person(city="Paris")

    # Sign in; the setup list offers to create his setup, which then opens.
    page.goto(f"{site}/admin/")
    page.fill("#id_username", "jim")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_changelist')}")
    page.get_by_role("button", name="Create my setup").click()
    page.wait_for_selector("text=jim@cronus.example")
    setup = ExchangeSyncSetup.objects.get(user=jim)

    # Validate the connection.
    page.get_by_role("button", name="Validate Exchange Connection").click()
    page.wait_for_selector(".messagelist")
    assert "The Exchange connection works" in page.inner_text(".messagelist")

    # Preview the filter as he types it, and save it.
    page.fill("input[name='filter_city']", "London")
    page.wait_for_function(
        "() => document.querySelector('#es-scope-preview').textContent.includes('5 contacts will sync')"
    )
    page.click("input[name='_continue']")
    setup.refresh_from_db()
    assert setup.contact_filter == {"city": "London"}

    # Sync with Microsoft 365 from the contact list, and watch the run page finish.
    page.goto(f"{site}{reverse('admin:contacts_contact_changelist')}")
    page.get_by_role("button", name="Sync with Microsoft 365", exact=True).click()
    page.wait_for_selector("#es-run-progress")
    page.wait_for_function(
        "() => !/Queued|Running/.test(document.querySelector('#es-run-status').textContent)", timeout=60_000
    )
    assert page.inner_text("#es-run-status") == "Succeeded"
    assert re.search(r"To Outlook\s+Created: 5\s", page.inner_text("#es-run-counts"))

    # Set up the job queue entry: it runs as him.
    page.goto(f"{site}{reverse('admin:exchange_sync_exchangesyncsetup_change', args=[setup.pk])}")
    page.get_by_role("button", name="Set up job queue entry").click()
    page.wait_for_selector("text=6700")
    wait_until(lambda: JobQueueEntry.objects.filter(user=jim).exists())

    # Another user's setup and runs are not there for him.
    bob_setup, bob_run = bobs_history
    for url in (
        reverse("admin:exchange_sync_exchangesyncsetup_change", args=[bob_setup.pk]),
        reverse("admin:exchange_sync_syncrun_change", args=[bob_run.pk]),
    ):
        response = page.goto(f"{site}{url}")
        assert response.status == 404, url
    page.goto(f"{site}{reverse('admin:exchange_sync_syncrun_changelist')}")
    runs = page.inner_text("#result_list")
    assert "jim" in runs and "bob" not in runs
