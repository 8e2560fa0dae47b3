"""The objects a Job Queue Entry can run: Business Central's "Object Type to Run" and
"Object ID to Run", mapped to a caption and the dotted path of a Python callable.

The callable's contract::

    def run(parameter_string: str, user: User) -> str | None

It runs as ``user`` (the entry's "User ID", or the requesting user for "Run Once
(Foreground)"), reads its options from the entry's parameter string, raises on failure
(the exception text becomes the log entry's error message) and may return a short text
stored on the Success log entry. Paths are resolved with ``import_string`` at run time
only, so this app imports nothing of the apps it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.utils.module_loading import import_string


class ObjectType(models.TextChoices):
    CODEUNIT = "Codeunit", "Codeunit"
    REPORT = "Report", "Report"


@dataclass(frozen=True)
class RunnableObject:
    """One object a Job Queue Entry can run."""

    caption: str
    callable_path: str


CONTACT_SYNC_CODEUNIT_ID = 6700

OBJECTS: dict[tuple[str, int], RunnableObject] = {
    (ObjectType.CODEUNIT, CONTACT_SYNC_CODEUNIT_ID): RunnableObject(
        "Exchange Contact Sync.", "exchange_sync.background.codeunit_contact_sync"
    ),
}


class UnknownObjectError(LookupError):
    """No object of that type and id can be run by the job queue."""


def object_get(object_type: str, object_id: int | None) -> RunnableObject | None:
    """The registered object, or None when the type and id name nothing."""
    return OBJECTS.get((object_type, object_id))


def object_list_text() -> str:
    """The runnable objects as text for error messages, e.g. "Codeunit 6700 Exchange Contact Sync."."""
    return ", ".join(f"{kind} {number} {obj.caption}" for (kind, number), obj in sorted(OBJECTS.items()))


def object_resolve(object_type: str, object_id: int) -> Callable[..., str | None]:
    """Import and return the callable of an object; raises UnknownObjectError."""
    obj = object_get(object_type, object_id)
    if obj is None:
        raise UnknownObjectError(
            f"{object_type} {object_id} cannot be run. Objects that can run: {object_list_text()}."
        )
    return import_string(obj.callable_path)
