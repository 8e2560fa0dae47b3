from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_dispatcher_schedule(sender, using: str = "default", **kwargs) -> None:
    """After every migrate (and test database flush), make sure the dispatcher schedule exists."""
    from jobqueue.services import dispatcher_schedule_ensure

    if using == "default":
        dispatcher_schedule_ensure()


def _worker_started(sender, proc_name: str = "", **kwargs) -> None:
    """In each django-q2 worker process as it starts: SIGUSR1 from `manage.py qcluster`
    means the worker is shutting down, so a running sync stops after its chunk."""
    import signal

    from exchange_sync.sync.shutdown import shutdown_request

    signal.signal(signal.SIGUSR1, lambda signum, frame: shutdown_request())


class JobQueueConfig(AppConfig):
    name = "jobqueue"
    verbose_name = "Job Queue"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_migrate.connect(_ensure_dispatcher_schedule, sender=self, dispatch_uid="jobqueue_dispatcher_schedule")
        post_spawn.connect(_worker_started, dispatch_uid="jobqueue_worker_started")
