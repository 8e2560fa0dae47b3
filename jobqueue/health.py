"""The health endpoint for load balancers and monitors (`/health/`): the database, the
job queue broker, and how long ago a `qcluster` last completed a tick.

Built on django-health-check: 200 when every check passes, 500 with the failing
check's reason otherwise; `?format=json` or `Accept: application/json` for machines.
Each `qcluster` shows it is alive by its ticker (jobqueue.ticker), which writes the
cluster's heartbeat after every tick (every JOBQUEUE_TICK_SECONDS) in the cluster's main
process, so busy workers do not make it late.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django_q.models import OrmQ
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as RedisClient

from jobqueue.models import ClusterHeartbeat

# Clusters tick every few seconds; a minute without one means none is running (or every
# one's tick fails: their log says why).
WORKER_HEARTBEAT_MAX_AGE = timedelta(seconds=60)


@dataclasses.dataclass
class WorkerHeartbeat(HealthCheck):
    """A `qcluster` completed a job queue tick within `max_age`."""

    max_age: timedelta = WORKER_HEARTBEAT_MAX_AGE

    def run(self) -> None:
        last = ClusterHeartbeat.objects.aggregate(last=Max("last_tick_at"))["last"]
        if last is None:
            raise ServiceUnavailable("No job queue worker has run yet: start `manage.py qcluster`.")
        age = timezone.now() - last
        if age > self.max_age:
            raise ServiceUnavailable(
                f"No job queue worker has ticked for {int(age.total_seconds())} seconds (last at "
                f"{last.isoformat(timespec='seconds')}): check the `manage.py qcluster` processes and their log."
            )


@dataclasses.dataclass
class DatabaseBroker(HealthCheck):
    """The job queue's database broker (django-q2's ORM broker) can be read."""

    def run(self) -> None:
        OrmQ.objects.exists()


class HealthView(HealthCheckView):
    """`/health/`: no sign-in, nothing secret in the answer (reasons name no hosts)."""

    def get_checks(self):
        yield Database()
        if settings.REDIS_URL:
            yield Redis(client_factory=lambda: RedisClient.from_url(settings.REDIS_URL, socket_timeout=5))
        else:
            yield DatabaseBroker()
        yield WorkerHeartbeat()
