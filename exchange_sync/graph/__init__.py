"""Microsoft Graph: the only package that speaks HTTP to Microsoft 365.

It knows no models and reads no settings; callers build a :class:`GraphClient` with a
base URL and a token provider (:class:`MsalTokenProvider`, wired to the sandbox through
:class:`SandboxIdentityHttpClient` when needed).
"""

from .auth import GRAPH_SCOPE, MsalTokenProvider, SandboxIdentityHttpClient, msal_token_provider
from .batch import MAX_BATCH_SIZE, BatchRequest, BatchResponse, error_from_batch_response
from .client import DeltaPage, DeltaResult, GraphClient, graph_datetime, parse_graph_datetime
from .errors import (
    GraphAuthError,
    GraphBadRequestError,
    GraphConflictError,
    GraphDeltaExpiredError,
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
    error_from_response,
)
from .stamp import STAMP_FIELD, STAMP_PROPERTY_ID, stamp_value

__all__ = [
    "GRAPH_SCOPE",
    "MAX_BATCH_SIZE",
    "STAMP_FIELD",
    "STAMP_PROPERTY_ID",
    "BatchRequest",
    "BatchResponse",
    "DeltaPage",
    "DeltaResult",
    "GraphAuthError",
    "GraphBadRequestError",
    "GraphClient",
    "GraphConflictError",
    "GraphDeltaExpiredError",
    "GraphError",
    "GraphNotFoundError",
    "GraphThrottledError",
    "GraphTransientError",
    "MsalTokenProvider",
    "SandboxIdentityHttpClient",
    "error_from_batch_response",
    "error_from_response",
    "graph_datetime",
    "msal_token_provider",
    "parse_graph_datetime",
    "stamp_value",
]
