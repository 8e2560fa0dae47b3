"""`/health/` tells a load balancer or monitor whether the database, the job queue
broker and the workers are alive, without signing in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_q.models import Task

from jobqueue.services import DISPATCHER_FUNC

# The checks run in a thread of their own, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def _tick(minutes_ago: float, func: str = DISPATCHER_FUNC) -> None:
    stopped = timezone.now() - timedelta(minutes=minutes_ago)
    Task.objects.create(
        id=f"t{Task.objects.count()}-{minutes_ago}",
        name=f"tick {minutes_ago}",
        func=func,
        started=stopped,
        stopped=stopped,
        success=True,
    )


def _health(client):
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


def test_it_is_healthy_when_a_worker_ran_the_dispatcher_a_minute_ago(client):
    _tick(minutes_ago=1)

    status, checks = _health(client)

    assert status == 200
    assert set(checks.values()) == {"OK"}
    assert any("WorkerHeartbeat" in name for name in checks)


def test_it_is_unhealthy_when_no_worker_ran_for_a_few_minutes(client):
    _tick(minutes_ago=10)
    _tick(minutes_ago=0.5, func="exchange_sync.tasks.sync_setup_task")  # other tasks are no heartbeat

    status, checks = _health(client)

    assert status == 500
    (reason,) = [value for name, value in checks.items() if "WorkerHeartbeat" in name]
    assert "No job queue worker has run for 10 minutes" in reason


def test_it_is_unhealthy_before_any_worker_ever_ran(client):
    status, checks = _health(client)

    assert status == 500
    assert any("start `manage.py qcluster`" in value for value in checks.values())


def test_it_checks_the_redis_broker_when_one_is_configured(client):
    _tick(minutes_ago=1)
    # Nothing listens on port 1: the broker check fails and says why, naming no host.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        status, checks = _health(client)

    assert status == 500
    (reason,) = [value for name, value in checks.items() if name.startswith("Redis")]
    assert "Unable to connect to Redis" in reason


def test_it_needs_no_sign_in_and_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    _tick(minutes_ago=1)

    assert client.get("/health/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/admin/login/").status_code == 301
