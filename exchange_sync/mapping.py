"""Pure field translation between a Contact and a Graph contact.

The sync compares contacts through "mapped values": a flat dict of the Contact fields
that travel to Outlook, keyed by Contact field name. `contact_values` reads them from a
Contact, `outlook_values` reads them from a Graph contact, `graph_body` builds the Graph
JSON from them. Equal mapped values mean nothing to send.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts.models import Contact

CATEGORY = "Business Central"

# Contact fields that travel to Outlook (and back with "keep Outlook edits").
MAPPED_FIELDS: tuple[str, ...] = (
    "name",
    "first_name",
    "middle_name",
    "surname",
    "initials",
    "job_title",
    "company_name",
    "email",
    "email_2",
    "phone",
    "mobile_phone",
    "home_page",
    "address",
    "address_2",
    "city",
    "county",
    "post_code",
    "country_region_code",
)
EMAIL_FIELDS = ("email", "email_2")
# A lone UTF-16 surrogate (Graph JSON can carry "\ud800" escapes): no database driver
# here can store it. Control characters: every one below space but the tab.
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f]")

# The $select of every contact read: the Graph properties the sync uses.
GRAPH_SELECT: tuple[str, ...] = (
    "changeKey",  # tells our own writes (echoes) from edits made in Outlook
    "displayName",
    "givenName",
    "middleName",
    "surname",
    "initials",
    "jobTitle",
    "companyName",
    "emailAddresses",
    "businessPhones",
    "mobilePhone",
    "businessHomePage",
    "businessAddress",
    "categories",
)

MappedValues = dict[str, str]


def contact_values(contact: Contact) -> MappedValues:
    return {field: getattr(contact, field) or "" for field in MAPPED_FIELDS}


def values_hash(values: Mapping[str, str]) -> str:
    """A stable digest of mapped values: equal hashes mean nothing changed."""
    canonical = json.dumps([values.get(field, "") for field in MAPPED_FIELDS], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def graph_body(values: Mapping[str, str]) -> dict[str, Any]:
    """The Graph contact JSON for mapped values: the body of a create, and the state an
    update compares against (`exchange_sync/patch.update_body` sends only what differs,
    lists merged into Outlook's). Empty values are empty properties, so an update also
    clears what was cleared in Business Central.
    """
    emails = [
        {"address": values[field], "name": values["name"] if field == "email" else values[field]}
        for field in EMAIL_FIELDS
        if values.get(field)
    ]
    street = "\n".join(part for part in (values.get("address", ""), values.get("address_2", "")) if part)
    return {
        "displayName": values.get("name", ""),
        "givenName": values.get("first_name", ""),
        "middleName": values.get("middle_name", ""),
        "surname": values.get("surname", ""),
        "initials": values.get("initials", ""),
        "jobTitle": values.get("job_title", ""),
        "companyName": values.get("company_name", ""),
        "emailAddresses": emails,
        "businessPhones": [values["phone"]] if values.get("phone") else [],
        "mobilePhone": values.get("mobile_phone", ""),
        "businessHomePage": values.get("home_page", ""),
        "businessAddress": {
            "street": street,
            "city": values.get("city", ""),
            "state": values.get("county", ""),
            "postalCode": values.get("post_code", ""),
            "countryOrRegion": values.get("country_region_code", ""),
        },
        "categories": [CATEGORY],
    }


def outlook_values(item: Mapping[str, Any]) -> MappedValues:
    """Mapped values read from a Graph contact (missing properties read as empty)."""
    emails = [entry.get("address") or "" for entry in item.get("emailAddresses") or []]
    phones = item.get("businessPhones") or []
    address = item.get("businessAddress") or {}
    street_lines = (address.get("street") or "").replace("\r\n", "\n").split("\n", 1)
    name = item.get("displayName") or ""
    if not name:
        name = " ".join(part for part in (item.get("givenName"), item.get("middleName"), item.get("surname")) if part)
    return {
        "name": name,
        "first_name": item.get("givenName") or "",
        "middle_name": item.get("middleName") or "",
        "surname": item.get("surname") or "",
        "initials": item.get("initials") or "",
        "job_title": item.get("jobTitle") or "",
        "company_name": item.get("companyName") or "",
        "email": emails[0] if emails else "",
        "email_2": emails[1] if len(emails) > 1 else "",
        "phone": phones[0] if phones else "",
        "mobile_phone": item.get("mobilePhone") or "",
        "home_page": item.get("businessHomePage") or "",
        "address": street_lines[0],
        "address_2": street_lines[1] if len(street_lines) > 1 else "",
        "city": address.get("city") or "",
        "county": address.get("state") or "",
        "post_code": address.get("postalCode") or "",
        "country_region_code": address.get("countryOrRegion") or "",
    }


def value_problems(values: Mapping[str, str]) -> dict[str, str]:
    """Fields whose Outlook value cannot be stored on a Contact, with the reason.

    Nothing is cut or cleaned silently: a value that does not fit is reported and left
    out, so the person sees exactly what did not come across.
    """
    problems: dict[str, str] = {}
    for field, value in values.items():
        model_field = Contact._meta.get_field(field)
        if model_field.max_length and len(value) > model_field.max_length:
            problems[field] = f"{_label(model_field)} is longer than {model_field.max_length} characters"
        elif _SURROGATE.search(value):
            problems[field] = f"{_label(model_field)} contains a broken character (a lone Unicode surrogate)"
        elif _CONTROL.search(value):
            problems[field] = f"{_label(model_field)} contains control characters"
        elif field in EMAIL_FIELDS and value:
            try:
                validate_email(value)
            except ValidationError:
                problems[field] = f"{_label(model_field)} '{value}' is not a valid email address"
    return problems


def _label(model_field) -> str:
    return str(model_field.verbose_name).capitalize()
