"""`make bench-scale`: scale-out over job queue workers, as production runs it.

40 mailboxes x 250 contacts (BENCH_SCALE_MAILBOXES, BENCH_SCALE_CONTACTS), 150 ms per
Graph operation, the throttle on, PostgreSQL (a scratch database on the server named
by DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/0; a db with no queued task). For
each worker count (BENCH_SCALE_WORKERS, default 1,2,4,8,16) two `manage.py qcluster`
processes share the workers (one cluster for a single worker), the way two machines
would; every mailbox's full sync is queued as a button press queues it, and the wall
time runs from the first queuing to the last run's end. Each worker count gets fresh
mailboxes and setups (the contacts are shared), so every run starts from an empty folder.

Reported per worker count: wall time, throughput (contacts/s), speedup against one
worker, and what was busy: the machine's CPU (all cores, other users included), the
sandbox server's CPU, the workers' CPU, and the most database connections seen, to tell
which of them saturates first. Target: speedup >= 0.8 x workers up to 8, >= 10 at 16.
A second table gives CPU milliseconds per contact per process tree (reaped children
included): sandbox, workers, database and Redis servers (when they run on this machine;
the database's tree counts every database on that server), the harness itself, the
machine, and "other" (the kernel, and anyone else's processes on a shared machine).
CPU time per contact holds on a busy machine where wall times do not.

What saturates is the machine's CPU (2 cores here): the rounds of 8 and 16 workers are
CPU-bound and the smaller ones wait on Graph. Measured on a shared machine (load 3-5),
2026-12-03, 40 x 250, in separate runs: 1 worker 431.4 s (23.2 contacts/s), 2 workers
217.1 s (46.1, 1.99x), 4 workers 110.4 s (90.6, 3.91x), 8 workers 60.5 s (165.3,
7.13x), 16 workers 34.7 s (287.8, 12.4x); CPU per contact at 16:
sandbox 2.10, workers 0.69, database 1.38, harness 0.06 ms, the machine 6.53 ms (others
included). Before the fixes of that day (sandbox writes, link updates, the sandbox's
connections): 16 workers 70.0 s, 142.8 contacts/s on a quiet machine; on the shared
one sandbox 8.69, workers 2.55, database 4.45 ms per contact (16 x 250).

The sandbox stands in for Outlook, and it is served here by gunicorn, BENCH_SANDBOX_PROCESSES
(2) processes of BENCH_SANDBOX_THREADS (16) threads each: one Python process (the GIL)
could not serve 16 busy workers. Its throttle counts (10,000 per 10 minutes, 4 at a time
per mailbox) live in each process's memory, so with several processes each counts on
its own; the engine itself never sends more than 4 at a time per mailbox. On PostgreSQL
it keeps its connections and commits without waiting for the disk, as Microsoft's
servers would not cost bcsync's machine anything (`_sandbox_database_url`).

Stopped with SIGTERM or Ctrl-C, it stops the servers and workers it started and drops
its scratch database (bench.harness) before it exits (130).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.harness import PYTHON, ROOT, Stage

LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "150"))
MAILBOXES = int(os.environ.get("BENCH_SCALE_MAILBOXES", "40"))
CONTACTS = int(os.environ.get("BENCH_SCALE_CONTACTS", "250"))
WORKERS = [int(n) for n in os.environ.get("BENCH_SCALE_WORKERS", "1,2,4,8,16").split(",") if n.strip()]
SANDBOX_PROCESSES = int(os.environ.get("BENCH_SANDBOX_PROCESSES", "2"))
SANDBOX_THREADS = int(os.environ.get("BENCH_SANDBOX_THREADS", "16"))
QUEUE_KEY = "django_q:bcsync:q"
REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/0"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    workers: int
    clusters: str
    contacts: int
    wall_seconds: float
    throughput: float
    speedup: float | None
    target: str
    met: bool
    statuses: dict[str, int]
    throttled_429: int
    graph_requests: int
    machine_cpu: float  # cores busy, whole machine
    sandbox_cpu: float  # cores
    workers_cpu: float  # cores
    db_connections: int
    in_sync: str
    # CPU milliseconds per contact synchronized, per process group (see Meter.seconds).
    cpu_ms_per_contact: dict[str, float] = field(default_factory=dict)


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- CPU from /proc --------------------------------------------------------------------


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


def _trees_cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) of each group's processes and their descendants: the
    live ones, and through each process's children times, the exited ones it reaped (a
    PostgreSQL backend per connection, a worker process that ended). One pass over /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            rest = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid] = int(rest[1])
            times[pid] = sum(int(v) for v in rest[11:15]) / TICKS
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    used = {}
    for name, roots in groups.items():
        wanted, todo = set(), list(roots)
        while todo:
            pid = todo.pop()
            if pid not in wanted:
                wanted.add(pid)
                todo.extend(children.get(pid, []))
        used[name] = sum(times.get(pid, 0.0) for pid in wanted)
    return used


def _own_cpu() -> float:
    """CPU seconds of this process alone (the harness: seeding, polling, this meter)."""
    times = os.times()
    return times.user + times.system


def _local_pid(pid: int, name: str) -> int | None:
    """`pid` when it is a process of this machine named `name` (a server reached over
    the network may run elsewhere, or in another pid namespace)."""
    with suppress(OSError):
        if Path(f"/proc/{pid}/comm").read_text().strip().startswith(name):
            return pid
    return None


def database_server_pid() -> int | None:
    """The PostgreSQL server's main process (the parent of this connection's backend), if local."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with suppress(OSError, IndexError, ValueError):
        parent = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return _local_pid(parent, "postgres")
    return None


