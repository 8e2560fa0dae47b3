"""The pull, without a sandbox: which Outlook contacts a run compares with Business
Central, what it sends back, what it records, and which linked contacts it finds
deleted in Outlook (README, "What a sync guarantees"; the docstrings of
`Engine._pull_page`, `_compare_linked`, `_pull_changes`, `_pull_everything`). Fast: an
engine over a database test, a stand-in outbox, and a stand-in for Graph's delta query
(fast_engine.py). The same decisions, end to end over the sandbox: test_pull.py,
test_nothing_lost.py, test_moves.py."""

from __future__ import annotations

from contacts.models import Contact
from exchange_sync.graph.client import DeltaPage
from exchange_sync.mapping import GRAPH_SELECT, contact_values, graph_body, outlook_values, values_hash
from exchange_sync.models import ContactLink, ExchangeSyncSetup, SyncIssue
from exchange_sync.patch import outlook_lists
from exchange_sync.sync.engine import DELTA_PAGE_SIZE, Engine
from exchange_sync.sync.seen import Seen
from tests.factories import make_person, make_user
from tests.sync.fast_engine import DeltaFolder, in_step, outlook_copy, synced


def edited(contact: Contact, **fields) -> Contact:
    """The contact edited in Business Central; returned fresh."""
    Contact.objects.filter(pk=contact.pk).update(**fields)
    return Contact.objects.get(pk=contact.pk)


def outlook_now(link: ContactLink, change_key: str = "ck2", **changes) -> dict:
    """The link's Outlook contact as it is now: what bcsync wrote (the link's snapshot and
    lists), with `changes` (Graph properties), under a new change key."""
    item = {**graph_body(link.snapshot), **link.outlook_lists, "id": link.graph_id, "changeKey": change_key}
    return {**item, **changes}


def unknown_ids(engine: Engine) -> list[str]:
    """Stands in for the engine's reading of Outlook contacts it does not know (inbound.py):
    the ids it was asked to read."""
    asked: list[str] = []
    engine._pull_unknown = lambda graph_ids, seen: asked.extend(graph_ids)
    return asked


# --- _pull_page -------------------------------------------------------------------


def test_the_echo_of_bcsyncs_own_write_is_not_compared_and_a_later_edit_still_goes_out(offline_engine):
    """Few requests: an incremental page's contact with the change key bcsync's own write
    left is not compared. It is not marked handled either, so an edit made in Business
    Central since is still sent by the push."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    edited(contact, job_title="Head buyer")
    seen = Seen()
    engine._pull_page([outlook_copy(contact)], seen, full=False)
    assert engine.outbox.ops == []
    assert seen.handled_contacts == set()
    assert seen.seen_graph_ids == {link.graph_id}
    assert engine.counts["unchanged"] == 0


def test_an_outlook_change_is_compared_and_the_contact_counts_as_handled(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    edited(contact, job_title="Head buyer")
    seen = Seen()
    engine._pull_page([outlook_now(link)], seen, full=False)
    assert engine.outbox.sent(contact)["job_title"] == "Head buyer"
    assert seen.handled_contacts == {contact.pk}


def test_a_full_pull_compares_every_linked_contact_even_one_outlook_did_not_change(offline_engine):
    """A Full Sync repairs every Outlook copy that differs, whatever its change key."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    synced(engine, contact)
    edited(contact, job_title="Head buyer")
    seen = Seen()
    engine._pull_page([outlook_copy(contact)], seen, full=True)
    assert engine.outbox.sent(contact)["job_title"] == "Head buyer"
    assert seen.handled_contacts == {contact.pk}


