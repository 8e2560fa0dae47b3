"""Small helpers shared by the exchange_sync admin pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from exchange_sync.background import RUN_PERMISSION, SEE_ALL_PERMISSION, user_can_run_sync, user_sees_all_setups

__all__ = ["RUN_PERMISSION", "SEE_ALL_PERMISSION", "can_run_sync", "owns", "redirect_back", "sees_all"]


def can_run_sync(request: HttpRequest) -> bool:
    """May this user start (or confirm) synchronizations? Superusers have every permission.
    The same rule Codeunit 6700 applies to the user a Job Queue Entry runs as."""
    return user_can_run_sync(request.user)


def sees_all(request: HttpRequest) -> bool:
    """May this user see every user's setups, runs and issues (not only their own)?"""
    return user_sees_all_setups(request.user)


def owns(request: HttpRequest, user_id: int | None) -> bool:
    """A user sees their own setups, runs and issues; one with the "see every user's"
    permission (the Contact Sync Administrator role, a superuser) sees everyone's."""
    return sees_all(request) or (user_id is not None and user_id == request.user.pk)


def redirect_back(request: HttpRequest, fallback: str, *args: object) -> HttpResponse:
    """Back to the page the button was on (when it is ours), else to `fallback`."""
    back = request.headers.get("referer", "")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(back)
    return redirect(fallback, *args)
