from django.apps import AppConfig


class GraphSandboxConfig(AppConfig):
    name = "exchange_sync.sandbox"
    label = "graph_sandbox"
    verbose_name = "Outlook (sandbox)"
