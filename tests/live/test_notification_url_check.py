"""The system check on GRAPH_NOTIFICATION_URL: Graph sends notifications only to HTTPS."""

from __future__ import annotations

from exchange_sync.checks import notification_url_check


def test_an_http_notification_url_is_refused_in_production(settings):
    settings.DEBUG, settings.GRAPH_SANDBOX = False, False
    settings.GRAPH_NOTIFICATION_URL = "http://bcsync.example.com"

    assert [error.id for error in notification_url_check()] == ["exchange_sync.E005"]


def test_an_https_notification_url_or_none_is_accepted(settings):
    settings.DEBUG, settings.GRAPH_SANDBOX = False, False
    for url in ("https://bcsync.example.com", ""):
        settings.GRAPH_NOTIFICATION_URL = url
        assert notification_url_check() == []


def test_something_that_is_not_a_web_address_is_refused(settings):
    settings.GRAPH_NOTIFICATION_URL = "bcsync.example.com"

    assert [error.id for error in notification_url_check()] == ["exchange_sync.E004"]
