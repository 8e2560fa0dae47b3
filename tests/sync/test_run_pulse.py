"""A run shows it is alive while it waits (a long Retry-After): its pulse refreshes the
heartbeat of that run only, and only while it runs (README, "What a sync guarantees":
one run per setup; a run silent for 60 seconds is taken to be dead). Fast: the pulse at
a few hundredths of a second."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exchange_sync.models import ExchangeSyncSetup, SyncRun
from exchange_sync.sync.run import _Pulse
from tests.factories import make_user


def _run(setup, status) -> SyncRun:
    long_ago = timezone.now() - timedelta(hours=1)
    return SyncRun.objects.create(
        setup=setup,
        kind=SyncRun.Kind.INCREMENTAL,
        trigger=SyncRun.Trigger.COMMAND,
        status=status,
        heartbeat_at=long_ago,
    )


@pytest.mark.django_db(transaction=True)
def test_the_pulse_refreshes_the_heartbeat_of_its_running_run_only(monkeypatch):
    monkeypatch.setattr("exchange_sync.sync.run.PULSE_SECONDS", 0.02)
    setup = ExchangeSyncSetup.objects.create(user=make_user("ann", mailbox="ann@cronus.example"))
    other_setup = ExchangeSyncSetup.objects.create(user=make_user("bo", mailbox="bo@cronus.example"))
    mine, other, finished = _run(setup, "running"), _run(other_setup, "running"), _run(setup, "succeeded")
    before = {run.pk: run.heartbeat_at for run in (mine, other, finished)}

    pulses = [_Pulse(mine.pk), _Pulse(finished.pk)]
    for pulse in pulses:
        pulse.start()
    deadline = time.monotonic() + 10
    while SyncRun.objects.get(pk=mine.pk).heartbeat_at == before[mine.pk] and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # a few more pulses
    for pulse in pulses:
        pulse.stop()

    after = {run.pk: run.heartbeat_at for run in SyncRun.objects.filter(pk__in=before)}
    assert timezone.now() - after[mine.pk] < timedelta(minutes=1)
    assert after[other.pk] == before[other.pk]  # another setup's run
    assert after[finished.pk] == before[finished.pk]  # a run no longer running
