from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exchange_sync.connection import graph_client_for_setup
from exchange_sync.models import ExchangeSyncSetup, M365Identity, SyncRun
from exchange_sync.services import exchange_sync_setup_get_or_create, sync_run_create, sync_run_is_confirmable
from exchange_sync.sync import COUNTERS, sync_run_execute


class Command(BaseCommand):
    help = "Synchronize a user's contacts with their Microsoft 365 mailbox now, with a progress bar."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="The user's Microsoft 365 email.")
        parser.add_argument("--full", action="store_true", help="Full Sync: reconcile everything both ways.")
        parser.add_argument(
            "--confirm",
            action="store_true",
            help="Confirm the last run that stopped as 'needs confirmation' and carry out its deletions.",
        )

    def handle(self, *args, **options) -> None:
        email = options["user"].strip().lower()
        identity = M365Identity.objects.select_related("user").filter(authentication_email=email).first()
        if identity is None:
            raise CommandError(
                f"No user has the Microsoft 365 email {email}. Set it in the Microsoft 365 Authentication "
                "section of the user card."
            )
        setup = exchange_sync_setup_get_or_create(identity.user)
        kind = SyncRun.Kind.FULL if options["full"] else SyncRun.Kind.INCREMENTAL
        confirms = None
        if options["confirm"]:
            confirms = setup.runs.exclude(status=SyncRun.Status.REFUSED).order_by("-pk").first()
            if confirms is None or not sync_run_is_confirmable(confirms):
                raise CommandError(
                    "There is no run waiting for confirmation (the last run of this setup did not stop for one)."
                )
            kind = confirms.kind
        run = sync_run_create(setup, kind=kind, trigger=SyncRun.Trigger.COMMAND, confirms=confirms)
        client = graph_client_for_setup(setup)
        with tqdm(desc=f"{SyncRun.Kind(kind).label} for {email}", unit="contact", file=self.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                run = sync_run_execute(run, client=client, progress=progress)
            finally:
                client.close()
        self._summary(run, setup)
        if run.status not in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
            raise CommandError(f"Run #{run.pk} {run.get_status_display().lower()}: {run.error}")

    def _summary(self, run: SyncRun, setup: ExchangeSyncSetup) -> None:
        self.stdout.write(f"Run #{run.pk}: {run.get_status_display()}")
        for name in COUNTERS:
            value = getattr(run, name)
            if value:
                label = str(SyncRun._meta.get_field(name).verbose_name)
                self.stdout.write(f"  {label[:1].upper()}{label[1:]}: {value}")
        self.stdout.write(f"  Graph requests: {run.graph_requests}")
        for issue in run.issues.all()[:20]:
            self.stdout.write(f"  - {issue}")
        if run.issues.count() > 20:
            self.stdout.write(f"  ... and {run.issues.count() - 20} more issues (see the run in the admin).")
