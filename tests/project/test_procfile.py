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


def _listening_port(root_pid: int) -> int | None:
    """The TCP port a process under `root_pid` listens on (read from /proc), or None yet."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, inodes = [root_pid], set()
    while pids:
        pid = pids.pop()
        pids.extend(children.get(pid, []))
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if columns[3] == "0A" and columns[9] in inodes:  # LISTEN
            return int(columns[1].split(":")[1], 16)
    return None


def test_honcho_starts_web_and_worker_and_ctrl_c_stops_both(tmp_path):
    # Port 0: the OS picks a free port as the server binds it (no window in which another
    # process could take it); the test reads which one from /proc.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
        "DJANGO_READ_DOT_ENV": "0",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "BCSYNC_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # the default configuration: ORM broker
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    log = (tmp_path / "honcho.log").open("w+")
    honcho = subprocess.Popen([str(BIN / "honcho"), "start"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        port = None
        while time.monotonic() < deadline and port is None:
            port = _listening_port(honcho.pid)
            time.sleep(0.2)
        assert port, (tmp_path / "honcho.log").read_text()
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
