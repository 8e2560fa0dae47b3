"""The contact filter of a setup: Business Central's filter syntax over an allow-list of
Contact fields.

A filter is stored as `{"city": "London|Paris", "salesperson_code": "JO", "name": "A*"}`.
Each value is parsed, as Business Central parses a filter field, into a small tree
(`Match`, `Compare`, `Range`, `AllOf`, `AnyOf`); what it does not understand is refused
with a message that names the field and the part. The tree becomes a Django `Q` over the
fields below only: never code, never raw SQL. See `FILTER_SYNTAX` for the language.

Matching follows Business Central: a plain value is exact and case-sensitive, `@` makes it
case-insensitive, and `<`, `>` and `..` compare text character by character (Unicode code
point order, the same on SQLite, PostgreSQL and in Python). Type is an option field shown
as Person / Company: it takes those two words only, in any case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.db.models.functions import Collate
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual

from contacts.models import Contact

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

WILDCARDS = "*?"
# Characters that only a quoted value may contain: they structure the expression.
STRUCTURE = "|&()"
COMPARISONS = ("<>", "<=", ">=", "<", ">", "=")


@dataclass(frozen=True)
class Match:
    """The value equals `pattern` (`*`: any characters, `?`: one), or not when `negate`."""

    pattern: str
    ignore_case: bool = False
    negate: bool = False

    @property
    def is_exact(self) -> bool:
        return not any(c in self.pattern for c in WILDCARDS)


@dataclass(frozen=True)
class Compare:
    """The value compared to `value` with `op` (one of < <= > >=), character by character."""

    op: str
    value: str


@dataclass(frozen=True)
class Range:
    """`low..high`, both ends included; None is an open end."""

    low: str | None
    high: str | None


@dataclass(frozen=True)
class AllOf:
    """`a&b`: every term holds."""

    terms: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    """`a|b`: at least one term holds."""

    terms: tuple[Node, ...]


Node = Match | Compare | Range | AllOf | AnyOf


class FilterSyntaxError(ValueError):
    """A filter expression that is not Business Central's filter syntax; says what and where."""


def contact_filter_parse(expression: str) -> Node:
    """Parse one field's condition into its tree, or raise FilterSyntaxError.

    `&` binds tighter than `|` (as AND does over OR); parentheses group. Spaces around
    `|`, `&`, parentheses and operators are ignored; a value keeps its inner spaces, and a
    quoted value keeps all of its own.
    """
    return _Parser(expression).parse()


