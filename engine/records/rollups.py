"""Keep rollup fields right in the same transaction as the child write that moves them.

After a child is created, moved to another parent, updated or deleted, each affected
parent's rollup is recomputed with one aggregate query over its live children, so the
value is exact rather than incrementally drifted. The parent's formulas are computed again
too (a total over rolled-up parts and labour must not wait for the parent's next save),
and where the parent itself feeds a rollup, its own parent follows, a few levels up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema, Rollup
from engine.records.integrity import RelatedRecords
from engine.records.prepare import compute_formulas
from engine.rules import EvalEnv, to_sql

__all__ = ["affected", "refresh_rollups"]


_LEVELS = 4


def refresh_rollups(
    conn: sa.Connection,
    compiled: CompiledSchema,
    rollups: Iterable[Rollup],
    parent_ids: dict[str, set[Any]],
    env: EvalEnv,
    level: int = 0,
) -> None:
    """Recompute ``rollups`` for the parents in ``parent_ids`` (rollup key -> parent ids),
    then those parents' formulas (evaluated in ``env``, the writer's) and, up to a few
    levels, the rollups they feed."""
    touched: dict[str, set[Any]] = {}
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
        touched.setdefault(rollup.parent, set()).update(ids)
    for name, ids in touched.items():
        cobj = compiled.object(name)
        if not cobj.formulas and not cobj.rollups_fed:
            continue
        table = compiled.tables[name]
        rows = [
            dict(r) for r in conn.execute(sa.select(table).where(table.c.id.in_(ids))).mappings()
        ]
        if cobj.formulas:
            _recompute_formulas(conn, compiled, cobj, rows, env)
        if cobj.rollups_fed and level < _LEVELS:
            above: dict[str, set[Any]] = {}
            for row in rows:
                affected(cobj.rollups_fed, None, row, above)
            refresh_rollups(conn, compiled, cobj.rollups_fed, above, env, level + 1)


def _recompute_formulas(
    conn: sa.Connection, compiled: CompiledSchema, cobj: CompiledObject,
    rows: list[dict[str, Any]], env: EvalEnv,
) -> None:  # fmt: skip
    """Store the formulas' new values where they changed; a formula that fails keeps its
    stored value (the parent's own next save reports the error)."""
    table = compiled.tables[cobj.name]
    related = RelatedRecords(conn, compiled, cobj) if cobj.walks else None
    for row in rows:
        changed = {}
        for fdef, value, error in compute_formulas(cobj, row, env, related):
            if error is None and value != row.get(fdef.name):
                row[fdef.name] = changed[fdef.name] = value
        if changed:
            conn.execute(sa.update(table).where(table.c.id == row["id"]).values(changed))


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
