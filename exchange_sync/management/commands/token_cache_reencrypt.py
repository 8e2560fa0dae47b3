"""Re-encrypt every stored Microsoft 365 token cache with the first key of M365_TOKEN_CACHE_KEYS.

    manage.py token_cache_reencrypt

Key rotation: put the new key first in M365_TOKEN_CACHE_KEYS, keep the old ones after
it, restart, run this command, then remove the old keys. A cache no listed key can read
is left as it is and counted: its person is asked to reconnect at their next run.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from exchange_sync.models import MailboxConnection
from exchange_sync.token_cache import TokenCacheUnreadable, token_cache_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt people's stored Microsoft 365 token caches with the first key of M365_TOKEN_CACHE_KEYS."

    def handle(self, *args: object, **options: object) -> None:
        done = unreadable = 0
        for connection in MailboxConnection.objects.only("pk", "token_cache_encrypted").iterator():
            try:
                encrypted = token_cache_reencrypt(connection.token_cache_encrypted)
            except TokenCacheUnreadable:
                unreadable += 1
                continue
            # Conditional: a run that renewed the tokens meanwhile already wrote them with the first key.
            MailboxConnection.objects.filter(
                pk=connection.pk, token_cache_encrypted=connection.token_cache_encrypted
            ).update(token_cache_encrypted=encrypted)
            done += 1
        self.stdout.write(f"Re-encrypted {done} token cache(s) with the first key.")
        if unreadable:
            self.stdout.write(
                f"{unreadable} token cache(s) could not be read with any key: those people must reconnect."
            )
