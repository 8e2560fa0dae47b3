from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from jobqueue.health import HealthView

admin.site.site_header = "bcsync: contacts in step with Microsoft 365"
admin.site.site_title = "bcsync"
admin.site.index_title = "Contacts, Exchange sync and job queue"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("health/", HealthView.as_view(), name="health"),
    # Microsoft Graph's change notifications (live sync, Outlook -> Business Central).
    path("graph/", include("exchange_sync.live.urls")),
]

if settings.GRAPH_SANDBOX:
    urlpatterns.append(path("graph-sandbox/", include("exchange_sync.sandbox.urls")))
