"""Model factories for tests: plain functions with sensible defaults."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from contacts.models import Contact

_seq = itertools.count(1)


def make_company(name: str | None = None, **fields) -> Contact:
    n = next(_seq)
    return Contact.objects.create(type=Contact.Type.COMPANY, name=name or f"Company {n}", **fields)


def make_person(**fields) -> Contact:
    n = next(_seq)
    fields.setdefault("first_name", f"First{n}")
    fields.setdefault("surname", f"Surname{n}")
    fields.setdefault("email", f"person{n}@example.com")
    return Contact.objects.create(type=Contact.Type.PERSON, **fields)


def make_user(username: str | None = None, *, mailbox: str | None = None, **fields):
    from exchange_sync.models import M365Identity

    n = next(_seq)
    fields.setdefault("is_staff", True)
    user = get_user_model().objects.create_user(username or f"user{n}", password="pw-for-tests-123", **fields)
    if mailbox:
        M365Identity.objects.create(user=user, authentication_email=mailbox)
    return user
