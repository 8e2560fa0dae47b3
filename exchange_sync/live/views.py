"""The endpoints Microsoft Graph posts to: change notifications and lifecycle notifications.

Outside the admin, without login or CSRF token (Graph signs nothing; the clientState
secret of each subscription is the check, see notifications.py). Each answers Graph's
validation handshake (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation):
`POST ?validationToken=...` -> 200 text/plain with the decoded token. A notification
collection is answered 202 at once: the work is a queued, debounced live run. Anything
else gets a bare 4xx, never a detail or a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from exchange_sync.live.notifications import NotificationRefused, lifecycle_receive, notifications_receive


def _endpoint(receive: Callable[[Any, Any], int]) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        token = request.GET.get("validationToken")
        if token is not None:  # Django has URL-decoded it
            return HttpResponse(token, content_type="text/plain; charset=utf-8")
        try:
            payload = json.loads(request.body)
        except ValueError:  # UnicodeDecodeError included
            return HttpResponse(status=400)
        try:
            receive(payload, timezone.now())
        except NotificationRefused:
            return HttpResponse(status=403)
        return HttpResponse(status=202)

    return view


notifications_view = _endpoint(notifications_receive)
lifecycle_view = _endpoint(lifecycle_receive)