def test_an_outlook_edit_of_a_contact_out_of_scope_is_left_alone(offline_engine):
    """Business Central is the source: a contact no longer synchronized takes nothing from
    Outlook (its copy is removed later, guarded), and nothing is sent for it now."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    edited(contact, privacy_blocked=True)
    seen = Seen()
    engine._pull_page([outlook_now(link, jobTitle="Head buyer")], seen, full=True)
    assert Contact.objects.get(pk=contact.pk).job_title == "Buyer"
    assert engine.outbox.ops == []
    assert seen.handled_contacts == set()


def test_a_contact_moved_back_into_the_folder_is_synchronized_and_compared_again(offline_engine):
    """A contact moved to another Outlook folder was stopped with its id kept; back in
    the folder, it is synchronized again and compared as any changed contact."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    ContactLink.objects.filter(pk=link.pk).update(state=ContactLink.State.STOPPED, change_key="")
    edited(contact, job_title="Head buyer")
    seen = Seen()
    engine._pull_page([outlook_now(link)], seen, full=False)
    assert ContactLink.objects.get(pk=link.pk).state == ContactLink.State.LINKED
    assert engine.outbox.sent(contact)["job_title"] == "Head buyer"


def test_outlook_contacts_bcsync_does_not_know_are_read_as_new(offline_engine):
    engine = offline_engine
    contact = make_person()
    synced(engine, contact)
    asked = unknown_ids(engine)
    engine._pull_page([{"id": "AAMk-new", "changeKey": "ck1"}, outlook_copy(contact)], Seen(), full=False)
    assert asked == ["AAMk-new"]


def test_a_full_pages_progress_counts_new_outlook_contacts_on_top_of_the_scope(offline_engine):
    """Progress shows what a person would count: on a full run the in-scope contacts
    (already in the total) and the new Outlook contacts."""
    engine = offline_engine
    first, second = make_person(), make_person()
    synced(engine, first), synced(engine, second)
    unknown_ids(engine)
    engine.total = 10  # the scope, counted before the pull (8 more on later pages)
    engine._pull_page([outlook_copy(first), outlook_copy(second), {"id": "AAMk-new"}], Seen(), full=True)
    assert (engine.done, engine.total) == (3, 11)


def test_an_incremental_pages_progress_counts_every_change(offline_engine):
    engine = offline_engine
    first, second = make_person(), make_person()
    synced(engine, first), synced(engine, second)
    unknown_ids(engine)
    engine.total = 5  # what the push will compare, counted before
    engine._pull_page([outlook_copy(first), outlook_copy(second), {"id": "AAMk-new"}], Seen(), full=False)
    assert (engine.done, engine.total) == (3, 8)
    engine._pull_page([outlook_copy(first)], Seen(), full=False, counts_progress=False)  # the catch-up round
    assert (engine.done, engine.total) == (3, 8)


def test_a_stopped_link_an_echo_or_a_contact_out_of_scope_on_a_page_never_hides_the_changes_after_it(
    offline_engine,
):
    engine = offline_engine
    stopped, echoed, excluded, changed = (make_person(job_title="Buyer") for _ in range(4))
    stopped_link = synced(engine, stopped)
    ContactLink.objects.filter(pk=stopped_link.pk).update(state=ContactLink.State.STOPPED)
    synced(engine, echoed)
    excluded_link = synced(engine, excluded)
    edited(excluded, privacy_blocked=True)
    changed_link = synced(engine, changed)
    edited(changed, job_title="Head buyer")
    seen = Seen()
    items = [outlook_copy(stopped), outlook_copy(echoed), outlook_now(excluded_link), outlook_now(changed_link)]

    engine._pull_page(items, seen, full=False)

    assert engine.outbox.sent(changed)["job_title"] == "Head buyer"
    assert seen.handled_contacts == {changed.pk}


def test_a_page_records_the_links_it_found_agreeing(offline_engine):
    """An Outlook copy that agrees costs no request, but its new change key is recorded
    with the page, so the next run's echo of it is not compared again."""
    engine = offline_engine
    contact = make_person()
    link = in_step(engine, contact)
    engine._pull_page([outlook_now(link, "ck7")], Seen(), full=False)
    assert ContactLink.objects.get(pk=link.pk).change_key == "ck7"
    assert engine._refreshed == []


# --- _compare_linked --------------------------------------------------------------


