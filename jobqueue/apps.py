from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_dispatcher_schedule(sender, using: str = "default", **kwargs) -> None:
    """After every migrate (and test database flush), make sure the dispatcher schedule exists."""
    from jobqueue.services import dispatcher_schedule_ensure

    if using == "default":
        dispatcher_schedule_ensure()


class JobQueueConfig(AppConfig):
    name = "jobqueue"
    verbose_name = "Job Queue"

    def ready(self) -> None:
        post_migrate.connect(_ensure_dispatcher_schedule, sender=self, dispatch_uid="jobqueue_dispatcher_schedule")
