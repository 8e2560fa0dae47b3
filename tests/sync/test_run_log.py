"""Every run writes one structured log line (JSON) with its id, mailbox, kind, counts,
Graph requests, 429s and duration, for log search and monitoring."""

from __future__ import annotations

import json
import logging

from contacts.models import Contact
from tests.sync.conftest import MAILBOX


def test_each_run_logs_one_json_line_with_its_figures(setup, sync, caplog):
    for n in range(3):
        Contact.objects.create(type=Contact.Type.PERSON, name=f"Log Person {n}", email=f"log{n}@example.com")
    with caplog.at_level(logging.INFO, logger="exchange_sync.sync.run"):
        run = sync(full=True)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sync_run_finished ")]
    assert len(lines) == 1
    fields = json.loads(lines[0].removeprefix("sync_run_finished "))
    assert fields["run"] == run.pk
    assert (fields["setup"], fields["trigger"]) == (setup.pk, run.trigger)
    assert fields["mailbox"] == MAILBOX
    assert fields["kind"] == "full"
    assert fields["status"] == "succeeded"
    assert fields["created_in_outlook"] == 3
    assert fields["graph_requests"] == run.graph_requests > 0
    assert fields["throttled_429"] == 0
    assert fields["duration_s"] == round((run.finished_at - run.started_at).total_seconds(), 3)
    assert "Log Person" not in lines[0]  # no contact data in logs
