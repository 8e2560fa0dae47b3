"""JSON batching value types (https://learn.microsoft.com/graph/json-batching).

A ``$batch`` call carries at most :data:`MAX_BATCH_SIZE` requests with unique ids; the
envelope answers 200 even when members fail, and members come back in any order, each
with its own status (and its own 429 + ``Retry-After``). The client's ``batch`` method
does the sending and member retries; this module holds the shapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, error_from_response

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
