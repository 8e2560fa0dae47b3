"""The HTTP face of the Graph sandbox: `/graph-sandbox/v1.0/...`.

Authenticates the bearer token, decodes the JSON body, keeps the path's percent-escapes
(ids may contain an encoded `/`), hands the request to
`graph.dispatch` (or `batch.batch_run` for `/$batch`) and renders Graph's answer or
error shape with `request-id` and `client-request-id` headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from urllib.parse import quote, unquote, urlsplit

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import operations, subscriptions  # noqa: F401  (register the routes)
from .auth import token_verify
from .batch import batch_run
from .errors import GraphError, LostAnswer, bad_request, error_body
from .graph import GraphRequest, GraphResponse, dispatch
from .scoping import request_app_set
from .served import request_served

logger = logging.getLogger(__name__)
_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


@csrf_exempt
def graph_endpoint(request: HttpRequest, path: str) -> HttpResponse:
    """Every Graph v1.0 request."""
    client_request_id = request.headers.get("client-request-id")
    # The absolute URL of /v1.0 wherever the sandbox is mounted, for @odata.context and links.
    base_url = request.build_absolute_uri(request.path[: len(request.path) - len(path)]).rstrip("/")
    try:
        request_served(path, request.body)
        claims = token_verify(request.headers.get("Authorization"))
        request_app_set(claims.get("appid", ""), claims.get("oid", "") if "scp" in claims else "")
        body = _json_body(request)
        if path == "$batch":
            if request.method != "POST":
                raise GraphError(405, "Request_BadRequest", "Batch requests must be POSTed.")
            answer = GraphResponse(
                200,
                batch_run(
                    body,
                    base_url=base_url,
                    client_request_id=client_request_id,
                    authorization=request.headers.get("Authorization"),
                ),
            )
        else:
            graph_request = GraphRequest(
                method=request.method or "GET",
                path="/" + _raw_path(request, path),
                query={k: request.GET[k] for k in request.GET},
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                base_url=base_url,
            )
            answer = dispatch(graph_request)
    except GraphError as error:
        if isinstance(error, LostAnswer) and error.stall:
            time.sleep(error.stall)  # long enough, and the client has given up waiting
        if error.status >= 500:
            logger.info("Graph sandbox answers %s %s on %s", error.status, error.code, path)
        answer = GraphResponse(error.status, error_body(error.code, error.message, client_request_id), error.headers)
    return _http(answer, client_request_id)


def _raw_path(request: HttpRequest, path: str) -> str:
    """`path` (after `/v1.0/`) as the client sent it, percent-escapes kept, so that an
    id's `%2F` stays inside its segment. The server keeps the request target in RAW_URI
    (gunicorn; runserver and live_server through devserver.py) or REQUEST_URI (uWSGI,
    Apache). Without either (Django's test client) the decoded path is all there is."""
    target = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if target:
        prefix_slashes = request.path[: len(request.path) - len(path)].count("/")
        pieces = urlsplit(target).path.split("/", prefix_slashes)
        if len(pieces) > prefix_slashes and unquote(pieces[-1]) == path:
            return pieces[-1]
    return quote(path, safe="/@$()'=,:+")


def _json_body(request: HttpRequest) -> object:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise bad_request("Invalid JSON in the request body.", "RequestBodyRead") from exc


def _http(answer: GraphResponse, client_request_id: str | None) -> HttpResponse:
    if answer.body is None:
        response = HttpResponse(status=answer.status)
    else:
        response = HttpResponse(json.dumps(answer.body), status=answer.status, content_type=_JSON)
    for name, value in answer.headers.items():
        response[name] = value
    response["request-id"] = str(uuid.uuid4())
    if client_request_id:
        response["client-request-id"] = client_request_id
    return response
