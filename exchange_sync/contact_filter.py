"""The contact filter of a setup: data over an allow-list of Contact fields.

A filter is stored as `{"city": "London|Paris", "salesperson_code": "JO", "name": "A*"}`:
each value is Business Central's filter syntax (alternatives separated by `|`, `*` as a
wildcard), matched case-insensitively. It is never code and never raw SQL: it becomes a
Django `Q` over the fields below only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

# Field -> caption, in the order the setup page shows them.
FILTER_FIELDS: dict[str, str] = {
    "name": "Name",
    "type": "Type",
    "company_name": "Company Name",
    "city": "City",
    "county": "County",
    "country_region_code": "Country/Region Code",
    "salesperson_code": "Salesperson Code",
    "post_code": "Post Code",
}
MAX_EXPRESSION_LENGTH = 250


def contact_filter_validate(contact_filter: object) -> dict[str, str]:
    """Return the filter cleaned (blank conditions dropped) or raise ValidationError."""
    if not isinstance(contact_filter, dict):
        raise ValidationError("The contact filter must be a set of field conditions.")
    cleaned: dict[str, str] = {}
    for field, expression in contact_filter.items():
        if field not in FILTER_FIELDS:
            allowed = ", ".join(FILTER_FIELDS.values())
            raise ValidationError(f"Contacts cannot be filtered on '{field}'. Use one of: {allowed}.")
        if not isinstance(expression, str):
            raise ValidationError(f"The condition on {FILTER_FIELDS[field]} must be text.")
        expression = expression.strip()
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise ValidationError(
                f"The condition on {FILTER_FIELDS[field]} is longer than {MAX_EXPRESSION_LENGTH} characters."
            )
        if expression:
            cleaned[field] = expression
    return cleaned


def _term_q(field: str, term: str) -> Q:
    if field == "type":
        # Type is shown as "Person" / "Company" but stored lowercase.
        term = term.lower()
    if "*" not in term:
        return Q(**{f"{field}__iexact": term})
    parts = term.split("*")
    q = Q()
    if parts[0]:
        q &= Q(**{f"{field}__istartswith": parts[0]})
    if parts[-1]:
        q &= Q(**{f"{field}__iendswith": parts[-1]})
    for middle in parts[1:-1]:
        if middle:
            q &= Q(**{f"{field}__icontains": middle})
    return q


def contact_filter_q(contact_filter: dict[str, str]) -> Q:
    """The filter as a Q: every field's condition must hold; `|` alternatives within one."""
    q = Q()
    for field, expression in contact_filter_validate(contact_filter).items():
        alternatives = Q()
        for term in expression.split("|"):
            alternatives |= _term_q(field, term.strip())
        q &= alternatives
    return q


def contact_filter_text(contact_filter: dict[str, str]) -> str:
    """The filter as a person reads it: `City: London|Paris; Salesperson Code: JO`."""
    cleaned = contact_filter_validate(contact_filter)
    if not cleaned:
        return "All contacts"
    return "; ".join(f"{FILTER_FIELDS[field]}: {cleaned[field]}" for field in FILTER_FIELDS if field in cleaned)
