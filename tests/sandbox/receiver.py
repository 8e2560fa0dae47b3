"""A small HTTP endpoint for the sandbox's change and lifecycle notifications, on a port
the OS gives it (kept bound while it runs), as a subscriber's notificationUrl would be."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WAIT = 5.0  # seconds to wait for something that should arrive (not a timing assertion)
TOO_LATE = 0  # a status for `statuses`: answer 202, but after 4 seconds


class Receiver:
    """An HTTP endpoint for notifications. Each path answers the validation handshake as
    `modes[path]` says ("echo" by default; "no-echo", "json", "status-500", "slow") and
    notifications with `statuses[path]` (a list consumed one per POST; 202 when empty;
    TOO_LATE answers after 4 seconds)."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}
        self.statuses: dict[str, list[int]] = {}
        self.validations: list[tuple[str, str, str]] = []  # path, token, content type
        self.posts: list[tuple[str, dict]] = []  # path, body (every attempt)
        self.condition = threading.Condition()
        self.closed = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                token = parse_qs(parts.query).get("validationToken")
                if token:
                    receiver._validate(self, parts.path, token[0])
                else:
                    receiver._notify(self, parts.path, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def _validate(self, handler: BaseHTTPRequestHandler, path: str, token: str) -> None:
        with self.condition:
            self.validations.append((path, token, handler.headers.get("Content-Type", "")))
        mode = self.modes.get(path, "echo")
        if mode == "slow":
            time.sleep(2)
        body, kind, status = token.encode(), "text/plain; charset=utf-8", 200
        if mode == "no-echo":
            body = b"hello"
        elif mode == "json":
            body, kind = json.dumps(token).encode(), "application/json"
        elif mode == "status-500":
            status = 500
        self._answer(handler, status, body, kind)

    def _notify(self, handler: BaseHTTPRequestHandler, path: str, raw: bytes) -> None:
        with self.condition:
            self.posts.append((path, json.loads(raw)))
            statuses = self.statuses.get(path) or []
            status = statuses.pop(0) if statuses else 202
            self.condition.notify_all()
        if status == TOO_LATE:
            time.sleep(4)  # Graph gives up after 3 s
            status = 202
        self._answer(handler, status, b"", "text/plain")

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the sandbox gave up waiting (the timeout test)

    def notifications(self, path: str = "/notify") -> list[dict]:
        with self.condition:
            return [n for p, body in self.posts if p == path for n in body["value"]]

    def wait_for(self, count: int, path: str = "/notify", timeout: float = WAIT) -> list[dict]:
        """The first `count` notifications that reached `path`, waiting up to `timeout`."""
        with self.condition:
            self.condition.wait_for(lambda: len(self.notifications(path)) >= count, timeout=timeout)
        found = self.notifications(path)
        assert len(found) >= count, f"{len(found)} of {count} notifications arrived: {found}"
        return found

    def close(self) -> None:
        """Stop listening (idempotent)."""
        if not self.closed:
            self.closed = True
            self.server.shutdown()
            self.server.server_close()