class _Parser:
    """Recursive descent over the characters of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Node:
        node = self._any_of()
        if self.pos < len(self.text):  # only a ")" stops _any_of early
            raise FilterSyntaxError(f'")" at position {self.pos + 1} has no matching "(".')
        return node

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_spaces(self) -> None:
        while self._peek().isspace():
            self.pos += 1

    def _any_of(self) -> Node:
        terms = [self._all_of()]
        while self._peek() == "|":
            self.pos += 1
            terms.append(self._all_of())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def _all_of(self) -> Node:
        terms = [self._primary()]
        while self._peek() == "&":
            self.pos += 1
            terms.append(self._primary())
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def _primary(self) -> Node:
        self._skip_spaces()
        if self._peek() == "(":
            opened = self.pos
            self.pos += 1
            node = self._any_of()
            if self._peek() != ")":
                raise FilterSyntaxError(f'"(" at position {opened + 1} is not closed.')
            self.pos += 1
        else:
            node = self._term()
        self._skip_spaces()
        return node

    def _term(self) -> Node:
        if self._at_term_end():
            raise FilterSyntaxError(self._empty_term_message())
        op = next((op for op in COMPARISONS if self.text.startswith(op, self.pos)), "")
        self.pos += len(op)
        if op:
            self._skip_spaces()
            if self._at_term_end():
                blank = f" (for a blank value write {op}'')" if op in ("=", "<>") else ""
                raise FilterSyntaxError(f'"{op}" needs a value after it{blank}.')
        if self.text.startswith("..", self.pos):
            if op:
                raise FilterSyntaxError(f'"{op}" cannot be combined with a range ("..").')
            self.pos += 2
            return self._range(None)
        ignore_case, value = self._value()
        if self.text.startswith("..", self.pos):
            if op:
                raise FilterSyntaxError(f'"{op}" cannot be combined with a range ("..").')
            self._plain(ignore_case, value, "..")
            self.pos += 2
            return self._range(value)
        if op in ("", "=", "<>"):
            return Match(value, ignore_case=ignore_case, negate=op == "<>")
        self._plain(ignore_case, value, op)
        return Compare(op, value)

    def _range(self, low: str | None) -> Range:
        self._skip_spaces()
        if self._at_term_end():
            if low is None:
                raise FilterSyntaxError('".." needs a value on at least one side.')
            return Range(low, None)
        ignore_case, high = self._value()
        self._plain(ignore_case, high, "..")
        if self.text.startswith("..", self.pos):
            raise FilterSyntaxError('A range has one ".." only: write low..high.')
        if low is not None and low > high:
            raise FilterSyntaxError(f'The range "{low}..{high}" is empty: write the lower value first.')
        return Range(low, high)

    def _value(self) -> tuple[bool, str]:
        """`@`? then a quoted or plain value; returns (ignore case, text)."""
        self._skip_spaces()
        ignore_case = self._peek() == "@"
        if ignore_case:
            self.pos += 1
            self._skip_spaces()
        if self._peek() == "'":
            value = self._quoted()
            self._skip_spaces()
            if not (self._at_term_end() or self.text.startswith("..", self.pos)):
                raise FilterSyntaxError(
                    f"Unexpected text after the quoted value '{value}': \"{self._rest()}\". "
                    "Put the whole value in the quotes."
                )
            return ignore_case, value
        start = self.pos
        while not self._at_term_end() and not self.text.startswith("..", self.pos):
            char = self._peek()
            if char in "<>=":
                raise FilterSyntaxError(
                    f'"{char}" can only start a condition, not stand inside "{self._word(start)}". '
                    "Put a value that contains it in quotes."
                )
            self.pos += 1
        value = self.text[start : self.pos].strip()
        if not value:
            raise FilterSyntaxError('"@" needs a value after it.' if ignore_case else self._empty_term_message())
        return ignore_case, value

    def _quoted(self) -> str:
        """A value in single quotes; two quotes inside stand for one (`'O''Neil'`)."""
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            if self.text.startswith("''", self.pos):
                chars.append("'")
                self.pos += 2
            elif self.text[self.pos] == "'":
                self.pos += 1
                return "".join(chars)
            else:
                chars.append(self.text[self.pos])
                self.pos += 1
        raise FilterSyntaxError(f'The quote at position {start + 1} ("{self.text[start:]}") is not closed.')

    def _plain(self, ignore_case: bool, value: str, op: str) -> None:
        """Comparisons and ranges take a value as it is: no `@`, no wildcards."""
        if ignore_case:
            raise FilterSyntaxError(f'"@" (any case) cannot be used with "{op}": it compares exactly.')
        if any(c in value for c in WILDCARDS):
            raise FilterSyntaxError(f'"*" and "?" cannot be used with "{op}" (in "{value}").')

    def _at_term_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in STRUCTURE

    def _empty_term_message(self) -> str:
        before = self.text[: self.pos].rstrip()
        after = self._peek()
        if before and before[-1] in "|&(":
            where = f'after "{before[-1]}"' + (f' and before "{after}"' if after else "")
        elif after:
            where = f'before "{after}"'
        else:
            where = "in the condition"
        return f"There is no value {where}. To ask for a blank value, write ''."

    def _word(self, start: int) -> str:
        end = self.pos
        while end < len(self.text) and self.text[end] not in STRUCTURE:
            end += 1
        return self.text[start:end].strip()

    def _rest(self) -> str:
        return self._word(self.pos)


def contact_filter_validate(contact_filter: object) -> dict[str, str]:
    """Return the filter cleaned (blank conditions dropped) or raise ValidationError.

    Each condition must parse (see `contact_filter_parse`), each value must fit its field
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
        if len(expression) > MAX_EXPRESSION_LENGTH:
            raise ValidationError(f"The condition on {caption} is longer than {MAX_EXPRESSION_LENGTH} characters.")
        if not expression:
            continue
        try:
            node = contact_filter_parse(expression)
            if field == "type":
                _check_type(node)
            else:
                _check_lengths(node, Contact._meta.get_field(field).max_length, caption)
        except FilterSyntaxError as exc:
            raise ValidationError(f'{caption} filter "{expression}": {exc}') from exc
        parsed[field] = (expression, node)
    return parsed


def _leaves(node: Node) -> list[Match | Compare | Range]:
    if isinstance(node, AllOf | AnyOf):
        return [leaf for term in node.terms for leaf in _leaves(term)]
    return [node]


def _check_lengths(node: Node, max_length: int, caption: str) -> None:
    for leaf in _leaves(node):
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
    for leaf in _leaves(node):
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
