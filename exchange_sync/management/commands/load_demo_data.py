import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from contacts.demo_data import demo_contacts_load
from exchange_sync.demo import DemoUser, demo_salesperson_ensure, demo_superuser_ensure
from exchange_sync.services import exchange_sync_setup_get_or_create


class Command(BaseCommand):
    help = (
        "Create the demo superuser, the demo salesperson and demo contacts (safe to run again: nothing is duplicated)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--password",
            help="Password for a newly created demo superuser (default: DEMO_ADMIN_PASSWORD or a random one).",
        )
        parser.add_argument(
            "--sales-password",
            help="Password for a newly created demo salesperson (default: DEMO_SALES_PASSWORD or a random one).",
        )

    def handle(self, *args, **options) -> None:
        admin = demo_superuser_ensure(password=options["password"] or os.environ.get("DEMO_ADMIN_PASSWORD"))
        self._report("superuser", admin)
        sales = demo_salesperson_ensure(password=options["sales_password"] or os.environ.get("DEMO_SALES_PASSWORD"))
        self._report("salesperson (role Contact Sync User)", sales)
        for demo in (admin, sales):
            exchange_sync_setup_get_or_create(demo.user)
            if settings.GRAPH_SANDBOX:
                # The demo mailboxes live in the built-in sandbox; provisioned by its own
                # command (called by name: the product never imports the sandbox).
                call_command("sandbox_mailbox", "add", demo.mailbox, stdout=self.stdout)
        companies, people = demo_contacts_load()
        if companies or people:
            self.stdout.write(self.style.SUCCESS(f"Loaded {companies} companies and {people} people."))
        else:
            self.stdout.write("Contacts already exist; demo contacts not loaded again.")

    def _report(self, what: str, demo: DemoUser) -> None:
        name = demo.user.get_username()
        if demo.password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo {what} created. Sign in at {settings.SITE_URL}/admin/ as '{name}' with password "
                    f"'{demo.password}' (shown only this once; change it with: "
                    f"python manage.py changepassword {name})."
                )
            )
        else:
            self.stdout.write(f"Demo {what} '{name}' already exists; its password is unchanged.")
