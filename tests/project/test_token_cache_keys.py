"""Per-user sign-in refuses to start without a token cache key of its own (system check E006)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from exchange_sync.checks import token_cache_key_check


def _ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_it_accepts_a_fernet_key_of_its_own(settings):
    settings.M365_DELEGATED_SIGN_IN = True
    settings.M365_TOKEN_CACHE_KEYS = [Fernet.generate_key().decode()]
    assert token_cache_key_check() == []


@pytest.mark.parametrize(
    ("keys", "says"),
    [([], "is empty"), (["not-a-key"], "not a Fernet key"), ("SECRET", "is the SECRET_KEY")],
    ids=["missing", "not a Fernet key", "the SECRET_KEY"],
)
def test_it_refuses_to_start_with_delegated_sign_in_and(settings, keys, says):
    settings.M365_DELEGATED_SIGN_IN = True
    if keys == "SECRET":
        settings.SECRET_KEY = Fernet.generate_key().decode()  # even a valid Fernet key must not be it
        keys = [Fernet.generate_key().decode(), settings.SECRET_KEY]
    settings.M365_TOKEN_CACHE_KEYS = keys
    errors = token_cache_key_check()
    assert _ids(errors) == ["exchange_sync.E006"]
    assert says in errors[0].msg


def test_it_needs_no_key_without_delegated_sign_in(settings):
    settings.M365_DELEGATED_SIGN_IN = False
    settings.M365_TOKEN_CACHE_KEYS = []
    assert token_cache_key_check() == []
