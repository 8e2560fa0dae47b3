"""Sends change and lifecycle notifications from a background thread, with Graph's retries.

https://learn.microsoft.com/graph/change-notifications-delivery-webhooks: Graph POSTs
the changeNotificationCollection to the notificationUrl with a 3-second timeout; an
answer other than 2xx (or none within 3 s) is retried "multiple times, for up to 4
hours", then the notification is discarded. Graph does not publish its schedule; the
sandbox retries with exponential backoff from GRAPH_SANDBOX_NOTIFICATION_RETRY_SECONDS
(10), doubling, until GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS (14,400: 4 hours)
have passed since the first attempt, and then drops it (logged). The limit is read when
the notification is queued, the first wait at each retry, so a test can shorten both.

Nothing here blocks the request that made the change: `post_later` queues and returns.
One daemon thread per process (started on first use, again after a fork) takes due
items off a heap and hands each to a small pool of senders, so one slow endpoint does
not hold the others up. `hold_reversed` implements the reorder knob: the items given for
a key within a short window are sent together, newest first, one after the other.

The queue lives in the memory of the process that made the change (the server for the
API and the Outlook page; a `sandbox_mailbox` command waits for it with `drain` before
it exits). A process that stops forgets what it had not sent yet, as a restart of Graph's
own senders would not, which is a limit of the sandbox.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0  # Graph's notification client timeout (see the module docstring)
SENDERS = 4


@dataclass(order=True)
class _Item:
    due: float
    order: int
    posts: list[tuple[str, dict]] = field(compare=False)  # sent one after the other
    deadline: float = field(compare=False, default=0.0)  # no retry after this
    attempt: int = field(compare=False, default=0)


def _retry_first() -> float:
    return float(getattr(settings, "GRAPH_SANDBOX_NOTIFICATION_RETRY_SECONDS", 10.0))


def _retry_limit() -> float:
    return float(getattr(settings, "GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS", 14_400.0))


class _Queue:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[_Item] = []
        self._order = itertools.count()
        self._held: dict[str, list[tuple[str, dict]]] = {}
        self._busy = 0
        self._pid: int | None = None
        self._pool: ThreadPoolExecutor | None = None

    def push(self, posts: list[tuple[str, dict]], delay: float = 0.0) -> None:
        now = time.monotonic()
        with self._condition:
            self._start_if_needed()
            deadline = now + delay + _retry_limit()
            heapq.heappush(self._heap, _Item(now + delay, next(self._order), posts, deadline=deadline))
            self._condition.notify_all()

    def hold_reversed(self, key: str, post: tuple[str, dict], window: float, delay: float) -> None:
        with self._condition:
            held = self._held.get(key)
            if held is not None:
                held.append(post)
                return
            self._held[key] = [post]
        timer = threading.Timer(window, self._release, args=(key, delay))
        timer.daemon = True
        timer.start()

    def _release(self, key: str, delay: float) -> None:
        with self._condition:
            posts = self._held.pop(key, [])
        if posts:
            self.push(list(reversed(posts)), delay)

    def drain(self, timeout: float) -> bool:
        """Wait until every notification queued had its first attempt (retries may
        remain for later); True if that happened within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                now = time.monotonic()
                pending = self._held or self._busy or any(item.attempt == 0 for item in self._heap)
                if not pending:
                    return True
                if now >= deadline:
                    return False
                self._condition.wait(min(0.05, deadline - now))

    def _start_if_needed(self) -> None:
        if self._pid == os.getpid():
            return
        # First use in this process (or first after a fork, which copies no threads).
        self._pid = os.getpid()
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="graph-sandbox-notify")
        threading.Thread(target=self._run, name="graph-sandbox-notifications", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap or self._heap[0].due > time.monotonic():
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._condition.wait(wait)
                item = heapq.heappop(self._heap)
                self._busy += 1
            self._pool.submit(self._send, item)

    def _send(self, item: _Item) -> None:
        try:
            for index, (url, body) in enumerate(item.posts):
                if not _post(url, body):
                    self._retry(_Item(0, 0, item.posts[index:], item.deadline, item.attempt))
                    return
        finally:
            with self._condition:
                self._busy -= 1
                self._condition.notify_all()

    def _retry(self, item: _Item) -> None:
        wait = _retry_first() * 2**item.attempt
        now = time.monotonic()
        if now + wait > item.deadline:
            logger.info(
                "Graph sandbox drops a notification to %s after %s attempts", item.posts[0][0], item.attempt + 1
            )
            return
        with self._condition:
            heapq.heappush(
                self._heap, _Item(now + wait, next(self._order), item.posts, item.deadline, item.attempt + 1)
            )
            self._condition.notify_all()


def _post(url: str, body: dict) -> bool:
    """One attempt; True when the endpoint answered 2xx within the timeout."""
    try:
        response = requests.post(url, json=body, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        logger.info("Graph sandbox notification to %s failed: %s", url, type(exc).__name__)
        return False
    return 200 <= response.status_code < 300


_queue = _Queue()


def post_later(url: str, body: dict, *, delay: float = 0.0) -> None:
    """Queue one POST of `body` to `url`, first attempt after `delay` seconds."""
    _queue.push([(url, body)], delay)


def hold_reversed(key: str, url: str, body: dict, *, window: float, delay: float = 0.0) -> None:
    """Queue a POST held with the others of `key` for `window` seconds, then sent with
    them newest first (the reorder knob)."""
    _queue.hold_reversed(key, (url, body), window, delay)


def drain(timeout: float = 10.0) -> bool:
    """Wait for the first attempts of everything queued (see `_Queue.drain`)."""
    return _queue.drain(timeout)
