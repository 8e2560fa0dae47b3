"""The stage both `bench.run` and `bench.chaos` play on.

A fresh database (a temporary SQLite file, or the scratch database named by
BENCH_DATABASE_URL), migrated with `manage.py migrate`; the Django app (and with it the
Graph sandbox) served by `manage.py runserver` in a background process; each sync run in
a process of its own (`bench.worker`), so its wall time and peak memory are its own.

This process also uses the database, through the ORM, to seed contacts, set up users
and mailboxes, set sandbox knobs and check the results.

A stage stops what it started (server, workers, scratch database) in `close()`, also
when the bench is interrupted: SIGTERM ends the bench like Ctrl-C does (an exception
that runs the `finally` blocks), and while `close()` runs a second SIGTERM or Ctrl-C
is ignored, so an impatient second press cannot leave processes or a database behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored inside, their handlers put back after."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stage:
    """A database, a server process serving the sandbox, and the environment for workers."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bcsync-bench-")))
    port: int = field(default_factory=_free_port)
    server: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        # SIGTERM (kill, a CI runner's timeout) unwinds like Ctrl-C, through close().
        signal.signal(signal.SIGTERM, _interrupted)
        self.scratch_database = ""
        server_url = os.environ.get("DATABASE_URL", "")
        if server_url.startswith(("postgres://", "postgresql://")):
            # A fresh database on that server, dropped at the end.
            self.scratch_database = f"{os.environ.get('BENCH_DATABASE_PREFIX', 'bcsync_bench')}_{os.getpid()}"
            self.admin_url = server_url
            database_url = urlunsplit(urlsplit(server_url)._replace(path="/" + self.scratch_database))
        else:
            database_url = f"sqlite:///{self.workdir / 'bench.sqlite3'}"
        self.site_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
            "DJANGO_READ_DOT_ENV": "0",
            "DEBUG": "true",
            "SECRET_KEY": "bench-only-secret-key",
            "GRAPH_SANDBOX": "true",
            "SITE_URL": self.site_url,
            "DATABASE_URL": database_url,
            "M365_CLIENT_ID": "bcsync-sandbox-client",
            "M365_CLIENT_SECRET": "bcsync-sandbox-secret",
            "M365_TENANT_ID": "sandbox",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        # Workers run with DEBUG off: Django keeps every SQL query in memory with DEBUG on,
        # which would inflate the peak memory measured.
        self.worker_env = {**self.env, "DEBUG": "false", "GRAPH_SANDBOX_STAGING_DRILL": "true"}

    @property
    def is_sqlite(self) -> bool:
        return self.env["DATABASE_URL"].startswith("sqlite")

    # --- setting up --------------------------------------------------------------

    def prepare(self) -> None:
        """Migrate the database and make this process use it."""
        if self.scratch_database:
            self._postgres(f'CREATE DATABASE "{self.scratch_database}"')
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        os.environ.update(self.env)
        import django

        django.setup()

    def start_server(self, extra_env: dict[str, str] | None = None) -> None:
        """(Re)start the web server; a fresh process also starts a fresh throttle window."""
        self.stop_server()
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (closed with the process)
        self.server = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload", "--skip-checks"],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.site_url}/graph-sandbox/v1.0/$metadata", timeout=2)  # noqa: S310
                return
            except urllib.error.HTTPError:
                return  # answering (an error page is an answer)
            except OSError:
                if self.server.poll() is not None:
                    raise RuntimeError(f"The server stopped; see {self.workdir / 'server.log'}") from None
                time.sleep(0.2)
        raise RuntimeError("The server did not start within 30 s")

    def stop_server(self) -> None:
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None

    def _postgres(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def close(self) -> None:
        """Stop what the stage started and drop its scratch database (signals ignored meanwhile)."""
        with _signals_ignored():
            self._close()

    def _close(self) -> None:
        self.stop_server()
        if self.scratch_database and not os.environ.get("BENCH_KEEP"):
            from django.db import connections

            connections.close_all()
            self._postgres(f'DROP DATABASE IF EXISTS "{self.scratch_database}" WITH (FORCE)')
        if os.environ.get("BENCH_KEEP"):
            print(f"Kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- workers -----------------------------------------------------------------

    def worker_command(self, email: str, *, full: bool, record: bool = False) -> list[str]:
        command = [PYTHON, "-m", "bench.worker", "--user", email]
        if full:
            command.append("--full")
        if record:
            command.append("--record")
        return command

    def start_worker(self, email: str, *, full: bool, record: bool = False) -> subprocess.Popen:
        return subprocess.Popen(
            self.worker_command(email, full=full, record=record),
            cwd=ROOT,
            env=self.worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_worker(self, email: str, *, full: bool, record: bool = False, timeout: float = 3600) -> dict[str, Any]:
        """Run one sync in its own process and return its report (see bench.worker)."""
        process = self.start_worker(email, full=full, record=record)
        stdout, stderr = process.communicate(timeout=timeout)
        return worker_report(process.returncode, stdout, stderr)


def worker_report(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if returncode != 0 or not lines:
        raise RuntimeError(f"The sync worker failed ({returncode}):\n{stderr[-3000:]}")
    return json.loads(lines[-1])
