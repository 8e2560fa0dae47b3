"""Change-notification subscriptions on Outlook contacts: `/subscriptions[/{id}]`.

As https://learn.microsoft.com/graph/api/resources/subscription and its method pages
(subscription-post-subscriptions, -get, -list, -update, -delete) document them, for the
resources the sandbox serves: `users/{id or upn}/contacts` (every contact folder of the
mailbox, as `me/messages` covers every mail folder: an assumption, the docs name only
`me/contacts`) and `users/{u}/contactFolders/{id}/contacts`, also in the OData key form
`users('{u}')/contactFolders('{id}')/contacts`. `me/...` needs a signed-in user, which
the sandbox's app-only tokens never have. Also served inside `$batch`.

Create (201) checks the body, then validates each endpoint
(https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation):
it POSTs `{url}?validationToken=...` (text/plain) and needs, within 10 seconds, 200 with
a text/plain body equal to the decoded token; otherwise 400 and no subscription.
Renewal (PATCH expirationDateTime, 200) does not validate again: the docs do not say it
does, and the include page leaves the question open ("Is the validation done during
subscription renewal?"); a new notificationUrl given in a PATCH is validated.
Delete answers 204 and sends no lifecycle notification (the app removed it itself).
`POST /subscriptions/{id}/reauthorize` answers 204
(https://learn.microsoft.com/graph/change-notifications-lifecycle-events).

Refusals, with Graph's status and code; the messages marked [observed] are Graph's own
(public issue threads), the others are written here in Graph's manner:
- expirationDateTime beyond 10,080 minutes (Outlook contact, under 7 days: the
  subscription page's table as Microsoft publishes it in 2026; the stored older page says
  4,230) or not in the future: 400 `ExtensionError` "Subscription expiration can only be
  10080 minutes in the future." [observed, with 4230, microsoft-graph-docs issue 2988];
- notificationUrl / lifecycleNotificationUrl not HTTPS (the subscription page: "This URL
  must make use of the HTTPS protocol"): 400 `InvalidRequest`;
- clientState over 128 characters, changeType not a comma list of created / updated /
  deleted, latestSupportedTlsVersion not v1_0..v1_3, a missing required property: 400
  `InvalidRequest`; an unknown property: 400 `BadRequest` (OData's message);
- includeResourceData true: 400 `InvalidRequest` (without encryptionCertificate, which
  the subscription page requires then; with one, because the sandbox does not encrypt
  resource data: a sandbox limit, said in the message);
- validation: 400 `ValidationError` "Subscription validation request failed. Response
  must exactly match validationToken query parameter." [observed,
  microsoftgraph/java-spring-webhooks-sample issue 82], "... Notification endpoint must
  respond with 200 OK to validation request." [observed], "Subscription validation
  request timeout." [observed wording];
- an unknown subscription (or another app's): 404 `ResourceNotFound`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from django.utils import timezone

from . import odata, services
from .auth import token_verify
from .errors import GraphError, bad_request, invalid_user, not_found
from .graph import GraphRequest, GraphResponse, mailbox_find, tenant_route
from .handshake import endpoint_validate
from .knobs import knobs_for
from .models import Folder, Mailbox, Subscription
from .notifications import CREATED, DELETED, UPDATED, graph_datetime, lifecycle_send
from .scoping import mailbox_scope_check

MAX_MINUTES = 10_080  # Outlook message, event, contact: under 7 days
MAX_CLIENT_STATE = 128
CHANGE_TYPES = (CREATED, UPDATED, DELETED)
TLS_VERSIONS = ("v1_0", "v1_1", "v1_2", "v1_3")
WRITABLE = frozenset(
    {
        "changeType",
        "notificationUrl",
        "lifecycleNotificationUrl",
        "resource",
        "expirationDateTime",
        "clientState",
        "latestSupportedTlsVersion",
        "includeResourceData",
        "encryptionCertificate",
        "encryptionCertificateId",
        "notificationUrlAppId",
        "notificationQueryOptions",
        "notificationContentType",
    }
)
READ_ONLY = frozenset({"id", "applicationId", "creatorId", "@odata.type"})
RENEWABLE = frozenset({"expirationDateTime", "notificationUrl"})
# http is accepted only for the local machine, where tests and demos run their own
# receiver without a certificate; Graph itself refuses every non-HTTPS URL, and the
# sandbox is served only in development and drills (settings.GRAPH_SANDBOX).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_USER = r"users(?:/([^/()]+)|\('([^']+)'\))"
_DEFAULT_CONTACTS = re.compile(rf"^{_USER}/contacts$", re.IGNORECASE)
_FOLDER_CONTACTS = re.compile(rf"^{_USER}/contactFolders(?:/(.+)|\('([^']+)'\))/contacts$", re.IGNORECASE)
_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def _not_found() -> GraphError:
    return GraphError(404, "ResourceNotFound", "The object was not found.")


def _claims(request: GraphRequest) -> dict:
    return token_verify(request.headers.get("authorization"))


# --- checks -------------------------------------------------------------------------------


def _expiration(value: object, *, now: datetime) -> datetime:
    if not isinstance(value, str) or not (match := _DATETIME.match(value.strip())):
        raise _invalid(f"Invalid value '{value}' for expirationDateTime: a UTC date and time is expected.")
    whole, fraction, zone = match.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    expires = datetime.fromisoformat(f"{whole}.{fraction}{'+00:00' if zone == 'Z' else zone}").astimezone(UTC)
    if expires <= now or expires > now + timedelta(minutes=MAX_MINUTES):
        raise GraphError(
            400, "ExtensionError", f"Subscription expiration can only be {MAX_MINUTES} minutes in the future."
        )
    return expires


def _https_url(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"The property '{name}' must be an absolute HTTPS URL.")
    parts = urlsplit(value.strip())
    local_http = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if (parts.scheme != "https" and not local_http) or not parts.hostname:
        raise _invalid(f"The {name} '{value}' must use the HTTPS protocol.")
    return value.strip()


def _change_type(value: object) -> str:
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
    if not parts or any(p not in CHANGE_TYPES for p in parts) or len(set(parts)) != len(parts):
        raise _invalid(f"Invalid changeType '{value}': a comma-separated list of created, updated and deleted.")
    return ",".join(parts)


def _client_state(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CLIENT_STATE:
        raise _invalid(f"clientState must be a string of at most {MAX_CLIENT_STATE} characters.")
    return value


def _resource(value: object) -> tuple[Mailbox, Folder | None]:
    """(mailbox, folder or None for every contact folder) of a contacts resource."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid("The property 'resource' is required.")
    path = value.strip().lstrip("/")
    if path.lower() == "me" or path.lower().startswith("me/"):
        raise bad_request("/me request is only valid with delegated authentication flow.")
    if match := _DEFAULT_CONTACTS.match(path):
        user, folder_id = match.group(1) or match.group(2), None
    elif match := _FOLDER_CONTACTS.match(path):
        user, folder_id = match.group(1) or match.group(2), match.group(3) or match.group(4)
    else:
        raise _invalid(
            f"The resource '{value}' is not supported: the sandbox serves subscriptions on contacts, "
            "'users/{id}/contacts' or 'users/{id}/contactFolders/{id}/contacts'."
        )
    mailbox = mailbox_find(unquote(user))
    if mailbox is None:
        raise invalid_user(unquote(user))
    if knobs_for(mailbox).is_access_denied:
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    mailbox_scope_check(mailbox)  # Exchange Online keeps an app out of mailboxes outside its scope
    if folder_id is None:
        return mailbox, None
    return mailbox, _folder(mailbox, unquote(folder_id))


