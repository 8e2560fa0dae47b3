"""Simulation knobs: global defaults from settings, overridden per mailbox at run time.

Settings (all optional, read on every request so tests can override them):
GRAPH_SANDBOX_LATENCY_MS (0), GRAPH_SANDBOX_THROTTLE (False),
GRAPH_SANDBOX_TRANSIENT_ERROR_RATE (0.0), GRAPH_SANDBOX_LOST_CREATE_RATE (0.0),
GRAPH_SANDBOX_DELTA_EXPIRY ("off"), GRAPH_SANDBOX_RANDOM_SEED (0),
GRAPH_SANDBOX_THROTTLE_ERROR_RATE (0.0: the share of requests refused at random with 429
TooManyRequests, on top of the throttle model; global only, for fault drills).

Per-mailbox knobs live on the mailbox row, so a change made by any process (the
`sandbox_mailbox` command, the admin, a test) applies at the server's next request.
The random sequences (and the throttle window, see `throttle`) live in the memory of
the process serving Graph; `process_state_sync` starts them afresh there when it sees
that the mailbox's knobs were set since (a new `Mailbox.knobs_version`).
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass

from django.conf import settings

from .models import DeltaExpiry, Mailbox
from .throttle import throttle_reset


@dataclass(frozen=True)
class Knobs:
    latency_ms: int
    is_throttled: bool
    transient_error_rate: float
    lost_create_rate: float
    delta_expiry: str
    is_access_denied: bool
    throttle_error_rate: float = 0.0


def knobs_for(mailbox: Mailbox) -> Knobs:
    """The effective knobs of a mailbox: its own values, else the global settings."""

    def pick(own, name: str, default):
        return own if own is not None else getattr(settings, name, default)

    return Knobs(
        latency_ms=int(pick(mailbox.latency_ms, "GRAPH_SANDBOX_LATENCY_MS", 0)),
        is_throttled=bool(pick(mailbox.is_throttled, "GRAPH_SANDBOX_THROTTLE", False)),
        transient_error_rate=float(pick(mailbox.transient_error_rate, "GRAPH_SANDBOX_TRANSIENT_ERROR_RATE", 0.0)),
        lost_create_rate=float(pick(mailbox.lost_create_rate, "GRAPH_SANDBOX_LOST_CREATE_RATE", 0.0)),
        delta_expiry=mailbox.delta_expiry or getattr(settings, "GRAPH_SANDBOX_DELTA_EXPIRY", DeltaExpiry.OFF),
        is_access_denied=mailbox.is_access_denied,
        throttle_error_rate=float(getattr(settings, "GRAPH_SANDBOX_THROTTLE_ERROR_RATE", 0.0)),
    )


_random_lock = threading.Lock()
_randoms: dict[str, random.Random] = {}


def chance(email: str, rate: float) -> bool:
    """A seeded coin toss per mailbox: the same requests in the same order fail the same way.

    The generator restarts from GRAPH_SANDBOX_RANDOM_SEED when the mailbox's knobs are
    set (see `process_state_sync`), so a test that configures a mailbox gets a
    reproducible sequence.
    """
    if rate <= 0:
        return False
    with _random_lock:
        rng = _randoms.get(email)
        if rng is None:
            rng = _randoms[email] = random.Random(f"{getattr(settings, 'GRAPH_SANDBOX_RANDOM_SEED', 0)}:{email}")
        return rng.random() < rate


_seen_versions: dict[str, tuple[int, uuid.UUID]] = {}


def process_state_sync(mailbox: Mailbox) -> None:
    """Restart the mailbox's random sequence and throttle window in this process if its
    knobs were set (by any process) since this process last saw it. Costs no query: the
    mailbox row is read for every request anyway."""
    version = (mailbox.pk, mailbox.knobs_version)
    with _random_lock:
        if _seen_versions.get(mailbox.email) == version:
            return
        _seen_versions[mailbox.email] = version
        _randoms.pop(mailbox.email, None)
    throttle_reset(mailbox.email)