def test_a_difference_is_sent_only_if_outlook_still_holds_what_was_just_read(offline_engine):
    """Keep Outlook edits: the repair carries If-Match with the change key of the item
    just read, so an edit a person makes meanwhile is not overwritten; it sends the
    difference from that item."""
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact, categories=["VIP"])
    contact = edited(contact, job_title="Head buyer")
    link.contact = contact
    item = outlook_now(link, "ck9")
    engine._compare_linked(link, item)
    (op,) = engine.outbox.ops
    assert (op.kind, op.counter, op.if_match) == ("update", "updated_in_outlook", 'W/"ck9"')
    assert op.values == contact_values(contact)
    assert op.base == outlook_values(item)
    assert op.lists == outlook_lists(item)
    assert op.lists["categories"] == ["VIP"]


def test_without_keep_outlook_edits_business_centrals_values_are_sent_back_unconditionally(offline_engine):
    engine = offline_engine
    engine.setup.keep_outlook_edits = False
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    engine._compare_linked(link, outlook_now(link, jobTitle="Head buyer"))
    assert Contact.objects.get(pk=contact.pk).job_title == "Buyer"
    (op,) = engine.outbox.ops
    assert (op.values["job_title"], op.if_match) == ("Buyer", None)


def test_a_business_central_email_change_found_beside_an_outlook_edit_is_sent(offline_engine):
    """An email is in a list property (emailAddresses): a difference there alone is a
    difference, for a contact the pull compares (edited in both places)."""
    engine = offline_engine
    engine.setup.keep_outlook_edits = False
    contact = make_person(email="ann@cronus.example")
    link = synced(engine, contact)
    link.contact = edited(contact, email="ann.lee@cronus.example")
    engine._compare_linked(link, outlook_now(link, personalNotes="Met at the fair"))
    assert engine.outbox.sent(contact)["email"] == "ann.lee@cronus.example"


def test_a_second_email_cleared_in_business_central_is_taken_out_of_outlook_beside_an_outlook_edit(offline_engine):
    """bcsync's own list entry (the email it wrote) is told from the person's by what it
    last wrote: one Business Central cleared is a difference, and goes."""
    engine = offline_engine
    engine.setup.keep_outlook_edits = False
    contact = make_person(email="ann@cronus.example", email_2="ann.private@example.com")
    link = synced(engine, contact)
    link.contact = edited(contact, email_2="")
    engine._compare_linked(link, outlook_now(link, personalNotes="Met at the fair"))
    assert engine.outbox.sent(contact)["email_2"] == ""


def test_a_persons_own_second_email_in_outlook_is_not_taken_for_an_outlook_edit(offline_engine):
    """Keep Outlook edits: a person's own entry in a slot Business Central leaves empty is
    part of what bcsync last saw, not an edit to copy into Business Central."""
    engine = offline_engine
    contact = make_person(email="ann@cronus.example", email_2="")
    own = [{"address": "ann@cronus.example", "name": contact.name}, {"address": "ann@home.example", "name": "Home"}]
    link = synced(engine, contact, emailAddresses=own)
    engine._compare_linked(link, outlook_now(link, personalNotes="Met at the fair"))
    assert Contact.objects.get(pk=contact.pk).email_2 == ""
    assert engine.outbox.ops == []


def test_a_changed_display_name_alone_is_a_difference(offline_engine):
    """Outlook shows displayName: one a person changed there is put back."""
    engine = offline_engine
    engine.setup.keep_outlook_edits = False
    contact = make_person()
    link = in_step(engine, contact)
    engine._compare_linked(link, outlook_now(link, displayName="Dr " + contact.name))
    (op,) = engine.outbox.ops
    assert op.values["name"] == contact.name


