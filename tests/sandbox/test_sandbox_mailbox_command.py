"""`manage.py sandbox_mailbox`: add, list, reset, set."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from exchange_sync.sandbox import services
from exchange_sync.sandbox.models import Contact, Mailbox
from tests.sandbox.conftest import MAILBOX

# Another process running the command against this test's database.
_OTHER_PROCESS = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bcsync_project.settings_test")
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]
import django
django.setup()
from django.core.management import call_command
call_command("sandbox_mailbox", *sys.argv[2:])
"""


def run_in_another_process(*args: str) -> subprocess.CompletedProcess:
    """`sandbox_mailbox *args` in a process of its own, on this test's database."""
    return subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, connection.settings_dict["NAME"], *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bcsync_project.settings_test"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_mailbox", *args, stdout=out)
    return out.getvalue()


def test_it_adds_a_mailbox_once(db):
    assert run("add", "Carol@Cronus.example", "--name", "Carol") == "Added: carol@cronus.example\n"
    assert run("add", "carol@cronus.example") == "Already there: carol@cronus.example\n"
    mailbox = Mailbox.objects.get()
    assert mailbox.display_name == "Carol"


def test_it_lists_mailboxes_with_their_knobs(db):
    run("add", "carol@cronus.example")
    run("set", "carol@cronus.example", "--latency-ms", "150", "--throttle", "on")
    line = run("list")
    assert line.startswith("carol@cronus.example\t0 folder(s), 0 contact(s)\tlatency=150ms throttle=on")


def test_it_sets_every_knob(db):
    run("add", "carol@cronus.example")
    run(
        "set", "carol@cronus.example", "--latency-ms", "150", "--throttle", "on", "--transient-rate", "0.2",
        "--lost-create-rate", "0.1", "--expire-delta", "410", "--access-denied", "on",
    )  # fmt: skip
    mailbox = Mailbox.objects.get()
    assert (mailbox.latency_ms, mailbox.is_throttled, mailbox.transient_error_rate) == (150, True, 0.2)
    assert (mailbox.lost_create_rate, mailbox.delta_expiry, mailbox.is_access_denied) == (0.1, "410", True)
    run("set", "carol@cronus.example", "--latency-ms", "default", "--throttle", "default")
    mailbox.refresh_from_db()
    assert (mailbox.latency_ms, mailbox.is_throttled, mailbox.transient_error_rate) == (None, None, 0.2)


def test_it_refuses_a_rate_outside_zero_to_one(db):
    run("add", "carol@cronus.example")
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("set", "carol@cronus.example", "--transient-rate", "1.5")


def test_it_resets_a_mailbox_to_empty_with_default_knobs(db):
    mailbox, _ = services.mailbox_add("carol@cronus.example")
    folder = services.folder_create(mailbox, "Business Central")
    services.contact_create(folder, {"surname": "Lee"})
    services.mailbox_configure("carol@cronus.example", latency_ms=10)
    run("reset", "carol@cronus.example")
    mailbox.refresh_from_db()
    assert mailbox.folders.count() == 0
    assert Contact.objects.count() == 0
    assert mailbox.latency_ms is None


def test_it_says_when_a_mailbox_is_unknown(db):
    with pytest.raises(CommandError, match="No sandbox mailbox nobody@cronus.example"):
        run("reset", "nobody@cronus.example")


@override_settings(GRAPH_SANDBOX_THROTTLE_LIMIT=2)
def test_a_set_from_another_process_restarts_the_servers_throttle_window(graph):
    services.mailbox_configure(MAILBOX, throttle=True)
    assert [graph.get(f"/users/{MAILBOX}").status_code for _ in range(3)] == [200, 200, 429]
    done = run_in_another_process("set", MAILBOX, "--throttle", "on")
    assert done.returncode == 0, done.stderr
    assert f"Set throttle on {MAILBOX}" in done.stdout
    # The window lives in the server's memory; the other process marked the knobs changed.
    assert [graph.get(f"/users/{MAILBOX}").status_code for _ in range(3)] == [200, 200, 429]


def test_it_moves_a_contact_and_deletes_it_as_a_person_does_in_outlook(db):
    mailbox, _ = services.mailbox_add(MAILBOX)
    source = services.folder_create(mailbox, "Business Central")
    services.folder_create(mailbox, "Suppliers")
    contact = services.contact_create(source, {"displayName": "Ann Lee"})

    out = run("move", MAILBOX, "Ann Lee", "suppliers")
    moved = Contact.objects.get(is_deleted=False)
    assert moved.folder.display_name == "Suppliers"
    assert moved.immutable_id == contact.immutable_id
    assert out == f"Moved Ann Lee from Business Central to Suppliers; its id is now {moved.graph_id}\n"

    assert run("delete", MAILBOX, contact.immutable_id) == "Moved Ann Lee to Deleted Items\n"
    assert Contact.objects.get(is_deleted=False).folder.display_name == "Deleted Items"
    assert run("delete", MAILBOX, "Ann Lee", "--permanently") == "Deleted Ann Lee permanently\n"
    assert not Contact.objects.filter(is_deleted=False).exists()
    with pytest.raises(CommandError, match="No contacts"):
        run("move", MAILBOX, "Ann Lee", "Suppliers")
