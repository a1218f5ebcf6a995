"""Rollup fields: which parents a child's change moves, and their values now.

A rollup is never adjusted by increments: after a child is created, moved to another
parent, changed or deleted, each parent it was or is linked to is written again through
the write steps (a derived change, ``engine.records.writer``), and that write recomputes
the parent's rollups with one aggregate query over its live children after locking the
parent row, so two concurrent children never leave a stale total. The parent's formulas,
validation rules, history, automations and timers then see the new totals like any other
change, and where the parent feeds a rollup itself, its own parent follows the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema, Rollup
from engine.rules import to_sql

__all__ = ["parents_of", "rollup_values"]

Record = dict[str, Any]


def parents_of(
    rollups: Iterable[Rollup], changes: Iterable[tuple[Record | None, Record | None]]
) -> dict[str, set[Any]]:
    """The parents (object name -> ids) whose rollups the child ``(before, after)``
    pairs move: the old and the new parent of each link that feeds a rollup."""
    rollups = list(rollups)
    found: dict[str, set[Any]] = {}
    for before, after in changes:
        for rollup in rollups:
            for row in (before, after):
                if row is not None and row.get(rollup.via) is not None:
                    found.setdefault(rollup.parent, set()).add(row[rollup.via])
    return found


def rollup_values(
    conn: sa.Connection, compiled: CompiledSchema, cobj: CompiledObject, record_id: Any
) -> dict[str, Any]:
    """Every rollup field of the record ``record_id`` of ``cobj``, as its children are now."""
    if not cobj.rollups:
        return {}
    query = compiled.once(f"rollups.values {cobj.name}", lambda c: _aggregates(c, cobj))
    row = conn.execute(query, {_PARENT: record_id}).mappings().one()
    return {rollup.field.name: _stored(row[rollup.field.name]) for rollup in cobj.rollups}


def _aggregates(compiled: CompiledSchema, cobj: CompiledObject) -> sa.Select[Any]:
    """One SELECT of every rollup of ``cobj`` over the children of the parent ``_PARENT``,
    built once per schema (the rules in rollup filters compile to SQL once, too)."""
    parent: sa.BindParameter[Any] = sa.bindparam(_PARENT)
    return sa.select(*(_measure(compiled, rollup, parent).label(rollup.field.name)
                       for rollup in cobj.rollups))  # fmt: skip


def _stored(value: Any) -> Any:
    """A number as its column keeps it (six decimals), so an unchanged total compares
    equal to the stored one and writes nothing; dates as they are."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).quantize(_SCALE)
    return value


_SCALE = Decimal("0.000001")
_PARENT = "_parent_id"


def _measure(compiled: CompiledSchema, rollup: Rollup, parent_id: Any) -> Any:
    child = compiled.tables[rollup.child]
    condition = sa.and_(child.c[rollup.via] == parent_id, child.c.archived.is_(False))
    spec = rollup.field
    if spec.filter is not None:
        context = compiled.object(rollup.child).context
        condition = sa.and_(
            condition, to_sql(spec.filter, child, context, tables=compiled.tables.objects)
        )
    func = getattr(sa.func, str(spec.function))
    measure = func(child.c.id) if spec.function == "count" else func(child.c[str(spec.field)])
    value: sa.ColumnElement[Any] = sa.select(measure).where(condition).scalar_subquery()
    return sa.func.coalesce(value, 0) if spec.function == "sum" else value