def test_an_item_without_a_change_key_is_updated_without_a_condition(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    link.contact = edited(contact, job_title="Head buyer")
    item = outlook_now(link)
    del item["changeKey"]
    engine._compare_linked(link, item)
    (op,) = engine.outbox.ops
    assert op.if_match is None


def test_an_outlook_copy_that_agrees_counts_as_unchanged_and_its_link_is_refreshed(offline_engine):
    """No request for a contact Outlook holds as it is; the link records what Outlook
    now holds (values, hash, change key, lists), and a past failure is forgotten."""
    engine = offline_engine
    engine.setup.keep_outlook_edits = False
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)  # its hash "h" is not the values' hash
    ContactLink.objects.filter(pk=link.pk).update(failure_count=3, state=ContactLink.State.PENDING_CREATE)
    link.refresh_from_db()
    # The same edit made on both sides: Outlook already holds Business Central's values.
    contact = link.contact = edited(contact, job_title="Head buyer")
    item = outlook_now(link, "ck5", jobTitle="Head buyer", categories=[*link.outlook_lists["categories"], "VIP"])
    engine._compare_linked(link, item)
    engine._save_refreshed()
    assert engine.outbox.ops == []
    assert engine.counts["unchanged"] == 1
    link.refresh_from_db()
    current = contact_values(contact)
    assert (link.snapshot, link.fields_hash, link.change_key) == (current, values_hash(current), "ck5")
    assert link.outlook_lists == outlook_lists(item)
    assert (link.state, link.failure_count) == (ContactLink.State.LINKED, 0)


def test_each_stale_part_of_an_agreeing_link_is_refreshed_and_a_current_one_is_left(offline_engine):
    engine = offline_engine
    current = in_step(engine, make_person())
    new_key = in_step(engine, make_person())
    new_lists = in_step(engine, make_person())
    stale_hash = synced(engine, make_person())  # its hash "h" is not the values' hash
    engine._compare_linked(current, outlook_now(current, "ck1"))
    assert engine._refreshed == []
    engine._compare_linked(new_key, outlook_now(new_key, "ck2"))
    own = [*new_lists.outlook_lists["categories"], "VIP"]  # the person's own category added
    engine._compare_linked(new_lists, outlook_now(new_lists, "ck1", categories=own))
    engine._compare_linked(stale_hash, outlook_now(stale_hash, "ck1"))
    assert engine._refreshed == [new_key, new_lists, stale_hash]
    assert engine.counts["unchanged"] == 4


