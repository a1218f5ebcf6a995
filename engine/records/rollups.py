"""Keep rollup fields right in the same transaction as the child write that moves them.

After a child is created, moved to another parent, updated or deleted, each affected
parent's rollup is recomputed with one aggregate query over its live children, so the
value is exact rather than incrementally drifted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledSchema, Rollup
from engine.rules import to_sql

__all__ = ["affected", "refresh_rollups"]


def refresh_rollups(
    conn: sa.Connection,
    compiled: CompiledSchema,
    rollups: Iterable[Rollup],
    parent_ids: dict[str, set[Any]],
) -> None:
    """Recompute ``rollups`` for the parents in ``parent_ids`` (rollup key -> parent ids)."""
    for rollup in rollups:
        ids = {i for i in parent_ids.get(_key(rollup), set()) if i is not None}
        if not ids:
            continue
        parent = compiled.tables[rollup.parent]
        child = compiled.tables[rollup.child]
        condition = sa.and_(child.c[rollup.via] == parent.c.id, child.c.archived.is_(False))
        spec = rollup.field
        if spec.filter is not None:
            context = compiled.object(rollup.child).context
            condition = sa.and_(
                condition, to_sql(spec.filter, child, context, tables=compiled.tables.objects)
            )
        func = getattr(sa.func, str(spec.function))
        measure = func(child.c.id) if spec.function == "count" else func(child.c[spec.field])
        value = sa.select(measure).where(condition).scalar_subquery()
        if spec.function != "count":
            value = sa.func.coalesce(value, 0) if spec.function == "sum" else value
        conn.execute(sa.update(parent).where(parent.c.id.in_(ids)).values({spec.name: value}))


def _key(rollup: Rollup) -> str:
    return f"{rollup.parent}.{rollup.field.name}"


def affected(
    rollups: Iterable[Rollup],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    into: dict[str, set[Any]],
) -> None:
    """Add the parents a child change touches (old and new parent) to ``into``."""
    for rollup in rollups:
        ids = into.setdefault(_key(rollup), set())
        for row in (before, after):
            if row is not None and row.get(rollup.via) is not None:
                ids.add(row[rollup.via])
