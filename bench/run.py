"""`make bench`: timed syncs against the Graph sandbox under Outlook's limits.

Every timed run: 150 ms per Graph operation (each member of a batch costs it, at most 4
at a time per mailbox), the throttle on (10,000 requests per 10 minutes, 4 concurrent),
a fresh mailbox or a fresh throttle window, the sync in a process of its own. Scenarios
(choose with BENCH_SIZES, comma separated; default all, about 20 minutes on a 2-core
machine; BENCH_SIZES=1k,1k-work,incr takes about 2 minutes):

- ``1k``: full sync of 1,000 contacts into an empty folder (about 40 s; bound 38 s);
- ``1k-work``: the same without latency or throttle: the time the engine and the
  sandbox spend working, which the simulated latency adds to (about 5 s);
- ``10k``: full sync of 10,000 contacts (about 10 minutes: 10,000 creates plus the reads
  pass Outlook's 10,000 requests per 10 minutes, so the run must wait for the window);
- ``incr``: 10,000 linked contacts (linked by an untimed full sync without latency),
  then an incremental sync with no change, then one after 1% (100) contacts changed in
  Business Central;
- ``100k``: full sync of 100,000 contacts for peak memory only, without latency or
  throttle (it measures memory, not speed; about 8 minutes);
- ``live``: live sync both ways. Business Central to Outlook (bench.live): 100 edits at
  random moments (p95 from commit to readable in Outlook) and a burst of 1,000 edits
  (how many runs, how long). Outlook to Business Central (bench.live_inbound): 100 Outlook
  edits with change notifications and 100 by polling (p95 from the edit to the value in
  the contacts table), and the Graph requests of a setup at rest in each mode; about 12
  minutes. Printed as tables of their own, each row with its target met or not.

Each row: wall time of the run, Graph HTTP requests (round trips, a $batch once), Graph
operations (batch members one by one, what the throttle counts), requests per contact,
peak RSS of the sync process, and the ratio of the wall time to the throttle-limited
bound (bench.bound) for the operations the run made.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

from bench.bound import throttle_bound
from bench.harness import Stage
from bench.world import World, both_sides_check

LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "150"))
SCENARIOS = ("1k", "1k-work", "10k", "incr", "100k", "live")


@dataclass
class Row:
    scenario: str
    contacts: int
    wall_seconds: float
    requests: int
    operations: int
    peak_rss_mb: float
    bound_seconds: float | None
    target: str
    met: bool
    status: str
    note: str = ""

    @property
    def ratio(self) -> str:
        if not self.bound_seconds:
            return "-"
        return f"{self.wall_seconds / self.bound_seconds:.2f}"


def _row(scenario: str, contacts: int, report: dict, *, timed: bool, target: str, met, note: str = "") -> Row:
    bound = throttle_bound(report["operations"]) if timed else None
    row = Row(
        scenario=scenario,
        contacts=contacts,
        wall_seconds=report["wall_seconds"],
        requests=report["requests"],
        operations=report["operations"],
        peak_rss_mb=report["peak_rss_mb"],
        bound_seconds=round(bound, 1) if bound is not None else None,
        target=target,
        met=False,
        status=report["status"],
        note=note or report.get("error", "")[:80],
    )
    row.met = bool(met(row)) and report["status"] == "succeeded"
    return row


def _checked(stage: Stage, world: World, contacts: int) -> str:
    """Both sides compared after a run (latency and throttle off, so the check is quick)."""
    from exchange_sync.connection import graph_client_from_settings

    world.configure(latency_ms=0, throttle=False)
    client = graph_client_from_settings()
    try:
        check = both_sides_check(world, client, expected_contacts=contacts)
    finally:
        client.close()
    return "both sides equal" if check.ok else "; ".join(check.problems)


def full_sync(stage: Stage, contacts: int, tag: str, *, latency_ms: int = LATENCY_MS) -> Row:
    timed = latency_ms > 0
    world = World(tag).create()
    world.seed(contacts)
    world.configure(latency_ms=latency_ms, throttle=timed)
    _say(f"full sync of {contacts:,} contacts{'' if timed else ' without latency or throttle'} ...")
    report = stage.run_worker(world.email, full=True)
    note = _checked(stage, world, contacts)
    if not timed:
        return _row(
            f"full sync, {contacts:,}, no latency",
            contacts,
            report,
            timed=False,
            target="(work the latency adds to)",
            met=lambda r: True,
            note=f"no latency, no throttle; {note}",
        )
    return _row(
        f"full sync, {contacts:,}",
        contacts,
        report,
        timed=True,
        target="<= 1.25x bound",
        met=lambda r: r.wall_seconds <= 1.25 * r.bound_seconds,
        note=note,
    )


def incremental(stage: Stage, contacts: int = 10_000, changed: int = 100) -> list[Row]:
    world = World("BINC").create()
    world.seed(contacts)
    _say(f"linking {contacts:,} contacts (untimed full sync without latency) ...")
    seed = stage.run_worker(world.email, full=True)
    if seed["status"] != "succeeded":
        raise RuntimeError(f"The seeding sync did not succeed: {seed}")
    world.configure(latency_ms=LATENCY_MS, throttle=True)
    rows = []
    _say("incremental sync, no change ...")
    report = stage.run_worker(world.email, full=False)
    rows.append(
        _row(
            f"incremental, 0 of {contacts:,} changed",
            contacts,
            report,
            timed=True,
            target="<= 2 requests, < 1 s",
            met=lambda r: r.requests <= 2 and r.wall_seconds < 1,
        )
    )
    from contacts.models import Contact

    step = contacts // changed
    numbers = [f"{world.tag}{n:07d}" for n in range(1, contacts + 1, step)][:changed]
    Contact.objects.filter(no__in=numbers).update(job_title="Head Buyer")
    _say(f"incremental sync, {changed} changed ...")
    report = stage.run_worker(world.email, full=False)
    limit = math.ceil(changed / 20) + 3
    rows.append(
        _row(
            f"incremental, {changed} of {contacts:,} changed",
            contacts,
            report,
            timed=True,
            target=f"<= {limit} requests",
            met=lambda r: r.requests <= limit,
            note=f"{report['counts']['updated_in_outlook']} updated in Outlook; " + _checked(stage, world, contacts),
        )
    )
    return rows


def memory(stage: Stage, contacts: int = 100_000) -> Row:
    world = World("BMEM").create()
    _say(f"seeding {contacts:,} contacts ...")
    world.seed(contacts)
    world.configure(latency_ms=0, throttle=False)
    _say(f"full sync of {contacts:,} contacts for peak memory (no latency, no throttle) ...")
    report = stage.run_worker(world.email, full=True, timeout=7200)
    return _row(
        f"full sync, {contacts:,} (memory)",
        contacts,
        report,
        timed=False,
        target="peak RSS <= 300 MB",
        met=lambda r: r.peak_rss_mb <= 300,
        note=f"no latency, no throttle; {_checked(stage, world, contacts)}",
    )


def table(rows: list[Row]) -> str:
    header = (
        "| scenario | wall s | HTTP requests | Graph operations | requests/contact | peak RSS MB | bound s | "
        "ratio | target | met |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.wall_seconds:.2f} | {r.requests:,} | {r.operations:,} | "
            f"{r.requests / r.contacts:.3f} | {r.peak_rss_mb:.0f} | "
            f"{r.bound_seconds if r.bound_seconds is not None else '-'} | {r.ratio} | {r.target} | "
            f"{'yes' if r.met else 'NO'} |"
        )
    notes = [f"- {r.scenario}: {r.status}; {r.note}" for r in rows if r.note or r.status != "succeeded"]
    return "\n".join(lines + ([""] + notes if notes else []))


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def main() -> int:
    chosen = [s.strip() for s in os.environ.get("BENCH_SIZES", ",".join(SCENARIOS)).split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        print(f"Unknown BENCH_SIZES {sorted(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    stage = Stage()
    rows: list[Row] = []
    live_table = ""
    try:
        stage.prepare()
        stage.start_server()
        _say(f"sandbox at {stage.site_url}, database {stage.env['DATABASE_URL']}; scenarios: {', '.join(chosen)}")
        for scenario in chosen:
            if scenario == "1k":
                rows.append(full_sync(stage, 1_000, "BF1K"))
            elif scenario == "1k-work":
                rows.append(full_sync(stage, 1_000, "BW1K", latency_ms=0))
            elif scenario == "10k":
                rows.append(full_sync(stage, 10_000, "BF10K"))
            elif scenario == "incr":
                rows.extend(incremental(stage))
            elif scenario == "live":
                from bench import live, live_inbound

                spread = live.random_edits(stage, _say)
                burst = live.burst(stage, _say)
                notified, notified_rest = live_inbound.notified(stage, _say)
                polled, polled_rest = live_inbound.polled(stage, _say)
                live_rows = live.lines_of(spread, burst, notified, polled)
                rest = [polled_rest, notified_rest]
                live_table = live.report(live_rows, rest)
                live_met = all(row.met for row in live_rows) and live.rest_met(rest)
            else:
                rows.append(memory(stage))
            _say(f"done: {scenario}")
    finally:
        stage.close()
    print()
    print(f"Latency {LATENCY_MS} ms per Graph operation, 4 at a time, throttle 10,000 per 600 s (except memory).")
    if rows:
        print(table(rows))
    if live_table:
        print()
        print(live_table)
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as out:
            json.dump([asdict(r) for r in rows], out, indent=2)
    skipped = [s for s in SCENARIOS if s not in chosen]
    if skipped:
        print(f"\nNot run (BENCH_SIZES): {', '.join(skipped)}")
    return 0 if all(r.met for r in rows) and (not live_table or live_met) else 1


if __name__ == "__main__":
    sys.exit(main())
