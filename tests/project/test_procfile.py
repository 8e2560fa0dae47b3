"""`make run` starts the Procfile with honcho: the web server and a job queue worker
together, and Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_honcho_starts_web_and_worker_and_ctrl_c_stops_both(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
        "DJANGO_READ_DOT_ENV": "0",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "BCSYNC_PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # the default configuration: ORM broker
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    log = (tmp_path / "honcho.log").open("w+")
    honcho = subprocess.Popen([str(BIN / "honcho"), "start"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        answered = None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.5)
        assert answered is not None and answered.status_code == 200
        while time.monotonic() < deadline and "running" not in (tmp_path / "honcho.log").read_text():
            time.sleep(0.5)
        output = (tmp_path / "honcho.log").read_text()
        assert "worker" in output and "Q Cluster" in output and "running" in output, output

        honcho.send_signal(signal.SIGINT)
        honcho.wait(timeout=30)
        stopped = (tmp_path / "honcho.log").read_text()
        assert "web.1 stopped" in stopped
        assert "worker.1 stopped" in stopped
    finally:
        if honcho.poll() is None:
            honcho.kill()
    # Both children are gone: nothing answers on the port any more.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
