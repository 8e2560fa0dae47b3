from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]

if settings.GRAPH_SANDBOX:
    urlpatterns.append(path("graph-sandbox/", include("exchange_sync.sandbox.urls")))
