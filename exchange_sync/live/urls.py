"""Where Graph posts notifications (see views.py); mounted at /graph/ by the project."""

from django.urls import path

from exchange_sync.live.views import lifecycle_view, notifications_view

urlpatterns = [
    path("notifications/", notifications_view, name="graph_notifications"),
    path("lifecycle/", lifecycle_view, name="graph_lifecycle"),
]
