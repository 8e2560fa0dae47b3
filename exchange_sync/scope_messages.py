"""The sentences for a mailbox that Exchange Online keeps the app out of, shared by the
run, the setup's health and Validate Exchange Connection so a person reads one thing."""

from __future__ import annotations

MAILBOX_SCOPE_FIX = (
    "add the mailbox to the app's management scope in Exchange Online (RBAC for Applications, or the "
    "application access policy), or ask an Exchange administrator to. A change there can take up to two "
    "hours to apply."
)


def mailbox_scope_problem(mailbox: str) -> str:
    return f"This app is not allowed to open {mailbox}."


def mailbox_scope_message(mailbox: str) -> str:
    """What is wrong and what to do, in one sentence, for a run and the setup's health."""
    return f"{mailbox_scope_problem(mailbox)[:-1]}: {MAILBOX_SCOPE_FIX}"
