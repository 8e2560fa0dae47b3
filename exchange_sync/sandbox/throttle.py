"""The Outlook service limits, per mailbox: requests per window and concurrent requests.

https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits: 10,000
requests per 10 minutes and 4 concurrent requests per app and mailbox. Over the window,
429 `TooManyRequests` with `Retry-After`; over concurrency, 429 `ApplicationThrottled`
"Application is over its MailboxConcurrency limit." [observed]. Requests refused while
throttled still count, as Outlook's usage keeps counting.

What https://learn.microsoft.com/graph/throttling says every throttled answer carries,
and the sandbox sends: status 429, the `Retry-After` header in whole seconds (the
contact resource is among those documented to send it), Graph's error body
(`errors.error_body`). Inside a `$batch` the 429 is the member's own status, with
`Retry-After` among the member's headers, the envelope staying 200
(https://learn.microsoft.com/graph/json-batching). The simulated transient faults
(`graph.transient_error`) answer 503 `ServiceUnavailable` with `Retry-After` or 504
`GatewayTimeout`.

The counts (the window's timestamps and the requests in flight) live in the memory of
the process serving Graph, not in the database: a database row written on every request
would cost each Graph call a write lock, and a request count left behind by a killed
process would never be given back. What that means:
- one serving process is assumed (threaded runserver for demos and the bench,
  live_server in tests); workers are only its clients. Several serving processes would
  each count on their own, and restarting the server forgets the window;
- `sandbox_mailbox set` (or any knob change) from another process cannot clear this
  memory itself: it writes a new `Mailbox.knobs_version`, and the serving process
  restarts the mailbox's window at its next request on that mailbox
  (`knobs.process_state_sync`). Requests in flight are never forgotten.
Settings: GRAPH_SANDBOX_THROTTLE_LIMIT (10000), GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS
(600), GRAPH_SANDBOX_CONCURRENCY_LIMIT (4).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from . import clock
from .errors import GraphError

_lock = threading.Lock()
_requests: dict[str, deque[float]] = {}
_in_flight: dict[str, int] = {}


def _limits() -> tuple[int, float, int]:
    return (
        int(getattr(settings, "GRAPH_SANDBOX_THROTTLE_LIMIT", 10_000)),
        float(getattr(settings, "GRAPH_SANDBOX_THROTTLE_WINDOW_SECONDS", 600)),
        int(getattr(settings, "GRAPH_SANDBOX_CONCURRENCY_LIMIT", 4)),
    )


def count_request(email: str) -> None:
    """Record one request on a mailbox; raise 429 TooManyRequests when over the window limit."""
    limit, window, _ = _limits()
    now = clock.now()
    with _lock:
        stamps = _requests.setdefault(email, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        stamps.append(now)
        over = len(stamps) - limit
        if over <= 0:
            return
        # The window falls back under the limit when the `over`-th oldest request leaves it.
        retry_after = max(1, math.ceil(stamps[over - 1] + window - now))
    raise GraphError(
        429,
        "TooManyRequests",
        "The mailbox has exceeded its request limit. Please retry after the indicated time.",
        headers={"Retry-After": str(retry_after)},
    )


def concurrency_refused() -> GraphError:
    """429 ApplicationThrottled: no concurrent-request slot free on the mailbox [observed]."""
    return GraphError(
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
        headers={"Retry-After": "1"},
    )


def slots_take(email: str, wanted: int) -> int:
    """Take up to `wanted` of the mailbox's free concurrent-request slots; return how many were taken."""
    _, _, max_concurrent = _limits()
    with _lock:
        taken = max(0, min(wanted, max_concurrent - _in_flight.get(email, 0)))
        _in_flight[email] = _in_flight.get(email, 0) + taken
    return taken


def slots_give_back(email: str, count: int) -> None:
    with _lock:
        _in_flight[email] = _in_flight.get(email, 0) - count


@contextmanager
def concurrency_slot(email: str) -> Iterator[None]:
    """Hold one of the mailbox's concurrent-request slots; raise 429 ApplicationThrottled if none is free."""
    if not slots_take(email, 1):
        raise concurrency_refused()
    try:
        yield
    finally:
        slots_give_back(email, 1)


def throttle_reset(email: str) -> None:
    """Forget a mailbox's usage in this process (when its knobs were set or it was reset)."""
    with _lock:
        _requests.pop(email, None)
