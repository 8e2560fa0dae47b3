"""Opaque Graph ids: long, base64-like, recognisably the sandbox's own.

Real Outlook ids are base64 of an entry id and may contain `+`, `/` and `=`; clients
must treat them as opaque and URL-encode them in paths (graph-notes.md). Sandbox ids are
standard base64 (so about three in four contain `+` or `/`, and all end in `=`) of a
fixed marker, a kind byte and 31 random bytes. A string that is not strict base64 of
that shape (a stray character such as `!` included) is answered with 400
`ErrorInvalidIdMalformed`, as Graph does for ids it cannot parse
(https://learn.microsoft.com/graph/errors); an id left unencoded in a path usually
splits into two segments and gets a 400 too. Ids in the URL-safe alphabet, which the
sandbox issued before, are still accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from .errors import GraphError

_MARKER = b"\x00\x00\x00\x01BCSBX"
FOLDER = b"F"
CONTACT = b"C"
ROOT = b"R"
# A contact's immutable id (`Prefer: IdType="ImmutableId"`): another id of the same item,
# the one that survives moves. Real Outlook ids of both kinds look alike to a client.
IMMUTABLE = b"I"
_RAW_LENGTH = len(_MARKER) + 1 + 31


def new_id(kind: bytes) -> str:
    """A fresh id of a kind (FOLDER, CONTACT, IMMUTABLE, ROOT)."""
    return base64.b64encode(_MARKER + kind + secrets.token_bytes(31)).decode()


def derived_id(kind: bytes, seed: str) -> str:
    """An id of a kind that is always the same for `seed` (an id the sandbox never stores)."""
    return base64.b64encode(_MARKER + kind + hashlib.sha256(seed.encode()).digest()[:31]).decode()


def new_change_key() -> str:
    """A fresh changeKey (base64 like Exchange's)."""
    return base64.b64encode(b"\x10\x00\x00\x00" + secrets.token_bytes(11)).decode()


def check_id(value: str) -> bytes:
    """Return the kind of a sandbox id; raise 400 ErrorInvalidIdMalformed otherwise."""
    try:
        encoded = value.encode("ascii")
        if b"-" in encoded or b"_" in encoded:
            # Ids this sandbox issued before it used the standard alphabet (URL-safe,
            # padded): still its own, so a demo database made then keeps working.
            raw = base64.b64decode(encoded, altchars=b"-_", validate=True)
        else:
            raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != _RAW_LENGTH or not raw.startswith(_MARKER):
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return raw[len(_MARKER) : len(_MARKER) + 1]