def test_an_item_without_a_change_key_is_recorded_with_none(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    item = outlook_now(link)
    del item["changeKey"]
    engine._compare_linked(link, item)
    engine._save_refreshed()
    assert ContactLink.objects.get(pk=link.pk).change_key == ""


def test_a_copy_whose_write_was_never_confirmed_is_sent_even_when_it_agrees(offline_engine):
    """No hash yet: bcsync's write to this Outlook contact (its stamp with Business
    Central's values) was never confirmed, so it is sent even when the values agree."""
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    link.fields_hash = ""
    engine._compare_linked(link, outlook_now(link))
    (op,) = engine.outbox.ops
    assert (op.kind, op.if_match) == ("update", 'W/"ck2"')
    assert engine.counts["unchanged"] == 0


def test_a_difference_that_cannot_be_sent_is_reported_and_outlook_left_as_it_is(offline_engine):
    engine = offline_engine
    contact = make_person(job_title="Buyer")
    link = synced(engine, contact)
    link.contact = edited(contact, job_title="Head\nbuyer")
    engine._compare_linked(link, outlook_now(link))
    assert engine.outbox.ops == []
    assert engine._refreshed == []
    assert engine.counts["excluded"] == 1
    (issue,) = engine.issues
    assert (issue.kind, issue.contact) == (SyncIssue.Kind.EXCLUDED, contact)


# --- _pull_changes / _pull_everything -----------------------------------------------


def test_an_incremental_pull_reads_the_changes_since_the_saved_link_and_returns_the_next(offline_engine):
    """Nothing lost: contacts deleted in Outlook (delta's removed ids) that were linked
    are marked missing, for the guard and the setup's policy; the delta link returned
    is the last page's."""
    engine = offline_engine
    changed, deleted, deleted_later, stopped = (make_person(job_title="Buyer") for _ in range(4))
    changed_link = synced(engine, changed)
    deleted_link, later_link = synced(engine, deleted), synced(engine, deleted_later)
    stopped_link = synced(engine, stopped)
    ContactLink.objects.filter(pk=stopped_link.pk).update(state=ContactLink.State.STOPPED)
    other_setup = ExchangeSyncSetup.objects.create(user=make_user(mailbox="bo@cronus.example"))
    ContactLink.objects.create(
        setup=other_setup, contact=changed, contact_no=changed.no, graph_id="AAMk-b", state=ContactLink.State.LINKED
    )
    edited(changed, job_title="Head buyer")
    engine.client = DeltaFolder(
        DeltaPage(
            items=[outlook_now(changed_link), outlook_copy(deleted_later)],
            removed_ids=[deleted_link.graph_id, stopped_link.graph_id, "AAMk-b", "AAMk-unknown"],
        ),
        DeltaPage(removed_ids=[later_link.graph_id], delta_link="https://graph/delta?token=2"),
    )
    engine.folder_id = "AAMkFolder="
    seen = Seen()
    assert engine._pull_changes(seen, "https://graph/delta?token=1") == "https://graph/delta?token=2"
    (call,) = engine.client.calls
    assert call["delta_link"] == "https://graph/delta?token=1"
    assert (call["mailbox"], call["folder_id"]) == ("ann@cronus.example", "AAMkFolder=")
    assert seen.missing_link_ids == [deleted_link.pk, later_link.pk]
    assert engine.outbox.sent(changed)["job_title"] == "Head buyer"
    assert seen.handled_contacts == {changed.pk}  # the echo (deleted_later's) was not compared
    assert (engine.done, engine.total) == (2, 2)


def test_the_catch_up_round_does_not_count_progress(offline_engine):
    engine = offline_engine
    contact = make_person()
    link = synced(engine, contact)
    engine.client = DeltaFolder(DeltaPage(items=[outlook_now(link)], delta_link="L2"))
    assert engine._pull_changes(Seen(), "L1", counts_progress=False) == "L2"
    assert (engine.done, engine.total) == (0, 0)


def test_a_full_pull_lists_the_whole_folder_and_finds_every_linked_contact_missing_from_it(offline_engine):
    """Nothing lost: on a full run, a linked contact absent from the folder was deleted in
    Outlook (marked missing); a stopped one or one never created there is not."""
    engine = offline_engine
    present, absent, stopped, pending = (make_person(job_title="Buyer") for _ in range(4))
    present_link, absent_link = synced(engine, present), synced(engine, absent)
    stopped_link = synced(engine, stopped)
    ContactLink.objects.filter(pk=stopped_link.pk).update(state=ContactLink.State.STOPPED)
    ContactLink.objects.create(
        setup=engine.setup, contact=pending, contact_no=pending.no, state=ContactLink.State.LINKED
    )
    other_setup = ExchangeSyncSetup.objects.create(user=make_user(mailbox="bo@cronus.example"))
    ContactLink.objects.create(
        setup=other_setup, contact=present, contact_no=present.no, graph_id="AAMk-b", state=ContactLink.State.LINKED
    )
    edited(present, job_title="Head buyer")
    engine.total = 4
    engine.client = DeltaFolder(
        DeltaPage(items=[outlook_copy(present)]),
        DeltaPage(delta_link="https://graph/delta?token=1"),
    )
    seen = Seen()
    assert engine._pull_everything(seen) == "https://graph/delta?token=1"
    (call,) = engine.client.calls
    assert (call["delta_link"], call["select"], call["page_size"]) == (None, GRAPH_SELECT, DELTA_PAGE_SIZE)
    assert (call["mailbox"], call["folder_id"]) == (engine.mailbox, engine.folder_id)
    assert seen.missing_link_ids == [absent_link.pk]
    # full: compared although its change key is bcsync's own
    assert engine.outbox.sent(present)["job_title"] == "Head buyer"
    assert present_link.graph_id in seen.seen_graph_ids
