"""The Graph v1.0 operations the sandbox serves: users, contact folders, contacts, delta.

Shapes and codes: https://learn.microsoft.com/graph/api/resources/contact,
https://learn.microsoft.com/graph/api/resources/contactfolder,
https://learn.microsoft.com/graph/api/contact-delta and graph-notes.md.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlencode

from django.conf import settings
from django.core import signing

from . import ids, odata, services
from .errors import GraphError, LostAnswer, bad_request, not_found
from .graph import Call, GraphResponse, route
from .knobs import chance
from .models import Contact, ContactEmail, DeltaExpiry, ExtendedProperty, Folder, Mailbox
from .shapes import SELECTABLE, contact_body_clean, contact_render, extended_clean, folder_render

_TOKEN_SALT = "graph-sandbox-paging"  # noqa: S105 (a signing salt, not a secret)


def _context(call: Call, suffix: str) -> str:
    return f"{call.request.base_url}/$metadata#users('{quote(call.mailbox.email)}'){suffix}"


def _url(call: Call) -> str:
    """The absolute URL of the request's path, each segment percent-encoded afresh (an
    id's `+`, `/` and `=` included), for links and Location headers."""
    segments = call.request.path.split("/")
    return call.request.base_url + "/".join(quote(unquote(s), safe="@$()',:") for s in segments)


def _link(call: Call, params: dict[str, str]) -> str:
    return f"{_url(call)}?{urlencode(params, quote_via=quote, safe='$')}"


def _token_dump(state: dict) -> str:
    return signing.dumps(state, salt=_TOKEN_SALT, compress=True)


def _token_load(text: str) -> dict:
    try:
        return signing.loads(text, salt=_TOKEN_SALT)
    except signing.BadSignature as exc:
        raise bad_request("The token in the request is invalid.", "ErrorInvalidUrlQuery") from exc


def _folder(call: Call, folder_id: str) -> Folder:
    if ids.check_id(folder_id) != ids.FOLDER:
        raise not_found()
    folder = Folder.objects.filter(graph_id=folder_id, mailbox=call.mailbox).first()
    if folder is None:
        raise not_found()
    return folder


def _contact(call: Call, folder: Folder, contact_id: str) -> Contact:
    if ids.check_id(contact_id) != ids.CONTACT:
        raise not_found()
    contact = Contact.objects.filter(graph_id=contact_id, folder=folder, is_deleted=False).first()
    if contact is None:
        raise not_found()
    return contact


def _body_dict(call: Call) -> dict:
    if not isinstance(call.request.body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "RequestBodyRead")
    return call.request.body


def _lose_answer_maybe(call: Call) -> None:
    """After a create committed: maybe fail as if the answer was lost on its way back."""
    if chance(call.mailbox.email, call.knobs.lost_create_rate):
        raise LostAnswer(stall=settings.GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS)


# --- users ----------------------------------------------------------------------------


def user_get(call: Call) -> GraphResponse:
    mailbox: Mailbox = call.mailbox
    return GraphResponse(
        200,
        {
            "@odata.context": f"{call.request.base_url}/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": mailbox.display_name,
            "givenName": None,
            "jobTitle": None,
            "mail": mailbox.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": None,
            "userPrincipalName": mailbox.email,
            "id": str(mailbox.user_id),
        },
    )


# --- contact folders --------------------------------------------------------------------


def folders_list(call: Call) -> GraphResponse:
    query = call.request.query
    name = odata.folder_name_filter(query.get("$filter"))
    page = odata.top(query.get("$top")) or odata.DEFAULT_PAGE
    after = _token_load(query["$skiptoken"])["after"] if "$skiptoken" in query else 0
    folders = call.mailbox.folders.filter(pk__gt=after).order_by("pk")
    if name is not None:
        folders = folders.filter(display_name__iexact=name)
    rows = list(folders[: page + 1])
    body: dict = {
        "@odata.context": _context(call, "/contactFolders"),
        "value": [folder_render(f, root_folder_id=call.mailbox.root_folder_id) for f in rows[:page]],
    }
    if len(rows) > page:
        params = {k: v for k, v in query.items() if k != "$skiptoken"}
        body["@odata.nextLink"] = _link(call, {**params, "$skiptoken": _token_dump({"after": rows[page - 1].pk})})
    return GraphResponse(200, body)


def folder_create(call: Call) -> GraphResponse:
    """POST; extended properties in the body are stored, not echoed (singlevaluelegacyextendedproperty-post)."""
    name = _body_dict(call).get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("The folder name is required.", "ErrorInvalidArgument")
    folder = services.folder_create(call.mailbox, name, extended_clean(call.request.body))
    _lose_answer_maybe(call)
    body = {"@odata.context": _context(call, "/contactFolders/$entity")}
    return GraphResponse(201, body | folder_render(folder, root_folder_id=call.mailbox.root_folder_id))


