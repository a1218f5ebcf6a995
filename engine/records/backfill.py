"""Fill formula and rollup fields on the records that exist, after a migration added or
redefined them, with the values a save of each record would compute.

The migration records a job per object in ``_backfills`` (``engine.storage.migrate``);
this runs the unfinished ones in batches by id, each batch one transaction that also
records how far the job got, so a backfill killed at any point goes on from the next
record and never fills one twice with a different value. Values come from the write
path's own computations: ``compute_formulas`` for formulas and ``rollup_values`` for
rollups (then the record's formulas, and the rollups above it, as a save would). The engine is
the actor: ``$user`` reads null and ``today`` is the day of the backfill.

A filled value is derived, not a consultant's or a user's change: the record's version
goes up where a value moved (its ETag changes, so a cached copy is not served stale), but
no field history rows are written and no automations or timers run; the job itself (what,
when, how many records moved) is kept in ``_backfills`` and in one audit entry.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.integrity import RelatedRecords
from engine.records.prepare import compute_formulas
from engine.records.rollups import parents_of, rollup_values
from engine.rules import EvalEnv, system_clock
from engine.storage.database import Database

__all__ = ["BackfillDone", "pending_backfills", "run_backfills"]

log = logging.getLogger(__name__)
BATCH = 1000
#: How many levels of rollups above a filled record follow it.
_LEVELS = 8
#: ``progress(object, done, total)`` after each batch.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BackfillDone:
    """One finished job: which fields of which object, records seen and records changed."""

    job: int
    object: str
    fields: tuple[str, ...]
    records: int
    changed: int


@dataclass(frozen=True)
class _Job:
    id: int
    object: str
    fields: tuple[str, ...]
    total: int
    done: int
    changed: int
    after_id: Any


def pending_backfills(db: Database, compiled: CompiledSchema) -> list[_Job]:
    """The unfinished jobs, oldest first."""
    jobs = compiled.tables.system["backfills"]
    with db.read() as conn:
        rows = conn.execute(
            sa.select(jobs).where(jobs.c.finished_at.is_(None)).order_by(jobs.c.id)
        ).all()
    return [
        _Job(r.id, r.object, tuple(r.fields), r.total, r.done, r.changed, r.after_id) for r in rows
    ]


def run_backfills(
    db: Database,
    compiled: CompiledSchema,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = system_clock,
) -> list[BackfillDone]:
    """Run every unfinished job to its end; returns what each did."""
    env = EvalEnv(user=None, clock=clock)
    done = []
    for job in pending_backfills(db, compiled):
        done.append(_run(db, compiled, job, batch, env, progress))
    return done


def _run(
    db: Database,
    compiled: CompiledSchema,
    job: _Job,
    batch: int,
    env: EvalEnv,
    progress: Progress | None,
) -> BackfillDone:
    cobj = compiled.objects.get(job.object)
    jobs = compiled.tables.system["backfills"]
    fields = tuple(f for f in job.fields if cobj is not None and f in cobj.fields)
    seen, changed = job.done, job.changed
    while True:
        with db.engine.begin() as conn:
            # the job's row, locked: a second runner (a server starting while the CLI
            # backfills) waits for this batch and goes on after it, never redoing it
            query = sa.select(jobs).where(jobs.c.id == job.id)
            row = conn.execute(query if db.is_sqlite else query.with_for_update()).one()
            if row.finished_at is not None:
                seen, changed = row.done, row.changed
                break
            seen, changed, after = row.done, row.changed, row.after_id
            ids = _next_ids(conn, compiled, job, after, batch, db.is_sqlite) if fields else []
            if not ids:
                now = env.clock()
                conn.execute(jobs.update().where(jobs.c.id == job.id).values(finished_at=now))
                detail = {"fields": list(fields), "records": seen, "changed": changed}
                conn.execute(
                    sa.insert(compiled.tables.system["audit_log"]),
                    {"at": now, "actor": None, "action": "backfill", "object": job.object,
                     "record_id": None, "detail": detail},
                )  # fmt: skip
                break
            assert cobj is not None
            changed += _fill(conn, compiled, cobj, fields, ids, env)
            seen, after = seen + len(ids), ids[-1]
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job.id)
                .values(after_id=after, done=seen, changed=changed)
            )
        if progress is not None:
            progress(job.object, seen, max(job.total, seen))
    log.info("backfill %s of %s: %s records, %s changed", fields, job.object, seen, changed)
    return BackfillDone(job.id, job.object, fields, seen, changed)


def _next_ids(
    conn: sa.Connection,
    compiled: CompiledSchema,
    job: _Job,
    after: Any,
    batch: int,
    is_sqlite: bool,
) -> list[Any]:
    """The next batch of record ids, locked against concurrent saves on PostgreSQL (on
    SQLite the write transaction already holds the database's lock)."""
    table = compiled.tables[job.object]
    query = sa.select(table.c.id).order_by(table.c.id).limit(batch)
    if after is not None:
        query = query.where(table.c.id > after)
    if not is_sqlite:
        query = query.with_for_update()
    return list(conn.execute(query).scalars())


def _fill(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    fields: tuple[str, ...],
    ids: list[Any],
    env: EvalEnv,
) -> int:
    """Fill ``fields`` on the records ``ids``; returns how many records changed."""
    if not any(r.field.name in fields for r in cobj.rollups):
        return _fill_formulas(conn, compiled, cobj, ids, env)
    return len(_refresh(conn, compiled, cobj, ids, env))


def _fill_formulas(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    ids: list[Any],
    env: EvalEnv,
) -> int:
    table = compiled.tables[cobj.name]
    related = RelatedRecords(conn, compiled, cobj) if cobj.walks else None
    names = [fdef.name for fdef, _ in cobj.formulas]
    updates, moved_rows = [], []
    for row in conn.execute(sa.select(table).where(table.c.id.in_(ids))).mappings():
        record = dict(row)
        moved = False
        for fdef, value, error in compute_formulas(cobj, record, env, related):
            if error is None and value != record.get(fdef.name):
                record[fdef.name], moved = value, True
        if moved:
            updates.append({"_id": record["id"], **{f"_{n}": record[n] for n in names}})
            moved_rows.append(record)
    if updates:
        stmt = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("_id"))
            .values({n: sa.bindparam(f"_{n}") for n in names} | {"version": table.c.version + 1})
        )
        conn.execute(stmt, updates)
    _refresh_above(conn, compiled, cobj, moved_rows, env, 0)
    return len(updates)


