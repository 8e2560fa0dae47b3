"""`/health/` tells a load balancer or monitor whether the database, the job queue
broker and the workers are alive, without signing in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from jobqueue.models import ClusterHeartbeat

# The checks run in a thread of their own, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def _tick(seconds_ago: float) -> None:
    """A cluster whose ticker last completed a tick `seconds_ago`."""
    now = timezone.now()
    ClusterHeartbeat.objects.create(
        cluster_name="bcsync",
        host="worker-1",
        pid=1000 + ClusterHeartbeat.objects.count(),
        started_at=now - timedelta(hours=1),
        last_tick_at=now - timedelta(seconds=seconds_ago),
    )


def _health(client):
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


def test_it_is_healthy_when_a_cluster_ticked_seconds_ago(client):
    _tick(seconds_ago=3)

    status, checks = _health(client)

    assert status == 200
    assert set(checks.values()) == {"OK"}
    assert any("WorkerHeartbeat" in name for name in checks)


def test_it_reads_the_newest_heartbeat_of_all_clusters(client):
    _tick(seconds_ago=600)  # a cluster gone for ten minutes
    _tick(seconds_ago=2)

    assert _health(client)[0] == 200


def test_it_is_unhealthy_when_no_cluster_ticked_for_over_a_minute(client):
    _tick(seconds_ago=90)

    status, checks = _health(client)

    assert status == 500
    (reason,) = [value for name, value in checks.items() if "WorkerHeartbeat" in name]
    assert "No job queue worker has ticked for 90 seconds" in reason


def test_a_started_cluster_that_never_completed_a_tick_is_no_heartbeat(client):
    ClusterHeartbeat.objects.create(cluster_name="bcsync", host="worker-1", pid=1, started_at=timezone.now())

    status, checks = _health(client)

    assert status == 500
    assert any("start `manage.py qcluster`" in value for value in checks.values())


def test_it_is_unhealthy_before_any_worker_ever_ran(client):
    status, checks = _health(client)

    assert status == 500
    assert any("start `manage.py qcluster`" in value for value in checks.values())


def test_it_checks_the_redis_broker_when_one_is_configured(client):
    _tick(seconds_ago=3)
    # Nothing listens on port 1: the broker check fails and says why, naming no host.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        status, checks = _health(client)

    assert status == 500
    (reason,) = [value for name, value in checks.items() if name.startswith("Redis")]
    assert "Unable to connect to Redis" in reason


def test_it_needs_no_sign_in_and_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    _tick(seconds_ago=3)

    assert client.get("/health/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/admin/login/").status_code == 301
