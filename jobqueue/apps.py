from django.apps import AppConfig


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

        post_spawn.connect(_worker_started, dispatch_uid="jobqueue_worker_started")
