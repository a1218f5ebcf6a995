"""Data checks that refuse a migration before anything changes, naming the records in the way.

Each check reads the live table (by its live names, before any rename) and returns a
``Refusal`` or None. They run inside the migration's transaction, under the write lock,
so the data they vouch for is the data that is migrated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from engine.storage.columns import ID_TYPE
from engine.storage.migrate.convert import Unconvertible, convert_value
from engine.storage.migrate.operations import type_words
from engine.storage.migrate.refusals import MAX_ROWS_LISTED, OffendingRow, Refusal

__all__ = [
    "check_conversion",
    "check_duplicates",
    "check_no_rows",
    "check_nulls",
    "check_picklist",
    "check_references",
    "count_rows",
]


def _table(name: str, *columns: str | tuple[str, sa.types.TypeEngine[Any]]) -> sa.TableClause:
    cols = [sa.column(c) if isinstance(c, str) else sa.column(c[0], c[1]) for c in columns]
    return sa.table(name, sa.column("id", ID_TYPE), *cols)


def count_rows(conn: sa.Connection, table: str, column: str | None = None) -> int:
    """Rows in ``table``, or its non-null values of ``column``."""
    t = _table(table, *([column] if column else []))
    stmt = sa.select(sa.func.count()).select_from(t)
    if column:
        stmt = stmt.where(t.c[column].is_not(None))
    return int(conn.execute(stmt).scalar_one())


def _values(
    conn: sa.Connection, table: str, column: str, type_: sa.types.TypeEngine[Any]
) -> Iterator[tuple[str, Any]]:
    t = _table(table, (column, type_))
    stmt = sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None)).order_by(t.c.id)
    for row in conn.execute(stmt):
        yield str(row[0]), row[1]


def _refusal(
    code: str, location: str, message: str, bad: list[OffendingRow], suggestion: str | None
) -> Refusal:
    return Refusal(
        code=code,
        message=message,
        location=location,
        rows=tuple(bad[:MAX_ROWS_LISTED]),
        total=len(bad),
        suggestion=suggestion,
    )


def check_conversion(
    conn: sa.Connection,
    location: str,
    table: str,
    column: str,
    old_type: sa.types.TypeEngine[Any],
    new_type: sa.types.TypeEngine[Any],
) -> tuple[Refusal | None, tuple[tuple[str, Any], ...]]:
    """Convert every stored value in Python; refuse if any would change or be lost.

    Returns:
        The refusal (or None) and every (record id, converted value), for SQLite's rewrite.
    """
    converted: list[tuple[str, Any]] = []
    bad: list[OffendingRow] = []
    reasons: set[str] = set()
    for record_id, value in _values(conn, table, column, old_type):
        try:
            converted.append((record_id, convert_value(value, new_type)))
        except Unconvertible as exc:
            bad.append(OffendingRow(record_id, value))
            reasons.add(str(exc))
    if not bad:
        return None, tuple(converted)
    message = (
        f"{len(bad)} value(s) cannot change from {type_words(old_type)} to "
        f"{type_words(new_type)} ({'; '.join(sorted(reasons))})"
    )
    hint = "fix or clear these values first, or keep the old type"
    return _refusal("unconvertible_values", location, message, bad, hint), ()


def check_duplicates(
    conn: sa.Connection, location: str, table: str, columns: Iterable[str]
) -> Refusal | None:
    """Refuse a unique constraint while two records share a value (nulls never clash)."""
    cols = list(columns)
    t = _table(table, *cols)
    keys = [t.c[c] for c in cols]
    twins = (
        sa.select(*keys)
        .where(*[k.is_not(None) for k in keys])
        .group_by(*keys)
        .having(sa.func.count() > 1)
        .subquery()
    )
    stmt = (
        sa.select(t.c.id, *keys)
        .join(twins, sa.and_(*[t.c[c] == twins.c[c] for c in cols]))
        .order_by(*keys, t.c.id)
    )
    bad = [
        OffendingRow(str(row[0]), row[1] if len(cols) == 1 else list(row[1:]))
        for row in conn.execute(stmt)
    ]
    if not bad:
        return None
    message = f"{len(bad)} record(s) share values, so ({', '.join(cols)}) cannot be unique"
    hint = "merge or change the duplicates first"
    return _refusal("duplicate_values", location, message, bad, hint)


def check_nulls(conn: sa.Connection, location: str, table: str, column: str) -> Refusal | None:
    """Refuse NOT NULL while records have no value."""
    t = _table(table, column)
    stmt = sa.select(t.c.id).where(t.c[column].is_(None)).order_by(t.c.id)
    bad = [OffendingRow(str(row[0]), None) for row in conn.execute(stmt)]
    if not bad:
        return None
    message = f"{len(bad)} record(s) have no value, so the field cannot become required"
    return _refusal("null_values", location, message, bad, "fill these records in first")


def check_no_rows(conn: sa.Connection, location: str, table: str) -> Refusal | None:
    """Refuse adding a required column to a table whose records would all lack it."""
    t = _table(table)
    bad = [OffendingRow(str(r[0]), None) for r in conn.execute(sa.select(t.c.id).order_by(t.c.id))]
    if not bad:
        return None
    message = f"a new required field would be empty on {len(bad)} existing record(s)"
    hint = "add the field as optional, fill it in, then make it required"
    return _refusal("null_values", location, message, bad, hint)


def check_picklist(
    conn: sa.Connection,
    location: str,
    table: str,
    column: str,
    type_: sa.types.TypeEngine[Any],
    refused: set[str] | None,
    allowed: set[str],
    *,
    multi: bool,
) -> Refusal | None:
    """Refuse while records hold a value the picklist no longer has.

    Args:
        refused: the values removed from the metadata; None to refuse every value not in
            ``allowed`` (when the previous metadata is unknown or the field changed type).
    """

    def is_bad(code: Any) -> bool:
        return code in refused if refused is not None else code not in allowed

    bad = []
    for record_id, value in _values(conn, table, column, type_):
        codes = value if multi and isinstance(value, list) else [value]
        wrong = [c for c in codes if is_bad(c)]
        if wrong:
            bad.append(OffendingRow(record_id, wrong if multi else value))
    if not bad:
        return None
    if refused is not None:
        message = f"{len(bad)} record(s) still use removed value(s) {sorted(refused)}"
        hint = "keep the value with `active: false` so old records keep their meaning"
        return _refusal("picklist_value_in_use", location, message, bad, hint)
    message = f"{len(bad)} record(s) hold values that are not in the picklist"
    hint = "add the values to the picklist (`active: false` if retired) or fix the records"
    return _refusal("value_not_in_picklist", location, message, bad, hint)


def check_references(
    conn: sa.Connection, location: str, table: str, column: str, target: str
) -> Refusal | None:
    """Refuse a reference while records point at ids the target object does not have."""
    t = _table(table, column)
    other = _table(target)
    stmt = (
        sa.select(t.c.id, t.c[column])
        .where(t.c[column].is_not(None), t.c[column].not_in(sa.select(other.c.id)))
        .order_by(t.c.id)
    )
    bad = [OffendingRow(str(r[0]), str(r[1])) for r in conn.execute(stmt)]
    if not bad:
        return None
    message = f"{len(bad)} record(s) refer to {target} records that do not exist"
    return _refusal("dangling_references", location, message, bad, "clear or fix those references")