def folder_get(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    expand = odata.expand(call.request.query.get("$expand"))
    body = {"@odata.context": _context(call, "/contactFolders/$entity")}
    return GraphResponse(200, body | folder_render(folder, root_folder_id=call.mailbox.root_folder_id, expand=expand))


def folder_update(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    name = _body_dict(call).get("displayName")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise bad_request("The folder name is required.", "ErrorInvalidArgument")
    folder = services.folder_update(folder, display_name=name, extended=extended_clean(call.request.body))
    body = {"@odata.context": _context(call, "/contactFolders/$entity")}
    return GraphResponse(200, body | folder_render(folder, root_folder_id=call.mailbox.root_folder_id))


def folder_delete(call: Call) -> GraphResponse:
    services.folder_delete(_folder(call, call.args[0]))
    return GraphResponse(204)


route("", GET=user_get)
route("/contactFolders", GET=folders_list, POST=folder_create)
route("/contactFolders/([^/]+)", GET=folder_get, PATCH=folder_update, DELETE=folder_delete)


# --- contacts ---------------------------------------------------------------------------


def _extended_for(contacts: list[Contact], property_id: str | None) -> dict[int, list[dict]]:
    """The extended properties of some contacts (one query), as Graph lists them."""
    props = ExtendedProperty.objects.filter(contact__in=contacts).order_by("pk")
    if property_id is not None:
        props = props.filter(property_id=property_id)
    result: dict[int, list[dict]] = {}
    for prop in props:
        result.setdefault(prop.contact_id, []).append({"id": prop.property_id, "value": prop.value})
    return result


def _render_many(call: Call, folder: Folder, contacts: list[Contact], select: list[str] | None) -> list[dict]:
    is_expanded, property_id = odata.expand(call.request.query.get("$expand"))
    extended = _extended_for(contacts, property_id) if is_expanded else {}
    return [
        contact_render(c, folder_graph_id=folder.graph_id, select=select, extended=extended.get(c.pk)) for c in contacts
    ]


def contacts_list(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    query = call.request.query
    select = odata.select(query.get("$select"), SELECTABLE)
    wanted = odata.contact_filter(query.get("$filter"))
    top = odata.top(query.get("$top"))
    preferred = None if top else odata.max_page_size(call.request.headers.get("prefer"))
    page = top or preferred or odata.DEFAULT_PAGE
    after = _token_load(query["$skiptoken"])["after"] if "$skiptoken" in query else 0
    contacts = Contact.objects.filter(folder=folder, is_deleted=False, pk__gt=after).order_by("pk")
    if wanted is not None and wanted.property_id is not None:
        matches = ExtendedProperty.objects.filter(
            folder=folder, property_id=wanted.property_id, value_folded=(wanted.value or "").lower()
        )
        contacts = contacts.filter(pk__in=matches.values("contact_id"))
    elif wanted is not None:
        matches = ContactEmail.objects.filter(folder=folder, address_folded=(wanted.email or "").lower())
        contacts = contacts.filter(pk__in=matches.values("contact_id"))
    rows = list(contacts[: page + 1])
    suffix = f"({','.join(select)})" if select else ""
    body: dict = {
        "@odata.context": _context(call, f"/contactFolders('{quote(folder.graph_id, safe='')}')/contacts{suffix}"),
        "value": _render_many(call, folder, rows[:page], select),
    }
    if len(rows) > page:
        params = {k: v for k, v in query.items() if k != "$skiptoken"}
        body["@odata.nextLink"] = _link(call, {**params, "$skiptoken": _token_dump({"after": rows[page - 1].pk})})
    # Graph says which page size it honoured (OData's Preference-Applied header);
    # $top wins over the preference, and then the preference is not applied.
    return GraphResponse(200, body, _preference_applied(preferred))


def _preference_applied(page_size: int | None) -> dict[str, str]:
    return {"Preference-Applied": f"odata.maxpagesize={page_size}"} if page_size else {}


def _contact_context(call: Call, folder: Folder) -> str:
    return _context(call, f"/contactFolders('{quote(folder.graph_id, safe='')}')/contacts/$entity")


def contact_create(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    properties, extended = contact_body_clean(call.request.body)
    contact = services.contact_create(folder, properties, extended)
    _lose_answer_maybe(call)
    body = {"@odata.context": _contact_context(call, folder)}
    return GraphResponse(201, body | contact_render(contact, folder_graph_id=folder.graph_id))


def contact_get(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    contact = _contact(call, folder, call.args[1])
    select = odata.select(call.request.query.get("$select"), SELECTABLE)
    body = {"@odata.context": _contact_context(call, folder)}
    return GraphResponse(200, body | _render_many(call, folder, [contact], select)[0])


def contact_update(call: Call) -> GraphResponse:
    """PATCH; honours If-Match (not documented for contacts, but Exchange checks change keys)."""
    folder = _folder(call, call.args[0])
    contact = _contact(call, folder, call.args[1])
    properties, extended = contact_body_clean(call.request.body)
    contact = services.contact_update(contact.pk, properties, extended, if_match=call.request.headers.get("if-match"))
    body = {"@odata.context": _contact_context(call, folder)}
    return GraphResponse(200, body | contact_render(contact, folder_graph_id=folder.graph_id))


def contact_delete(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    contact = _contact(call, folder, call.args[1])
    services.contact_delete(contact.pk, if_match=call.request.headers.get("if-match"))
    return GraphResponse(204)


# --- delta ------------------------------------------------------------------------------


def _delta_expired(call: Call) -> GraphError:
    """The simulated loss of sync state: https://learn.microsoft.com/graph/delta-query-overview."""
    if call.knobs.delta_expiry == DeltaExpiry.GONE:
        return GraphError(
            410,
            "resyncRequired",
            "The delta token has expired or is no longer valid. Restart the sync with a fresh delta request.",
            headers={"Location": _url(call)},
        )
    return GraphError(400, "syncStateNotFound", "The sync state generation is not found. Restart the sync.")


def contacts_delta(call: Call) -> GraphResponse:
    """A page of a delta round. Rounds are ranges of the mailbox change counter:
    the first round lists live contacts, later ones every change (deletions as @removed,
    with `@odata.type` as the documented removed messages and events carry it:
    https://learn.microsoft.com/graph/delta-query-messages)."""
    folder = _folder(call, call.args[0])
    query = call.request.query
    if "$expand" in query:
        # [observed] Outlook answers $expand on delta with a 500.
        raise GraphError(500, "ErrorInternalServerError", "An internal server error occurred. The operation failed.")
    if "$deltatoken" in query:
        if call.knobs.delta_expiry != DeltaExpiry.OFF:
            raise _delta_expired(call)
        state = _token_load(query["$deltatoken"])
        state = {**state, "upto": _current_seq(call.mailbox), "after": state["since"]}
    elif "$skiptoken" in query:
        state = _token_load(query["$skiptoken"])
    else:
        state = {
            "since": 0,
            "upto": _current_seq(call.mailbox),
            "after": 0,
            "sel": odata.select(query.get("$select"), SELECTABLE),
            "ps": odata.max_page_size(call.request.headers.get("prefer")),
        }
    if state.get("f") not in (None, folder.graph_id):
        raise bad_request("The delta token does not belong to this folder.", "ErrorInvalidUrlQuery")
    preferred = odata.max_page_size(call.request.headers.get("prefer")) or state["ps"]
    page = preferred or odata.DEFAULT_PAGE
    changes = Contact.objects.filter(folder=folder, seq__gt=state["after"], seq__lte=state["upto"]).order_by("seq")
    if state["since"] == 0:
        changes = changes.filter(is_deleted=False)
    rows = list(changes[: page + 1])
    value = [
        {"@odata.type": "#microsoft.graph.contact", "id": c.graph_id, "@removed": {"reason": "deleted"}}
        if c.is_deleted
        else contact_render(c, folder_graph_id=folder.graph_id, select=state["sel"])
        for c in rows[:page]
    ]
    body: dict = {"@odata.context": f"{call.request.base_url}/$metadata#Collection(contact)", "value": value}
    base = {"f": folder.graph_id, "sel": state["sel"], "ps": state["ps"]}
    if len(rows) > page:
        token = {**base, "since": state["since"], "upto": state["upto"], "after": rows[page - 1].seq}
        body["@odata.nextLink"] = _link(call, {"$skiptoken": _token_dump(token)})
    else:
        body["@odata.deltaLink"] = _link(call, {"$deltatoken": _token_dump({**base, "since": state["upto"]})})
    return GraphResponse(200, body, _preference_applied(preferred))


def _current_seq(mailbox: Mailbox) -> int:
    return Mailbox.objects.values_list("change_seq", flat=True).get(pk=mailbox.pk)


route("/contactFolders/([^/]+)/contacts", GET=contacts_list, POST=contact_create)
route("/contactFolders/([^/]+)/contacts/delta(?:\\(\\))?", GET=contacts_delta)
route("/contactFolders/([^/]+)/contacts/([^/]+)", GET=contact_get, PATCH=contact_update, DELETE=contact_delete)
