"""Test-only objects the job queue can run (registered by the ``test_objects`` fixture and by
qcluster_with_test_objects.py). Imports no models, so a process can load it before setup."""

from __future__ import annotations

from pathlib import Path

from jobqueue.objects import ObjectType, RunnableObject

SUCCEED = 50100
FAIL = 50101
APPEND_TO_FILE = 50102

TEST_OBJECTS = {
    (ObjectType.CODEUNIT, SUCCEED): RunnableObject("Test Succeed", f"{__name__}.succeed"),
    (ObjectType.CODEUNIT, FAIL): RunnableObject("Test Fail", f"{__name__}.fail"),
    (ObjectType.CODEUNIT, APPEND_TO_FILE): RunnableObject("Test Append to File", f"{__name__}.append_to_file"),
}

CALLS: list[tuple[str, str]] = []


def succeed(parameter_string: str, user) -> str:
    """Records the call and reports success."""
    CALLS.append((parameter_string, user.get_username()))
    return f"Ran for {user.get_username()}"


def fail(parameter_string: str, user) -> None:
    """Records the call and fails like a sync whose mailbox is gone."""
    CALLS.append((parameter_string, user.get_username()))
    raise RuntimeError("Mailbox not found")


def append_to_file(parameter_string: str, user) -> str:
    """Appends one line to the file named by ``FILE=<path>``: counts runs across processes."""
    path = Path(parameter_string.removeprefix("FILE="))
    with path.open("a") as f:
        f.write(f"ran as {user.get_username()}\n")
    return "appended"
