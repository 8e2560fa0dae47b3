"""People's msal token caches, encrypted at rest with the keys of M365_TOKEN_CACHE_KEYS.

The cache holds a person's refresh token: whoever reads it can open their mailbox until
it is revoked. It is stored only as a Fernet token (AES-128-CBC + HMAC-SHA256, from
`cryptography`) under a key of its own, never SECRET_KEY, so a leaked database dump or a
leaked SECRET_KEY alone does not give the tokens away.

Rotation (MultiFernet): the first key encrypts, every listed key decrypts. Put the new
key first and keep the old ones after it; `manage.py token_cache_reencrypt` re-encrypts
every stored cache with the first key (each cache is also re-encrypted whenever its
tokens are renewed); then the old keys can be removed. A cache no listed key can read
raises TokenCacheUnreadable: its person is asked to reconnect.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenCacheUnreadable(Exception):
    """No key of M365_TOKEN_CACHE_KEYS decrypts the stored cache (the keys were changed)."""


def _fernet() -> MultiFernet:
    keys = [key for key in settings.M365_TOKEN_CACHE_KEYS if key]
    if not keys:
        raise TokenCacheUnreadable("M365_TOKEN_CACHE_KEYS is not set.")
    return MultiFernet([Fernet(key) for key in keys])


def token_cache_encrypt(serialized: str) -> str:
    """The encrypted form of a serialized msal token cache, under the first key."""
    return _fernet().encrypt(serialized.encode()).decode()


def token_cache_decrypt(encrypted: str) -> str:
    """The serialized cache; TokenCacheUnreadable when no configured key decrypts it."""
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise TokenCacheUnreadable("No key of M365_TOKEN_CACHE_KEYS decrypts this token cache.") from exc


def token_cache_reencrypt(encrypted: str) -> str:
    """The same cache encrypted under the first key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(encrypted.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise TokenCacheUnreadable("No key of M365_TOKEN_CACHE_KEYS decrypts this token cache.") from exc


def token_cache_key_problem() -> str:
    """Why M365_TOKEN_CACHE_KEYS cannot be used ("" when it can): for the system check."""
    keys = [key for key in settings.M365_TOKEN_CACHE_KEYS if key]
    if not keys:
        return "M365_TOKEN_CACHE_KEYS is empty, so people's Microsoft 365 sign-ins cannot be stored encrypted."
    for position, key in enumerate(keys, start=1):
        if key == settings.SECRET_KEY:
            return f"Key {position} of M365_TOKEN_CACHE_KEYS is the SECRET_KEY: the token cache needs a key of its own."
        try:
            Fernet(key)
        except ValueError:
            return f"Key {position} of M365_TOKEN_CACHE_KEYS is not a Fernet key (32 url-safe base64-encoded bytes)."
    return ""
