from django.apps import AppConfig


class ExchangeSyncConfig(AppConfig):
    name = "exchange_sync"
    verbose_name = "Exchange Sync."

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .live.changes import live_changes_connect

        live_changes_connect()
