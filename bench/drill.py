"""The production drill (`.ci/run`, or `python -m bench.drill`): bcsync deployed as in
production, three people pressing "Sync with Microsoft 365", both sides checked.

The stack, each part a process (group) of its own:

- PostgreSQL: a fresh scratch database, migrated, dropped at the end; Redis as the
  broker (a db with no queued task: DRILL_REDIS_URL);
- the site: DEBUG off, the documented production settings, `collectstatic`, gunicorn
  with 2 workers on a socket this process binds (port from the OS) and hands over as
  ``fd://``;
- two `manage.py qcluster` processes (2 workers each) standing in for two machines;
- "Microsoft 365": the same project with the Graph sandbox on as a staging drill
  (GRAPH_SANDBOX_STAGING_DRILL), served by gunicorn on another socket, with a database
  of its own; the site points GRAPH_BASE_URL at it.

HTTPS: the site keeps its production defaults (SSL redirect, HSTS, secure cookies) and
trusts X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER, as .env.production.example sets it).
The drill's HTTP client plays the TLS-terminating proxy: it sends X-Forwarded-Proto:
https and hands back the Secure cookies itself. Switching the HTTPS settings off instead
(SECURE_SSL_REDIRECT=false, non-secure cookies) would drill a configuration nobody
deploys; this way the drill also sees the redirect, HSTS and the Secure cookies at work.
The sandbox is not the product under test: it serves plain HTTP (no redirect).

The drill: three users with mailboxes (provisioned in the sandbox), each signs in over
HTTP (CSRF token from the form, like a browser), opens the contact list and presses its
"Sync with Microsoft 365" button (a POST). Then it checks: every run succeeded, exactly
once (one run per setup, its task carried out once; nothing refused); each Outlook
folder, read through Graph from the sandbox, holds exactly the in-scope contacts with
equal values; /health/ answers 200. Everything it started is stopped (process groups),
also on failure; the exit status is 1 on any failure.

Settings (environment): DRILL_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres,
the server's maintenance database), DRILL_REDIS_URL (redis://127.0.0.1:6379/0),
DRILL_DATABASE_PREFIX (bcsync_drill), DRILL_KEEP=1 keeps the logs' folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
PEOPLE = ("ann", "ben", "cho")
CONTACTS_EACH = 40
RUN_TIMEOUT = 120.0
HEALTH_TIMEOUT = 120.0
# django-q2's queue in Redis for the cluster name "bcsync" (settings.Q_CLUSTER).
QUEUE_KEY = "django_q:bcsync:q"


class DrillFailed(Exception):
    pass


def _say(text: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _listening_socket() -> socket.socket:
    """A socket on a port the OS chose, kept bound and listening for gunicorn to inherit."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class Stack:
    """The processes, databases and files the drill starts; `close` undoes them all."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bcsync-drill-")))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.postgres_url = os.environ.get("DRILL_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        self.redis_url = os.environ.get("DRILL_REDIS_URL", "redis://127.0.0.1:6379/0")
        prefix = os.environ.get("DRILL_DATABASE_PREFIX", "bcsync_drill")
        self.site_db = f"{prefix}_{os.getpid()}"
        self.m365_db = f"{prefix}_{os.getpid()}_m365"
        self.site_socket = _listening_socket()
        self.m365_socket = _listening_socket()
        self.site_url = f"http://127.0.0.1:{self.site_socket.getsockname()[1]}"
        self.m365_url = f"http://127.0.0.1:{self.m365_socket.getsockname()[1]}"
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "GRAPH_", "M365_", "SECURE_", "Q_"))
        }
        sandbox_credentials = {
            "M365_TENANT_ID": "sandbox",
            "M365_CLIENT_ID": "bcsync-sandbox-client",
            "M365_CLIENT_SECRET": "bcsync-sandbox-secret",
        }
        # The site: the documented production settings (.env.production.example), its
        # Graph pointed at the stand-in for Microsoft 365.
        self.site_env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
            "DJANGO_READ_DOT_ENV": "false",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": self.site_url.replace("http://", "https://"),
            "SITE_URL": self.site_url.replace("http://", "https://"),
            "DATABASE_URL": self._database_url(self.site_db),
            "REDIS_URL": self.redis_url,
            "Q_WORKERS": "2",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "SECURE_HSTS_PRELOAD": "true",
            "STATIC_ROOT": str(self.workdir / "static"),
            "GRAPH_SANDBOX": "true",
            "GRAPH_SANDBOX_STAGING_DRILL": "true",
            "GRAPH_BASE_URL": f"{self.m365_url}/graph-sandbox/v1.0",
            **sandbox_credentials,
            "LOG_LEVEL": "INFO",
        }
        # Microsoft 365's stand-in: the sandbox, with a database of its own, plain HTTP.
        self.m365_env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "bcsync_project.settings",
            "DJANGO_READ_DOT_ENV": "false",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": self.m365_url,
            "DATABASE_URL": self._database_url(self.m365_db),
            "SECURE_SSL_REDIRECT": "false",
            "GRAPH_SANDBOX": "true",
            "GRAPH_SANDBOX_STAGING_DRILL": "true",
            **sandbox_credentials,
            "LOG_LEVEL": "WARNING",
        }

    def _database_url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.postgres_url)._replace(path="/" + name))

    # --- services ------------------------------------------------------------------

    def _postgres(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement)

    def create_databases(self) -> None:
        for name in (self.site_db, self.m365_db):
            self._postgres(f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    def manage(self, *commands: tuple[dict[str, str], list[str]]) -> list[str]:
        """`manage.py` commands (environment, arguments) run side by side, each of which
        must succeed; their outputs (also in manage.log)."""
        running = [
            (
                args,
                subprocess.Popen(
                    [PYTHON, "manage.py", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                ),
            )
            for env, args in commands
        ]
        outputs, failed = [], []
        for args, process in running:
            try:
                output = process.communicate(timeout=300)[0]
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output = process.communicate()[0] + "\n(killed after 300 s)"
            with open(self.workdir / "manage.log", "a") as log:
                log.write(f"$ manage.py {' '.join(args)}\n{output}")
            outputs.append(output)
            if process.returncode:
                failed.append(f"manage.py {' '.join(args)} failed: {output[-1500:]}")
        if failed:
            raise DrillFailed("\n".join(failed))
        return outputs

    def start(self, name: str, command: list[str], env: dict[str, str], *, pass_fds: tuple[int, ...] = ()) -> None:
        """Start a process in a session (process group) of its own, logging to <name>.log."""
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=pass_fds,
            )

    def gunicorn(self, name: str, sock: socket.socket, env: dict[str, str], *options: str) -> None:
        fd = sock.fileno()
        self.start(name, [GUNICORN, "bcsync_project.wsgi", "--bind", f"fd://{fd}", *options], env, pass_fds=(fd,))

    def wait_answering(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive(name)
            with suppress(requests.RequestException):
                requests.get(url, timeout=5, allow_redirects=False)
                return
            time.sleep(0.3)
        raise DrillFailed(f"{name} did not answer within {timeout:.0f} s; see {self.workdir / (name + '.log')}")

    def check_alive(self, *names: str) -> None:
        for name in names or tuple(self.processes):
            process = self.processes[name]
            if process.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise DrillFailed(f"{name} stopped (exit {process.returncode}):\n{log}")

    # --- the end ---------------------------------------------------------------------

    def stop(self, name: str, timeout: float = 40) -> int | None:
        """SIGTERM to the process group, SIGKILL to it after `timeout`; the exit code."""
        process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _say(f"{name} did not stop within {timeout:.0f} s of SIGTERM; killing its process group")
        # Whatever the leader did, nothing of its group may outlive the drill.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return process.returncode

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        for sock in (self.site_socket, self.m365_socket):
            sock.close()
        with suppress(Exception):
            from django.db import connections

            connections.close_all()
        for name in self.databases:
            try:
                self._postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 (reported, the rest still cleaned up)
                _say(f"could not drop database {name}: {exc}")
        if os.environ.get("DRILL_KEEP"):
            _say(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --- a person's browser ------------------------------------------------------------------


class Browser:
    """A person's browser behind the TLS-terminating proxy: cookies kept, CSRF token taken
    from the form, X-Forwarded-Proto: https on every request (the proxy's header)."""

    def __init__(self, site_url: str) -> None:
        self.site_url = site_url
        self.public_url = site_url.replace("http://", "https://")
        self.cookies: dict[str, str] = {}
        self.secure_cookies: set[str] = set()

    def request(self, method: str, path: str, *, data: dict | None = None, referer: str = "") -> requests.Response:
        headers = {"X-Forwarded-Proto": "https"}
        if self.cookies:
            # requests holds Secure cookies back from an http:// URL; the proxy would not.
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if referer:
            headers["Referer"] = urljoin(self.public_url, referer)
        response = requests.request(
            method, urljoin(self.site_url, path), data=data, headers=headers, timeout=30, allow_redirects=False
        )
        for cookie in response.cookies:
            self.cookies[cookie.name] = cookie.value
            if cookie.secure:
                self.secure_cookies.add(cookie.name)
        return response

    def form_token(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if not match:
            raise DrillFailed("no CSRF token in the page's form")
        return match.group(1)

    def sign_in(self, username: str, password: str) -> None:
        page = self.request("GET", "/admin/login/")
        _expect(page, 200, "the sign-in page")
        answer = self.request(
            "POST",
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": self.form_token(page.text), "username": username, "password": password},
            referer="/admin/login/",
        )
        if answer.status_code != 302 or "sessionid" not in self.cookies:
            raise DrillFailed(f"{username} could not sign in (HTTP {answer.status_code})")

    def press_sync(self) -> int:
        """Open the contact list and press its "Sync with Microsoft 365": the run's id."""
        page = self.request("GET", "/admin/contacts/contact/")
        _expect(page, 200, "the contact list")
        form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
        if not form or "Sync with Microsoft 365" not in form.group(2):
            raise DrillFailed('the contact list has no "Sync with Microsoft 365" button')
        answer = self.request(
            "POST",
            unescape(form.group(1)),
            data={"csrfmiddlewaretoken": self.form_token(form.group(2))},
            referer="/admin/contacts/contact/",
        )
        _expect(answer, 302, "pressing Sync with Microsoft 365")
        match = re.search(r"/admin/exchange_sync/syncrun/(\d+)/", answer.headers.get("Location", ""))
        if not match:
            raise DrillFailed(f"the button led to {answer.headers.get('Location')!r}, not to a run")
        _expect(self.request("GET", answer.headers["Location"]), 200, "the run's page")
        return int(match.group(1))


def _expect(response: requests.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise DrillFailed(f"{what}: HTTP {response.status_code}, expected {status}: {response.text[:300]!r}")


# --- the drill ---------------------------------------------------------------------------


def _seed(stack: Stack) -> dict[str, str]:
    """Users with their setups and contacts (in the site's database, through the ORM of
    this process). Returns username -> password."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from contacts.models import Contact
    from exchange_sync.models import ExchangeSyncSetup, M365Identity

    # What a salesperson needs: the contact list, their own setup and runs, the button.
    wanted = {
        ("contacts", "view_contact"),
        ("exchange_sync", "view_exchangesyncsetup"),
        ("exchange_sync", "view_syncrun"),
        ("exchange_sync", "run_contact_sync"),
    }
    permissions = [
        p for p in Permission.objects.select_related("content_type") if (p.content_type.app_label, p.codename) in wanted
    ]
    if len(permissions) != len(wanted):
        raise DrillFailed(
            f"permissions missing: {wanted - {(p.content_type.app_label, p.codename) for p in permissions}}"
        )
    passwords = {}
    for n, name in enumerate(PEOPLE):
        code = name.upper()
        email = f"{name}@drill.example"
        password = secrets.token_urlsafe(16)
        user = get_user_model().objects.create_user(name, f"{name}@cronus.example", password, is_staff=True)
        user.user_permissions.set(permissions)
        M365Identity.objects.create(user=user, authentication_email=email)
        ExchangeSyncSetup.objects.create(user=user, contact_filter={"salesperson_code": code})
        passwords[name] = password
        contacts = [
            Contact(
                no=f"DR{n}{i:05d}",
                type=Contact.Type.PERSON,
                first_name=f"First{i}",
                surname=f"{code.title()}{i}",
                name=f"First{i} {code.title()}{i}",
                email=f"dr{n}{i:05d}@customers.example",
                phone=f"+44 20 7946 {i:04d}",
                city="London",
                salesperson_code=code,
            )
            for i in range(CONTACTS_EACH)
        ]
        # Out of scope: a company, a person without email, another salesperson's contact.
        contacts += [
            Contact(no=f"DR{n}C0001", type=Contact.Type.COMPANY, name=f"{code} Ltd.", salesperson_code=code),
            Contact(no=f"DR{n}N0001", type=Contact.Type.PERSON, name="No Email", salesperson_code=code),
            Contact(no=f"DR{n}X0001", type=Contact.Type.PERSON, name="Other One", email="o@x.example"),
        ]
        Contact.objects.bulk_create(contacts)
    return passwords


def _wait_for_runs(stack: Stack, run_ids: list[int]) -> None:
    """Until the runs have finished and their clusters have recorded their tasks (a
    cluster's monitor saves a task's result a moment after it ends)."""
    from django_q.models import Task

    from exchange_sync.models import SyncRun

    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        stack.check_alive()
        finished = not SyncRun.objects.filter(pk__in=run_ids).exclude(status__in=SyncRun.FINISHED).exists()
        recorded = Task.objects.filter(name__in=[f"sync-run-{pk}" for pk in run_ids]).values("name").distinct()
        if finished and recorded.count() == len(run_ids):
            return
        time.sleep(1)
    raise DrillFailed(f"the runs did not finish (and their tasks were not recorded) within {RUN_TIMEOUT:.0f} s")


def _wait_for_quiet(stack: Stack, quiet_for: float = 10) -> None:
    """Until no run of any setup has been queued or running for `quiet_for` seconds (five
    ticks): a setup that subscribes polls its folder once (live sync's safety poll),
    which finds the pressed run's own writes and may queue a live run after it."""
    from exchange_sync.models import SyncRun

    deadline = time.monotonic() + RUN_TIMEOUT
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        stack.check_alive()
        if SyncRun.objects.exclude(status__in=SyncRun.FINISHED).exists():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_for:
            return
        time.sleep(1)
    raise DrillFailed(f"runs were still queued or running {RUN_TIMEOUT:.0f} s after the presses' runs finished")


def _check_runs(run_ids: list[int]) -> list[str]:
    """Every run succeeded, exactly once: at most one button run per setup, the run each
    press led to carried out once. Live sync is on, as in production: the seeded
    contacts give a setup a live run of its own, and a press while it is queued or
    running shows it (a second run is not queued)."""
    from django_q.models import Task

    from exchange_sync.models import ExchangeSyncSetup, SyncRun

    problems = []
    for setup in ExchangeSyncSetup.objects.select_related("user"):
        runs = list(setup.runs.all())
        pressed = [run for run in runs if run.trigger == SyncRun.Trigger.BUTTON]
        # A press while the setup's live run is queued or running shows that run instead.
        answered = [run for run in runs if run.pk in run_ids]
        if (
            len(answered) != 1
            or len(pressed) > 1
            or any(run.status != SyncRun.Status.SUCCEEDED for run in runs)
            or any(run.trigger not in (SyncRun.Trigger.BUTTON, SyncRun.Trigger.LIVE) for run in runs)
        ):
            problems.append(
                f"{setup.user}: runs {[(r.pk, r.trigger, r.status, r.error[:80]) for r in runs]}, expected the "
                "run the press led to, at most one button run, and every run succeeded"
            )
    for run_id in run_ids:
        tasks = Task.objects.filter(name=f"sync-run-{run_id}")
        if [task.success for task in tasks] != [True]:
            problems.append(
                f"run #{run_id}: its task was carried out {tasks.count()} times, expected once, with success"
            )
    return problems


def _check_folders(stack: Stack) -> list[str]:
    """Each Outlook folder, read through Graph from the sandbox, equals its setup's scope."""
    from bench.world import both_sides_check
    from exchange_sync.connection import graph_client_from_settings
    from exchange_sync.models import ExchangeSyncSetup

    problems = []
    client = graph_client_from_settings()
    try:
        for setup in ExchangeSyncSetup.objects.select_related("user__m365_identity"):
            world = SimpleNamespace(setup=setup, email=setup.mailbox, code=setup.contact_filter["salesperson_code"])
            check = both_sides_check(world, client, expected_contacts=CONTACTS_EACH + 2)
            if check.outlook_contacts != CONTACTS_EACH:
                check.problems.append(f"{check.outlook_contacts} contacts in Outlook, expected {CONTACTS_EACH}")
            problems += [f"{setup.mailbox}: {problem}" for problem in check.problems]
    finally:
        client.close()
    return problems


def _check_production(stack: Stack, browser: Browser) -> list[str]:
    """The production settings at work: HSTS and Secure cookies over https, the redirect
    of plain http, static files from whitenoise."""
    problems = []
    page = browser.request("GET", "/admin/")
    if "Strict-Transport-Security" not in page.headers:
        problems.append("no Strict-Transport-Security header over https")
    if not {"csrftoken", "sessionid"} <= browser.secure_cookies:
        problems.append(f"cookies not marked Secure: {sorted({'csrftoken', 'sessionid'} - browser.secure_cookies)}")
    plain = requests.get(f"{stack.site_url}/admin/login/", timeout=10, allow_redirects=False)
    if plain.status_code != 301 or not plain.headers.get("Location", "").startswith("https://"):
        problems.append(f"plain http was not redirected to https (HTTP {plain.status_code})")
    static = re.search(r'href="(/static/[^"]+\.css)"', page.text)
    if not static or "." not in Path(static.group(1)).stem:
        problems.append("the sign-in page links no hashed static file (collectstatic, manifest storage)")
    else:
        answer = browser.request("GET", static.group(1))
        if answer.status_code != 200 or "max-age=315360000" not in answer.headers.get("Cache-Control", ""):
            problems.append(f"static file {static.group(1)}: HTTP {answer.status_code}, not served for ever")
    return problems


def _wait_healthy(stack: Stack) -> str:
    """/health/ over plain http, as a load balancer probes it: 200 within HEALTH_TIMEOUT
    (the worker heartbeat check waits for a cluster's first tick)."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    answer = None
    while time.monotonic() < deadline:
        stack.check_alive()
        answer = requests.get(f"{stack.site_url}/health/?format=json", timeout=10, allow_redirects=False)
        if answer.status_code == 200:
            return ""
        time.sleep(2)
    body = answer.text[:300] if answer is not None else ""
    return f"/health/ answered {answer.status_code if answer is not None else '-'}, not 200: {body}"


def _broker_unused(stack: Stack) -> None:
    """The drill's Redis db must hold no queued task: those of a stranger's cluster would
    reach the drill's workers, and the other way round."""
    import redis

    connection = redis.Redis.from_url(stack.redis_url, socket_timeout=5)
    try:
        queued = connection.llen(QUEUE_KEY)
    finally:
        connection.close()
    if queued:
        raise DrillFailed(
            f"{stack.redis_url} has {queued} tasks queued ({QUEUE_KEY}): give the drill a Redis db of its own"
        )


def drill(stack: Stack) -> list[str]:
    started = time.monotonic()
    _say(f"databases {stack.site_db} and {stack.m365_db}, Redis {stack.redis_url}")
    _broker_unused(stack)
    stack.create_databases()
    stack.manage((stack.site_env, ["migrate", "--noinput"]), (stack.m365_env, ["migrate", "--noinput"]))
    # Clean, but for the warning that the sandbox is on: this drill's Graph client is in
    # sandbox mode (GRAPH_BASE_URL is the stand-in's), so its sandbox is switched on too.
    report, *_ = stack.manage(
        (stack.site_env, ["check", "--deploy"]),
        (stack.site_env, ["collectstatic", "--noinput"]),
        *((stack.m365_env, ["sandbox_mailbox", "add", f"{name}@drill.example"]) for name in PEOPLE),
    )
    warnings = set(re.findall(r"\((\w+\.[WE]\d+)\)", report)) - {"graph_sandbox.W001"}
    if warnings:
        raise DrillFailed(f"check --deploy is not clean: {report}")
    _say("migrated, static files collected, check --deploy clean, mailboxes provisioned")

    stack.gunicorn("m365", stack.m365_socket, stack.m365_env, "--workers", "1", "--threads", "8")
    stack.gunicorn("site", stack.site_socket, stack.site_env, "--workers", "2")
    for machine in ("machine-1", "machine-2"):
        stack.start(machine, [PYTHON, "manage.py", "qcluster"], stack.site_env)
    stack.wait_answering("m365", f"{stack.m365_url}/graph-sandbox/v1.0/$metadata")
    stack.wait_answering("site", f"{stack.site_url}/health/")
    _say(f"site {stack.site_url} (gunicorn, 2 workers), Microsoft 365 stand-in {stack.m365_url}, 2 qclusters")

    os.environ.update(stack.site_env)
    import django

    django.setup()
    passwords = _seed(stack)
    browsers = {}
    for name, password in passwords.items():
        browsers[name] = Browser(stack.site_url)
        browsers[name].sign_in(name, password)
    _say(f"{len(browsers)} people signed in; pressing Sync with Microsoft 365")
    run_ids = [browser.press_sync() for browser in browsers.values()]
    _wait_for_runs(stack, run_ids)
    _wait_for_quiet(stack)
    _say(f"runs {run_ids} finished, and no run followed them for 10 s; waiting for /health/")
    health = _wait_healthy(stack)
    problems = [health] if health else []
    problems += _check_runs(run_ids) + _check_folders(stack) + _check_production(stack, next(iter(browsers.values())))
    stack.check_alive()
    for machine in ("machine-1", "machine-2"):
        code = stack.stop(machine)
        if code != 0:
            problems.append(f"{machine}: qcluster exited {code} after SIGTERM")
    _say(f"checks done in {time.monotonic() - started:.0f} s")
    return problems


def main() -> int:
    # A SIGTERM (CI cancelled) still stops everything the drill started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    stack = Stack()
    problems = ["the drill was stopped before its end"]
    try:
        problems = drill(stack)
    except DrillFailed as exc:
        problems = [str(exc)]
    except Exception as exc:  # noqa: BLE001 (a drill that breaks down has failed; say how)
        problems = [f"the drill broke down: {exc!r}"]
        traceback.print_exc()
    finally:
        if problems:
            for name in ("site", "m365", "machine-1", "machine-2", "manage"):
                log = stack.workdir / f"{name}.log"
                if log.exists():
                    print(f"--- {name}.log (end) ---\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        stack.close()
    for problem in problems:
        _say(f"FAILED: {problem}")
    _say("passed" if not problems else f"{len(problems)} problem(s)")
    print(json.dumps({"drill": "production", "passed": not problems, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
