"""The contact filter of a setup: Business Central's filter syntax over an allow-list of
Contact fields.

A filter is stored as `{"city": "London|Paris", "salesperson_code": "JO", "name": "A*"}`.
Each value is parsed by `filter_syntax`, as Business Central parses a filter field; what
it does not understand, and values longer than their field, are refused with a message
that names the field and the part. The tree becomes a Django `Q` over the fields below
only: never code, never raw SQL. `FILTER_SYNTAX` sums the language up for the setup page.

Matching follows Business Central: a plain value is exact and case-sensitive, `@` makes it
case-insensitive, and `<`, `>` and `..` compare text character by character (Unicode code
point order, the same on SQLite, PostgreSQL and in Python). Type is an option field shown
as Person / Company: it takes those two words only, in any case.
"""

from __future__ import annotations

import re
import unicodedata
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.db.models.functions import Collate
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual

from contacts.models import Contact
from exchange_sync.filter_syntax import (
    AllOf,
    AnyOf,
    Compare,
    FilterSyntaxError,
    Match,
    Node,
    Range,
    filter_leaves,
    filter_parse,
)

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
FILTER_SYNTAX = (
    "Business Central filter syntax, case-sensitive: London|Paris for either, A* for starting with A, "
    "Hans?n for one unknown character, @london for any case, <>London, <M, A..M, '' for blank. Blank: any."
)


def contact_filter_validate(contact_filter: object) -> dict[str, str]:
    """Return the filter cleaned (blank conditions dropped) or raise ValidationError.

    Each condition must parse (see `filter_syntax.filter_parse`), each value must fit its field
    (a longer one could never match, and could not be copied into a contact), and Type
    takes Person or Company only. Messages name the field and the part not understood.
    """
    return {field: expression for field, (expression, _node) in _parsed(contact_filter).items()}


def _parsed(contact_filter: object) -> dict[str, tuple[str, Node]]:
    if not isinstance(contact_filter, dict):
        raise ValidationError("The contact filter must be a set of field conditions.")
    parsed: dict[str, tuple[str, Node]] = {}
    for field, expression in contact_filter.items():
        if field not in FILTER_FIELDS:
            allowed = ", ".join(FILTER_FIELDS.values())
            raise ValidationError(f"Contacts cannot be filtered on '{field}'. Use one of: {allowed}.")
        caption = FILTER_FIELDS[field]
        if not isinstance(expression, str):
            raise ValidationError(f"The condition on {caption} must be text.")
        expression = expression.strip()
        if any(unicodedata.category(character) == "Cc" for character in expression):
            # A NUL cannot even be sent to PostgreSQL; no contact field holds control characters.
            raise ValidationError(
                f"The condition on {caption} contains a control character (such as NUL or a line break). "
                "Remove it and type the condition again."
            )
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise ValidationError(f"The condition on {caption} is longer than {MAX_EXPRESSION_LENGTH} characters.")
        if not expression:
            continue
        try:
            node = filter_parse(expression)
            if field == "type":
                _check_type(node)
            else:
                _check_lengths(node, Contact._meta.get_field(field).max_length, caption)
        except FilterSyntaxError as exc:
            raise ValidationError(f'{caption} filter "{expression}": {exc}') from exc
        parsed[field] = (expression, node)
    return parsed


def _check_lengths(node: Node, max_length: int, caption: str) -> None:
    for leaf in filter_leaves(node):
        if isinstance(leaf, Match):
            values = [leaf.pattern.replace("*", "")]  # `*` may stand for nothing
        elif isinstance(leaf, Compare):
            values = [leaf.value]
        else:
            values = [v for v in (leaf.low, leaf.high) if v is not None]
        for value in values:
            if len(value) > max_length:
                raise FilterSyntaxError(
                    f'{caption} holds at most {max_length} characters, and "{value}" has {len(value)}.'
                )


TYPE_VALUES = {choice.value for choice in Contact.Type}


def _check_type(node: Node) -> None:
    for leaf in filter_leaves(node):
        if not (isinstance(leaf, Match) and leaf.is_exact and leaf.pattern.lower() in TYPE_VALUES):
            raise FilterSyntaxError("Type is Person or Company: write Person, Company, Person|Company or <>Company.")


