"""Plan and apply a migration in one transaction, and record the schema version it produced.

``apply_migration`` plans again inside its own transaction (under the write lock) and
runs only if that plan is the one the caller saw, so data written between ``--plan`` and
the migration cannot slip past the checks. PostgreSQL rolls every step back on failure;
SQLite too (its DDL is transactional), with Alembic's batch mode for what SQLite's
``ALTER TABLE`` cannot do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby

import msgspec
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engine.storage.database import Database
from engine.storage.migrate._session import migration_connection
from engine.storage.migrate.operations import Operation, RunContext
from engine.storage.migrate.plan import MigrationPlan, PreviousVersion, build_plan
from engine.storage.migrate.refusals import MigrationFailed, MigrationRefused, Refusal
from engine.storage.tables import CompiledTables, compile_tables
from metadata import ResolvedSchema

__all__ = ["AppliedVersion", "apply_migration", "plan_migration", "sync"]

_VERSIONS = "_schema_versions"


@dataclass(frozen=True)
class AppliedVersion:
    """A row of ``_schema_versions``: which metadata produced the tables, when, by whom."""

    id: int
    content_hash: str
    applied_at: datetime
    applied_by: str
    operations: tuple[str, ...]


def plan_migration(
    db: Database, schema: ResolvedSchema, *, purge: bool = False, now: datetime | None = None
) -> MigrationPlan:
    """What migrating ``db`` to ``schema`` would do and what would stop it; changes nothing."""
    compiled = compile_tables(schema)
    with migration_connection(db, commit=False) as conn:
        return _plan(conn, compiled, schema, purge=purge, now=now or _now())


def apply_migration(
    db: Database, schema: ResolvedSchema, plan: MigrationPlan, applied_by: str
) -> AppliedVersion:
    """Apply ``plan`` (made by ``plan_migration`` for the same schema) in one transaction.

    Raises:
        MigrationRefused: the plan, made again under the lock, has refusals or differs
            from ``plan``; nothing was changed.
        MigrationFailed: the database rejected a step; everything was rolled back.
    """
    return _apply(db, schema, applied_by, purge=plan.purge, now=plan.created_at, expected=plan)


def sync(
    db: Database, schema: ResolvedSchema, applied_by: str, *, purge: bool = False
) -> AppliedVersion:
    """Bring ``db`` to ``schema`` (plan and apply); on a fresh database, create everything.

    Plans once, inside the migration's own transaction, so the checks and the changes see
    the same data. Raises as ``apply_migration`` does.
    """
    return _apply(db, schema, applied_by, purge=purge, now=_now(), expected=None)


def _apply(
    db: Database,
    schema: ResolvedSchema,
    applied_by: str,
    *,
    purge: bool,
    now: datetime,
    expected: MigrationPlan | None,
) -> AppliedVersion:
    compiled = compile_tables(schema)
    try:
        with migration_connection(db, commit=True) as conn:
            _lock_tables(conn)
            plan = _plan(conn, compiled, schema, purge=purge, now=now)
            if plan.refusals:
                raise MigrationRefused(plan.refusals)
            if expected is not None and (
                plan.identities() != expected.identities()
                or plan.content_hash != expected.content_hash
            ):
                raise MigrationRefused([_outdated()])
            ctx = RunContext(conn, db.schema, compiled.system, schema.content_hash, now)
            _run(conn, plan.operations, ctx)
            return _record(conn, compiled, schema, plan, applied_by)
    except (MigrationRefused, MigrationFailed):
        raise
    except sa.exc.DBAPIError as exc:
        raise MigrationFailed(f"the database refused a step: {exc.orig}") from exc


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _outdated() -> Refusal:
    return Refusal(
        code="plan_outdated",
        message="the database or metadata changed since the plan was made",
        location="database",
        suggestion="run `metacrm migrate --plan` again and review the new plan",
    )


def _plan(
    conn: sa.Connection,
    compiled: CompiledTables,
    schema: ResolvedSchema,
    *,
    purge: bool,
    now: datetime,
) -> MigrationPlan:
    previous = _previous(conn, compiled)
    return build_plan(conn, compiled, schema, now=now, purge=purge, previous=previous)


def _previous(conn: sa.Connection, compiled: CompiledTables) -> PreviousVersion | None:
    if not sa.inspect(conn).has_table(_VERSIONS):
        return None
    versions = compiled.system["schema_versions"]
    row = conn.execute(
        sa.select(versions.c.id, versions.c.content_hash, versions.c.schema)
        .order_by(versions.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return PreviousVersion(id=row.id, content_hash=row.content_hash, schema=row.schema or {})


def _lock_tables(conn: sa.Connection) -> None:
    """PostgreSQL: hold off writers (readers go on) while checks vouch for the data.

    SQLite needs nothing: ``BEGIN IMMEDIATE`` already holds the database's write lock.
    """
    if conn.dialect.name == "sqlite":
        return
    names = sa.inspect(conn).get_table_names()
    if names:
        quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
        conn.exec_driver_sql(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")


def _run(conn: sa.Connection, operations: tuple[Operation, ...], ctx: RunContext) -> None:
    """Run the operations phase by phase; per table, one Alembic batch per phase."""
    alembic = Operations(MigrationContext.configure(conn))
    schema = ctx.schema
    for _phase, group in groupby(operations, key=lambda op: op.phase):
        by_table: dict[str, list[Operation]] = defaultdict(list)
        for op in group:
            if op.batched:
                by_table[op.table].append(op)
            else:
                op.run(alembic, ctx)
        for table, ops in by_table.items():
            with alembic.batch_alter_table(table, schema=schema, recreate="auto") as batch:
                for op in ops:
                    op.run(batch, ctx)
            for op in ops:
                op.finish(ctx)


def _record(
    conn: sa.Connection,
    compiled: CompiledTables,
    schema: ResolvedSchema,
    plan: MigrationPlan,
    applied_by: str,
) -> AppliedVersion:
    versions = compiled.system["schema_versions"]
    previous = _previous(conn, compiled)
    if previous is not None and not plan.changes_schema:
        row = conn.execute(sa.select(versions).where(versions.c.id == previous.id)).one()
        return AppliedVersion(
            id=row.id,
            content_hash=row.content_hash,
            applied_at=row.applied_at,
            applied_by=row.applied_by,
            operations=tuple(op["description"] for op in row.plan.get("operations", [])),
        )
    applied_at = datetime.now(UTC)
    new_id = conn.execute(
        versions.insert()
        .values(
            content_hash=plan.content_hash,
            applied_at=applied_at,
            applied_by=applied_by,
            plan=plan.to_builtins(),
            schema=msgspec.to_builtins(schema),
        )
        .returning(versions.c.id)
    ).scalar_one()
    return AppliedVersion(
        id=int(new_id),
        content_hash=plan.content_hash,
        applied_at=applied_at,
        applied_by=applied_by,
        operations=tuple(plan.describe()),
    )
