"""The push and its removals, without a sandbox: which Business Central contacts a run
sends to Outlook, as what (create, update, nothing), and what it removes from Outlook
(README, "What a sync guarantees"; the docstrings of `Engine._push`, `_push_one`,
`_sendable`, `_delete_out_of_scope`, `_leaving_scope`, `_apply_missing`). Fast: an
engine over a database test, with a stand-in outbox that records what would be sent
(fast_engine.py). The same decisions, end to end over the sandbox: test_first_sync.py,
test_scope.py, test_nothing_lost.py, test_recovery.py."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from contacts.models import Contact
from exchange_sync.models import AdoptedFolderContact, ContactLink, ExchangeSyncSetup, SyncIssue
from exchange_sync.patch import last_seen
from exchange_sync.sync.engine import CHANGES_OVERLAP, Engine
from exchange_sync.sync.seen import Seen
from tests.factories import make_company, make_person, make_user
from tests.sync.fast_engine import Outbox, in_step, synced


def edited(contact: Contact, *, at=None, **fields) -> Contact:
    """The contact edited in Business Central (at `at`, or now); returned fresh."""
    Contact.objects.filter(pk=contact.pk).update(modified_at=at or timezone.now(), **fields)
    return Contact.objects.get(pk=contact.pk)


def kinds(engine: Engine) -> dict[str, str]:
    """What the run would send, by contact number: create, update or delete."""
    return {op.link.contact_no: op.kind for op in engine.outbox.ops}


# --- _push: which contacts an incremental run looks at ------------------------------


def test_an_incremental_push_looks_back_five_minutes_before_the_last_runs_start(offline_engine):
    """Nothing lost: an edit saved just before a run started but committed after it is
    sent by the next run, which compares the contacts changed in the 5 minutes before the
    last run's start (CHANGES_OVERLAP); an edit before that was the last run's to send."""
    engine = offline_engine
    since = timezone.now() - timedelta(hours=1)
    engine.setup.changes_since = since
    at_edge, before_edge = make_person(), make_person()
    in_step(engine, at_edge), in_step(engine, before_edge)
    edited(at_edge, at=since - CHANGES_OVERLAP, job_title="Buyer")
    edited(before_edge, at=since - CHANGES_OVERLAP - timedelta(microseconds=1), job_title="Clerk")
    engine._push(False, Seen())
    assert kinds(engine) == {at_edge.no: "update"}
    assert engine.total == 1  # progress counts the contacts the run looks at


def test_an_incremental_push_without_a_last_run_looks_at_every_contact_in_scope(offline_engine):
    """Nothing lost: a setup with a delta link but no `changes_since` (its first run's
    worker died after saving the link, before the run's start was recorded) has no
    known moment to look back to, so every contact in scope is compared."""
    engine = offline_engine
    engine.setup.changes_since = None
    old = make_person()
    in_step(engine, old)
    old = edited(old, at=timezone.now() - timedelta(days=30), job_title="Buyer")
    new = make_person()
    engine._push(False, Seen())
    assert kinds(engine) == {old.no: "update", new.no: "create"}


def test_an_incremental_push_also_repairs_every_contact_whose_link_is_not_healthy(offline_engine):
    """Nothing lost: a contact whose last write failed, was never confirmed, or lost its
    Outlook copy is sent again however long ago it changed; a healthy one unchanged since
    the last run is not even looked at."""
    engine = offline_engine
    engine.setup.changes_since = timezone.now()
    long_ago = timezone.now() - timedelta(days=30)
    no_copy, failed, unconfirmed, pending, healthy, unlinked = (make_person() for _ in range(6))
    link = in_step(engine, no_copy)
    ContactLink.objects.filter(pk=link.pk).update(graph_id=None)
    link = in_step(engine, failed)
    ContactLink.objects.filter(pk=link.pk).update(failure_count=1)
    link = in_step(engine, unconfirmed)
    ContactLink.objects.filter(pk=link.pk).update(fields_hash="")
    link = in_step(engine, pending)  # its create still pending: looked at, Outlook already holds it
    ContactLink.objects.filter(pk=link.pk).update(state=ContactLink.State.PENDING_CREATE)
    in_step(engine, healthy)
    Contact.objects.update(modified_at=long_ago)
    engine._push(False, Seen())
    assert kinds(engine) == {
        no_copy.no: "create",
        failed.no: "update",
        unconfirmed.no: "update",
        unlinked.no: "create",
    }
    assert engine.counts["unchanged"] == 1  # `pending`; `healthy` was not looked at
    assert engine.total == 5


def test_a_stopped_contact_is_never_pushed_on_any_run(offline_engine):
    """Nothing lost (policy "stop syncing"): a contact deleted in Outlook and no longer
    synchronized is not created again, even when it changes in Business Central."""
    engine = offline_engine
    contact = make_person()
    ContactLink.objects.create(
        setup=engine.setup, contact=contact, contact_no=contact.no, state=ContactLink.State.STOPPED
    )
    edited(contact, job_title="Buyer")
    engine._push(False, Seen())
    engine._push(True, Seen())
    assert engine.outbox.ops == []
    assert ContactLink.objects.get(contact=contact).state == ContactLink.State.STOPPED


def test_a_contact_the_pull_already_handled_is_not_pushed_again(offline_engine):
    """Few requests: a contact the pull compared (and sent if needed) is not sent twice."""
    engine = offline_engine
    engine.setup.changes_since = timezone.now() - timedelta(hours=1)
    handled, other = make_person(), make_person()
    synced(engine, handled), synced(engine, other)
    seen = Seen(handled_contacts={handled.pk})
    engine._push(False, seen)
    assert kinds(engine) == {other.no: "update"}
    assert engine.counts["unchanged"] == 0
    assert (engine.total, engine.done) == (2, 1)


def test_a_full_push_looks_at_every_contact_in_scope_and_no_other(offline_engine):
    """A Full Sync compares every synchronized contact, however long ago it changed;
    its progress total was set from the scope before the pull, so it is not counted twice."""
    engine = offline_engine
    engine.setup.changes_since = timezone.now()
    engine.total = 3
    unchanged, changed, new = make_person(), make_person(), make_person()
    make_company(email="sales@x.example")
    make_person(email="")
    in_step(engine, unchanged), synced(engine, changed)
    Contact.objects.update(modified_at=timezone.now() - timedelta(days=30))
    engine._push(True, Seen())
    assert kinds(engine) == {changed.no: "update", new.no: "create"}
    assert engine.counts["unchanged"] == 1
    assert (engine.total, engine.done) == (3, 3)


def test_a_new_contact_is_recorded_as_pending_before_its_create_is_sent(offline_engine):
    """No duplicates: a create is recorded as pending before it is sent, so when
    Outlook's answer is lost the next run finds the contact by its stamp."""
    engine = offline_engine
    stored_when_sent = []

    class Witness(Outbox):
        def add(self, op) -> None:
            stored_when_sent.append(ContactLink.objects.filter(pk=op.link.pk).values("state", "contact_no").first())
            super().add(op)

    engine.outbox = Witness()
    contact = make_person()
    engine._push(False, Seen())
    (op,) = engine.outbox.ops
    assert (op.kind, op.counter, op.values["email"]) == ("create", "created_in_outlook", contact.email)
    assert stored_when_sent == [{"state": ContactLink.State.PENDING_CREATE, "contact_no": contact.no}]
    assert op.link.setup == engine.setup


# --- _push_one: create, update or nothing ------------------------------------------


def test_a_contact_without_an_outlook_copy_is_created(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = ContactLink.objects.create(setup=engine.setup, contact=contact, contact_no=contact.no)
    engine._push_one(contact, link)
    (op,) = engine.outbox.ops
    assert (op.kind, op.link, op.counter, op.if_match) == ("create", link, "created_in_outlook", None)
    assert op.values["job_title"] == "Buyer"


def test_a_changed_contact_is_updated_only_if_outlook_still_holds_what_bcsync_wrote(offline_engine):
    """Keep Outlook edits: the update carries If-Match with the change key bcsync last
    saw, so a person's edit made since is merged by the next pull, never overwritten;
    it sends the difference from what Outlook held after bcsync's last write."""
    engine = offline_engine
    contact = make_person(job_title="Buyer", phone="")
    link = synced(engine, contact, businessPhones=["+44 1 111"])  # the person's own phone
    contact = edited(contact, job_title="Head buyer")
    engine._push_one(contact, link)
    (op,) = engine.outbox.ops
    assert (op.kind, op.counter, op.if_match) == ("update", "updated_in_outlook", 'W/"ck1"')
    assert op.values["job_title"] == "Head buyer"
    assert (op.base["job_title"], op.base["phone"]) == ("Buyer", "+44 1 111")
    assert op.base == last_seen(link.snapshot, link.outlook_lists)
    assert op.lists == link.outlook_lists


def test_an_update_of_a_link_that_predates_kept_lists_says_the_lists_are_unknown(offline_engine):
    """A link recorded before Outlook's lists were kept: the update reads them first
    (lists None), so the person's own entries are not lost."""
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    link.outlook_lists = {}
    engine._push_one(contact, link)
    (op,) = engine.outbox.ops
    assert op.lists is None


def test_without_keep_outlook_edits_or_a_change_key_an_update_is_sent_unconditionally(offline_engine):
    """Business Central is the source: without "keep Outlook edits" its values win
    without a condition; a link without a change key has nothing to match on."""
    engine = offline_engine
    first, second = make_person(), make_person()
    engine.setup.keep_outlook_edits = False
    engine._push_one(first, synced(engine, first))
    engine.setup.keep_outlook_edits = True
    link = synced(engine, second)
    link.change_key = ""
    engine._push_one(second, link)
    assert [(op.kind, op.if_match) for op in engine.outbox.ops] == [("update", None), ("update", None)]


def test_a_contact_whose_last_write_failed_is_sent_again_even_unchanged(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = in_step(engine, contact)
    link.failure_count = 2
    engine._push_one(contact, link)
    (op,) = engine.outbox.ops
    assert (op.kind, op.if_match) == ("update", 'W/"ck1"')


def test_a_contact_outlook_already_holds_as_it_is_costs_no_request_and_counts_as_unchanged(offline_engine):
    engine = offline_engine
    first, second = make_person(), make_person()
    engine._push_one(first, in_step(engine, first))
    engine._push_one(second, in_step(engine, second))
    assert engine.outbox.ops == []
    assert engine.counts["unchanged"] == 2


def test_a_contact_with_an_invalid_email_is_excluded_and_named_not_sent(offline_engine):
    """Never silent: values that would reach Outlook mangled (an invalid email) are not
    sent; the contact is counted as excluded and named on the run with the reason."""
    engine = offline_engine
    new, linked = make_person(email="bo@x"), make_person()
    link = synced(engine, linked)
    linked = edited(linked, email="cy@@x.example")
    engine._push_one(new, ContactLink.objects.create(setup=engine.setup, contact=new, contact_no=new.no))
    engine._push_one(linked, link)
    assert engine.outbox.ops == []
    assert engine.counts["excluded"] == 2
    first, second = engine.issues
    assert (first.kind, first.direction, first.contact, first.contact_no) == (
        SyncIssue.Kind.EXCLUDED,
        SyncIssue.Direction.TO_OUTLOOK,
        new,
        new.no,
    )
    assert "E-mail 'bo@x' is not a valid email address" in first.reason
    assert second.contact == linked


def test_each_value_that_cannot_be_sent_is_named_in_the_one_issue(offline_engine):
    """A line break inside a field would be read back differently forever: reported."""
    engine = offline_engine
    contact = make_person(job_title="Head\nbuyer", email="bo@x")
    assert not engine._sendable(contact, {"job_title": "Head\nbuyer", "email": "bo@x"})
    (issue,) = engine.issues
    assert "Job title contains control characters; E-mail 'bo@x' is not a valid email address" in issue.reason
    assert engine.counts["excluded"] == 1
    assert engine._sendable(contact, {"job_title": "Head buyer", "email": "bo@x.example"})
    assert engine.counts["excluded"] == 1


def test_a_contact_outlook_already_holds_is_not_reported_again_for_its_values(offline_engine):
    """Values Outlook already holds (sent before the check existed) cost nothing more:
    the check is for what is about to be sent."""
    engine = offline_engine
    contact = make_person(job_title="Head\nbuyer")
    engine._push_one(contact, in_step(engine, contact))
    assert (engine.issues, engine.outbox.ops, engine.counts["unchanged"]) == ([], [], 1)


# --- _delete_out_of_scope / _leaving_scope ------------------------------------------


def test_a_contact_deleted_in_business_central_is_removed_from_outlook_never_copied_back(offline_engine):
    engine = offline_engine
    contact = make_person()
    number = contact.no
    link = synced(engine, contact)
    contact.delete()
    engine._delete_out_of_scope()
    (op,) = engine.outbox.ops
    assert (op.kind, op.link.pk, op.counter) == ("delete", link.pk, "deleted_in_outlook")
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.contact, issue.contact_no) == (
        SyncIssue.Kind.EXCLUDED,
        SyncIssue.Direction.TO_OUTLOOK,
        None,
        number,
    )
    assert issue.reason == "Removed from Outlook: deleted in Business Central."


def test_a_contact_that_left_the_scope_is_removed_from_outlook_with_the_reason(offline_engine):
    """Never silent: each removal names why the contact left (its exclusion reason, or
    the filter)."""
    engine = offline_engine
    engine.setup.contact_filter = {"city": "London"}
    moved, blocked, staying = (make_person(city="London") for _ in range(3))
    for contact in (moved, blocked, staying):
        synced(engine, contact)
    edited(moved, city="Paris")
    edited(blocked, privacy_blocked=True)
    engine._delete_out_of_scope()
    assert kinds(engine) == {moved.no: "delete", blocked.no: "delete"}
    reasons = {issue.contact_no: issue.reason for issue in engine.issues}
    assert reasons == {
        moved.no: "Removed from Outlook: no longer matches the filter.",
        blocked.no: "Removed from Outlook: privacy blocked.",
    }
    assert {issue.contact.pk for issue in engine.issues} == {moved.pk, blocked.pk}


def test_only_linked_outlook_copies_of_this_setup_are_removed(offline_engine):
    """A stopped contact is no longer synchronized: it stays in Outlook. Another
    setup's contacts are that setup's."""
    engine = offline_engine
    stopped, others = make_person(), make_person()
    synced(engine, stopped)
    ContactLink.objects.filter(contact=stopped).update(state=ContactLink.State.STOPPED)
    other_setup = ExchangeSyncSetup.objects.create(user=make_user(mailbox="bo@cronus.example"))
    ContactLink.objects.create(
        setup=other_setup, contact=others, contact_no=others.no, graph_id="AAMk-b", state=ContactLink.State.LINKED
    )
    Contact.objects.update(privacy_blocked=True)
    engine._delete_out_of_scope()
    assert engine.outbox.ops == []
    assert ContactLink.objects.count() == 2


def test_a_link_that_never_reached_outlook_is_dropped_without_a_graph_request(offline_engine):
    engine = offline_engine
    gone, leaving, staying = make_person(), make_person(), make_person()
    for contact in (gone, leaving, staying):
        ContactLink.objects.create(setup=engine.setup, contact=contact, contact_no=contact.no)
    gone.delete()
    edited(leaving, email="")
    engine._delete_out_of_scope()
    assert engine.outbox.ops == []
    assert list(ContactLink.objects.values_list("contact_no", flat=True)) == [staying.no]


def test_a_persons_own_contact_of_an_adopted_folder_is_let_go_never_deleted(offline_engine):
    """Nothing lost: a contact that was in the folder before the person adopted it stays
    in Outlook when its Business Central contact leaves the scope."""
    engine = offline_engine
    own, ours = make_person(), make_person()
    own_link = synced(engine, own)
    synced(engine, ours)
    AdoptedFolderContact.objects.create(setup=engine.setup, graph_id=own_link.graph_id)
    Contact.objects.update(email="")
    assert list(engine._leaving_scope().values_list("contact_no", flat=True)) == [ours.no]
    engine._delete_out_of_scope()
    assert kinds(engine) == {ours.no: "delete"}
    assert ContactLink.objects.get(pk=own_link.pk).state == ContactLink.State.STOPPED
    assert "left in Outlook" in next(issue.reason for issue in engine.issues if issue.contact_no == own.no)


# --- _apply_missing -----------------------------------------------------------------


def test_a_contact_deleted_in_outlook_is_recreated_by_default(offline_engine):
    """Nothing lost: a contact deleted in Outlook is recreated (setup: recreate); known
    to be gone, its link drops its Outlook id and hash, so the push creates it anew
    even when nothing changed in Business Central."""
    engine = offline_engine
    engine.setup.changes_since = timezone.now()
    deleted, kept = make_person(), make_person()
    link, kept_link = in_step(engine, deleted), in_step(engine, kept)
    Contact.objects.update(modified_at=timezone.now() - timedelta(days=1))
    engine._apply_missing([link.pk])
    link.refresh_from_db()
    assert (link.graph_id, link.change_key, link.fields_hash, link.state) == (None, "", "", ContactLink.State.LINKED)
    kept_link.refresh_from_db()
    assert kept_link.graph_id == "AAMk-" + kept.no
    assert engine.issues == []
    engine._push(False, Seen())
    assert kinds(engine) == {deleted.no: "create"}


def test_a_contact_deleted_in_outlook_is_no_longer_synchronized_when_the_setup_says_stop(offline_engine):
    engine = offline_engine
    engine.setup.on_outlook_delete = ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING
    deleted, kept = make_person(), make_person()
    link, kept_link = in_step(engine, deleted), in_step(engine, kept)
    engine._apply_missing([link.pk])
    link.refresh_from_db()
    assert (link.graph_id, link.change_key, link.state) == (None, "", ContactLink.State.STOPPED)
    assert ContactLink.objects.get(pk=kept_link.pk).state == ContactLink.State.LINKED
    (issue,) = engine.issues
    assert (issue.kind, issue.direction, issue.contact, issue.contact_no) == (
        SyncIssue.Kind.SKIPPED,
        SyncIssue.Direction.TO_OUTLOOK,
        deleted,
        deleted.no,
    )
    assert "no longer synchronized" in issue.reason
    edited(deleted, job_title="Buyer")
    engine._push(True, Seen())
    assert engine.outbox.ops == []  # and never created again


def test_nothing_missing_changes_nothing(offline_engine):
    engine = offline_engine
    engine.setup.on_outlook_delete = ExchangeSyncSetup.OnOutlookDelete.STOP_SYNCING
    link = in_step(engine, make_person())
    engine._apply_missing([])
    assert ContactLink.objects.get(pk=link.pk).state == ContactLink.State.LINKED
    assert engine.issues == []


# --- _remove_duplicates -------------------------------------------------------------


def test_each_second_outlook_copy_is_removed_and_named(offline_engine):
    """No duplicates: a second copy found in the folder is removed, so it holds each
    contact once; each removal is named on the run (with the contact's number even when
    the contact was deleted in Business Central)."""
    engine = offline_engine
    contact = make_person()
    first = ContactLink(setup=engine.setup, contact=contact, contact_no=contact.no, graph_id="AAMk-2")
    second = ContactLink(setup=engine.setup, contact=None, contact_no="CT999999", graph_id="AAMk-3")
    duplicates = [first, second]
    engine._remove_duplicates(duplicates)
    assert [(op.kind, op.link, op.counter) for op in engine.outbox.ops] == [
        ("delete", first, "deleted_in_outlook"),
        ("delete", second, "deleted_in_outlook"),
    ]
    assert [(issue.kind, issue.direction, issue.contact, issue.contact_no) for issue in engine.issues] == [
        (SyncIssue.Kind.SKIPPED, SyncIssue.Direction.TO_OUTLOOK, contact, contact.no),
        (SyncIssue.Kind.SKIPPED, SyncIssue.Direction.TO_OUTLOOK, None, "CT999999"),
    ]
    assert duplicates == []  # removed once: the catch-up round does not remove them again


# --- _in_scope_ids ------------------------------------------------------------------


def test_in_scope_ids_are_those_of_contacts_the_setup_synchronizes(offline_engine):
    engine = offline_engine
    engine.setup.contact_filter = {"city": "London"}
    inside, outside, company = make_person(city="London"), make_person(city="Paris"), make_company(city="London")
    make_person(city="London")  # in scope, but not asked about
    assert engine._in_scope_ids([inside.pk, outside.pk, company.pk, None]) == {inside.pk}
    assert engine._in_scope_ids([None]) == set()
    assert engine._in_scope_ids(iter([inside.pk])) == {inside.pk}


def test_an_incremental_push_adds_what_it_compares_to_the_progress_total_of_the_pull(offline_engine):
    engine = offline_engine
    make_person(), make_person()
    engine.total = 7  # the pull's changes, counted before the push
    engine._push(False, Seen())
    assert engine.total == 9
