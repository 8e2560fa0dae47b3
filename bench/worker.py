"""One sync run in a process of its own; prints a JSON report as its last line.

    python -m bench.worker --user ann@cronus.example [--full] [--record]

The report: run id, status, error, counters, wall time of the run (the engine only, not
Django's start-up), HTTP round trips (run.graph_requests), Graph operations (batch
members counted one by one, as the throttle counts them), peak resident memory of this
process (ru_maxrss) and, with --record, the statuses Graph answered (batch members
included), to show what a fault storm really delivered.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import requests

    from exchange_sync.connection import graph_client_from_settings
    from exchange_sync.models import ExchangeSyncSetup, SyncRun
    from exchange_sync.sync import COUNTERS, sync_setup

    statuses: Counter[int] = Counter()

    class RecordingSession(requests.Session):
        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            statuses[response.status_code] += 1
            if request.url.endswith("/$batch") and response.ok:
                for member in response.json().get("responses", []):
                    statuses[member["status"]] += 1
            return response

    setup = ExchangeSyncSetup.objects.get(user__m365_identity__authentication_email=args.user)
    client = graph_client_from_settings(session=RecordingSession() if args.record else None)
    kind = SyncRun.Kind.FULL if args.full else SyncRun.Kind.INCREMENTAL
    started = time.monotonic()
    try:
        run = sync_setup(setup, client=client, kind=kind, trigger=SyncRun.Trigger.COMMAND)
    finally:
        client.close()
    wall = time.monotonic() - started
    report = {
        "run": run.pk,
        "status": run.status,
        "error": run.error,
        "counts": {name: getattr(run, name) for name in COUNTERS},
        "wall_seconds": round(wall, 3),
        "requests": run.graph_requests,
        "operations": client.operation_count,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
