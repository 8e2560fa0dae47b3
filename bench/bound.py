"""The fastest a run can go under the sandbox's Outlook limits: the throttle-limited bound.

Outlook (and the sandbox with its throttle on) allows, per app and mailbox, at most
`concurrency` requests at a time and `limit` requests per `window` seconds; batch members
count one by one. With every operation taking `latency` seconds, `n` operations need at
least

    max(n * latency / concurrency,
        floor((n - 1) / limit) * window + ((n - 1) % limit + 1) * latency / concurrency)

seconds: 4 operations every 150 ms while the window has room, and a wait for the window
to roll over each time `limit` operations have been made. `n` is the run's Graph
operations as the throttle counts them (batch members one by one, requests the throttle
refused included, since Outlook counts those too).
"""

from __future__ import annotations

LATENCY = 0.150
CONCURRENCY = 4
LIMIT = 10_000
WINDOW = 600.0


def throttle_bound(
    operations: int,
    *,
    latency: float = LATENCY,
    concurrency: int = CONCURRENCY,
    limit: int = LIMIT,
    window: float = WINDOW,
) -> float:
    """Seconds `operations` Graph operations take at the least under the limits."""
    if operations <= 0:
        return 0.0
    per_operation = latency / concurrency
    windows, rest = divmod(operations - 1, limit)
    return max(operations * per_operation, windows * window + (rest + 1) * per_operation)
