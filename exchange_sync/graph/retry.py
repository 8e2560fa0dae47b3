"""When and how long the Graph client waits before trying again.

Policy (https://learn.microsoft.com/graph/throttling-limits,
https://learn.microsoft.com/graph/best-practices-concept#handling-expected-errors):

- 429, 503 and 504 are retried. A ``Retry-After`` header (seconds) is honoured as given;
  without one the wait is a capped exponential backoff with jitter.
- Connection errors and timeouts are retried the same way (they are transient).
- Every other status is final: 4xx are never retried.
- At most ``max_attempts`` attempts in all.
- ``max_backoff`` caps only the client's own backoff. A ``Retry-After`` is Graph's
  word, honoured up to its own cap, ``max_retry_after`` (10 minutes by default: Outlook
  counts requests over a 10-minute window, so a longer wait is not a throttle to sit
  out). A longer one ends the retries at once: the caller gets the error, with
  ``retry_after`` on it, and tries later instead of a worker sleeping for it.
- A ``Retry-After`` still owed when the attempts run out is waited before the client's
  next request (``GraphTransport.owe_wait``), if within ``max_retry_after``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# Outlook's throttling window (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
DEFAULT_MAX_RETRY_AFTER = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with ``Retry-After`` first, then capped exponential backoff.

    ``random`` returns a float in [0, 1); it is injectable so tests can pin the jitter.
    """

    max_attempts: int = 6
    max_backoff: float = 60.0
    backoff_base: float = 1.0
    random: Callable[[], float] = field(default=random.random)
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def honours(self, retry_after: float) -> bool:
        """Whether the client waits a ``Retry-After`` of this many seconds at all."""
        return retry_after <= self.max_retry_after

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), no hint given.

        "Equal jitter": half of the capped exponential delay, plus a random part of the
        other half, so concurrent workers spread out but never retry at once.
        """
        ceiling = min(self.max_backoff, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self.random() * ceiling / 2

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to stop retrying.

        ``attempt`` is the number of attempts made so far (1-based).
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if self.honours(retry_after) else None
        return self.backoff(attempt)
