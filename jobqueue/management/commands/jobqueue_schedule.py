"""manage.py jobqueue_schedule: (re)create the django-q2 schedule of the job queue dispatcher."""

from django.core.management.base import BaseCommand

from jobqueue.services import dispatcher_schedule_ensure


class Command(BaseCommand):
    help = "Create or repair the django-q2 schedule that dispatches due Job Queue Entries every minute."

    def handle(self, *args, **options) -> None:
        schedule, created = dispatcher_schedule_ensure()
        verb = "Created" if created else "Checked"
        self.stdout.write(self.style.SUCCESS(f"{verb} schedule {schedule.name!r} ({schedule.func}, every minute)."))
