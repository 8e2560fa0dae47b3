"""Demo users for `make run`: a superuser and a salesperson, each with a Microsoft 365
mailbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group

from exchange_sync.models import M365Identity

DEMO_USERNAME = "admin"
DEMO_MAILBOX = "admin@cronus.example"
# Jim Olive, salesperson JO in Business Central's CRONUS demo company.
DEMO_SALES_USERNAME = "jim"
DEMO_SALES_MAILBOX = "jim@cronus.example"
# The salesperson's role, made by jobqueue's migration 0004 (jobqueue/roles.py).
SALESPERSON_ROLE = "Contact Sync User"


@dataclass(frozen=True)
class DemoUser:
    user: AbstractBaseUser
    mailbox: str
    password: str | None  # set only when the user was created by this call


def demo_superuser_ensure(*, password: str | None = None) -> DemoUser:
    """Create the demo superuser once; later calls leave it (and its password) alone."""
    User = get_user_model()
    user = User.objects.filter(username=DEMO_USERNAME).first()
    created_password = None
    if user is None:
        created_password = password or secrets.token_urlsafe(9)
        user = User.objects.create_superuser(
            DEMO_USERNAME, email=DEMO_MAILBOX, password=created_password, first_name="Demo", last_name="Admin"
        )
    M365Identity.objects.get_or_create(user=user, defaults={"authentication_email": DEMO_MAILBOX})
    return DemoUser(user, user.m365_identity.authentication_email, created_password)


def demo_salesperson_ensure(*, password: str | None = None) -> DemoUser:
    """Create the demo salesperson once: staff, in the Contact Sync User role (not a
    superuser), with a Microsoft 365 mailbox. Later calls leave it (and its password) alone.
    Raises Group.DoesNotExist when the role is missing (the database is not migrated)."""
    role = Group.objects.get(name=SALESPERSON_ROLE)
    User = get_user_model()
    user = User.objects.filter(username=DEMO_SALES_USERNAME).first()
    created_password = None
    if user is None:
        created_password = password or secrets.token_urlsafe(9)
        user = User.objects.create_user(
            DEMO_SALES_USERNAME,
            email=DEMO_SALES_MAILBOX,
            password=created_password,
            first_name="Jim",
            last_name="Olive",
            is_staff=True,
        )
        user.groups.add(role)
    M365Identity.objects.get_or_create(user=user, defaults={"authentication_email": DEMO_SALES_MAILBOX})
    return DemoUser(user, user.m365_identity.authentication_email, created_password)
