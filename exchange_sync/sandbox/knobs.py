"""Simulation knobs: global defaults from settings, overridden per mailbox at run time.

Settings (all optional, read on every request so tests can override them):
GRAPH_SANDBOX_LATENCY_MS (0), GRAPH_SANDBOX_THROTTLE (False),
GRAPH_SANDBOX_TRANSIENT_ERROR_RATE (0.0), GRAPH_SANDBOX_LOST_CREATE_RATE (0.0),
GRAPH_SANDBOX_DELTA_EXPIRY ("off"), GRAPH_SANDBOX_RANDOM_SEED (0),
GRAPH_SANDBOX_THROTTLE_ERROR_RATE (0.0: the share of requests refused at random with 429
TooManyRequests, on top of the throttle model; global only, for fault drills).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from django.conf import settings

from .models import DeltaExpiry, Mailbox


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
    set (`reseed`), so a test that configures a mailbox gets a reproducible sequence.
    """
    if rate <= 0:
        return False
    with _random_lock:
        rng = _randoms.get(email)
        if rng is None:
            rng = _randoms[email] = random.Random(f"{getattr(settings, 'GRAPH_SANDBOX_RANDOM_SEED', 0)}:{email}")
        return rng.random() < rate


def reseed(email: str) -> None:
    """Restart a mailbox's random sequence (in this process)."""
    with _random_lock:
        _randoms.pop(email, None)
