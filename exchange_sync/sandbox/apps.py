from django.apps import AppConfig


class GraphSandboxConfig(AppConfig):
    name = "exchange_sync.sandbox"
    label = "graph_sandbox"
    verbose_name = "Outlook (sandbox)"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
