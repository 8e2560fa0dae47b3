"""Graph's error answers become typed exceptions grouped by what the caller does next."""

from __future__ import annotations

import json

import pytest

from exchange_sync.graph.errors import (
    GraphAuthError,
    GraphBadRequestError,
    GraphConflictError,
    GraphDeltaExpiredError,
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphTransientError,
    error_from_response,
    parse_retry_after,
)
from tests.graph.conftest import load


@pytest.mark.parametrize(
    ("status", "recorded", "expected", "code"),
    [
        (400, "error_id_malformed.json", GraphBadRequestError, "ErrorInvalidIdMalformed"),
        (401, "error_invalid_token.json", GraphAuthError, "InvalidAuthenticationToken"),
        (403, "error_access_denied.json", GraphAuthError, "ErrorAccessDenied"),
        (404, "error_item_not_found.json", GraphNotFoundError, "ErrorItemNotFound"),
        (404, "error_invalid_user.json", GraphNotFoundError, "ErrorInvalidUser"),
        (409, "error_folder_exists.json", GraphConflictError, "ErrorFolderExists"),
        (429, "error_too_many_requests.json", GraphThrottledError, "TooManyRequests"),
        (503, "error_service_unavailable.json", GraphTransientError, "ServiceUnavailable"),
        (400, "error_sync_state_not_found.json", GraphDeltaExpiredError, "syncStateNotFound"),
    ],
)
def test_it_maps_each_recorded_error_to_its_class_keeping_code_message_and_request_id(status, recorded, expected, code):
    body = load(recorded)

    error = error_from_response(status, body, {})

    assert type(error) is expected
    assert error.status == status
    assert error.code == code
    assert error.message == body["error"]["message"]
    assert error.request_id == body["error"]["innerError"]["request-id"]


def test_it_says_why_an_auth_error_happened():
    assert error_from_response(401, load("error_invalid_token.json")).reason == "token"
    assert error_from_response(403, load("error_access_denied.json")).reason == "consent"


def test_it_treats_412_as_a_conflict_and_a_conflict_as_a_bad_request():
    body = {"error": {"code": "ErrorIrresolvableConflict", "message": "The change key is stale."}}

    error = error_from_response(412, body)

    assert isinstance(error, GraphConflictError)
    assert isinstance(error, GraphBadRequestError)


def test_it_treats_410_gone_as_delta_expired_and_keeps_the_fresh_start_location():
    error = error_from_response(410, None, {"Location": "https://graph.microsoft.com/v1.0/fresh"})

    assert isinstance(error, GraphDeltaExpiredError)
    assert error.location == "https://graph.microsoft.com/v1.0/fresh"


def test_it_recognises_resync_required_whatever_its_case():
    body = {"error": {"code": "ResyncRequired", "message": "Resync required."}}

    assert isinstance(error_from_response(400, body), GraphDeltaExpiredError)


def test_it_keeps_retry_after_on_throttled_and_transient_errors():
    throttled = error_from_response(429, load("error_too_many_requests.json"), {"retry-after": "12"})
    transient = error_from_response(503, load("error_service_unavailable.json"), {"Retry-After": "3"})

    assert throttled.retry_after == 12
    assert transient.retry_after == 3


def test_it_reads_a_body_given_as_bytes_or_text():
    body = json.dumps(load("error_item_not_found.json"))

    assert error_from_response(404, body.encode()).code == "ErrorItemNotFound"
    assert error_from_response(404, body).code == "ErrorItemNotFound"


def test_it_falls_back_to_the_request_id_header_when_the_body_has_none():
    error = error_from_response(502, "<html>Bad gateway</html>", {"request-id": "rid-1"})

    assert isinstance(error, GraphTransientError)
    assert error.request_id == "rid-1"
    assert error.code == ""
    assert "Bad gateway" in error.message


def test_it_gives_a_message_even_for_an_empty_body():
    error = error_from_response(500, None, {"client-request-id": "crid"})

    assert error.message == "HTTP 500"
    assert error.request_id == "crid"


def test_it_returns_a_plain_graph_error_for_an_unexpected_status():
    error = error_from_response(304, None)

    assert type(error) is GraphError


def test_it_shows_status_code_and_request_id_in_the_error_text():
    error = error_from_response(404, load("error_item_not_found.json"))

    assert str(error) == (
        "404 ErrorItemNotFound: The specified object was not found in the store. "
        "(request-id 3a1f0c4e-0000-4000-8000-000000000404)"
    )


def test_it_describes_an_error_without_response_as_such():
    assert str(GraphTransientError("Timeout", code="ReadTimeout")) == "no response ReadTimeout: Timeout"


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after": "0.5"}, 0.5), ({}, None), ({"Retry-After": "soon"}, None)],
)
def test_it_parses_retry_after_seconds_only(headers, seconds):
    assert parse_retry_after(headers) == seconds
