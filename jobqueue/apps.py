from django.apps import AppConfig


def _worker_started(sender, proc_name: str = "", **kwargs) -> None:
    """In each django-q2 worker process as it starts: SIGUSR1 from `manage.py qcluster`,
    or a SIGTERM sent to the cluster's whole process group, means the worker is shutting
    down, so a running sync stops after its chunk. The worker exits when its cluster
    hands it STOP (or kills it after Q_STOP_TIMEOUT)."""
    import signal

    from exchange_sync.sync.shutdown import shutdown_request

    for signum in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: shutdown_request())
    # Forked with SIGTERM blocked (jobqueue's qcluster command); the worker takes it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


class JobQueueConfig(AppConfig):
    name = "jobqueue"
    verbose_name = "Job Queue"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(_worker_started, dispatch_uid="jobqueue_worker_started")
