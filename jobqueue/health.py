"""The health endpoint for load balancers and monitors (`/health/`): the database, the
job queue broker, and how long ago a worker last ran the job queue dispatcher.

Built on django-health-check: 200 when every check passes, 500 with the failing
check's reason otherwise; `?format=json` or `Accept: application/json` for machines.
Workers show they are alive by running the dispatcher (a django-q2 schedule, every
minute): django-q2 records each run as a task, so its newest one is the heartbeat.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django_q.models import OrmQ, Task
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as RedisClient

from jobqueue.services import DISPATCHER_FUNC

# The dispatcher runs every minute; a few missed ticks mean no worker is running it.
WORKER_HEARTBEAT_MAX_AGE = timedelta(minutes=3)


@dataclasses.dataclass
class WorkerHeartbeat(HealthCheck):
    """A `qcluster` worker ran the job queue dispatcher within `max_age`."""

    max_age: timedelta = WORKER_HEARTBEAT_MAX_AGE

    def run(self) -> None:
        last = Task.objects.filter(func=DISPATCHER_FUNC).aggregate(last=Max("stopped"))["last"]
        if last is None:
            raise ServiceUnavailable("No job queue worker has run yet: start `manage.py qcluster`.")
        age = timezone.now() - last
        if age > self.max_age:
            raise ServiceUnavailable(
                f"No job queue worker has run for {int(age.total_seconds() // 60)} minutes (last at "
                f"{last.isoformat(timespec='seconds')}): check the `manage.py qcluster` processes."
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
