from django.apps import AppConfig


class ExchangeSyncConfig(AppConfig):
    name = "exchange_sync"
    verbose_name = "Exchange Sync."
