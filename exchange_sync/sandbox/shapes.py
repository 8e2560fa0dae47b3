"""Graph's contact and contactFolder JSON: which properties are writable, their checks,
and how a stored row is rendered.

Property list from https://learn.microsoft.com/graph/api/resources/contact (v1.0).
Limits Outlook enforces without documenting them [observed]: at most 3 emailAddresses
and 2 businessPhones, with the messages reported in
https://github.com/microsoftgraph/microsoft-graph-docs/issues/15276 (the error code is
not reported there; the sandbox answers `ErrorInvalidArgument`).
"""

from __future__ import annotations

from datetime import datetime

from . import ids
from .errors import GraphError, bad_request
from .models import Contact, Folder

STRING_PROPERTIES = (
    "assistantName",
    "businessHomePage",
    "companyName",
    "department",
    "displayName",
    "fileAs",
    "generation",
    "givenName",
    "initials",
    "jobTitle",
    "manager",
    "middleName",
    "mobilePhone",
    "nickName",
    "officeLocation",
    "personalNotes",
    "profession",
    "spouseName",
    "surname",
    "title",
    "yomiCompanyName",
    "yomiGivenName",
    "yomiSurname",
    "birthday",
)
STRING_LIST_PROPERTIES = ("businessPhones", "homePhones", "categories", "children", "imAddresses")
ADDRESS_PROPERTIES = ("businessAddress", "homeAddress", "otherAddress")
ADDRESS_KEYS = frozenset({"street", "city", "state", "postalCode", "countryOrRegion"})
WRITABLE = frozenset((*STRING_PROPERTIES, *STRING_LIST_PROPERTIES, *ADDRESS_PROPERTIES, "emailAddresses"))
READ_ONLY = frozenset({"id", "changeKey", "createdDateTime", "lastModifiedDateTime", "parentFolderId"})
SELECTABLE = WRITABLE | READ_ONLY
MAX_EMAIL_ADDRESSES = 3
MAX_BUSINESS_PHONES = 2


def _type_error(name: str) -> GraphError:
    return bad_request(
        f"Cannot convert the literal value of property '{name}' to the expected type.", "RequestBodyRead"
    )


def _too_many(name: str, count: int, limit: int) -> GraphError:
    return bad_request(
        f"The multi value property {name} has {count} entries, that exceeds the max allowed value of {limit}",
        "ErrorInvalidArgument",
    )


def contact_body_clean(body: object) -> tuple[dict, list[dict]]:
    """Split a POST/PATCH body into (properties, extended properties); 400 for what Graph refuses."""
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "RequestBodyRead")
    properties: dict = {}
    extended: list[dict] = []
    for name, value in body.items():
        if name == "singleValueExtendedProperties":
            if not isinstance(value, list) or not all(isinstance(i, dict) and "id" in i for i in value):
                raise _type_error(name)
            extended = value
        elif name.startswith("@odata.") or name in READ_ONLY:
            continue  # Graph ignores annotations and read-only properties echoed back by clients.
        elif name not in WRITABLE:
            raise bad_request(
                f"The property '{name}' does not exist on type 'microsoft.graph.contact'. Make sure to only use "
                "property names that are defined by the type or mark the type as open type.",
                "RequestBodyRead",
            )
        else:
            properties[name] = _clean_value(name, value)
    if len(properties.get("emailAddresses") or []) > MAX_EMAIL_ADDRESSES:
        raise _too_many("EmailAddresses", len(properties["emailAddresses"]), MAX_EMAIL_ADDRESSES)
    if len(properties.get("businessPhones") or []) > MAX_BUSINESS_PHONES:
        raise _too_many("BusinessPhones", len(properties["businessPhones"]), MAX_BUSINESS_PHONES)
    return properties, extended


