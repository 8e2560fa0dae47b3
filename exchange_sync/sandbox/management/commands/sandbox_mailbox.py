"""Provision and tune Graph sandbox mailboxes.

    manage.py sandbox_mailbox add EMAIL [--name "Display Name"]   (idempotent)
    manage.py sandbox_mailbox list
    manage.py sandbox_mailbox reset EMAIL                          (empty it, knobs to defaults)
    manage.py sandbox_mailbox set EMAIL [--latency-ms N] [--throttle on|off|default]
        [--transient-rate R] [--lost-create-rate R] [--expire-delta off|410|syncStateNotFound|default]
        [--access-denied on|off] [--notification-drop-rate R] [--notification-duplicate-rate R]
        [--notification-delay SECONDS] [--notification-reorder on|off]
    manage.py sandbox_mailbox move EMAIL CONTACT FOLDER                (as a person does in Outlook)
    manage.py sandbox_mailbox delete EMAIL CONTACT [--permanently]
    manage.py sandbox_mailbox subscriptions [EMAIL]                     (change-notification subscriptions)
    manage.py sandbox_mailbox subscription ID expire|remove|reauthorization-required|missed

CONTACT is a contact's id (regular or immutable) or its display name; FOLDER a folder's
name or id, or `deleteditems`. `delete` moves the contact to Deleted Items, as Outlook
does; `--permanently` removes it (the next delta round of its folder reports it removed
either way, and a move changes its regular id).

`subscription` does to a subscription what Outlook may do on its own: `expire` ends it
now (no notification), `remove` deletes it and sends `subscriptionRemoved`,
`reauthorization-required` and `missed` send those lifecycle notifications (to its
lifecycleNotificationUrl; none without one). The notification knobs of `set` apply to
every subscription of the mailbox. A `move` or `delete` here notifies the subscribers
from this process: the command waits (up to 10 s) for those first attempts before it
exits; retries after that are lost with the process.

Knob changes take effect at the running web server's next request (they live on the
mailbox row). The throttle counts and the random sequences live in the memory of the
process serving Graph, which this command cannot reach: `set` and `reset` mark the
mailbox's knobs as changed, and the server restarts that mailbox's throttle window and
random sequence at its next request on it. Restarting the server also forgets them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange_sync.sandbox import delivery, services, subscriptions
from exchange_sync.sandbox.knobs import knobs_for
from exchange_sync.sandbox.models import Contact, Mailbox, Subscription

_SWITCH = {"on": True, "off": False, "default": None}
_EVENTS = {
    "expire": None,
    "remove": None,
    "reauthorization-required": "reauthorizationRequired",
    "missed": "missed",
}


def _number(kind: type) -> Callable[[str], object]:
    """An option type that also takes "default" (back to the global setting, stored as None)."""

    def convert(text: str) -> object:
        return None if text == "default" else kind(text)

    return convert


class Command(BaseCommand):
    help = (
        "Provision Graph sandbox mailboxes (add, list, reset) and set their simulation knobs (set). "
        "Throttle counts live in the web server's memory; a knob change here restarts them there at "
        "the server's next request on the mailbox."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Provision a mailbox (no change if it exists).")
        add.add_argument("email")
        add.add_argument("--name", default="", help="Display name of the user.")
        sub.add_parser("list", help="List mailboxes with their effective knobs.")
        reset = sub.add_parser("reset", help="Delete a mailbox's folders and contacts; knobs back to defaults.")
        reset.add_argument("email")
        knob = sub.add_parser(
            "set",
            help="Set simulation knobs of a mailbox ('default' = global setting).",
            description=(
                "Set simulation knobs of a mailbox ('default' = global setting). They apply at the web "
                "server's next request. Throttle counts and random sequences live in the serving process's "
                "memory, not in the database: this command cannot clear them itself, it marks the knobs "
                "changed and the server restarts the mailbox's throttle window and random sequence at its "
                "next request on that mailbox."
            ),
        )
        knob.add_argument("email")
        # Options not given are absent (SUPPRESS), so "default" (None) differs from "leave alone".
        knob.add_argument("--latency-ms", type=_number(int), default=argparse.SUPPRESS)
        knob.add_argument("--throttle", choices=list(_SWITCH), default=argparse.SUPPRESS)
        knob.add_argument("--transient-rate", type=_number(float), default=argparse.SUPPRESS)
        knob.add_argument("--lost-create-rate", type=_number(float), default=argparse.SUPPRESS)
        knob.add_argument(
            "--expire-delta", choices=["off", "410", "syncStateNotFound", "default"], default=argparse.SUPPRESS
        )
        knob.add_argument("--access-denied", choices=["on", "off"], default=argparse.SUPPRESS)
        knob.add_argument("--notification-drop-rate", type=float, default=argparse.SUPPRESS)
        knob.add_argument("--notification-duplicate-rate", type=float, default=argparse.SUPPRESS)
        knob.add_argument("--notification-delay", type=float, default=argparse.SUPPRESS, metavar="SECONDS")
        knob.add_argument("--notification-reorder", choices=["on", "off"], default=argparse.SUPPRESS)
        move = sub.add_parser("move", help="Move a contact to another folder, as a person does in Outlook.")
        move.add_argument("email")
        move.add_argument("contact", help="The contact's id (regular or immutable) or display name.")
        move.add_argument("folder", help="The folder's name or id, or 'deleteditems'.")
        delete = sub.add_parser("delete", help="Delete a contact: to Deleted Items, or --permanently.")
        delete.add_argument("email")
        delete.add_argument("contact", help="The contact's id (regular or immutable) or display name.")
        delete.add_argument("--permanently", action="store_true", help="Remove it instead of moving it.")
        listed = sub.add_parser("subscriptions", help="List change-notification subscriptions.")
        listed.add_argument("email", nargs="?", help="Only this mailbox's.")
        event = sub.add_parser("subscription", help="Expire or remove a subscription, or send a lifecycle event.")
        event.add_argument("id", help="The subscription's id.")
        event.add_argument("event", choices=list(_EVENTS))

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        try:
            if action == "add":
                mailbox, created = services.mailbox_add(str(options["email"]), display_name=str(options["name"]))
                self.stdout.write(f"{'Added' if created else 'Already there'}: {mailbox.email}")
            elif action == "list":
                self._list()
            elif action == "reset":
                services.mailbox_reset(str(options["email"]))
                self.stdout.write(f"Reset: {options['email']}")
            elif action == "move":
                self._move(options)
            elif action == "delete":
                self._delete(options)
            elif action == "subscriptions":
                self._subscriptions(options)
            elif action == "subscription":
                self._subscription(options)
            else:
                self._set(options)
        except Mailbox.DoesNotExist as exc:
            raise CommandError(f"No sandbox mailbox {options.get('email')}; add it first.") from exc
        except Subscription.DoesNotExist as exc:
            raise CommandError(f"No subscription {options.get('id')}.") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            # Notifications of this process's changes go from this process: send them first.
            if not delivery.drain(timeout=10.0):
                self.stderr.write("Some change notifications were still unsent after 10 s; they are lost.")

    def _contact(self, mailbox: Mailbox, text: str) -> Contact:
        live = Contact.objects.filter(mailbox=mailbox, is_deleted=False).select_related("folder")
        matches = list(live.filter(graph_id=text) | live.filter(immutable_id=text)) or list(
            live.filter(data__displayName=text)
        )
        if len(matches) != 1:
            raise CommandError(f"{len(matches) or 'No'} contacts of {mailbox.email} are '{text}': give its id.")
        return matches[0]

    def _move(self, options: dict) -> None:
        mailbox = services.mailbox_get(str(options["email"]))
        contact = self._contact(mailbox, str(options["contact"]))
        name = str(options["folder"])
        if name.lower().replace(" ", "") == services.DELETED_ITEMS:
            target = services.deleted_items_folder(mailbox)
        else:
            folders = mailbox.folders.all()
            found = list(folders.filter(graph_id=name)) or list(folders.filter(display_name__iexact=name))
            if len(found) != 1:
                raise CommandError(f"{len(found) or 'No'} folders of {mailbox.email} are '{name}': give its id.")
            target = found[0]
        moved = services.contact_move(contact.pk, target)
        self.stdout.write(f"Moved {moved} from {contact.folder} to {target}; its id is now {moved.graph_id}")

    def _delete(self, options: dict) -> None:
        mailbox = services.mailbox_get(str(options["email"]))
        contact = self._contact(mailbox, str(options["contact"]))
        if options["permanently"]:
            services.contact_delete(contact.pk)
            self.stdout.write(f"Deleted {contact} permanently")
        else:
            services.contact_to_deleted_items(contact.pk)
            self.stdout.write(f"Moved {contact} to Deleted Items")

    def _subscriptions(self, options: dict) -> None:
        rows = Subscription.objects.select_related("mailbox")
        if options.get("email"):
            rows = rows.filter(mailbox=services.mailbox_get(str(options["email"])))
        for row in rows:
            self.stdout.write(
                f"{row.graph_id}\t{row.mailbox.email}\t{row.resource}\t{row.change_type}\t"
                f"expires {row.expires_at.isoformat()}\t{row.notification_url}"
            )

    def _subscription(self, options: dict) -> None:
        subscription_id, event = str(options["id"]), str(options["event"])
        try:
            subscriptions.subscription_find(subscription_id)
        except ValueError as exc:
            raise Subscription.DoesNotExist from exc
        if event == "expire":
            subscriptions.subscription_expire(subscription_id)
            self.stdout.write(f"Expired {subscription_id}")
            return
        if event == "remove":
            sent = subscriptions.subscription_remove(subscription_id)
            told = "subscriptionRemoved sent" if sent else "it has no lifecycleNotificationUrl: nothing sent"
            self.stdout.write(f"Removed {subscription_id}; {told}")
            return
        what = _EVENTS[event]
        if subscriptions.subscription_lifecycle(subscription_id, what):
            self.stdout.write(f"Sent {what} for {subscription_id}")
        else:
            self.stdout.write(f"{subscription_id} has no lifecycleNotificationUrl: {what} not sent")

    def _list(self) -> None:
        for mailbox in Mailbox.objects.all():
            knobs = knobs_for(mailbox)
            folders = mailbox.folders.count()
            contacts = Contact.objects.filter(mailbox=mailbox, is_deleted=False).count()
            self.stdout.write(
                f"{mailbox.email}\t{folders} folder(s), {contacts} contact(s)\tlatency={knobs.latency_ms}ms "
                f"throttle={'on' if knobs.is_throttled else 'off'} transient={knobs.transient_error_rate} "
                f"lost-create={knobs.lost_create_rate} expire-delta={knobs.delta_expiry} "
                f"access-denied={'on' if knobs.is_access_denied else 'off'} "
                f"notification-drop={mailbox.notification_drop_rate} "
                f"notification-duplicate={mailbox.notification_duplicate_rate} "
                f"notification-delay={mailbox.notification_delay_seconds}s "
                f"notification-reorder={'on' if mailbox.is_notification_reordered else 'off'}"
            )

    def _set(self, options: dict) -> None:
        knobs: dict[str, object] = {}
        for name in ("latency_ms", "transient_rate", "lost_create_rate"):
            if name in options:
                knobs[name] = options[name]
        if "throttle" in options:
            knobs["throttle"] = _SWITCH[options["throttle"]]
        if "expire_delta" in options:
            knobs["expire_delta"] = "" if options["expire_delta"] == "default" else options["expire_delta"]
        if "access_denied" in options:
            knobs["access_denied"] = options["access_denied"] == "on"
        for name in ("notification_drop_rate", "notification_duplicate_rate"):
            if name in options:
                knobs[name] = options[name]
        if "notification_delay" in options:
            knobs["notification_delay_seconds"] = options["notification_delay"]
        if "notification_reorder" in options:
            knobs["notification_reorder"] = options["notification_reorder"] == "on"
        if not knobs:
            raise CommandError("Nothing to set: give at least one knob option.")
        mailbox = services.mailbox_configure(str(options["email"]), **knobs)
        self.stdout.write(f"Set {', '.join(sorted(knobs))} on {mailbox.email}")
