"""JSON batching (https://learn.microsoft.com/graph/json-batching): shapes and the run.

A ``$batch`` call carries at most :data:`MAX_BATCH_SIZE` requests with unique ids; the
envelope answers 200 even when members fail, and members come back in any order, each
with its own status (and its own 429 + ``Retry-After``). :func:`run_batch` sends them
and retries throttled members; ``GraphClient.batch`` is its public face.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import GraphError, GraphTransientError, error_from_response, parse_retry_after
from .retry import RETRYABLE_STATUSES

if TYPE_CHECKING:
    from .transport import GraphTransport

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 20


@dataclass(frozen=True)
class BatchRequest:
    """One member of a batch. ``url`` is relative to the client's base URL ("/users/...")."""

    id: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The member as Graph expects it; ``Content-Type`` is added when there is a body."""
        data: dict[str, Any] = {"id": self.id, "method": self.method.upper(), "url": self.url}
        headers = dict(self.headers or {})
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
            data["body"] = self.body
        if headers:
            data["headers"] = headers
        return data


@dataclass(frozen=True)
class BatchResponse:
    """A member's final answer: ``status``, ``headers`` and decoded ``body`` (``None`` if empty)."""

    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error_from_batch_response(response: BatchResponse) -> GraphError | None:
    """The typed error a failed member stands for, or ``None`` when it succeeded."""
    if response.ok:
        return None
    return error_from_response(response.status, response.body, response.headers)


def chunks(requests: Sequence[BatchRequest], size: int = MAX_BATCH_SIZE) -> Iterator[list[BatchRequest]]:
    """``requests`` in consecutive slices of at most ``size``."""
    for start in range(0, len(requests), size):
        yield list(requests[start : start + size])


def check_unique_ids(requests: Sequence[BatchRequest]) -> None:
    """Raise ``ValueError`` for duplicate member ids (Graph would refuse the whole batch)."""
    seen: set[str] = set()
    for request in requests:
        if request.id in seen:
            raise ValueError(f"Duplicate batch request id {request.id!r}")
        seen.add(request.id)


def parse_batch_answer(answer: Any) -> dict[str, BatchResponse]:
    """Member responses of one ``$batch`` answer, keyed by id (Graph may reorder them)."""
    responses: dict[str, BatchResponse] = {}
    for item in (answer or {}).get("responses") or []:
        responses[str(item.get("id"))] = BatchResponse(
            id=str(item.get("id")),
            status=int(item.get("status") or 0),
            headers=dict(item.get("headers") or {}),
            body=item.get("body"),
        )
    return responses


def run_batch(transport: GraphTransport, requests_: Sequence[BatchRequest]) -> list[BatchResponse]:
    """Send requests through ``$batch`` in chunks of 20; answers in request order.

    Members answering 429/503/504 are sent again on their own, in a later batch, until
    they succeed or fail otherwise. Each member is decided alone: one whose attempts
    have run out, or that asks for a ``Retry-After`` longer than the policy honours,
    keeps that answer as final, while the others of its round are still retried (after
    the longest ``Retry-After``, or backoff, among them). A POST answering 503/504 is
    never resent: it may have created its item anyway, so it is returned for the caller
    to look up by its stamp instead of creating a second copy (a 429 is refused before
    it runs, so that one is resent). Final answers are returned, never raised, so the
    caller records per-item failures (:func:`~exchange_sync.graph.batch.error_from_batch_response`).
    A failure of the envelope itself (after its own retries) raises.
    """
    check_unique_ids(requests_)
    policy = transport.retry_policy
    final: dict[str, BatchResponse] = {}
    attempts: dict[str, int] = {}
    pending = list(requests_)
    while pending:
        chunk, pending = pending[:MAX_BATCH_SIZE], pending[MAX_BATCH_SIZE:]
        answers = _send_envelope(transport, chunk)
        transport.count_throttled(sum(1 for answer in answers.values() if answer.status == 429))
        # Each member is decided on its own: one out of attempts, or asking for a wait
        # longer than the policy honours, keeps its final answer without holding back
        # the others.
        retry: list[BatchRequest] = []
        waits: list[float] = []  # before the retried members, one per member
        owed: list[float] = []  # Retry-After of members whose answer is final
        for request in chunk:
            answer = answers.get(request.id) or _missing_member(request.id)
            final[request.id] = answer
            attempts[request.id] = attempts.get(request.id, 0) + 1
            if not _retryable(request, answer):
                hint = parse_retry_after(answer.headers)
                if answer.status in RETRYABLE_STATUSES and hint is not None and policy.honours(hint):
                    # A create not resent here: its look-up by stamp (and its create
                    # again) waits as Graph asked, like any retry.
                    owed.append(hint)
                continue
            hint = parse_retry_after(answer.headers)
            delay = policy.delay(attempts[request.id], hint)
            if delay is None:
                if hint is not None and policy.honours(hint):
                    owed.append(hint)
                continue
            retry.append(request)
            waits.append(delay)
        if not retry:
            # Their answers stand; the next request, in this call or the caller's next,
            # still waits as Graph asked (the mailbox may still be throttled).
            transport.owe_wait(max(owed, default=None))
            continue
        # Wait before the next envelope too, not only before the retried members: a
        # throttled mailbox refuses everything until its Retry-After has passed.
        delay = max(waits + owed)
        logger.info("Retrying %d batch members in %.1fs", len(retry), delay)
        transport.sleep(delay)
        pending = retry + pending
    return [final[r.id] for r in requests_]


def _send_envelope(transport: GraphTransport, chunk: list[BatchRequest]) -> dict[str, BatchResponse]:
    """One ``$batch`` round trip. An envelope carrying a POST (a create) is never sent
    twice blindly: when its answer is lost (a timeout, a 503/504), every member gets a
    504 of its own, so the POSTs go back to the caller to look up by stamp, and the
    other members are retried like any 504 member."""
    envelope = {"requests": [r.to_json() for r in chunk]}
    creates = any(r.method.upper() == "POST" for r in chunk)
    try:
        answer = transport.request(
            "POST", "/$batch", body=envelope, operations=len(chunk), resend_unanswered=not creates
        )
    except GraphTransientError as exc:
        if not creates:
            raise
        logger.warning("A $batch with creates went unanswered (%s); its members are settled one by one", exc)
        return {r.id: _unanswered_member(r.id, exc) for r in chunk}
    return parse_batch_answer(answer)


def _unanswered_member(request_id: str, exc: GraphTransientError) -> BatchResponse:
    return BatchResponse(
        id=request_id,
        status=504,
        body={"error": {"code": "BatchUnanswered", "message": f"The $batch carrying this request was lost: {exc}"}},
    )


def _retryable(request: BatchRequest, answer: BatchResponse) -> bool:
    if answer.status not in RETRYABLE_STATUSES:
        return False
    return answer.status == 429 or request.method.upper() != "POST"


def _missing_member(request_id: str) -> BatchResponse:
    """Stand-in for a member Graph left out of its answer: transient, so it is retried."""
    return BatchResponse(
        id=request_id,
        status=503,
        body={"error": {"code": "MissingBatchResponse", "message": "Graph returned no answer for this member"}},
    )
