"""One HTTP round trip to Graph at a time: token, headers, retries, paging, counting.

The retry policy (:mod:`exchange_sync.graph.retry`) is applied here, so every request
of the client, ``$batch`` envelopes included, follows it.

Requests that may have run: a request that timed out, lost its connection after it
was sent, or got a 503/504 may still have been carried out by Graph
(https://learn.microsoft.com/graph/best-practices-concept#handling-expected-errors).
For most requests a second run is harmless (reads, PATCH, DELETE) or refused (a folder
create answers 409 ``ErrorFolderExists``, which its caller turns into adopting the
folder), so they are retried. A contact create is not: sent twice, it makes two
contacts. It is sent with ``resend_unanswered=False``: such a failure raises
``GraphTransientError`` at once, and the caller looks the stamp up
(``GraphClient.find_contacts_by_stamp``) before creating again, the way batch members
answering 503/504 are handled (:mod:`exchange_sync.graph.batch`). Failures that prove
the request never ran are still retried: a 429 (refused before it runs), a 401, a
connection that could not be opened, a token that could not be fetched.

A ``$batch`` envelope carrying a create is sent the same way; when its answer is lost,
:mod:`exchange_sync.graph.batch` gives each member a 504 of its own, so the creates are
looked up by stamp and the other members retried.

Counting: ``request_count`` is the number of HTTP round trips to Graph (each attempt,
each ``$batch`` envelope once); ``operation_count`` is the number of Graph operations
sent, as Graph's throttling counts them: every standalone request once, every batch
member once (the envelope itself not). Identity (token) calls are not counted.
``throttled_count`` is the number of 429 answers, batch members' included.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from .auth import TokenProvider
from .errors import GraphError, GraphTransientError, error_from_response, parse_retry_after
from .retry import RETRYABLE_STATUSES, RetryPolicy

logger = logging.getLogger(__name__)

TRANSIENT_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class GraphTransport:
    """Sends requests to ``base_url`` with a bearer token from ``token_provider``.

    Links Graph hands back (``@odata.nextLink``, ``@odata.deltaLink``) are followed
    only on the base URL's own origin, since the token goes with them.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        timeout: float | tuple[float, float],
        sleep: Callable[[float], None],
        retry_policy: RetryPolicy,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._token_provider = token_provider
        self._timeout = timeout
        self.sleep = sleep
        self.retry_policy = retry_policy
        self._session = session or requests.Session()
        self._count_lock = threading.Lock()
        self.request_count = 0
        self.operation_count = 0
        self.throttled_count = 0
        # A Retry-After still owed when an answer became final (attempts used up):
        # the mailbox stays throttled, so whatever request comes next waits it out.
        self._owed_wait = 0.0

    def iter_pages(
        self,
        url: str,
        params: dict[str, Any] | None,
        *,
        prefer: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following ``@odata.nextLink`` as an opaque URL."""
        next_url: str | None = url
        while next_url:
            page = self.request("GET", next_url, params=params, prefer=prefer) or {}
            page.setdefault("value", [])
            yield page
            next_url, params = page.get("@odata.nextLink"), None

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        prefer: Sequence[str] = (),
        operations: int = 1,
        resend_unanswered: bool = True,
    ) -> Any:
        """Send one Graph request with retries; the decoded JSON answer (``None`` if empty).

        ``prefer`` values are joined into one ``Prefer`` header; ``operations`` is how
        many Graph operations the request carries (batch members) for ``operation_count``.
        ``resend_unanswered=False`` is for requests that must not run twice (a contact
        create): a timeout, a connection lost after sending, or a 503/504 raises
        ``GraphTransientError`` at once instead of sending it again (module docstring).

        A 401 makes the token provider forget its token and the request go once more
        with a fresh one; it does not use up a retry.
        """
        url = self._url(path_or_url)
        extra = dict(headers or {})
        if prefer:
            extra["Prefer"] = ", ".join(prefer)
        failures = 0
        refreshed = False
        while True:
            client_request_id = str(uuid.uuid4())
            try:
                response = self._send(method, url, params, body, extra, client_request_id, operations)
            except (*TRANSIENT_EXCEPTIONS, GraphTransientError) as exc:
                if not resend_unanswered and isinstance(exc, TRANSIENT_EXCEPTIONS) and not _never_sent(exc):
                    raise GraphTransientError(
                        f"{type(exc).__name__} on {method} {_path(url)}: Graph may have carried it out; "
                        "look it up before sending it again",
                        code=type(exc).__name__,
                        request_id=client_request_id,
                    ) from exc
                failures += 1
                delay = self.retry_policy.delay(failures, None)
                if delay is None and isinstance(exc, GraphTransientError):
                    raise
                if delay is None:
                    raise GraphTransientError(
                        f"{type(exc).__name__} on {method} {_path(url)} after {failures} attempts",
                        code=type(exc).__name__,
                        request_id=client_request_id,
                    ) from exc
                logger.warning("%s on %s %s; retrying in %.1fs", type(exc).__name__, method, _path(url), delay)
                self.sleep(delay)
                continue
            if response.ok:
                return _decode(response)
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                logger.info("Graph refused the token on %s %s; fetching a new one", method, _path(url))
                self._token_provider.invalidate()
                continue
            if status in RETRYABLE_STATUSES:
                if status == 429:
                    self.count_throttled(1)
                failures += 1
                retry_after = parse_retry_after(response.headers)
                # A 429 is refused before the request runs; a 503/504 may come after it ran.
                resend = resend_unanswered or status == 429
                delay = self.retry_policy.delay(failures, retry_after) if resend else None
                if delay is not None:
                    logger.warning("%s on %s %s; retrying in %.1fs", status, method, _path(url), delay)
                    self.sleep(delay)
                    continue
                self.owe_wait(retry_after)
            headers_out = dict(response.headers)
            headers_out.setdefault("client-request-id", client_request_id)
            raise error_from_response(status, response.content, headers_out)

    def count_throttled(self, answers: int) -> None:
        """Record 429 answers (of requests, or of ``$batch`` members) for ``throttled_count``."""
        with self._count_lock:
            self.throttled_count += answers

    def owe_wait(self, retry_after: float | None) -> None:
        """Make the next request wait `retry_after` seconds (a final answer's hint), unless
        it is longer than the retry policy ever waits (``max_retry_after``): then the
        caller, holding the error and its ``retry_after``, stops and tries later."""
        if retry_after is not None and self.retry_policy.honours(retry_after):
            self._owed_wait = max(self._owed_wait, retry_after)

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
        client_request_id: str,
        operations: int,
    ) -> requests.Response:
        """One HTTP round trip (counted). Token errors propagate; transient ones are retried by the caller."""
        if self._owed_wait:
            wait, self._owed_wait = self._owed_wait, 0.0
            logger.info("Waiting %.1fs as Graph asked before the next request", wait)
            self.sleep(wait)
        token = self._token_provider.get_token()
        send_headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "client-request-id": client_request_id,
            **headers,
        }
        with self._count_lock:
            self.request_count += 1
            self.operation_count += operations
        return self._session.request(method, url, params=params, json=body, headers=send_headers, timeout=self._timeout)

    def _url(self, path_or_url: str) -> str:
        """An absolute URL; links from Graph must stay on the base URL's origin (the token goes with them)."""
        if "://" not in path_or_url:
            return self.base_url + path_or_url
        if _origin(path_or_url) != self._origin:
            host = urlsplit(path_or_url).netloc
            raise GraphError(f"Refusing to follow a link to another host: {host}", code="UnexpectedLink")
        return path_or_url

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()


def _never_sent(exc: Exception) -> bool:
    """True when the request provably never reached Graph (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    """The path of a URL for log lines (no query: delta tokens stay out of logs)."""
    return urlsplit(url).path


def _decode(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise GraphError(
            "Graph answered with a body that is not JSON", status=response.status_code, code="InvalidJson"
        ) from exc