def redis_server_pid(url: str) -> int | None:
    import redis

    pid = redis.Redis.from_url(url, socket_timeout=5).info("server").get("process_id")
    return _local_pid(int(pid), "redis-server") if pid else None


class Meter:
    """CPU used between start and stop, sampled on each tick so exited children count.

    Groups are process trees (the server's tree counts every backend it forked, for
    every database on it); "harness" is this process alone; "machine" is every process
    on the machine, kernel included, and "other" what the machine used beyond the groups
    (the kernel's network work, and anyone else's processes on a shared machine).
    """

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.first = _trees_cpu(groups)
        self.most = dict(self.first)
        self.harness = _own_cpu()
        self.machine = _machine_busy()
        self.started = time.monotonic()
        self.connections = 0

    def tick(self, connections: int) -> None:
        for name, seconds in _trees_cpu(self.groups).items():
            self.most[name] = max(self.most[name], seconds)
        self.connections = max(self.connections, connections)

    def seconds(self) -> dict[str, float]:
        """CPU seconds used per group, and by the harness, the machine and the rest."""
        used = {name: self.most[name] - self.first[name] for name in self.groups}
        used["harness"] = _own_cpu() - self.harness
        used["machine"] = _machine_busy()[0] - self.machine[0]
        used["other"] = max(0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine"))
        return used

    def cores(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        busy, total = _machine_busy()
        cores = {name: (self.most[name] - self.first[name]) / wall for name in self.groups}
        elapsed_all = total - self.machine[1]
        cores["machine"] = (busy - self.machine[0]) / elapsed_all * os.cpu_count() if elapsed_all else 0.0
        return cores


# --- the stage ---------------------------------------------------------------------------


class ScaleStage(Stage):
    """The bench's stage with the sandbox served by gunicorn and workers in qclusters."""

    def __post_init__(self) -> None:
        os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        super().__post_init__()
        self.redis_url = os.environ.get("BENCH_REDIS_URL", REDIS_URL_DEFAULT)
        self.env["REDIS_URL"] = self.redis_url
        self.worker_env["REDIS_URL"] = self.redis_url
        self.worker_env["LOG_LEVEL"] = "WARNING"
        self.clusters: list[subprocess.Popen] = []
        # The database and Redis servers' main processes, when they run on this machine.
        self.servers: dict[str, int | None] = {}

    def start_server(self, extra_env: dict[str, str] | None = None) -> None:
        """The sandbox under gunicorn (threads in a few processes) on this stage's port."""
        self.stop_server()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(256)
        sock.set_inheritable(True)
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (closed with the process)
        gunicorn = str(Path(PYTHON).with_name("gunicorn"))
        self.server = subprocess.Popen(
            [
                gunicorn,
                "bcsync_project.wsgi",
                "--bind",
                f"fd://{sock.fileno()}",
                "--workers",
                str(SANDBOX_PROCESSES),
                "--threads",
                str(SANDBOX_THREADS),
            ],
            cwd=ROOT,
            env={
                **self.env,
                "DATABASE_URL": _sandbox_database_url(self.env["DATABASE_URL"]),
                "DEBUG": "false",
                "GRAPH_SANDBOX_STAGING_DRILL": "true",
                "SECURE_SSL_REDIRECT": "false",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
            start_new_session=True,
        )
        log.close()
        sock.close()
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.site_url}/graph-sandbox/v1.0/$metadata", timeout=2)  # noqa: S310
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.server.poll() is not None:
                    raise RuntimeError(f"The sandbox server stopped; see {self.workdir / 'server.log'}") from None
                time.sleep(0.3)
        raise RuntimeError("The sandbox server did not start within 60 s")

    def stop_server(self) -> None:
        if self.server and self.server.poll() is None:
            _stop_group(self.server)
        self.server = None

    def start_clusters(self, workers: int) -> list[int]:
        """Two qclusters sharing `workers` (one for a single worker); ready when this returns."""
        shares = [workers] if workers == 1 else [workers - workers // 2, workers // 2]
        for n, share in enumerate(shares, start=1):
            log = open(self.workdir / f"cluster{n}.log", "wb")  # noqa: SIM115 (closed with the process)
            self.clusters.append(
                subprocess.Popen(
                    [PYTHON, "manage.py", "qcluster"],
                    cwd=ROOT,
                    env={**self.worker_env, "Q_WORKERS": str(share), "LOG_LEVEL": "INFO"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = [(self.workdir / f"cluster{n}.log").read_text(errors="replace") for n in range(1, len(shares) + 1)]
            if all(log.count("ready for work") >= share for log, share in zip(logs, shares, strict=True)):
                return shares
            if any(c.poll() is not None for c in self.clusters):
                raise RuntimeError(f"A qcluster stopped; see {self.workdir}")
            time.sleep(0.5)
        raise RuntimeError("The qclusters did not start within 120 s")

    def stop_clusters(self) -> None:
        for cluster in self.clusters:
            _stop_group(cluster)
        self.clusters = []

    def _close(self) -> None:
        self.stop_clusters()
        super()._close()


def _sandbox_database_url(url: str) -> str:
    """The sandbox server's database: on PostgreSQL, each thread keeps its connection
    (a new backend per Graph request cost the database more CPU than the request's
    queries), and commits do not wait for the disk (it stands in for Microsoft's
    servers; its durability is not what the bench measures)."""
    if not url.startswith(("postgres://", "postgresql://")):
        return url
    return f"{url}{'&' if '?' in url else '?'}conn_max_age=600&options=-c%20synchronous_commit%3Doff"


def _stop_group(process: subprocess.Popen, timeout: float = 40) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _database_connections(database: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database])
        return cursor.fetchone()[0]


# --- the scenario --------------------------------------------------------------------------


def _round(stage: ScaleStage, workers: int) -> Row:
    from django.db.models import Max, Min, Sum

    from bench.world import World
    from exchange_sync.models import ExchangeSyncSetup, SyncRun
    from exchange_sync.services import sync_run_queue

    worlds = [World(f"S{workers:02d}M{i:02d}", code=f"SC{i:02d}").create() for i in range(MAILBOXES)]
    for world in worlds:
        world.configure(latency_ms=LATENCY_MS, throttle=True)
    # The bench measures full syncs as the button queues them: live sync's polls (one per
    # setup a minute, the earlier rounds' setups included) would queue tasks beside them.
    ExchangeSyncSetup.objects.update(is_live_sync_enabled=False)
    shares = stage.start_clusters(workers)
    _say(f"{workers} worker(s) in {len(shares)} cluster(s) {shares}: queuing {MAILBOXES} full syncs ...")
    groups = {"sandbox": [stage.server.pid], "workers": [c.pid for c in stage.clusters]}
    groups |= {name: [pid] for name, pid in stage.servers.items() if pid}
    meter = Meter(groups)
    runs = []
    for world in worlds:
        run, _ = sync_run_queue(world.setup, kind=SyncRun.Kind.FULL, trigger=SyncRun.Trigger.BUTTON)
        runs.append(run.pk)
    deadline = time.monotonic() + 3600
    while SyncRun.objects.filter(pk__in=runs).exclude(status__in=SyncRun.FINISHED).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("The runs did not finish within an hour")
        meter.tick(_database_connections(stage.scratch_database))
        time.sleep(1)
    meter.tick(_database_connections(stage.scratch_database))
    cores = meter.cores()
    contacts = MAILBOXES * CONTACTS
    cpu_ms = {name: round(seconds * 1000 / contacts, 2) for name, seconds in meter.seconds().items()}
    stage.stop_clusters()
    throttled = _throttled(stage, runs)
    done = SyncRun.objects.filter(pk__in=runs)
    span = done.aggregate(first=Min("created_at"), last=Max("finished_at"))
    wall = (span["last"] - span["first"]).total_seconds()
    totals = done.aggregate(requests=Sum("graph_requests"))
    statuses: dict[str, int] = {}
    for status in done.values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    return Row(
        workers=workers,
        clusters="+".join(map(str, shares)),
        contacts=contacts,
        wall_seconds=round(wall, 1),
        throughput=round(contacts / wall, 1),
        speedup=None,
        target=">= 10x" if workers >= 16 else f">= {0.8 * workers:g}x",
        met=False,
        statuses=statuses,
        throttled_429=throttled,
        graph_requests=totals["requests"] or 0,
        machine_cpu=round(cores["machine"], 2),
        sandbox_cpu=round(cores["sandbox"], 2),
        workers_cpu=round(cores["workers"], 2),
        db_connections=meter.connections,
        cpu_ms_per_contact=cpu_ms,
        in_sync=_in_sync(worlds),
    )


def _throttled(stage: ScaleStage, runs: list[int]) -> int:
    """429s the runs met, from their `sync_run_finished` log lines in the clusters' logs."""
    wanted, total = set(runs), 0
    for log in stage.workdir.glob("cluster*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("sync_run_finished "):
                with suppress(ValueError):
                    record = json.loads(line.split(" ", 1)[1])
                    if record.get("run") in wanted:
                        total += int(record.get("throttled_429", 0))
    return total


def _in_sync(worlds) -> str:
    """Both sides compared for every mailbox (latency and throttle off first)."""
    from bench.world import both_sides_check
    from exchange_sync.connection import graph_client_from_settings

    client = graph_client_from_settings()
    bad = []
    try:
        for world in worlds:
            world.configure(latency_ms=0, throttle=False)
            check = both_sides_check(world, client, expected_contacts=CONTACTS)
            if not check.ok:
                bad.append(f"{world.email}: {'; '.join(check.problems)}")
    finally:
        client.close()
    return "all equal" if not bad else f"{len(bad)} differ: {bad[0][:150]}"


def table(rows: list[Row]) -> str:
    lines = [
        "| workers (clusters) | wall s | contacts/s | speedup | target | met | machine CPU | sandbox CPU | "
        "workers CPU | DB connections | runs | 429s | both sides |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        runs = ", ".join(f"{n} {s}" for s, n in sorted(r.statuses.items()))
        lines.append(
            f"| {r.workers} ({r.clusters}) | {r.wall_seconds:.1f} | {r.throughput:.1f} | "
            f"{f'{r.speedup:.2f}x' if r.speedup else '-'} | {r.target} | {'yes' if r.met else 'NO'} | "
            f"{r.machine_cpu:.2f} | {r.sandbox_cpu:.2f} | {r.workers_cpu:.2f} | {r.db_connections} | {runs} | "
            f"{r.throttled_429} | {r.in_sync} |"
        )
    return "\n".join(lines)


def cpu_table(rows: list[Row]) -> str:
    names = ["machine", "sandbox", "workers", "database", "redis", "harness", "other"]
    lines = ["| workers | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for r in rows:
        cells = [f"{r.cpu_ms_per_contact[n]:.2f}" if n in r.cpu_ms_per_contact else "-" for n in names]
        lines.append(f"| {r.workers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    import redis

    redis_url = os.environ.get("BENCH_REDIS_URL", REDIS_URL_DEFAULT)
    if redis.Redis.from_url(redis_url, socket_timeout=5).llen(QUEUE_KEY):
        print(f"{redis_url} has tasks queued ({QUEUE_KEY}); set BENCH_REDIS_URL to a db of its own")
        return 2
    stage = ScaleStage()
    rows: list[Row] = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        stage.prepare()
        stage.start_server()
        stage.servers = {"database": database_server_pid(), "redis": redis_server_pid(stage.redis_url)}
        from bench.world import World

        _say(f"seeding {MAILBOXES} x {CONTACTS} contacts; sandbox at {stage.site_url}, {stage.scratch_database}")
        for i in range(MAILBOXES):
            World(f"SC{i:02d}").seed(CONTACTS)
        for workers in WORKERS:
            row = _round(stage, workers)
            rows.append(row)
            _say(
                f"{workers} worker(s): {row.wall_seconds:.1f} s, {row.throughput:.1f} contacts/s, "
                f"CPU machine {row.machine_cpu:.2f} sandbox {row.sandbox_cpu:.2f} workers {row.workers_cpu:.2f}, "
                f"{row.in_sync}; CPU ms per contact {row.cpu_ms_per_contact}"
            )
    finally:
        stage.close()
    base = next((r.throughput for r in rows if r.workers == 1), None)
    # One worker's throughput from an earlier run of this bench, when 1 is not among the
    # worker counts of this one (BENCH_SCALE_BASELINE, contacts/s).
    base = base or float(os.environ.get("BENCH_SCALE_BASELINE", "0")) or None
    for r in rows:
        if base:
            r.speedup = round(r.throughput / base, 2)
            wanted = 10 if r.workers >= 16 else 0.8 * r.workers
            r.met = r.speedup >= wanted and r.statuses == {"succeeded": MAILBOXES} and r.in_sync == "all equal"
    print()
    print(
        f"Measured {started} on {os.cpu_count()} cores: {MAILBOXES} mailboxes x {CONTACTS} contacts, full syncs, "
        f"{LATENCY_MS} ms per Graph operation, throttle on, PostgreSQL, Redis; sandbox served by "
        f"{SANDBOX_PROCESSES} x {SANDBOX_THREADS} threads. CPU in cores busy (machine: every process on it)."
    )
    print(table(rows))
    print()
    print("CPU milliseconds per contact (process trees; 'other' is the kernel and anyone else on the machine):")
    print(cpu_table(rows))
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as out:
            json.dump([asdict(r) for r in rows], out, indent=2)
    return 0 if rows and all(r.met for r in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted: the servers, workers and scratch database it started are stopped.", flush=True)
        sys.exit(130)
