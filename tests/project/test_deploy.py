"""Safe by default: the sandbox never runs in production by accident, `.env.example` does
not switch it on, and `check --deploy` is clean with the documented production settings.
Each runs the settings in a fresh interpreter, so the suite's own settings stay out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Variables our settings read; the suite's own values must not reach the child.
OURS = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GRAPH_", "M365_", "Q_", "SECURE_", "SESSION_", "CSRF_")
STRONG_SECRET = "k3P-" + "x7Q_f9Lm2Zr8Vt4Wb6Nc1Hy5Jd0Sg3Ae" * 2


def _run(args: list[str], env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update({"DJANGO_READ_DOT_ENV": "0", "DJANGO_SETTINGS_MODULE": "bcsync_project.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _production_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (ROOT / ".env.production.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def test_the_sandbox_refuses_to_start_with_debug_off():
    result = _run(["manage.py", "check"], {"SECRET_KEY": STRONG_SECRET, "GRAPH_SANDBOX": "true"})

    assert result.returncode != 0
    assert "GRAPH_SANDBOX is on while DEBUG is off" in result.stderr
    assert "GRAPH_SANDBOX_STAGING_DRILL" in result.stderr


def test_a_staging_drill_may_run_the_sandbox_with_debug_off_and_is_warned():
    result = _run(
        ["manage.py", "check"],
        {"SECRET_KEY": STRONG_SECRET, "GRAPH_SANDBOX": "true", "GRAPH_SANDBOX_STAGING_DRILL": "true"},
    )

    assert result.returncode == 0, result.stderr
    assert "graph_sandbox.W001" in result.stderr + result.stdout


def test_env_example_does_not_switch_the_sandbox_on_explicitly():
    settings_lines = [
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    ]
    assert "GRAPH_SANDBOX" not in settings_lines
    assert "GRAPH_SANDBOX_STAGING_DRILL" not in settings_lines


def test_check_deploy_is_clean_with_the_documented_production_settings():
    env = _production_env()
    assert env["DEBUG"] == "false"

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_https_is_on_by_default_when_debug_is_off():
    code = (
        "import django, os; from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    off = _run(["-c", code], {"SECRET_KEY": STRONG_SECRET})
    proxied = _run(["-c", code], {"SECRET_KEY": STRONG_SECRET, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    debug = _run(["-c", code], {"DEBUG": "true"})

    assert off.stdout.split() == ["True", "31536000", "True", "True", "None"], off.stderr
    assert proxied.stdout.strip().endswith("('HTTP_X_FORWARDED_PROTO', 'https')"), proxied.stderr
    assert debug.stdout.split() == ["False", "0", "False", "False", "None"], debug.stderr
