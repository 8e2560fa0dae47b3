"""Test-only objects the job queue can run (registered by the ``test_objects`` fixture)."""

from __future__ import annotations

from pathlib import Path

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
