"""The validation handshake Graph makes with a subscriber's endpoint before it creates a
subscription (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation):
`POST {url}?validationToken=...` with `Content-Type: text/plain; charset=utf-8`; the
endpoint must answer 200 with a text/plain body equal to the URL-decoded token within
10 seconds, or the subscription is refused with 400 `ValidationError`.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from .errors import GraphError


def validation_token() -> str:
    """Opaque to the client, with spaces and a colon as Graph's own are [observed:
    microsoft-graph-docs issue 21160], so a client that does not URL-decode fails."""
    return f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"


def endpoint_validate(url: str) -> None:
    """POST `url?validationToken=...`; raise 400 ValidationError unless it echoes the
    token as text/plain with 200 within 10 seconds (GRAPH_SANDBOX_VALIDATION_TIMEOUT_SECONDS,
    for tests)."""
    token = validation_token()
    separator = "&" if urlsplit(url).query else "?"
    try:
        response = requests.post(
            f"{url}{separator}validationToken={quote(token, safe='')}",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=float(getattr(settings, "GRAPH_SANDBOX_VALIDATION_TIMEOUT_SECONDS", 10.0)),
        )
    except requests.Timeout as exc:
        raise GraphError(400, "ValidationError", "Subscription validation request timeout.") from exc
    except requests.RequestException as exc:
        raise _validation_failed("Notification endpoint must respond with 200 OK to validation request.") from exc
    if response.status_code != 200:
        raise _validation_failed("Notification endpoint must respond with 200 OK to validation request.")
    if not response.headers.get("Content-Type", "").lower().startswith("text/plain"):
        raise _validation_failed("Response must be plain text (Content-Type: text/plain).")
    if response.text != token:
        raise _validation_failed("Response must exactly match validationToken query parameter.")


def _validation_failed(reason: str) -> GraphError:
    return GraphError(400, "ValidationError", f"Subscription validation request failed. {reason}")