class CodePointOrder(Collate):
    """A text expression that compares character by character (Unicode code points).

    PostgreSQL's default collation orders by language rules and SQLite's by bytes; "C"
    and BINARY both order UTF-8 by code point, as Python compares strings, so `<` and
    `..` mean the same on both databases and in a reference written in Python.
    """

    def __init__(self, expression: object) -> None:
        super().__init__(expression, "C")

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, collation="BINARY", **extra_context)


COMPARE_LOOKUPS = {"<": LessThan, "<=": LessThanOrEqual, ">": GreaterThan, ">=": GreaterThanOrEqual}


def pattern_regex(pattern: str, *, ignore_case: bool) -> str:
    """The pattern as a regular expression that means the same on SQLite (Python's `re`)
    and PostgreSQL (ARE): anchored at both ends (\\A, \\Z), `.` matching any character
    ((?s)), literals escaped, and `@` spelled out as [xX] classes because neither database
    folds case the same way (SQLite's LIKE and lower() only know ASCII)."""
    parts = ["(?s)\\A"]
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            forms = sorted({char, *(f for f in (char.lower(), char.upper()) if len(f) == 1)}) if ignore_case else [char]
            escaped = "".join(re.escape(f) for f in forms)
            parts.append(f"[{escaped}]" if len(forms) > 1 else escaped)
    parts.append("\\Z")
    return "".join(parts)


def _node_q(field: str, node: Node) -> Q:
    if isinstance(node, AnyOf):
        return reduce(lambda a, b: a | b, (_node_q(field, t) for t in node.terms))
    if isinstance(node, AllOf):
        return reduce(lambda a, b: a & b, (_node_q(field, t) for t in node.terms))
    if isinstance(node, Compare):
        return Q(COMPARE_LOOKUPS[node.op](CodePointOrder(F(field)), node.value))
    if isinstance(node, Range):
        q = Q()
        if node.low is not None:
            q &= Q(GreaterThanOrEqual(CodePointOrder(F(field)), node.low))
        if node.high is not None:
            q &= Q(LessThanOrEqual(CodePointOrder(F(field)), node.high))
        return q
    if field == "type":  # stored lowercase, shown as Person / Company
        q = Q(type=node.pattern.lower())
    elif node.is_exact and not node.ignore_case:
        q = Q(**{field: node.pattern})  # `=` is exact on both databases, and uses the index
    else:
        q = Q(**{f"{field}__regex": pattern_regex(node.pattern, ignore_case=node.ignore_case)})
    return ~q if node.negate else q


def contact_filter_q(contact_filter: dict[str, str]) -> Q:
    """The filter as a Q: every field's condition must hold. Raises ValidationError."""
    q = Q()
    for field, (_expression, node) in _parsed(contact_filter).items():
        q &= _node_q(field, node)
    return q


def contact_filter_fixed_values(contact_filter: dict[str, str]) -> dict[str, str]:
    """{field: value} for the fields whose condition is one exact value (`JO`, `=JO`,
    `'J & O'`): what a contact made in Outlook takes so that it stays in scope.

    Anything else (alternatives, wildcards, `@`, `<>`, comparisons, ranges, blank) fixes
    no value. Type is left out: contacts made in Outlook are persons. Raises
    ValidationError for a filter that does not validate, so a value that would not fit
    its field is never returned.
    """
    fixed: dict[str, str] = {}
    for field, (_expression, node) in _parsed(contact_filter).items():
        if (
            field != "type"
            and isinstance(node, Match)
            and node.is_exact
            and not (node.ignore_case or node.negate)
            and node.pattern
        ):
            fixed[field] = node.pattern
    return fixed


def contact_filter_text(contact_filter: dict[str, str]) -> str:
    """The filter as a person reads it: `City: London|Paris; Salesperson Code: JO`."""
    cleaned = contact_filter_validate(contact_filter)
    if not cleaned:
        return "All contacts"
    return "; ".join(f"{FILTER_FIELDS[field]}: {cleaned[field]}" for field in FILTER_FIELDS if field in cleaned)
