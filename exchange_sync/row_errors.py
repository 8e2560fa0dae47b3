"""Database errors that belong to one item, kept to that item.

A value the database refuses (too long for its column, a broken constraint, text it
cannot store: a lone UTF-16 surrogate, a NUL) is the fault of that one contact, and the
sync reports it on that contact and goes on. Each write of an item runs in its own
`transaction.atomic()`: a savepoint inside a transaction, its own transaction in
autocommit. On PostgreSQL that matters: after an error the rest of a transaction is
refused ("current transaction is aborted") until it is rolled back to a savepoint.

Errors of the database itself (connection lost, locked, out of space) are not item
errors: they stop the run, which is then retried as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import DataError, IntegrityError, connections, models, router, transaction

# DataError: too long, NUL on PostgreSQL, bad JSON escapes in jsonb. IntegrityError:
# unique and other constraints. UnicodeEncodeError: the driver (sqlite3 and psycopg
# alike) cannot encode a lone surrogate, so the statement never reaches the database.
ITEM_ERRORS: tuple[type[Exception], ...] = (DataError, IntegrityError, UnicodeEncodeError)

Row = TypeVar("Row", bound=models.Model)

# What no database here can store in text: lone surrogates (both drivers refuse them)
# and NUL (PostgreSQL refuses it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def item_error_text(exc: Exception) -> str:
    """The database's own words for an item error, on one line (PostgreSQL adds lines of
    context that quote the value)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def storable_text(text: str) -> str:
    """`text` with what no database can store replaced by U+FFFD, for messages that
    quote a bad value (issues, errors): the message is kept, the bad character shown."""
    return _UNSTORABLE.sub("\ufffd", text)


def bulk_update_each(
    model: type[Row],
    rows: Sequence[Row],
    fields: Sequence[str],
    *,
    on_refused: Callable[[Row, Exception], None],
) -> None:
    """Update the rows' `fields`; when the database refuses the group, row by row, so
    only the rows it refuses are left unsaved, each passed to `on_refused` with the error.
    The values are written as they are on the rows (no manager or `save()` hooks)."""
    if not rows:
        return
    try:
        with transaction.atomic():
            _rows_update(model, rows, fields)
        return
    except ITEM_ERRORS:
        pass  # one of them is bad: find which, row by row
    for row in rows:
        try:
            with transaction.atomic():
                _rows_update(model, [row], fields)
        except ITEM_ERRORS as exc:
            on_refused(row, exc)


def _rows_update(model: type[Row], rows: Sequence[Row], fields: Sequence[str]) -> None:
    """One `UPDATE ... WHERE pk = %s` sent for every row at once (executemany; psycopg
    pipelines it). Django's `bulk_update` builds a CASE over every row for every field:
    its Python work grows with rows x fields and the database compares each row with
    every WHEN, which made it most of a sync's CPU; on PostgreSQL it also casts the
    values to the column's type, silently cutting text that is too long, where a plain
    UPDATE refuses it (an item error, like any other)."""
    connection = connections[router.db_for_write(model)]
    name = connection.ops.quote_name
    columns = [model._meta.get_field(field) for field in fields]
    assignments = ", ".join(f"{name(column.column)} = %s" for column in columns)
    sql = f"UPDATE {name(model._meta.db_table)} SET {assignments} WHERE {name(model._meta.pk.column)} = %s"  # noqa: S608 (names from the model)
    params = [
        [column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
