"""System checks for the Graph sandbox."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register()
def sandbox_settings_check(app_configs: object = None, **kwargs: object) -> list[Warning]:
    """Warn when a fake Graph is exposed in production, or when it cannot issue a token."""
    if not getattr(settings, "GRAPH_SANDBOX", False):
        return []
    warnings = []
    if not settings.DEBUG:
        warnings.append(
            Warning(
                "The Graph sandbox (a fake Microsoft Graph) is served at /graph-sandbox/ while DEBUG is off "
                "(GRAPH_SANDBOX_STAGING_DRILL).",
                hint="Only for a staging drill: set GRAPH_SANDBOX=false in production.",
                id="graph_sandbox.W001",
            )
        )
    if not getattr(settings, "M365_CLIENT_ID", "") or not getattr(settings, "M365_CLIENT_SECRET", ""):
        warnings.append(
            Warning(
                "The Graph sandbox issues tokens only for M365_CLIENT_ID / M365_CLIENT_SECRET, and one is empty.",
                hint="Set both (any values) in .env; the product signs in to the sandbox with them.",
                id="graph_sandbox.W002",
            )
        )
    return warnings
