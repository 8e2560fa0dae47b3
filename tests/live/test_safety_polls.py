"""A subscribed setup still polls its folder: once when it subscribes (for Outlook changes
made before the subscription existed) and then every LIVE_SAFETY_POLL_SECONDS (15 min),
so an Outlook edit whose only notification Graph never delivered arrives within a
quarter of an hour instead of at the next scheduled sync. The polls of setups subscribed
together are spread; a subscription whose renewal fails polls every minute; 0 switches
the safety polls off."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from contacts.models import Contact
from exchange_sync.connection import graph_client_from_settings
from exchange_sync.live.polling import live_poll, polls_due
from exchange_sync.models import LiveSubscription, SyncRun
from tests.live.conftest import make_setup, requested
from tests.live.test_polling import MAILBOX, run_now, synced, tasks  # noqa: F401 (fixtures)

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _subscribed(name: str, **fields) -> LiveSubscription:
    """A setup just subscribed: its poll at once is due (as the upkeep leaves it)."""
    return LiveSubscription.objects.create(
        setup=make_setup(name),
        status=LiveSubscription.Status.ACTIVE,
        graph_id=f"subscription-{name}",
        expires_at=START + timedelta(days=6),
        poll_at=START,
        **fields,
    )


def _polls(tasks, seconds: int, every: int = 2) -> Counter:  # noqa: F811
    """Ticks every `every` s from START for `seconds`: how many polls each row had."""
    polled = Counter()
    for elapsed in range(0, seconds, every):
        tasks.clear()
        polls_due(START + timedelta(seconds=elapsed))
        polled.update(args[0] for func, args in tasks if func == "exchange_sync.tasks.live_poll_task")
    return polled


def test_a_subscribed_setup_polls_at_once_and_then_every_quarter_of_an_hour(db, tasks, settings):  # noqa: F811
    settings.LIVE_POLL_SECONDS, settings.LIVE_SAFETY_POLL_SECONDS = 60, 900
    subscribed = _subscribed("ann")
    polling = LiveSubscription.objects.create(setup=make_setup("bob"), poll_at=START)

    polled = _polls(tasks, 2 * 3600)

    assert polled[subscribed.pk] == 1 + 8  # at once, then 8 in two hours
    assert polled[polling.pk] == 120  # every minute


def test_safety_polls_switched_off_leave_only_the_poll_at_subscription(db, tasks, settings):  # noqa: F811
    settings.LIVE_SAFETY_POLL_SECONDS = 0
    row = _subscribed("ann")

    assert _polls(tasks, 3600)[row.pk] == 1
    row.refresh_from_db()
    assert row.poll_at is None


def test_setups_subscribed_together_do_their_safety_polls_in_different_ticks(db, tasks, settings):  # noqa: F811
    settings.LIVE_SAFETY_POLL_SECONDS = 900
    rows = [_subscribed(f"user{n}") for n in range(20)]
    polls_due(START)  # each one's poll at subscription

    slots = sorted(LiveSubscription.objects.values_list("poll_at", flat=True))
    assert len(rows) == len(set(slot.replace(second=slot.second // 2 * 2, microsecond=0) for slot in slots))
    assert slots[0] > START and slots[-1] <= START + timedelta(seconds=900)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(slots, slots[1:], strict=False)]
    assert max(gaps) < 900 / 20 * 3  # spread over the interval, not bunched


def test_a_subscription_whose_renewal_fails_polls_every_minute(db, tasks, settings):  # noqa: F811
    settings.LIVE_POLL_SECONDS, settings.LIVE_SAFETY_POLL_SECONDS = 60, 900
    row = _subscribed("ann", failures=1, last_error="503 ServiceUnavailable")

    assert _polls(tasks, 600)[row.pk] == 10


def test_a_safety_poll_finds_an_outlook_edit_whose_notification_never_came(synced, tasks):  # noqa: F811
    type(synced).objects.filter(pk=synced.pk).update(keep_outlook_edits=True)  # else BC's value wins
    row = LiveSubscription.objects.create(
        setup=synced,
        status=LiveSubscription.Status.ACTIVE,
        graph_id="subscription-ann",
        folder_id=synced.folder_id,
        expires_at=timezone.now() + timedelta(days=6),
        poll_at=timezone.now() - timedelta(seconds=1),  # the safety poll is due
    )
    client = graph_client_from_settings()
    try:
        [contact] = [item for page in client.iter_contacts(MAILBOX, synced.folder_id) for item in page]
        client.update_contact(MAILBOX, synced.folder_id, contact["id"], {"jobTitle": "Analyst"})  # no notification
        tasks.clear()
        assert polls_due(timezone.now()) == 1
        [(func, args)] = tasks
        assert func == "exchange_sync.tasks.live_poll_task"
        assert live_poll(args[0], client, timezone.now()) == "changed: run asked for"
    finally:
        client.close()
    assert requested() == {"ann"}

    tasks.clear()
    assert run_now(synced, tasks).status == SyncRun.Status.SUCCEEDED
    assert Contact.objects.get(email="ada@example.com").job_title == "Analyst"
    row.refresh_from_db()
    assert row.poll_at > timezone.now()  # the next safety poll
