"""The site's URLs as a deployment without the sandbox has them (GRAPH_SANDBOX off)."""

from django.contrib import admin
from django.urls import path

from jobqueue.health import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", HealthView.as_view(), name="health"),
]
