from django.apps import AppConfig


class GraphSandboxConfig(AppConfig):
    name = "exchange_sync.sandbox"
    label = "graph_sandbox"
    verbose_name = "Outlook (sandbox)"

    def ready(self) -> None:
        from django.conf import settings

        from . import checks  # noqa: F401  (registers the system checks)
        from .devserver import devserver_tune

        if settings.GRAPH_SANDBOX:
            # The sandbox is served by runserver / live_server: without this every Graph
            # answer waits ~40 ms for a delayed ACK, and an id's %2F reaches it as a "/"
            # (see devserver.py).
            devserver_tune()