def _refresh(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    ids: list[Any],
    env: EvalEnv,
    level: int = 0,
) -> list[dict[str, Any]]:
    """The records ``ids`` with their rollups and formulas as a save computes them
    (``rollup_values``, ``compute_formulas``), stored where they moved; then the records
    above whose rollups those feed. The records that moved."""
    table = compiled.tables[cobj.name]
    related = RelatedRecords(conn, compiled, cobj) if cobj.walks else None
    moved = []
    for row in conn.execute(sa.select(table).where(table.c.id.in_(ids))).mappings():
        record = dict(row)
        changed = {}
        for name, value in rollup_values(conn, compiled, cobj, record["id"]).items():
            if value != record.get(name):
                record[name] = changed[name] = value
        for fdef, value, error in compute_formulas(cobj, record, env, related):
            if error is None and value != record.get(fdef.name):
                record[fdef.name] = changed[fdef.name] = value
        if changed:
            conn.execute(
                sa.update(table)
                .where(table.c.id == record["id"])
                .values({**changed, "version": table.c.version + 1})
            )
            moved.append(record)
    _refresh_above(conn, compiled, cobj, moved, env, level)
    return moved


def _refresh_above(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    moved: list[dict[str, Any]],
    env: EvalEnv,
    level: int,
) -> None:
    """The parents whose rollups the ``moved`` records feed, refreshed in turn."""
    if not moved or level >= _LEVELS:
        return
    for parent, ids in parents_of(cobj.rollups_fed, [(None, r) for r in moved]).items():
        _refresh(conn, compiled, compiled.object(parent), sorted(ids, key=str), env, level + 1)
