"""The sandbox's sense of time, in one module so tests can replace it.

The throttle window reads `now()`; simulated latency waits through `latency_wait()`.
Tests swap these two functions for a fake clock and count the waits instead of timing
requests (the project allows no timed assertions: machines are shared and noisy).
"""

from __future__ import annotations

import time


def now() -> float:
    """Monotonic seconds."""
    return time.monotonic()


def latency_wait(seconds: float, *, started: float) -> None:
    """Answer `seconds` after `started` (a `now()` value): the time already spent working
    is part of the simulated response time, not added on top."""
    remaining = started + seconds - now()
    if remaining > 0:
        time.sleep(remaining)
