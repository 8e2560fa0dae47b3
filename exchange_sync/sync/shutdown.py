"""A worker's request to stop: set when its `qcluster` is told to shut down (SIGTERM from
systemd, Kubernetes or honcho), read by a running sync between chunks.

The run then ends as "Interrupted" after the chunk it is on, releasing its setup, so a
deploy or a restart never cuts a chunk's writes off from their bookkeeping. What it did
not get to is carried on by the next run (its delta link and change marker are only
saved by a run that finished).
"""

from __future__ import annotations

import threading

_requested = threading.Event()


class RunInterrupted(Exception):
    """The worker is shutting down: the run stops after its current chunk."""

    def __init__(self) -> None:
        super().__init__("The job queue worker was shut down; the next sync carries on from here.")


def shutdown_request() -> None:
    """Ask running syncs in this process to stop after their current chunk."""
    _requested.set()


def shutdown_reset() -> None:
    """Forget a request (a worker process that carries on, and tests)."""
    _requested.clear()


def shutdown_requested() -> bool:
    return _requested.is_set()
