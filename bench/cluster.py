"""A real `manage.py qcluster` for the drills: started in a process group of its own (so
a kill takes sentinel, workers, monitor and pusher together, as a machine that dies),
ready when its worker says so."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress

from bench.harness import PYTHON, ROOT, Stage


def qcluster_start(stage: Stage, name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A `manage.py qcluster` of one worker, ready when this returns; its log in the stage's workdir."""
    log_path = stage.workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**stage.worker_env, "Q_WORKERS": "1", "LOG_LEVEL": "INFO", **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while "ready for work" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            qcluster_kill(process)
            raise RuntimeError(f"qcluster {name} did not start; see {log_path}")
        time.sleep(0.2)
    return process


def qcluster_kill(process: subprocess.Popen) -> None:
    """SIGKILL to the qcluster's whole process group, as a machine that dies."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