def _clean_value(name: str, value: object) -> object:
    if value is None:
        return (
            []
            if name in STRING_LIST_PROPERTIES or name == "emailAddresses"
            else ({} if name in ADDRESS_PROPERTIES else None)
        )
    if name in STRING_PROPERTIES:
        if not isinstance(value, str):
            raise _type_error(name)
        return value
    if name in STRING_LIST_PROPERTIES:
        if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
            raise _type_error(name)
        return value
    if name in ADDRESS_PROPERTIES:
        if not isinstance(value, dict) or not set(value) <= ADDRESS_KEYS:
            raise _type_error(name)
        return {k: v for k, v in value.items() if v is not None}
    # emailAddresses: a list of {address, name}.
    if not isinstance(value, list) or not all(
        isinstance(i, dict) and set(i) <= {"address", "name"} and isinstance(i.get("address", ""), str) for i in value
    ):
        raise _type_error(name)
    return [{"name": i.get("name") or i.get("address", ""), "address": i.get("address", "")} for i in value]


def display_name_from_parts(data: dict) -> str:
    """The display name Outlook composes from the name parts."""
    parts = (data.get("givenName"), data.get("middleName"), data.get("surname"))
    return " ".join(p for p in parts if p)


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def etag(change_key: str) -> str:
    return f'W/"{change_key}"'


def contact_render(
    contact: Contact,
    *,
    folder_graph_id: str,
    select: list[str] | None = None,
    extended: list[dict] | None = None,
    immutable: bool = False,
) -> dict:
    """A contact as Graph returns it; with `select`, only those properties plus id and etag.
    Its id is the immutable one when the request asked for immutable ids."""
    data = contact.data
    full = {
        "@odata.etag": etag(contact.change_key),
        "id": contact.immutable_id if immutable else contact.graph_id,
        "createdDateTime": _timestamp(contact.created_at),
        "lastModifiedDateTime": _timestamp(contact.modified_at),
        "changeKey": contact.change_key,
        "categories": data.get("categories", []),
        "parentFolderId": folder_graph_id,
    }
    for name in STRING_PROPERTIES:
        full[name] = data.get(name)
    for name in ("businessPhones", "homePhones", "children", "imAddresses"):
        full[name] = data.get(name, [])
    full["emailAddresses"] = data.get("emailAddresses", [])
    for name in ADDRESS_PROPERTIES:
        full[name] = data.get(name, {})
    if select is not None:
        full = {"@odata.etag": full["@odata.etag"], "id": full["id"], **{name: full[name] for name in select}}
    if extended:
        full["singleValueExtendedProperties"] = extended
    return full


FOLDER_SELECTABLE = frozenset({"id", "displayName", "parentFolderId"})


def folder_render(folder: Folder, *, root_folder_id: str, expand: tuple[bool, str | None] = (False, None)) -> dict:
    """A contactFolder. Its parent: the folder it was created in (`childFolders`), else
    the default Contacts folder (`root_folder_id`); the Contacts folder's own parent is
    the mailbox's root folder, which the sandbox names but does not serve. With `expand`
    (from `odata.expand`) its extended properties too, all or the one asked for (none:
    the collection is left out)."""
    if folder.graph_id == root_folder_id or folder.well_known_name:
        # Contacts and Deleted Items are both right under the mailbox's root folder.
        parent_id = ids.derived_id(ids.ROOT, root_folder_id)
    elif folder.parent_id is not None:
        parent_id = folder.parent.graph_id
    else:
        parent_id = root_folder_id
    body = {"id": folder.graph_id, "displayName": folder.display_name, "parentFolderId": parent_id}
    is_expanded, property_id = expand
    extended = [{"id": pid, "value": value} for pid, value in folder.extended.items() if property_id in (None, pid)]
    if is_expanded and extended:
        body["singleValueExtendedProperties"] = extended
    return body


def extended_clean(body: dict) -> list[dict]:
    """The `singleValueExtendedProperties` of a POST/PATCH body; 400 when malformed."""
    value = body.get("singleValueExtendedProperties", [])
    if not isinstance(value, list) or not all(isinstance(i, dict) and "id" in i for i in value):
        raise _type_error("singleValueExtendedProperties")
    return value
