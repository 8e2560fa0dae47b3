"""The sandbox's `/authorize`: Microsoft's sign-in and consent page, for its mailboxes.

msal's `initiate_auth_code_flow` sends the browser here (the product rewrites the real
login host to the sandbox) with `client_id`, `redirect_uri`, `scope`, `state`, `nonce`
and the PKCE `code_challenge` (S256). The person picks or types a sandbox mailbox and
accepts the permissions; the page then redirects to `redirect_uri` with `code` and
`state`, or, when they cancel, with Entra's `error=access_denied` (AADSTS65004).
Requests the page cannot trust enough to redirect (unknown app, no redirect URI, no
PKCE) are answered on the page itself, as Entra does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from .delegated import DELEGATED_SCOPE, code_issue
from .models import Mailbox

# The request parameters carried from the GET to the form's POST.
_FLOW_FIELDS = ("client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method")


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, tenant: str) -> HttpResponse:
    """GET: the sign-in and consent page. POST: the person's answer."""
    params = request.POST if request.method == "POST" else request.GET
    flow = {name: params.get(name, "") for name in _FLOW_FIELDS}
    problem = _request_problem(flow)
    if problem:
        return _page(request, flow, error=problem, status=400)
    if request.method == "GET":
        return _page(request, flow, login_hint=params.get("login_hint", ""))
    if "cancel" in request.POST:
        return _redirect(
            flow,
            error="access_denied",
            error_subcode="cancel",
            error_description="AADSTS65004: User declined to consent to access the app.",
        )
    email = request.POST.get("login", "").strip().lower()
    mailbox = Mailbox.objects.filter(email=email).first()
    if mailbox is None:
        return _page(
            request,
            flow,
            login_hint=email,
            error=f"AADSTS50034: The user account {email or '(empty)'} does not exist in the {tenant} directory.",
        )
    if mailbox.is_sign_in_blocked:
        return _page(request, flow, login_hint=email, error="AADSTS50057: The user account is disabled.")
    code = code_issue(
        client_id=flow["client_id"],
        mailbox=mailbox,
        redirect_uri=flow["redirect_uri"],
        code_challenge=flow["code_challenge"],
        scopes=flow["scope"],
        nonce=flow["nonce"],
    )
    return _redirect(flow, code=code)


def _request_problem(flow: dict[str, str]) -> str:
    expected_id = getattr(settings, "M365_CLIENT_ID", "")
    if not expected_id or flow["client_id"] != expected_id:
        return (
            f"AADSTS700016: Application with identifier '{flow['client_id']}' was not found in the directory. "
            "This can happen if the application has not been installed by the administrator of the tenant."
        )
    if not flow["redirect_uri"].startswith(("http://", "https://")):
        return "AADSTS900144: The request body must contain the following parameter: 'redirect_uri'."
    if not flow["code_challenge"] or flow["code_challenge_method"] != "S256":
        return "AADSTS9002325: Proof Key for Code Exchange is required, with code_challenge_method S256."
    if DELEGATED_SCOPE not in flow["scope"].split():
        return (
            f"AADSTS70011: The provided value for the input parameter 'scope' is not valid (ask for {DELEGATED_SCOPE})."
        )
    return ""


def _page(
    request: HttpRequest, flow: dict[str, str], *, login_hint: str = "", error: str = "", status: int = 200
) -> TemplateResponse:
    return TemplateResponse(
        request,
        "graph_sandbox/authorize.html",
        {
            "flow": flow,
            "login_hint": login_hint,
            "error": error,
            "can_sign_in": status == 200,
            "mailboxes": Mailbox.objects.order_by("email").values_list("email", flat=True),
            "scopes": [s for s in flow["scope"].split() if s not in ("openid", "profile")],
        },
        status=status,
    )


def _redirect(flow: dict[str, str], **answer: str) -> HttpResponseRedirect:
    """Back to the app's redirect URI with the answer and the app's `state`."""
    query = urlencode({**answer, "state": flow["state"]})
    separator = "&" if "?" in flow["redirect_uri"] else "?"
    return HttpResponseRedirect(f"{flow['redirect_uri']}{separator}{query}")
