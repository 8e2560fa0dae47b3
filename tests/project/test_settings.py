"""Settings come from the environment; these run the settings module in a fresh
interpreter so the suite's own settings do not leak in."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='bcsync_project.settings'; "
    "from django.conf import settings as s; "
    "print(s.DEBUG, s.DATABASES['default']['ENGINE'], 'orm' in s.Q_CLUSTER, s.GRAPH_SANDBOX)"
)


# Variables our settings read; the suite's own values must not reach the child.
OURS = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "GRAPH_", "M365_", "Q_")


def _run(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update(env_overrides)
    # An empty .env path keeps a developer's own .env out of the way.
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_debug_is_off_and_a_secret_is_required_unless_set():
    result = _run({"DJANGO_READ_DOT_ENV": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_runs_with_debug_off_and_a_secret():
    result = _run({"DJANGO_READ_DOT_ENV": "0", "SECRET_KEY": "x" * 40})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.sqlite3", "True", "False"]


def test_debug_needs_no_configuration_and_turns_the_sandbox_on():
    result = _run({"DJANGO_READ_DOT_ENV": "0", "DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3", "True", "True"]


def test_redis_url_switches_the_worker_broker():
    code = PRINT_SETTINGS.replace("'orm' in s.Q_CLUSTER", "s.Q_CLUSTER.get('redis')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update({"DJANGO_READ_DOT_ENV": "0", "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6379/3"})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[2] == "redis://127.0.0.1:6379/3"


def test_a_worker_can_serve_another_queue_named_by_q_cluster_name():
    # .env.example documents Q_CLUSTER_NAME (the queue a `qcluster` serves); django-q2
    # reads its settings as soon as it is set.
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update({"DJANGO_READ_DOT_ENV": "0", "DEBUG": "true", "Q_CLUSTER_NAME": "reports"})
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='bcsync_project.settings'; django.setup(); "
        "from django_q.conf import Conf; print(Conf.CLUSTER_NAME, Conf.PREFIX)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["reports", "bcsync"]


def _variables_read() -> dict[str, set[str]]:
    """Environment variables the product reads, by where they are read."""
    settings_source = (ROOT / "bcsync_project" / "settings.py").read_text()
    found = {
        "settings.py": set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z0-9_]+)\"", settings_source)),
        # ${BCSYNC_PORT:-8000} and the like.
        "Procfile": set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", (ROOT / "Procfile").read_text())),
        "os.environ": set(),
    }
    for app in ("bcsync_project", "contacts", "exchange_sync", "jobqueue"):
        for source in (ROOT / app).rglob("*.py"):
            if source.name == "settings_test.py":  # the test suite's own knobs
                continue
            found["os.environ"] |= set(
                re.findall(r"os\.(?:environ\.get\(|environ\[|getenv\()\s*\"([A-Z0-9_]+)\"", source.read_text())
            )
    return found


def test_env_example_documents_every_variable_the_product_reads():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    read = _variables_read()
    assert read["settings.py"], "no variables found in settings.py"
    assert "BCSYNC_PORT" in read["Procfile"]
    assert "DEMO_ADMIN_PASSWORD" in read["os.environ"]
    for where, names in read.items():
        assert names - documented == set(), where


def test_the_sandbox_unknown_tenants_come_from_the_environment():
    code = PRINT_SETTINGS.replace(
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], 'orm' in s.Q_CLUSTER, s.GRAPH_SANDBOX)",
        "print(s.GRAPH_SANDBOX_UNKNOWN_TENANTS)",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update({"DJANGO_READ_DOT_ENV": "0", "DEBUG": "true"})
    default = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert default.stdout.strip() == "[]", default.stderr
    env["GRAPH_SANDBOX_UNKNOWN_TENANTS"] = "contoso-gone,fabrikam-old"
    listed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert listed.stdout.strip() == "['contoso-gone', 'fabrikam-old']", listed.stderr


def test_the_test_settings_never_read_a_developers_dot_env():
    # Record the settings' attempts to read .env instead of touching the real file.
    script = (
        "import environ, os; calls = []; "
        "environ.Env.read_env = staticmethod(lambda *a, **k: calls.append(a)); "
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'bcsync_project.settings_test'; "
        "from django.conf import settings; settings.DEBUG; "
        "print(len(calls), os.environ['DJANGO_READ_DOT_ENV'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS) and k != "DJANGO_READ_DOT_ENV"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "false"]


def test_the_default_sqlite_database_lets_a_reader_and_a_writer_work_at_once(tmp_path):
    # The web server, the worker and the embedded sandbox share the file: a write commits
    # while another connection is in the middle of reading, and the reader goes on with
    # what it started to read.
    script = """
import django, os
os.environ['DJANGO_SETTINGS_MODULE'] = 'bcsync_project.settings'
django.setup()
from django.db import connections
writer, reader = connections['default'], connections.create_connection('default')
writer.settings_dict['OPTIONS']['timeout'] = 1  # a writer that cannot commit fails fast
with writer.cursor() as c:
    c.execute('CREATE TABLE t (x integer)')
    c.executemany('INSERT INTO t VALUES (%s)', [(i,) for i in range(1000)])
reading = reader.cursor()
reading.execute('SELECT x FROM t ORDER BY x')
first = reading.fetchone()[0]
with writer.cursor() as c:
    c.execute('INSERT INTO t VALUES (1000)')
rest = [row[0] for row in reading.fetchall()]
print(first, len(rest))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update({"DJANGO_READ_DOT_ENV": "0", "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "999"]  # the reader's snapshot: without the row written meanwhile
