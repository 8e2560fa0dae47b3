"""Graph's error shape, raised anywhere in a request and rendered in one place.

https://learn.microsoft.com/graph/errors: `{"error": {"code", "message", "innerError":
{"request-id", "date", "client-request-id"}}}`; clients branch on `code`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class GraphError(Exception):
    """An error answer: HTTP status, Graph code and message, optional extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class LostAnswer(GraphError):
    """A create that committed but whose answer never arrives: 504 after `stall`
    seconds (0: at once; longer than the client's timeout: the client times out)."""

    def __init__(self, stall: float = 0.0) -> None:
        super().__init__(504, "GatewayTimeout", "The request timed out.")
        self.stall = stall


def error_body(code: str, message: str, client_request_id: str | None = None) -> dict:
    """The JSON body Graph sends with an error."""
    inner = {
        "request-id": str(uuid.uuid4()),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if client_request_id:
        inner["client-request-id"] = client_request_id
    return {"error": {"code": code, "message": message, "innerError": inner}}


def not_found() -> GraphError:
    """404 for a folder or contact that is not in the mailbox."""
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def invalid_user(user: str) -> GraphError:
    """404 for a mailbox the sandbox does not hold."""
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)
