"""The Graph v1.0 operations the sandbox serves: users, contact folders, contacts, delta.

Shapes and codes: https://learn.microsoft.com/graph/api/resources/contact,
https://learn.microsoft.com/graph/api/resources/contactfolder,
https://learn.microsoft.com/graph/api/contact-delta and graph-notes.md.

Paths, as Graph documents them:
- `/contactFolders` lists the folders directly under the default Contacts folder;
  `/contactFolders/{id}/childFolders` lists and creates the folders inside one
  (https://learn.microsoft.com/graph/api/contactfolder-list-childfolders,
  .../contactfolder-post-childfolders); folder ids are mailbox-wide, so a child folder
  is also `/contactFolders/{childId}`. Names are unique among siblings.
- `/contacts` is the default Contacts folder (https://learn.microsoft.com/graph/api/user-list-contacts,
  .../user-post-contacts); its id is every top-level folder's `parentFolderId`, and
  `/contactFolders/{thatId}` reads it. Deleting it is refused.
- `/contacts/{id}` reads, updates and deletes a contact of any folder of the mailbox
  (https://learn.microsoft.com/graph/api/contact-get, .../contact-update, .../contact-delete).
- `/contacts/delta` is the default folder's delta (see `default_contacts_delta`).
- Deleted Items, where Outlook puts what a person deletes, is a mail folder: not in
  `/contactFolders` lists, but `/contactFolders/{its id}` (and the well-known name
  `/contactFolders/deleteditems`) reads it and its `/contacts` [observed in public
  code: clients read `/me/contactFolders/deleteditems/contacts`, and a deleted contact
  folder shows up under `/contactFolders/deleteditems/childFolders`]. It cannot be deleted.

Ids (https://learn.microsoft.com/graph/outlook-immutable-id): a contact has a regular id,
which changes when it moves to another folder (Deleted Items included), and an immutable
id, which does not. Every response renders contact ids as its own request asks:
immutable with `Prefer: IdType="ImmutableId"`, regular without. The header applies to
the one request it comes with (each `$batch` member has its own headers; a delta link
or nextLink carries no choice), and the answer says `Preference-Applied:
IdType="ImmutableId"` (the echo is reported with and without the quotes; the sandbox
sends the request's form). Both kinds of id address the contact in paths, with or
without the header. Folder ids never change and have one kind. Graph has no move for
contacts: people move them in Outlook (here: the Outlook page, `sandbox_mailbox move`).
Lists page by `$skip` (see `listing`); query options are checked in `odata`.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, unquote, urlencode

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet

from . import ids, listing, odata, services
from .errors import GraphError, LostAnswer, bad_request, not_found
from .graph import Call, GraphResponse, Operation, route
from .knobs import chance
from .models import Contact, ContactEmail, DeltaExpiry, ExtendedProperty, Folder, Mailbox
from .shapes import FOLDER_SELECTABLE, SELECTABLE, contact_body_clean, contact_render, extended_clean, folder_render

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
    """A folder of the mailbox by id; the default Contacts folder's id names that folder,
    and `deleteditems` (Graph's well-known name) the Deleted Items folder."""
    if folder_id.lower() == services.DELETED_ITEMS:
        return services.deleted_items_folder(call.mailbox)
    kind = ids.check_id(folder_id)
    if kind == ids.ROOT and folder_id == call.mailbox.root_folder_id:
        return services.default_folder(call.mailbox)
    if kind != ids.FOLDER:
        raise not_found()
    key = (call.mailbox.pk, folder_id)
    if call.reads is not None and key in call.reads.folders:
        return call.reads.folders[key]
    # Unordered and without its parent (read when rendered): this runs for every
    # contact request, and Django compiles a plain lookup much faster.
    folder = next(iter(Folder.objects.filter(graph_id=folder_id, mailbox=call.mailbox).order_by()), None)
    if folder is None and folder_id == services.deleted_items_folder_id(call.mailbox):
        folder = services.deleted_items_folder(call.mailbox)
    if folder is None:
        raise not_found()
    if call.reads is not None:
        call.reads.folders[key] = folder
    return folder


def _contact(call: Call, folder: Folder | None, contact_id: str) -> Contact:
    """A live contact by id, regular or immutable: in `folder`, or anywhere in the mailbox
    (`/users/{u}/contacts/{id}`). An old regular id of a contact that moved is not found."""
    kind = ids.check_id(contact_id)
    if kind == ids.IMMUTABLE:
        contacts = Contact.objects.filter(immutable_id=contact_id, mailbox=call.mailbox, is_deleted=False)
    elif kind == ids.CONTACT:
        # A contact made before the sandbox had immutable ids has its first regular id
        # as its immutable id (migration 0006), so a regular-looking id may be either.
        live = Contact.objects.filter(mailbox=call.mailbox, is_deleted=False)
        contacts = live.filter(graph_id=contact_id) | live.filter(immutable_id=contact_id)
    else:
        raise not_found()
    contact = contacts.filter(folder=folder).first() if folder else contacts.select_related("folder").first()
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
    """The folders directly under the default Contacts folder (not the child folders)."""
    folders = call.mailbox.folders.filter(parent__isnull=True, well_known_name="")
    folders = folders.exclude(graph_id=call.mailbox.root_folder_id)
    return _folders_page(call, folders, "/contactFolders")


def _folders_page(call: Call, folders: QuerySet, context_suffix: str) -> GraphResponse:
    query = call.request.query
    odata.options_check(query, listing.FOLDER_LIST_OPTIONS)
    name = odata.folder_name_filter(query.get("$filter"))
    select = odata.select(query.get("$select"), FOLDER_SELECTABLE, "microsoft.graph.contactFolder")
    order = odata.orderby(query.get("$orderby"), listing.FOLDER_ORDERABLE, "microsoft.graph.contactFolder")
    if name is not None:
        folders = folders.filter(display_name__iexact=name)
    folders = listing.folders_ordered(folders.select_related("parent"), order)
    page = listing.page_take(query, folders, odata.top(query.get("$top")) or odata.DEFAULT_PAGE)
    body: dict = {"@odata.context": _context(call, context_suffix)}
    if page.total is not None:
        body["@odata.count"] = page.total
    body["value"] = [_selected(folder_render(f, root_folder_id=call.mailbox.root_folder_id), select) for f in page.rows]
    if page.next_query is not None:
        body["@odata.nextLink"] = _link(call, page.next_query)
    return GraphResponse(200, body)


def _selected(item: dict, select: list[str] | None) -> dict:
    return item if select is None else {name: item[name] for name in ("id", *select)}


def folder_create(call: Call) -> GraphResponse:
    return _folder_create_in(call, None, "/contactFolders/$entity")


def _folder_create_in(call: Call, parent: Folder | None, context_suffix: str) -> GraphResponse:
    """POST; extended properties in the body are stored, not echoed (singlevaluelegacyextendedproperty-post)."""
    name = _body_dict(call).get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("The folder name is required.", "ErrorInvalidArgument")
    call.folders_changed()
    folder = services.folder_create(call.mailbox, name, extended_clean(call.request.body), parent=parent)
    _lose_answer_maybe(call)
    body = {"@odata.context": _context(call, context_suffix)}
    return GraphResponse(201, body | folder_render(folder, root_folder_id=call.mailbox.root_folder_id))


def child_folders_list(call: Call) -> GraphResponse:
    """`GET /contactFolders/{id}/childFolders` (https://learn.microsoft.com/graph/api/contactfolder-list-childfolders)."""
    parent = _folder(call, call.args[0])
    return _folders_page(call, parent.children.all(), f"/contactFolders('{_quoted(parent)}')/childFolders")


def child_folder_create(call: Call) -> GraphResponse:
    """`POST /contactFolders/{id}/childFolders` (https://learn.microsoft.com/graph/api/contactfolder-post-childfolders)."""
    parent = _folder(call, call.args[0])
    return _folder_create_in(call, parent, f"/contactFolders('{_quoted(parent)}')/childFolders/$entity")


def _quoted(folder: Folder) -> str:
    return quote(folder.graph_id, safe="")


def _as_child(operation: Operation) -> Operation:
    """`operation` on `/contactFolders/{parent}/childFolders/{child}...`: the child, when it
    is the parent's, answered as `/contactFolders/{child}...` (documented on the pages of
    contactfolder-get, -update, -delete and user-list-contacts); 404 otherwise."""

    def on_child(call: Call) -> GraphResponse:
        parent = _folder(call, call.args[0])
        if _folder(call, call.args[1]).parent_id != parent.pk:
            raise not_found()
        return operation(replace(call, args=call.args[1:]))

    return on_child


def folder_get(call: Call) -> GraphResponse:
    # $expand of the folder's extended properties (singlevaluelegacyextendedproperty-get).
    odata.options_check(call.request.query, frozenset({"$select", "$expand"}), collection=False)
    select = odata.select(call.request.query.get("$select"), FOLDER_SELECTABLE, "microsoft.graph.contactFolder")
    folder = _folder(call, call.args[0])
    expand = odata.expand(call.request.query.get("$expand"))
    body = {"@odata.context": _context(call, "/contactFolders/$entity")}
    rendered = folder_render(folder, root_folder_id=call.mailbox.root_folder_id, expand=expand)
    expanded = {k: v for k, v in rendered.items() if k == "singleValueExtendedProperties"}
    return GraphResponse(200, body | _selected(rendered, select) | expanded)


def folder_update(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    name = _body_dict(call).get("displayName")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise bad_request("The folder name is required.", "ErrorInvalidArgument")
    call.folders_changed()
    folder = services.folder_update(folder, display_name=name, extended=extended_clean(call.request.body))
    body = {"@odata.context": _context(call, "/contactFolders/$entity")}
    return GraphResponse(200, body | folder_render(folder, root_folder_id=call.mailbox.root_folder_id))


def folder_delete(call: Call) -> GraphResponse:
    folder = _folder(call, call.args[0])
    if folder.graph_id == call.mailbox.root_folder_id or folder.well_known_name:
        # The default Contacts folder is a distinguished folder: Exchange refuses to
        # delete it (EWS's ErrorDeleteDistinguishedFolder; Graph relays the code [inferred]).
        raise bad_request("Distinguished folders cannot be deleted.", "ErrorDeleteDistinguishedFolder")
    call.folders_changed()
    services.folder_delete(folder)
    return GraphResponse(204)


route("", GET=user_get)
route("/contactFolders", GET=folders_list, POST=folder_create)
route("/contactFolders/([^/]+)", GET=folder_get, PATCH=folder_update, DELETE=folder_delete)
route("/contactFolders/([^/]+)/childFolders", GET=child_folders_list, POST=child_folder_create)
route(
    "/contactFolders/([^/]+)/childFolders/([^/]+)",
    GET=_as_child(folder_get),
    PATCH=_as_child(folder_update),
    DELETE=_as_child(folder_delete),
)


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


def _immutable(call: Call) -> bool:
    """Whether the request asks for immutable ids (`Prefer: IdType="ImmutableId"`)."""
    return odata.immutable_ids(call.request.headers.get("prefer"))


def _render_many(call: Call, contacts: list[Contact], select: list[str] | None) -> list[dict]:
    is_expanded, property_id = odata.expand(call.request.query.get("$expand"))
    extended = _extended_for(contacts, property_id) if is_expanded else {}
    return [
        contact_render(
            c,
            folder_graph_id=c.folder.graph_id,
            select=select,
            extended=extended.get(c.pk),
            immutable=_immutable(call),
        )
        for c in contacts
    ]


def _in_folder(call: Call) -> tuple[Folder, str]:
    """The folder a `/contactFolders/{id}/contacts...` route names, and its context path."""
    folder = _folder(call, call.args[0])
    return folder, f"/contactFolders('{_quoted(folder)}')/contacts"


def _in_default_folder(call: Call) -> tuple[Folder, str]:
    """The default Contacts folder of `/users/{u}/contacts...`, and its context path."""
    return services.default_folder(call.mailbox), "/contacts"


def contacts_list(call: Call) -> GraphResponse:
    return _contacts_page(call, *_in_folder(call))


def default_contacts_list(call: Call) -> GraphResponse:
    """`GET /users/{u}/contacts` (https://learn.microsoft.com/graph/api/user-list-contacts)."""
    return _contacts_page(call, *_in_default_folder(call))


def _contacts_page(call: Call, folder: Folder, context_path: str) -> GraphResponse:
    query = call.request.query
    odata.options_check(query, listing.CONTACT_LIST_OPTIONS)
    select = odata.select(query.get("$select"), SELECTABLE)
    wanted = odata.contact_filter(query.get("$filter"))
    order = odata.orderby(query.get("$orderby"), listing.CONTACT_ORDERABLE, "microsoft.graph.contact")
    top = odata.top(query.get("$top"))
    preferred = None if top else odata.max_page_size(call.request.headers.get("prefer"))
    contacts = Contact.objects.filter(folder=folder, is_deleted=False)
    if wanted is not None and wanted.property_id is not None:
        matches = ExtendedProperty.objects.filter(
            folder=folder, property_id=wanted.property_id, value_folded=(wanted.value or "").lower()
        )
        contacts = contacts.filter(pk__in=matches.values("contact_id"))
    elif wanted is not None:
        matches = ContactEmail.objects.filter(folder=folder, address_folded=(wanted.email or "").lower())
        contacts = contacts.filter(pk__in=matches.values("contact_id"))
    contacts = listing.contacts_ordered(contacts.select_related("folder"), order)
    page = listing.page_take(query, contacts, top or preferred or odata.DEFAULT_PAGE)
    suffix = f"({','.join(select)})" if select else ""
    body: dict = {"@odata.context": _context(call, f"{context_path}{suffix}")}
    if page.total is not None:
        body["@odata.count"] = page.total
    body["value"] = _render_many(call, page.rows, select)
    if page.next_query is not None:
        body["@odata.nextLink"] = _link(call, page.next_query)
    # Graph says which page size it honoured (OData's Preference-Applied header);
    # $top wins over the preference, and then the preference is not applied.
    return GraphResponse(200, body, _preference_applied(call, preferred))


def _preference_applied(call: Call, page_size: int | None = None) -> dict[str, str]:
    """OData's Preference-Applied header: the page size honoured, the id type."""
    applied = [f"odata.maxpagesize={page_size}"] if page_size else []
    if _immutable(call):
        applied.append(odata.IMMUTABLE_ID)
    return {"Preference-Applied": ", ".join(applied)} if applied else {}


def contact_create(call: Call) -> GraphResponse:
    return _contact_create_in(call, *_in_folder(call))


def default_contact_create(call: Call) -> GraphResponse:
    """`POST /users/{u}/contacts` (https://learn.microsoft.com/graph/api/user-post-contacts)."""
    return _contact_create_in(call, *_in_default_folder(call))


def _contact_create_in(call: Call, folder: Folder, context_path: str) -> GraphResponse:
    properties, extended = contact_body_clean(call.request.body)
    contact = services.contact_create(folder, properties, extended)
    _lose_answer_maybe(call)
    body = {"@odata.context": _context(call, f"{context_path}/$entity")}
    rendered = contact_render(contact, folder_graph_id=folder.graph_id, immutable=_immutable(call))
    return GraphResponse(201, body | rendered, _preference_applied(call))


def _addressed(call: Call) -> tuple[Contact, str]:
    """The contact a route names, with or without its folder, and its entity context:
    `/contactFolders/{f}/contacts/{id}` or `/contacts/{id}` (any folder of the mailbox:
    https://learn.microsoft.com/graph/api/contact-get)."""
    if len(call.args) == 2:
        folder, context_path = _in_folder(call)
        contact = _contact(call, folder, call.args[1])
        contact.folder = folder
    else:
        contact, context_path = _contact(call, None, call.args[0]), "/contacts"
    return contact, _context(call, f"{context_path}/$entity")


def contact_get(call: Call) -> GraphResponse:
    odata.options_check(call.request.query, frozenset({"$select", "$expand"}), collection=False)
    contact, context = _addressed(call)
    select = odata.select(call.request.query.get("$select"), SELECTABLE)
    body = {"@odata.context": context} | _render_many(call, [contact], select)[0]
    return GraphResponse(200, body, _preference_applied(call))


def contact_update(call: Call) -> GraphResponse:
    """PATCH; honours If-Match (not documented for contacts, but Exchange checks change keys)."""
    contact, context = _addressed(call)
    folder = contact.folder
    properties, extended = contact_body_clean(call.request.body)
    contact = services.contact_update(contact.pk, properties, extended, if_match=call.request.headers.get("if-match"))
    rendered = contact_render(contact, folder_graph_id=folder.graph_id, immutable=_immutable(call))
    return GraphResponse(200, {"@odata.context": context} | rendered, _preference_applied(call))


def contact_delete(call: Call) -> GraphResponse:
    contact, _ = _addressed(call)
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
    return _delta_page(call, _folder(call, call.args[0]))


def default_contacts_delta(call: Call) -> GraphResponse:
    """`GET /users/{u}/contacts/delta`: the default Contacts folder's delta. The
    contact-delta page documents only the folder form, but the v1.0 metadata binds
    `delta` to the `contacts` collection (the SDKs have `users.contacts.delta`) and
    clients use it; it answers like the folder form [observed in public code]."""
    return _delta_page(call, services.default_folder(call.mailbox))


def _delta_page(call: Call, folder: Folder) -> GraphResponse:
    """A page of a delta round. Rounds are ranges of the mailbox change counter:
    the first round lists live contacts, later ones every change (deletions as @removed,
    with `@odata.type` as the documented removed messages and events carry it:
    https://learn.microsoft.com/graph/delta-query-messages). Query options: see `odata`.

    A contact moved out of the folder is reported like a deleted one, under the id the
    request asks for (its old regular id, or its immutable id). Graph's known trap is
    kept: with immutable ids, a contact moved out and back in within one round is
    reported removed and not added again (microsoft-graph-docs-contrib#72,
    microsoft-graph-docs#21752); only reading it by id shows it is still there."""
    query = call.request.query
    if "$expand" in query:
        # [observed] Outlook answers $expand on delta with a 500.
        raise GraphError(500, "ErrorInternalServerError", "An internal server error occurred. The operation failed.")
    odata.delta_options_check(query)
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
    immutable = _immutable(call)
    hidden = _moved_back(folder, rows[:page], state) if immutable else set()
    value = [
        {
            "@odata.type": "#microsoft.graph.contact",
            "id": c.immutable_id if immutable else c.graph_id,
            "@removed": {"reason": "deleted"},
        }
        if c.is_deleted
        else contact_render(c, folder_graph_id=folder.graph_id, select=state["sel"], immutable=immutable)
        for c in rows[:page]
        if c.pk not in hidden
    ]
    body: dict = {"@odata.context": f"{call.request.base_url}/$metadata#Collection(contact)", "value": value}
    base = {"f": folder.graph_id, "sel": state["sel"], "ps": state["ps"]}
    if len(rows) > page:
        token = {**base, "since": state["since"], "upto": state["upto"], "after": rows[page - 1].seq}
        body["@odata.nextLink"] = _link(call, {"$skiptoken": _token_dump(token)})
    else:
        body["@odata.deltaLink"] = _link(call, {"$deltatoken": _token_dump({**base, "since": state["upto"]})})
    return GraphResponse(200, body, _preference_applied(call, preferred))


def _moved_back(folder: Folder, rows: list[Contact], state: dict) -> set[int]:
    """The live rows of a page that the same round also reports removed under the same
    immutable id (moved out and back in): Graph leaves them out (see `_delta_page`)."""
    if state["since"] == 0:
        return set()
    live = {c.immutable_id: c.pk for c in rows if not c.is_deleted}
    removed = Contact.objects.filter(
        folder=folder,
        is_deleted=True,
        immutable_id__in=list(live),
        seq__gt=state["since"],
        seq__lte=state["upto"],
    ).values_list("immutable_id", flat=True)
    return {live[immutable_id] for immutable_id in removed}


def _current_seq(mailbox: Mailbox) -> int:
    return Mailbox.objects.values_list("change_seq", flat=True).get(pk=mailbox.pk)


route("/contactFolders/([^/]+)/contacts", GET=contacts_list, POST=contact_create)
route("/contactFolders/([^/]+)/contacts/delta(?:\\(\\))?", GET=contacts_delta)
route("/contactFolders/([^/]+)/contacts/([^/]+)", GET=contact_get, PATCH=contact_update, DELETE=contact_delete)
route(
    "/contactFolders/([^/]+)/childFolders/([^/]+)/contacts",
    GET=_as_child(contacts_list),
    POST=_as_child(contact_create),
)
route("/contacts", GET=default_contacts_list, POST=default_contact_create)
route("/contacts/delta(?:\\(\\))?", GET=default_contacts_delta)
route("/contacts/([^/]+)", GET=contact_get, PATCH=contact_update, DELETE=contact_delete)