def _folder(mailbox: Mailbox, folder_id: str) -> Folder:
    if folder_id.lower() == services.DELETED_ITEMS:
        return services.deleted_items_folder(mailbox)
    if folder_id == mailbox.root_folder_id:
        return services.default_folder(mailbox)
    folder = Folder.objects.filter(mailbox=mailbox, graph_id=folder_id).first()
    if folder is None:
        raise not_found()
    return folder


def _resource_data_refused(body: dict) -> None:
    if body.get("includeResourceData") in (None, False):
        return
    if body.get("includeResourceData") is not True:
        raise _invalid("includeResourceData must be true or false.")
    if not body.get("encryptionCertificate") or not body.get("encryptionCertificateId"):
        raise _invalid(
            "encryptionCertificate and encryptionCertificateId are required when includeResourceData is true."
        )
    raise _invalid("The Graph sandbox does not send change notifications with resource data (includeResourceData).")


# --- the operations ---------------------------------------------------------------------------


def _render(request: GraphRequest, subscription: Subscription, *, entity: bool = True) -> dict:
    """The subscription as Graph shows it; in a list (not `entity`) without its clientState,
    which subscription-list says "is not returned for security purposes"."""
    body = {"@odata.context": f"{request.base_url}/$metadata#subscriptions/$entity"} if entity else {}
    return body | {
        "id": str(subscription.graph_id),
        "resource": subscription.resource,
        "applicationId": subscription.application_id,
        "changeType": subscription.change_type,
        "clientState": subscription.client_state if entity else None,
        "notificationUrl": subscription.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": subscription.lifecycle_notification_url or None,
        "expirationDateTime": graph_datetime(subscription.expires_at),
        "creatorId": _creator_id(subscription.application_id),
        "includeResourceData": False,
        "latestSupportedTlsVersion": subscription.latest_supported_tls_version,
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
        "notificationContentType": "application/json",
    }


