"""The sandbox's app registrations: certificates and mailbox scoping.

    manage.py sandbox_app add-certificate CLIENT_ID CERTIFICATE.pem   (idempotent)
    manage.py sandbox_app remove-certificate CLIENT_ID THUMBPRINT
    manage.py sandbox_app deny-mailbox CLIENT_ID EMAIL    (out of the app's scope: 403)
    manage.py sandbox_app allow-mailbox CLIENT_ID EMAIL
    manage.py sandbox_app list
    manage.py sandbox_app revoke-consent CLIENT_ID EMAIL   (delegated sign-in: AADSTS65001)
    manage.py sandbox_app expire-refresh-tokens EMAIL      (AADSTS700082)
    manage.py sandbox_app reset-password EMAIL             (AADSTS50173)
    manage.py sandbox_app disable-account EMAIL | enable-account EMAIL   (AADSTS50057)

A certificate registered for an app lets it sign in with a client assertion instead of
the secret (as uploading it under "Certificates & secrets" in Entra ID does). A denied
mailbox answers that app's Graph requests with 403 ErrorAccessDenied, as Exchange Online
does for a mailbox outside the app's management scope. Both apply at the next request.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange_sync.sandbox import delegated
from exchange_sync.sandbox.assertions import app_certificate_add, app_certificate_remove
from exchange_sync.sandbox.models import AppCertificate, Mailbox
from exchange_sync.sandbox.scoping import mailbox_scope_allow, mailbox_scope_denials, mailbox_scope_deny

# What a user or tenant administrator does in Entra ID to delegated sign-ins.
USER_KNOBS = {
    "revoke-consent": lambda client_id, email: delegated.consent_revoke(client_id, email),
    "expire-refresh-tokens": lambda client_id, email: delegated.refresh_tokens_expire(email),
    "reset-password": lambda client_id, email: delegated.password_reset(email),
    "disable-account": lambda client_id, email: delegated.account_disable(email),
    "enable-account": lambda client_id, email: delegated.account_disable(email, is_disabled=False),
}


class Command(BaseCommand):
    help = "Sandbox app registrations: certificates, mailbox scoping, and users' delegated sign-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add-certificate", help="Register a PEM certificate for an app.")
        add.add_argument("client_id")
        add.add_argument("certificate", help="Path of the PEM certificate (public part only is read).")
        remove = sub.add_parser("remove-certificate", help="Remove an app's certificate by its SHA-1 thumbprint.")
        remove.add_argument("client_id")
        remove.add_argument("thumbprint")
        deny = sub.add_parser("deny-mailbox", help="Keep the app out of a mailbox (403 ErrorAccessDenied).")
        deny.add_argument("client_id")
        deny.add_argument("email")
        allow = sub.add_parser("allow-mailbox", help="Let the app open the mailbox again.")
        allow.add_argument("client_id")
        allow.add_argument("email")
        sub.add_parser("list", help="List registered certificates and denied mailboxes.")
        revoke = sub.add_parser("revoke-consent", help="Remove a user's consent to the app (delegated sign-in).")
        revoke.add_argument("client_id")
        revoke.add_argument("email")
        for name, text in (
            ("expire-refresh-tokens", "Expire every refresh token of the user."),
            ("reset-password", "Reset the user's password: earlier refresh tokens fail."),
            ("disable-account", "Block the user's sign-in."),
            ("enable-account", "Let the user sign in again."),
        ):
            sub.add_parser(name, help=text).add_argument("email")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        client_id = str(options.get("client_id", ""))
        if action == "add-certificate":
            path = str(options["certificate"])
            try:
                registered = app_certificate_add(client_id, Path(path).read_text(encoding="ascii"))
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {path}: {exc}") from exc
            except ValueError as exc:
                raise CommandError(f"{path}: {exc}") from exc
            self.stdout.write(f"Registered for {client_id}: thumbprint {registered.thumbprint_sha1}")
        elif action == "remove-certificate":
            removed = app_certificate_remove(client_id, str(options["thumbprint"]))
            self.stdout.write(f"Removed {removed} certificate(s) of {client_id}")
        elif action == "deny-mailbox":
            try:
                mailbox_scope_deny(client_id, str(options["email"]))
            except Mailbox.DoesNotExist as exc:
                raise CommandError(f"No sandbox mailbox {options['email']}; add it first.") from exc
            self.stdout.write(f"{client_id} may no longer open {options['email']}")
        elif action == "allow-mailbox":
            mailbox_scope_allow(client_id, str(options["email"]))
            self.stdout.write(f"{client_id} may open {options['email']}")
        elif action in USER_KNOBS:
            USER_KNOBS[action](client_id, str(options["email"]))
            self.stdout.write(f"{action}: {options['email']}")
        else:
            for certificate in AppCertificate.objects.all():
                self.stdout.write(f"certificate\t{certificate.client_id}\t{certificate.thumbprint_sha1}")
            for denied_app, email in mailbox_scope_denials():
                self.stdout.write(f"denied\t{denied_app}\t{email}")
