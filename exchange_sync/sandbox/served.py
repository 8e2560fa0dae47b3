"""What the sandbox served, for tests: HTTP requests per mailbox, as the server saw them.

A client's own count of its round trips (every attempt, every `$batch` envelope once)
can be compared with this one. A request counts once for each mailbox it names:
a single request for the `users/{mailbox}` of its path, a `$batch` envelope once for
every mailbox its members name. Requests are counted whatever they are answered
(errors, throttling and lost answers included); token requests are not Graph requests.

Kept in the memory of the serving process, like the throttle counts (see `throttle`):
tests read it from the process running live_server. Nothing in the sandbox reads it.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from urllib.parse import unquote

_lock = threading.Lock()
_served: Counter[str] = Counter()
_USER = re.compile(r"^/?users/([^/?]+)")


def mailbox_of(path: str) -> str | None:
    """The mailbox a Graph path names (`users/{mailbox}/...`), lower-cased, or None."""
    match = _USER.match(path)
    return unquote(match.group(1)).strip().lower() if match else None


def request_served(path: str, body: bytes) -> None:
    """Count one HTTP request to `path` (relative to /v1.0) with this raw body."""
    if path == "$batch":
        try:
            envelope = json.loads(body or b"null")
        except ValueError:
            envelope = None
        members = envelope.get("requests") if isinstance(envelope, dict) else None
        urls = [m.get("url") for m in members or [] if isinstance(m, dict) and isinstance(m.get("url"), str)]
        mailboxes = {mailbox_of(url) for url in urls} - {None}
    else:
        mailboxes = {mailbox_of(path)} - {None}
    with _lock:
        _served.update(mailboxes)


def requests_served(mailbox: str) -> int:
    """HTTP requests served to `mailbox` (an address or user id as clients name it) since the process started."""
    with _lock:
        return _served[mailbox.strip().lower()]
