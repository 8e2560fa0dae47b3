"""Small helpers shared by the exchange_sync admin pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

RUN_PERMISSION = "exchange_sync.run_contact_sync"


def can_run_sync(request: HttpRequest) -> bool:
    """May this user start (or confirm) synchronizations? Superusers have every permission."""
    return request.user.is_active and request.user.has_perm(RUN_PERMISSION)


def owns(request: HttpRequest, user_id: int | None) -> bool:
    """A user sees their own setups, runs and issues; a superuser sees everyone's."""
    return request.user.is_superuser or user_id == request.user.pk


def redirect_back(request: HttpRequest, fallback: str, *args: object) -> HttpResponse:
    """Back to the page the button was on (when it is ours), else to `fallback`."""
    back = request.headers.get("referer", "")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(back)
    return redirect(fallback, *args)
