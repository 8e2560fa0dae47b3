"""Business Central's filter syntax for one field: a parser from the text a person types
to a small tree (`Match`, `Compare`, `Range`, `AllOf`, `AnyOf`), and nothing else.

Follows "Filter criteria and operators" of Business Central's documentation
(ui-enter-criteria-filters): `=`, `<>`, `<`, `<=`, `>`, `>=`, `a..b` (open at either end),
`|`, `&`, `*`, `?`, `@` (any case), quoted values, `''` for blank, and parentheses. What
it does not understand raises FilterSyntaxError saying which part; no field, database or
Django here (the contact filter, `exchange_sync.contact_filter`, gives it meaning).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def filter_parse(expression: str) -> Node:
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


def filter_leaves(node: Node) -> list[Match | Compare | Range]:
    """The conditions of a tree, in order, without the `&` / `|` around them."""
    if isinstance(node, AllOf | AnyOf):
        return [leaf for term in node.terms for leaf in filter_leaves(term)]
    return [node]
