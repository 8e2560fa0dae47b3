"""Production serving: gunicorn (with gunicorn.conf.py) runs the site with DEBUG off,
static files come from whitenoise after `collectstatic`, plain HTTP is redirected to
HTTPS unless the proxy says the request came over HTTPS, and SIGTERM stops it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OURS = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GRAPH_", "M365_", "Q_", "SECURE_", "SESSION_", "CSRF_")


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
            "DJANGO_READ_DOT_ENV": "0",
            "SECRET_KEY": "k3P-x7Q_f9Lm2Zr8Vt4Wb6Nc1Hy5Jd0Sg3Ae-production-test",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "M365_TENANT_ID": "t",
            "M365_CLIENT_ID": "c",
            "M365_CLIENT_SECRET": "s",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=180)


def test_gunicorn_serves_the_site_and_its_static_files_and_stops_on_sigterm(tmp_path):
    env = _production_env(tmp_path)
    _manage(env, "migrate", "-v0")
    _manage(env, "collectstatic", "--noinput", "-v0")
    # The port stays bound from here on: gunicorn takes the socket over by its descriptor.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "bcsync_project.wsgi", "--bind", f"fd://{listener.fileno()}"],
        cwd=ROOT,
        env=env,
        pass_fds=[listener.fileno()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    https = {"X-Forwarded-Proto": "https"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                login = requests.get(f"{base}/admin/login/", headers=https, timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, Path(log.name).read_text()
                time.sleep(0.2)
        assert login.status_code == 200
        assert "Strict-Transport-Security" in login.headers

        plain = requests.get(f"{base}/admin/login/", allow_redirects=False, timeout=10)
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"https://127.0.0.1:{port}/admin/login/"

        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "the login page links the collected, hashed stylesheet"
        static = requests.get(base + css.group(1), headers=https, timeout=10)
        assert static.status_code == 200
        assert "max-age=315360000" in static.headers["Cache-Control"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=40)
        listener.close()
        log.close()
    assert server.returncode == 0
