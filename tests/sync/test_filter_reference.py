"""The filter language against a reference evaluator written in plain Python.

Hypothesis draws filter trees (every operator, nested with | & and parentheses, values
with non-ASCII letters, regex and filter symbols), writes each as the text a person would
type (quoted or not, with or without spaces), and checks that:
- the parser reads that text back into the same tree;
- the database (SQLite or PostgreSQL, whichever the suite runs on) selects exactly the
  contacts that the reference below selects.

The reference knows nothing of SQL or regular expressions: it matches `*` and `?`
character by character, compares strings as Python does (code point order), and takes
`@` to mean that a letter also matches its own capital and small form.
"""

from __future__ import annotations

from functools import cache

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from exchange_sync.contact_filter import contact_filter_q
from exchange_sync.filter_syntax import AllOf, AnyOf, Compare, Match, Node, Range, filter_parse

# Letters with and without other cases (ß has no one-letter capital; ẞ's small form is
# ß), regex metacharacters, filter symbols (only in quoted values) and a space.
LETTERS = "aAbBéÉöÖßẞ"
SYMBOLS = " .-+\\[$'|&()=<>@"
LITERAL = st.text(LETTERS + SYMBOLS, max_size=5)
PATTERN = st.text(LETTERS + SYMBOLS + "*?", max_size=5)
CITY = st.text(LETTERS + SYMBOLS + "*?", max_size=6)


def matches(value: str, pattern: str, ignore_case: bool) -> bool:
    """`*` any characters, `?` one character, anything else itself (or, with
    ignore_case, its one-letter capital or small form)."""

    def same(char: str, wanted: str) -> bool:
        return char == wanted or (ignore_case and char in (wanted.lower(), wanted.upper()))

    @cache
    def from_(i: int, j: int) -> bool:
        if j == len(pattern):
            return i == len(value)
        if pattern[j] == "*":
            return from_(i, j + 1) or (i < len(value) and from_(i + 1, j))
        return i < len(value) and (pattern[j] == "?" or same(value[i], pattern[j])) and from_(i + 1, j + 1)

    return from_(0, 0)


def reference(node: Node, value: str) -> bool:
    if isinstance(node, AnyOf):
        return any(reference(term, value) for term in node.terms)
    if isinstance(node, AllOf):
        return all(reference(term, value) for term in node.terms)
    if isinstance(node, Compare):
        return {
            "<": value < node.value,
            "<=": value <= node.value,
            ">": value > node.value,
            ">=": value >= node.value,
        }[node.op]
    if isinstance(node, Range):
        return (node.low is None or node.low <= value) and (node.high is None or value <= node.high)
    return matches(value, node.pattern, node.ignore_case) != node.negate


@pytest.fixture
def city_in_a_language_collation(db):
    """On PostgreSQL, give City the collation a production database usually has (a
    language's, where "a" < "B" < "b"), not the C collation of this machine's databases,
    for this test's transaction. SQLite has one order (BINARY) for every column."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute('ALTER TABLE contacts_contact ALTER COLUMN city TYPE varchar(30) COLLATE "und-x-icu"')


# --- drawing trees and writing them as text --------------------------------------------

match = st.builds(Match, PATTERN, ignore_case=st.booleans(), negate=st.booleans())
compare = st.builds(Compare, st.sampled_from(["<", "<=", ">", ">="]), LITERAL)
open_range = st.one_of(
    st.builds(Range, st.none(), LITERAL),
    st.builds(Range, LITERAL, st.none()),
)
closed_range = st.tuples(LITERAL, LITERAL).map(lambda ends: Range(*sorted(ends)))
leaf = st.one_of(match, match, compare, open_range, closed_range)
tree = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda terms: AllOf(tuple(terms))),
        st.lists(children, min_size=2, max_size=3).map(lambda terms: AnyOf(tuple(terms))),
    ),
    max_leaves=6,
)


def can_stand_unquoted(value: str) -> bool:
    return (
        bool(value)
        and value == value.strip()
        and not any(c in "|&()<>='@" for c in value)
        and ".." not in value
        and not value.startswith(".")
        and not value.endswith(".")
    )


def write_value(value: str, draw) -> str:
    if can_stand_unquoted(value) and draw(st.booleans()):
        return value
    return "'" + value.replace("'", "''") + "'"


def write(node: Node, draw) -> str:
    """The text of a tree; compound terms inside others get parentheses unless `&`
    inside `|`, where precedence already groups them."""
    if isinstance(node, AllOf | AnyOf):
        joiner = draw(st.sampled_from(["&", " & "] if isinstance(node, AllOf) else ["|", " | "]))
        parts = []
        for term in node.terms:
            text = write(term, draw)
            if isinstance(term, AnyOf) or (isinstance(term, AllOf) and isinstance(node, AllOf)):
                text = f"({text})"
            elif isinstance(term, AllOf) and draw(st.booleans()):
                text = f"( {text} )"
            parts.append(text)
        return joiner.join(parts)
    if isinstance(node, Compare):
        return node.op + write_value(node.value, draw)
    if isinstance(node, Range):
        low = "" if node.low is None else write_value(node.low, draw)
        high = "" if node.high is None else write_value(node.high, draw)
        return f"{low}..{high}"
    op = "<>" if node.negate else draw(st.sampled_from(["", "="]))
    return op + ("@" if node.ignore_case else "") + write_value(node.pattern, draw)


@pytest.mark.usefixtures("city_in_a_language_collation")
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(cities=st.lists(CITY, min_size=1, max_size=8), node=tree, data=st.data())
def test_the_database_selects_what_the_reference_selects_for_any_expression(cities, node, data):
    text = write(node, data.draw)
    assert filter_parse(text) == node, text
    Contact.objects.all().delete()
    Contact.objects.bulk_create(Contact(no=f"T{i}", name=f"T{i}", city=city) for i, city in enumerate(cities))
    selected = set(Contact.objects.filter(contact_filter_q({"city": text})).values_list("city", flat=True))
    assert selected == {city for city in cities if reference(node, city)}, text


@pytest.mark.usefixtures("city_in_a_language_collation")
def test_the_reference_and_the_database_agree_on_the_cases_that_differ_between_databases():
    """The cases where PostgreSQL's default collation, SQLite's LIKE or lower() would
    disagree with Python: case, accents, order of capitals, small letters and spaces, LIKE's
    own wildcards, and ß, whose capital ẞ folds to it but which has no one-letter capital."""
    cities = [
        "London",
        "london",
        "LONDON",
        "Élan",
        "élan",
        "Zurich",
        "a b",
        "ab",
        "Ørsted",
        "ørsted",
        "_x",
        "%x",
        "ß",
        "ẞ",
    ]
    Contact.objects.bulk_create(Contact(no=f"T{i}", name=f"T{i}", city=city) for i, city in enumerate(cities))
    for text in [
        "London",
        "@london",
        "L*",
        "@l*",
        "élan",
        "@ÉLAN",
        "<a",
        "a..b",
        "..Z",
        "É..ø",
        "a?b",
        "_x",
        "?x",
        "<>@london",
        "@ß",
        "@ẞ",
    ]:
        selected = set(Contact.objects.filter(contact_filter_q({"city": text})).values_list("city", flat=True))
        assert selected == {city for city in cities if reference(filter_parse(text), city)}, text
