"""Admin correctness (issue 18.2): the preview counts contacts only for who may see them,
GET pages never write, model permissions are honoured by pages and buttons, and the two
roles give a salesperson their own things and an administrator everyone's."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncIssue, SyncRun
from jobqueue.models import JobQueueEntry, JobQueueLogEntry
from jobqueue.roles import ADMINISTRATOR_ROLE, USER_ROLE
from tests.admin.conftest import grant_administrator, grant_view
from tests.admin.test_setup_page import form_data, page_of
from tests.factories import make_person, make_user

pytestmark = pytest.mark.django_db
SETUPS = reverse("admin:exchange_sync_exchangesyncsetup_changelist")
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def preview_of(setup: ExchangeSyncSetup) -> str:
    return reverse("admin:exchange_sync_exchangesyncsetup_preview", args=[setup.pk])


def grant(user, *codenames: str):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)


def finished_run(setup: ExchangeSyncSetup) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        setup=setup,
        user_name=setup.user.username,
        mailbox=setup.mailbox,
        kind=SyncRun.Kind.INCREMENTAL,
        trigger=SyncRun.Trigger.BUTTON,
        status=SyncRun.Status.PARTIAL,
        started_at=now,
        finished_at=now,
    )


# --- the filter preview -------------------------------------------------------------


def test_the_preview_refuses_staff_who_may_not_view_contacts(as_user, ann_setup):
    make_person(city="London")
    counter = grant(make_user("counter"), "view_exchangesyncsetup", "change_exchangesyncsetup")
    ann_setup.user = counter
    ann_setup.save()
    response = as_user(counter).get(preview_of(ann_setup), {"filter_city": "London"})
    assert response.status_code == 403
    assert b"will sync" not in response.content
    page = as_user(counter).get(page_of(ann_setup)).content.decode()
    assert "Counting the contacts needs the permission to view contacts." in page
    assert "contacts will sync" not in page


def test_the_preview_answers_only_for_the_users_own_setup(as_user, ann, ann_setup, bob_setup):
    make_person(city="London")
    client = as_user(ann)
    assert client.get(preview_of(ann_setup), {"filter_city": "London"}).json()["in_scope"] == 1
    assert client.get(preview_of(bob_setup), {"filter_city": "London"}).status_code == 404


def test_an_administrator_previews_any_setup(as_user, bob_setup):
    make_person(city="London")
    administrator = grant_administrator(make_user("sysadmin"))
    answer = as_user(administrator).get(preview_of(bob_setup), {"filter_city": "London"}).json()
    assert answer["in_scope"] == 1


@pytest.mark.parametrize("character", ["\x00", "\x07", "\n"])
def test_a_control_character_in_the_preview_gets_a_clear_error(as_user, ann, ann_setup, character):
    make_person(city="London")
    response = as_user(ann).get(preview_of(ann_setup), {"filter_city": f"Lon{character}don"})
    assert response.status_code == 200
    assert response.json() == {
        "error": "The condition on City contains a control character (such as NUL or a line break). "
        "Remove it and type the condition again."
    }


# --- GETs never write ---------------------------------------------------------------


@pytest.fixture
def history(ann, ann_setup, bob_setup):
    """Something on every page: runs with issues, job queue entries and log entries."""
    contact = make_person(city="London")
    pages = {}
    for setup in (ann_setup, bob_setup):
        run = finished_run(setup)
        issue = SyncIssue.objects.create(
            run=run, kind="failed", direction="to_outlook", contact=contact, contact_no=contact.no, reason="x"
        )
        entry = JobQueueEntry.objects.create(object_id_to_run=6700, user=setup.user)
        log = JobQueueLogEntry.objects.create(
            entry_id=entry.pk,
            user=setup.user,
            started_at=timezone.now(),
            object_type_to_run="Codeunit",
            object_id_to_run=6700,
        )
        pages[setup.user.username] = (setup, run, issue, entry, log, contact)
    return pages


def get_pages(setup, run, issue, entry, log, contact) -> list[str]:
    """Every admin page a person opens with a GET: lists, cards, run pages, previews."""
    return [
        reverse("admin:index"),
        reverse("admin:app_list", args=["exchange_sync"]),
        reverse("admin:contacts_contact_changelist"),
        reverse("admin:contacts_contact_change", args=[contact.pk]),
        reverse("admin:contacts_contact_add"),
        SETUPS,
        reverse("admin:exchange_sync_exchangesyncsetup_add"),
        page_of(setup),
        preview_of(setup) + "?filter_city=London",
        reverse("admin:exchange_sync_syncrun_changelist"),
        reverse("admin:exchange_sync_syncrun_change", args=[run.pk]),
        reverse("admin:exchange_sync_syncrun_progress", args=[run.pk]),
        reverse("admin:exchange_sync_syncissue_changelist"),
        reverse("admin:exchange_sync_syncissue_change", args=[issue.pk]),
        reverse("admin:jobqueue_jobqueueentry_changelist"),
        reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk]),
        reverse("admin:jobqueue_jobqueueentry_add"),
        reverse("admin:jobqueue_jobqueuelogentry_changelist"),
        reverse("admin:jobqueue_jobqueuelogentry_change", args=[log.pk]),
        # The buttons' URLs answer a GET without acting.
        reverse("admin:exchange_sync_exchangesyncsetup_sync"),
        reverse("admin:exchange_sync_exchangesyncsetup_full_sync"),
        reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[setup.pk]),
        reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk]),
        reverse("admin:jobqueue_jobqueueentry_contact_sync"),
        reverse("admin:jobqueue_jobqueuelogentry_delete_older"),
    ]


def assert_no_writes(client, urls: list[str]) -> None:
    client.get(reverse("admin:index"))  # the session is warm
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code in (200, 302, 405), (url, response.status_code)
        writes = [q["sql"] for q in queries if WRITES.match(q["sql"])]
        assert writes == [], (url, writes)


def test_no_page_a_salesperson_opens_writes(as_user, ann, history):
    assert_no_writes(as_user(ann), get_pages(*history["ann"]))


def test_no_page_an_administrator_opens_writes(as_user, history):
    administrator = grant_administrator(make_user("sysadmin", mailbox="sysadmin@cronus.example"))
    client = as_user(administrator)
    urls = get_pages(*history["bob"]) + [
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[history["bob"][0].user_id]),
    ]
    assert_no_writes(client, urls)
    assert not ExchangeSyncSetup.objects.filter(user=administrator).exists()


def test_opening_the_setup_list_without_a_setup_creates_nothing(as_user, ann, superuser):
    for user in (ann, superuser):
        client = as_user(user)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(SETUPS).content.decode()
        assert [q["sql"] for q in queries if WRITES.match(q["sql"])] == []
        assert "Create my setup" in page
    assert ExchangeSyncSetup.objects.count() == 0


def test_create_my_setup_needs_the_add_permission(as_user):
    viewer = grant_view(make_user("viewer"))
    client = as_user(viewer)
    assert "Create my setup" not in client.get(SETUPS).content.decode()
    assert client.post(reverse("admin:exchange_sync_exchangesyncsetup_add")).status_code == 403
    assert ExchangeSyncSetup.objects.count() == 0


# --- model permissions --------------------------------------------------------------


def test_a_user_who_may_only_view_their_setup_cannot_change_it(as_user, ann_setup):
    viewer = grant(make_user("viewer"), "view_exchangesyncsetup", "run_contact_sync", "view_contact")
    ann_setup.user = viewer
    ann_setup.save()
    client = as_user(viewer)
    page = client.get(page_of(ann_setup)).content.decode()
    assert 'name="_save"' not in page
    assert "Validate Exchange Connection" not in page
    assert client.post(page_of(ann_setup), form_data(folder_name="Changed")).status_code == 403
    validate = reverse("admin:exchange_sync_exchangesyncsetup_validate", args=[ann_setup.pk])
    assert client.post(validate).status_code == 403
    ann_setup.refresh_from_db()
    assert ann_setup.folder_name == "Business Central"


def test_staff_without_the_setup_view_permission_cannot_open_or_sync_it(as_user, ann_setup):
    stranger = grant(make_user("stranger", mailbox="stranger@cronus.example"), "run_contact_sync")
    ann_setup.user = stranger
    ann_setup.save()
    client = as_user(stranger)
    assert client.get(page_of(ann_setup)).status_code == 403
    assert client.get(SETUPS).status_code == 403
    sync = reverse("admin:exchange_sync_exchangesyncsetup_sync")
    assert client.post(sync, {"setup": ann_setup.pk}).status_code == 403
    assert client.post(sync).status_code == 403
    assert SyncRun.objects.count() == 0


def test_runs_and_issues_need_their_view_permission(as_user, ann_setup):
    run = finished_run(ann_setup)
    issue = SyncIssue.objects.create(run=run, kind="failed", direction="to_outlook", reason="x")
    owner = ann_setup.user
    owner.groups.clear()
    client = as_user(grant(owner, "view_exchangesyncsetup"))
    assert client.get(reverse("admin:exchange_sync_syncrun_change", args=[run.pk])).status_code == 403
    assert client.get(reverse("admin:exchange_sync_syncrun_progress", args=[run.pk])).status_code == 403
    assert client.get(reverse("admin:exchange_sync_syncrun_changelist")).status_code == 403
    assert client.get(reverse("admin:exchange_sync_syncissue_change", args=[issue.pk])).status_code == 403


def test_confirming_needs_the_run_view_permission(as_user, ann_setup):
    run = finished_run(ann_setup)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.NEEDS_CONFIRMATION)
    owner = ann_setup.user
    owner.groups.clear()
    client = as_user(grant(owner, "view_exchangesyncsetup", "run_contact_sync"))
    assert client.post(reverse("admin:exchange_sync_syncrun_confirm", args=[run.pk])).status_code == 403
    assert SyncRun.objects.count() == 1


def test_job_queue_entries_and_log_entries_need_their_view_permission(as_user, history):
    ann = history["ann"][0].user
    ann.groups.clear()
    client = as_user(grant(ann, "view_exchangesyncsetup"))
    _setup, _run, _issue, entry, log, _contact = history["ann"]
    assert client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk])).status_code == 403
    assert client.get(reverse("admin:jobqueue_jobqueuelogentry_change", args=[log.pk])).status_code == 403


# --- roles ----------------------------------------------------------------------------


def perms_of(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_migration_creates_the_two_roles_with_exactly_their_permissions():
    assert perms_of(USER_ROLE) == {
        "contacts.view_contact",
        "contacts.add_contact",
        "contacts.change_contact",
        "exchange_sync.view_exchangesyncsetup",
        "exchange_sync.add_exchangesyncsetup",
        "exchange_sync.change_exchangesyncsetup",
        "exchange_sync.run_contact_sync",
        "exchange_sync.view_syncrun",
        "exchange_sync.view_syncissue",
        "jobqueue.view_jobqueueentry",
        "jobqueue.add_jobqueueentry",
        "jobqueue.change_jobqueueentry",
        "jobqueue.delete_jobqueueentry",
        "jobqueue.view_jobqueuelogentry",
    }
    administrator = perms_of(ADMINISTRATOR_ROLE)
    assert administrator == perms_of(USER_ROLE) | {
        "exchange_sync.view_all_sync_setups",  # everyone's setups, runs and issues
        "jobqueue.manage_all_entries",  # everyone's Job Queue Entries and log entries
        "exchange_sync.delete_exchangesyncsetup",
        "contacts.delete_contact",
        "jobqueue.delete_jobqueuelogentry",
        "auth.view_user",  # looking at user cards
    }
    # Neither may edit users: that would let them make themselves superuser.
    assert not {"auth.change_user", "auth.add_user", "auth.change_group"} & (administrator | perms_of(USER_ROLE))


def test_a_salesperson_sees_only_their_own_setup_runs_and_entries(as_user, ann, history):
    client = as_user(ann)
    bob_setup, bob_run, bob_issue, bob_entry, bob_log, _contact = history["bob"]
    assert client.get(page_of(bob_setup)).status_code == 404
    assert client.get(reverse("admin:exchange_sync_syncrun_change", args=[bob_run.pk])).status_code == 404
    assert client.get(reverse("admin:exchange_sync_syncissue_change", args=[bob_issue.pk])).status_code == 404
    assert client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[bob_entry.pk])).status_code in (302, 403)
    assert client.get(reverse("admin:jobqueue_jobqueuelogentry_change", args=[bob_log.pk])).status_code in (302, 403)
    runs = client.get(reverse("admin:exchange_sync_syncrun_changelist")).content.decode()
    assert "bob" not in runs and "ann" in runs


def test_an_administrator_sees_and_runs_everyones_setups_without_being_superuser(as_user, history):
    administrator = grant_administrator(make_user("sysadmin"))
    assert not administrator.is_superuser
    client = as_user(administrator)
    bob_setup, bob_run, _issue, bob_entry, _log, _contact = history["bob"]
    setups = client.get(SETUPS).content.decode()
    assert "ann@cronus.example" in setups and "bob@cronus.example" in setups
    assert client.get(reverse("admin:exchange_sync_syncrun_change", args=[bob_run.pk])).status_code == 200
    assert client.get(reverse("admin:jobqueue_jobqueueentry_change", args=[bob_entry.pk])).status_code == 200
    response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_sync"), {"setup": bob_setup.pk})
    assert response.status_code == 302
    assert SyncRun.objects.filter(setup=bob_setup).count() == 2
    # Users are a superuser's: an administrator may look, not change.
    user_card = reverse("admin:auth_user_change", args=[bob_setup.user_id])
    assert client.get(user_card).status_code == 200
    assert client.post(user_card, {"username": "bob", "is_superuser": "on"}).status_code == 403


def test_the_salesperson_role_alone_is_enough_for_the_whole_flow(as_user, ann, ann_setup):
    make_person(city="London")
    client = as_user(ann)
    assert client.get(page_of(ann_setup)).status_code == 200
    assert client.get(preview_of(ann_setup), {"filter_city": "London"}).json()["in_scope"] == 1
    assert client.post(page_of(ann_setup), form_data(filter_city="London")).status_code == 302
    response = client.post(reverse("admin:exchange_sync_exchangesyncsetup_sync"))
    run = SyncRun.objects.get()
    assert response.url == reverse("admin:exchange_sync_syncrun_change", args=[run.pk])
    assert client.get(response.url).status_code == 200
    response = client.post(reverse("admin:jobqueue_jobqueueentry_contact_sync"))
    entry = JobQueueEntry.objects.get()
    assert (entry.user, response.url) == (ann, reverse("admin:jobqueue_jobqueueentry_change", args=[entry.pk]))