def _creator_id(application_id: str) -> str:
    """With application permissions, the service principal of the app: a stable Guid here."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-sandbox-service-principal:{application_id}"))


def _body(request: GraphRequest) -> dict:
    if not isinstance(request.body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "RequestBodyRead")
    unknown = set(request.body) - WRITABLE - READ_ONLY
    if unknown:
        name = sorted(unknown)[0]
        raise bad_request(f"The property '{name}' does not exist on type 'microsoft.graph.subscription'.")
    return request.body


def subscription_create(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    claims = _claims(request)
    body = _body(request)
    for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if body.get(name) in (None, ""):
            raise _invalid(f"The property '{name}' is required.")
    mailbox, folder = _resource(body["resource"])
    change_type = _change_type(body["changeType"])
    notification_url = _https_url(body["notificationUrl"], "notificationUrl")
    lifecycle_url = body.get("lifecycleNotificationUrl")
    lifecycle_url = _https_url(lifecycle_url, "lifecycleNotificationUrl") if lifecycle_url is not None else ""
    client_state = _client_state(body.get("clientState"))
    tls = body.get("latestSupportedTlsVersion") or "v1_2"
    if tls not in TLS_VERSIONS:
        raise _invalid(f"Invalid latestSupportedTlsVersion '{tls}': one of {', '.join(TLS_VERSIONS)}.")
    _resource_data_refused(body)
    expires = _expiration(body["expirationDateTime"], now=timezone.now())
    endpoint_validate(notification_url)
    if lifecycle_url:
        endpoint_validate(lifecycle_url)
    subscription = Subscription.objects.create(
        mailbox=mailbox,
        folder=folder,
        resource=body["resource"],
        change_type=change_type,
        notification_url=notification_url,
        lifecycle_notification_url=lifecycle_url,
        client_state=client_state,
        expires_at=expires,
        latest_supported_tls_version=tls,
        is_immutable_id=odata.immutable_ids(request.headers.get("prefer")),
        application_id=str(claims.get("appid", "")),
        tenant_id=str(claims.get("tid", "")),
    )
    return GraphResponse(201, _render(request, subscription))


def _live(request: GraphRequest, subscription_id: str) -> Subscription:
    """The caller's own live subscription; an expired one is deleted (Graph removes them)."""
    claims = _claims(request)
    try:
        graph_id = uuid.UUID(subscription_id)
    except ValueError:
        raise _not_found() from None
    subscription = Subscription.objects.filter(graph_id=graph_id, application_id=str(claims.get("appid", ""))).first()
    if subscription is None:
        raise _not_found()
    if subscription.expires_at <= timezone.now():
        subscription.delete()
        raise _not_found()
    return subscription


def subscription_get(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    return GraphResponse(200, _render(request, _live(request, args[0])))


def subscriptions_list(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    """The calling app's live subscriptions (app-only: those it created)."""
    claims = _claims(request)
    Subscription.objects.filter(expires_at__lte=timezone.now()).delete()
    mine = Subscription.objects.filter(application_id=str(claims.get("appid", "")))
    return GraphResponse(
        200,
        {
            "@odata.context": f"{request.base_url}/$metadata#subscriptions",
            "value": [_render(request, s, entity=False) for s in mine],
        },
    )


def subscription_update(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    """Renew (expirationDateTime) and/or move to a new, validated notificationUrl."""
    subscription = _live(request, args[0])
    body = _body(request)
    others = set(body) - RENEWABLE - READ_ONLY
    if others:
        raise _invalid(f"Only expirationDateTime and notificationUrl can be updated, not {', '.join(sorted(others))}.")
    if "expirationDateTime" in body:
        subscription.expires_at = _expiration(body["expirationDateTime"], now=timezone.now())
    if "notificationUrl" in body:
        url = _https_url(body["notificationUrl"], "notificationUrl")
        if url != subscription.notification_url:
            endpoint_validate(url)
        subscription.notification_url = url
    subscription.save(update_fields=["expires_at", "notification_url"])
    return GraphResponse(200, _render(request, subscription))


def subscription_delete(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    _live(request, args[0]).delete()
    return GraphResponse(204)


def subscription_reauthorize(request: GraphRequest, args: tuple[str, ...]) -> GraphResponse:
    _live(request, args[0])
    return GraphResponse(204)


tenant_route("subscriptions", GET=subscriptions_list, POST=subscription_create)
tenant_route("subscriptions/([^/]+)", GET=subscription_get, PATCH=subscription_update, DELETE=subscription_delete)
tenant_route("subscriptions/([^/]+)/reauthorize", POST=subscription_reauthorize)


# --- knobs: what Outlook does to a subscription on its own ----------------------------------


def subscription_find(subscription_id: str) -> Subscription:
    """A subscription by id (any app); Subscription.DoesNotExist otherwise."""
    return Subscription.objects.select_related("mailbox").get(graph_id=uuid.UUID(str(subscription_id)))


def subscription_expire(subscription_id: str) -> None:
    """Expire a subscription now: no more notifications; GET answers 404 (no lifecycle
    notification: Graph sends none when a subscription simply runs out)."""
    Subscription.objects.filter(graph_id=uuid.UUID(str(subscription_id))).update(expires_at=timezone.now())


def subscription_remove(subscription_id: str) -> bool:
    """Remove a subscription as Outlook may, and send `subscriptionRemoved` to its
    lifecycleNotificationUrl; False when it has none (nothing is sent)."""
    subscription = subscription_find(subscription_id)
    subscription.delete()
    return lifecycle_send(subscription, "subscriptionRemoved")


def subscription_lifecycle(subscription_id: str, event: str) -> bool:
    """Send a lifecycle notification (`reauthorizationRequired`, `missed`) for a live
    subscription; False when it has no lifecycleNotificationUrl."""
    return lifecycle_send(subscription_find(subscription_id), event)
