"""When and how long the Graph client waits before trying again.

Policy (https://learn.microsoft.com/graph/throttling-limits,
https://learn.microsoft.com/graph/best-practices-concept#handling-expected-errors):

- 429, 503 and 504 are retried. A ``Retry-After`` header (seconds) is honoured as given;
  without one the wait is a capped exponential backoff with jitter.
- Connection errors and timeouts are retried the same way (they are transient).
- Every other status is final: 4xx are never retried.
- At most ``max_attempts`` attempts in all. A ``Retry-After`` longer than ``max_backoff``
  ends the retries at once: the caller gets the error (with ``retry_after``) and tries
  later, instead of a worker sleeping for minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

RETRYABLE_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with ``Retry-After`` first, then capped exponential backoff.

    ``random`` returns a float in [0, 1); it is injectable so tests can pin the jitter.
    """

    max_attempts: int = 6
    max_backoff: float = 60.0
    backoff_base: float = 1.0
    random: Callable[[], float] = field(default=random.random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

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
            return retry_after if retry_after <= self.max_backoff else None
        return self.backoff(attempt)
