"""Gap-free autonumbers: a counter row per object, field and period, in the write's transaction.

The counter is incremented inside the same transaction as the insert, so a rolled-back
write gives its number back and no two committed records share one. The counter row is
created if missing, then ``UPDATE ... RETURNING`` locks it on PostgreSQL; SQLite
serialises writers (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metadata.model.fields import AutonumberField

__all__ = ["bump_counter", "format_number", "next_numbers"]

#: The counter row is created race-free with each dialect's INSERT ... ON CONFLICT DO NOTHING.
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|0+)\}")


def _period(pattern: str, today: dt.date) -> str:
    """Counters restart when the date part of the pattern changes (per year, month, day)."""
    tokens = set(_TOKEN.findall(pattern))
    if "DD" in tokens:
        return today.strftime("%Y%m%d")
    if "MM" in tokens:
        return today.strftime("%Y%m")
    if tokens & {"YYYY", "YY"}:
        return today.strftime("%Y")
    return "-"


def format_number(pattern: str, value: int, today: dt.date) -> str:
    def token(match: re.Match[str]) -> str:
        name = match.group(1)
        if set(name) == {"0"}:
            return str(value).zfill(len(name))
        return {
            "YYYY": f"{today:%Y}",
            "YY": f"{today:%y}",
            "MM": f"{today:%m}",
            "DD": f"{today:%d}",
        }[name]

    return _TOKEN.sub(token, pattern)


@functools.lru_cache(maxsize=32)  # one per counters table (schema reloads make new ones)
def _bump(counters: sa.Table, dialect: str) -> sa.Executable:
    """One statement, built once: the first number of a period creates its counter, later
    ones bump it; the row lock the upsert takes serialises concurrent writers."""
    insert: Any = _INSERTS[dialect](counters).values(
        object=sa.bindparam("object"),
        field=sa.bindparam("field"),
        period=sa.bindparam("period"),
        last_value=sa.bindparam("first_last"),
    )
    bump: sa.Executable = insert.on_conflict_do_update(
        index_elements=[counters.c.object, counters.c.field, counters.c.period],
        set_={"last_value": counters.c.last_value + sa.bindparam("count")},
    ).returning(counters.c.last_value)
    return bump


def next_numbers(
    conn: sa.Connection,
    counters: sa.Table,
    object_name: str,
    field: AutonumberField,
    today: dt.date,
    count: int = 1,
) -> list[str]:
    """Reserve ``count`` consecutive numbers and return them formatted."""
    period = _period(field.pattern, today)
    last = conn.execute(
        _bump(counters, conn.dialect.name),
        {
            "object": object_name,
            "field": field.name,
            "period": period,
            "first_last": field.start - 1 + count,
            "count": count,
        },
    ).scalar_one()
    first = last - count + 1
    return [format_number(field.pattern, n, today) for n in range(first, last + 1)]


def bump_counter(conn: sa.Connection, counters: sa.Table, object_name: str, key: str) -> int:
    """The next value (1, 2, 3 …) of a named counter of ``object_name``, gap-free under
    concurrency like autonumbers (round-robin assignment takes turns with it)."""
    return int(
        conn.execute(
            _bump(counters, conn.dialect.name),
            {"object": object_name, "field": key, "period": "-", "first_last": 1, "count": 1},
        ).scalar_one()
    )
