"""Diff the live database against the compiled schema and turn the diff into a plan.

The comparison is Alembic's autogenerate (``compare_metadata``); each kind of difference it
reports is translated into our operations by one registered function (``_TRANSLATE``),
which also runs the data checks that may refuse it. What Alembic cannot know comes from
the metadata: renames of objects and fields (``renamed_from``), restores of archived
columns and tables, and picklist values removed since the previously applied schema.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.storage.migrate import checks
from engine.storage.migrate._mapping import LiveState, NameMap, comparison_metadata
from engine.storage.migrate.archive import archive_name, archived_versions, is_archived
from engine.storage.migrate.operations import (
    AddColumn,
    AddForeignKey,
    ArchiveColumn,
    ArchiveTable,
    Backfill,
    ChangeNullable,
    ChangeType,
    ConstraintKind,
    CreateIndex,
    CreateTable,
    DropConstraint,
    Operation,
    PurgeColumn,
    PurgeTable,
    RenameColumn,
    RenameTable,
    RestoreColumn,
    RestoreTable,
    ResumeBackfill,
)
from engine.storage.migrate.refusals import Refusal
from engine.storage.tables import CompiledTables
from metadata import ResolvedSchema
from metadata.model.fields import FieldType

__all__ = ["MigrationPlan", "PreviousVersion", "build_plan"]

_OBJECT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OBJECT_MARKERS = {"id", "version", "archived"}
_PICKLISTS = (FieldType.PICKLIST, FieldType.MULTI_PICKLIST)
#: What a computed field's values follow from: a change of any of these is backfilled.
_DEFINITION = {
    FieldType.FORMULA: ("type", "expression", "result_type", "scale"),
    FieldType.ROLLUP: ("type", "of", "function", "via", "field", "filter"),
}


@dataclass(frozen=True)
class PreviousVersion:
    """The last applied schema version, as recorded in ``_schema_versions``."""

    id: int
    content_hash: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class MigrationPlan:
    """What a migration will do (``operations``) and what stops it (``refusals``)."""

    content_hash: str
    operations: tuple[Operation, ...]
    refusals: tuple[Refusal, ...]
    created_at: datetime
    purge: bool = False
    notes: tuple[str, ...] = ()
    previous_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def changes_schema(self) -> bool:
        """Whether applying records a new version (DDL to run, or the metadata changed);
        resuming an unfinished backfill alone does not."""
        return (
            any(op.changes_schema for op in self.operations)
            or self.content_hash != self.previous_hash
        )

    @property
    def backfills(self) -> bool:
        """Whether records are to be filled after the migration (new or unfinished jobs)."""
        return any(isinstance(op, (Backfill, ResumeBackfill)) for op in self.operations)

    def describe(self) -> list[str]:
        """The operations in plain words, in the order they run."""
        return [op.describe() for op in self.operations]

    def identities(self) -> list[str]:
        """What applying checks against the plan made again under the lock."""
        return [op.identity() for op in self.operations]

    def to_builtins(self) -> dict[str, Any]:
        """The plan as JSON-ready data, as recorded in ``_schema_versions.plan``."""
        return {
            "operations": [
                {"kind": op.kind, "table": op.table, "description": op.describe()}
                for op in self.operations
            ],
            "notes": list(self.notes),
            "purge": self.purge,
            "previous_hash": self.previous_hash,
        }


@dataclass
class _Planner:
    conn: sa.Connection
    compiled: CompiledTables
    schema: ResolvedSchema
    now: datetime
    live: LiveState
    names: NameMap
    context: MigrationContext
    ops: list[Operation] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new_columns: set[tuple[str, str]] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)

    @property
    def is_sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"

    def refuse(self, refusal: Refusal | None) -> None:
        if refusal is not None:
            self.refusals.append(refusal)

    def untouched(self, table: str, columns: list[str]) -> bool:
        """True when the columns hold existing data (not a new table or new column)."""
        return table not in self.names.new_tables and not any(
            (table, c) in self.new_columns for c in columns
        )

    def fresh_name(self, name: str, live_names: set[str]) -> str:
        chosen = archive_name(name, self.now, live_names | self.taken)
        self.taken.add(chosen)
        return chosen


def build_plan(
    conn: sa.Connection,
    compiled: CompiledTables,
    schema: ResolvedSchema,
    *,
    now: datetime,
    purge: bool,
    previous: PreviousVersion | None,
) -> MigrationPlan:
    """Compare the live database on ``conn`` with ``compiled`` and plan the migration."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    planner = _Planner(
        conn=conn,
        compiled=compiled,
        schema=schema,
        now=now,
        live=LiveState(conn),
        names=NameMap(),
        context=context,
    )
    _map_tables(planner)
    _map_columns(planner)
    target = comparison_metadata(compiled.metadata, planner.names)
    context.opts["include_name"] = _include_name(set(target.tables))
    context.opts["include_object"] = _include_object
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cannot correctly sort tables")
        diffs = compare_metadata(context, target)
    for diff in diffs:
        for item in diff if isinstance(diff, list) else [diff]:
            handler = _TRANSLATE.get(item[0])
            if handler is not None:
                handler(planner, item)
    _forget_archived_tables_constraints(planner)
    _check_picklists(planner, previous)
    _plan_backfills(planner, previous)
    if purge:
        _plan_purge(planner)
    # Alembic's diff order follows set iteration; a fixed order makes plans comparable.
    ops = sorted(planner.ops, key=lambda op: (op.phase, op.table, op.describe()))
    return MigrationPlan(
        content_hash=schema.content_hash,
        operations=tuple(ops),
        refusals=tuple(planner.refusals),
        created_at=now,
        purge=purge,
        notes=tuple(planner.notes),
        previous_hash=previous.content_hash if previous else None,
    )


def _include_name(compared: set[str]) -> Callable[..., bool]:
    def include(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return name in compared or bool(name and _OBJECT_NAME.match(name))
        return True

    return include


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Archived columns live on in their table, out of the metadata's sight.
    return not (type_ == "column" and reflected and compare_to is None and is_archived(name or ""))


def _map_tables(p: _Planner) -> None:
    for name in p.compiled.metadata.tables:
        if name in p.live.tables:
            p.names.tables[name] = name
            continue
        if _rename_table(p, name):
            continue
        archived = archived_versions(name, p.live.tables) if name in p.compiled.objects else []
        if archived:
            p.names.tables[name] = archived[0]
            rows = checks.count_rows(p.conn, archived[0])
            p.ops.append(RestoreTable(name, archived=archived[0], rows=rows))
        else:
            p.names.tables[name] = name
            p.names.new_tables.add(name)


def _rename_table(p: _Planner, name: str) -> bool:
    """Plan renaming the table of an object's former name (``renamed_from``), if it is there.

    Only a metacrm object table that no object of the schema claims (under its own name or
    as another object's former name) is taken; otherwise the object is created empty and
    the old table, if any, is handled like any other table the schema no longer has.
    Mapping the object to the old table makes Alembic compare its columns as usual.
    """
    obj = p.schema.objects.get(name)
    old = obj.renamed_from if obj is not None else None
    if (
        not old
        or old not in p.live.tables
        or old in p.compiled.metadata.tables
        or old in p.names.tables.values()
        or not set(p.live.columns(old)) >= _OBJECT_MARKERS
    ):
        return False
    p.names.tables[name] = old
    # History, audit and counters name the object; they exist unless the DB predates them.
    follow = tuple(
        sorted(
            t.name
            for t in p.compiled.system.values()
            if "object" in t.c and t.name in p.live.tables
        )
    )
    rows = checks.count_rows(p.conn, old)
    p.ops.append(RenameTable(name, old=old, rows=rows, follow=follow))
    return True


def _map_columns(p: _Planner) -> None:
    for obj in p.schema.objects.values():
        if obj.name in p.names.new_tables:
            continue
        table = p.compiled.objects[obj.name]
        live_table = p.names.table(obj.name)
        live_cols = p.live.columns(live_table)
        claimed: set[str] = set()
        for f in obj.fields:
            if f.name in live_cols:
                continue
            old = f.renamed_from
            if old and old in live_cols and old not in table.c and old not in claimed:
                claimed.add(old)
                p.names.columns[(obj.name, f.name)] = old
                p.ops.append(RenameColumn(obj.name, old=old, new=f.name))
                continue
            for archived in archived_versions(f.name, live_cols):
                info = live_cols[archived]
                same = not p.context.impl.compare_type(
                    sa.Column(archived, info["type"]), table.c[f.name]
                )
                if archived not in claimed and same:
                    claimed.add(archived)
                    p.names.columns[(obj.name, f.name)] = archived
                    values = checks.count_rows(p.conn, live_table, archived)
                    p.ops.append(
                        RestoreColumn(obj.name, archived=archived, name=f.name, values=values)
                    )
                    break


# --- translating Alembic's diff ------------------------------------------------------------


def _add_table(p: _Planner, diff: tuple[Any, ...]) -> None:
    name = diff[1].name
    table = p.compiled.metadata.tables[name]
    p.ops.append(CreateTable(name, definition=table, with_foreign_keys=p.is_sqlite))
    if not p.is_sqlite:  # PostgreSQL checks targets at once; add them when all tables exist
        for fk in table.foreign_key_constraints:
            p.ops.append(_foreign_key(name, fk))


def _foreign_key(table: str, fk: sa.ForeignKeyConstraint) -> AddForeignKey:
    target = fk.elements[0].target_fullname.rpartition(".")[0]
    return AddForeignKey(
        table,
        name=str(fk.name),
        columns=tuple(fk.column_keys),
        target_table=target,
        target_columns=tuple(e.target_fullname.rpartition(".")[2] for e in fk.elements),
        ondelete=fk.ondelete,
    )


def _remove_table(p: _Planner, diff: tuple[Any, ...]) -> None:
    table: sa.Table = diff[1]
    if table.name.startswith("_"):
        return
    if not set(table.c.keys()) >= _OBJECT_MARKERS:
        p.notes.append(f"left alone: table {table.name} is not a metacrm object table")
        return
    archived = p.fresh_name(table.name, p.live.tables)
    rows = checks.count_rows(p.conn, table.name)
    p.ops.append(ArchiveTable(table.name, archived=archived, rows=rows))


def _add_column(p: _Planner, diff: tuple[Any, ...]) -> None:
    live_table, column = diff[2], diff[3]
    final = p.names.final_table(live_table)
    definition = p.compiled.metadata.tables[final].c[column.name]
    p.new_columns.add((final, column.name))
    if not definition.nullable:
        p.refuse(checks.check_no_rows(p.conn, f"{final}.{column.name}", live_table))
    p.ops.append(AddColumn(final, definition=definition))


def _remove_column(p: _Planner, diff: tuple[Any, ...]) -> None:
    live_table, column = diff[2], diff[3]
    final = p.names.final_table(live_table)
    archived = p.fresh_name(column.name, set(p.live.columns(live_table)))
    values = checks.count_rows(p.conn, live_table, column.name)
    p.ops.append(
        ArchiveColumn(
            final,
            name=column.name,
            archived=archived,
            values=values,
            was_required=not column.nullable,
        )
    )


def _modify_type(p: _Planner, diff: tuple[Any, ...]) -> None:
    _, _, live_table, column, kw, old_type, new_type = diff
    final = p.names.final_table(live_table)
    location = f"{final}.{p.names.final_column(final, column)}"
    new_type = _resolved(new_type, p.conn.dialect)
    refusal, converted = checks.check_conversion(
        p.conn, location, live_table, column, old_type, new_type
    )
    p.refuse(refusal)
    p.ops.append(
        ChangeType(
            final,
            column=column,
            old_type=old_type,
            new_type=new_type,
            nullable=bool(kw.get("existing_nullable", True)),
            converted=converted,
        )
    )


def _modify_nullable(p: _Planner, diff: tuple[Any, ...]) -> None:
    _, _, live_table, column, kw, _old, nullable = diff
    final = p.names.final_table(live_table)
    if not nullable:
        location = f"{final}.{p.names.final_column(final, column)}"
        p.refuse(checks.check_nulls(p.conn, location, live_table, column))
    p.ops.append(
        ChangeNullable(
            final, column=column, nullable=nullable, existing_type=kw.get("existing_type")
        )
    )


def _add_index(p: _Planner, diff: tuple[Any, ...], *, constraint: bool = False) -> None:
    item = diff[1]
    final = p.names.final_table(item.table.name)
    live_cols = [c.name for c in item.columns]
    cols = [p.names.final_column(final, c) for c in live_cols]
    unique = constraint or bool(item.unique)
    if unique and p.untouched(final, cols):
        location = f"{final}.{'+'.join(cols)}"
        p.refuse(checks.check_duplicates(p.conn, location, item.table.name, live_cols))
    p.ops.append(
        CreateIndex(
            final, name=item.name, columns=tuple(cols), unique=unique, constraint=constraint
        )
    )


def _add_constraint(p: _Planner, diff: tuple[Any, ...]) -> None:
    if isinstance(diff[1], sa.UniqueConstraint):
        _add_index(p, diff, constraint=True)


def _add_fk(p: _Planner, diff: tuple[Any, ...]) -> None:
    fk: sa.ForeignKeyConstraint = diff[1]
    final = p.names.final_table(fk.table.name)
    compiled = next(
        c for c in p.compiled.metadata.tables[final].foreign_key_constraints if c.name == fk.name
    )
    op = _foreign_key(final, compiled)
    live_col = fk.column_keys[0]
    if p.untouched(final, list(op.columns)) and op.target_table not in p.names.new_tables:
        location = f"{final}.{op.columns[0]}"
        target = p.names.table(op.target_table)
        p.refuse(checks.check_references(p.conn, location, fk.table.name, live_col, target))
    p.ops.append(op)


def _drop(kind: ConstraintKind) -> Callable[[_Planner, tuple[Any, ...]], None]:
    def drop(p: _Planner, diff: tuple[Any, ...]) -> None:
        item = diff[1]
        if kind is ConstraintKind.UNIQUE and not isinstance(item, sa.UniqueConstraint):
            return
        final = p.names.final_table(item.table.name)
        if not item.name:
            p.notes.append(f"left alone: an unnamed {kind} on {final}")
            return
        p.ops.append(DropConstraint(final, name=item.name, what=kind))

    return drop


_TRANSLATE: dict[str, Callable[[_Planner, tuple[Any, ...]], None]] = {
    "add_table": _add_table,
    "remove_table": _remove_table,
    "add_column": _add_column,
    "remove_column": _remove_column,
    "modify_type": _modify_type,
    "modify_nullable": _modify_nullable,
    "add_index": _add_index,
    "remove_index": _drop(ConstraintKind.INDEX),
    "add_constraint": _add_constraint,
    "remove_constraint": _drop(ConstraintKind.UNIQUE),
    "add_fk": _add_fk,
    "remove_fk": _drop(ConstraintKind.FOREIGN_KEY),
}


def _resolved(type_: Any, dialect: sa.Dialect) -> Any:
    """The dialect's variant of a type (``JSON`` → ``JSONB`` on PostgreSQL)."""
    return getattr(type_, "_variant_mapping", {}).get(dialect.name, type_)


def _forget_archived_tables_constraints(p: _Planner) -> None:
    # Alembic lists a removed table's indexes as removed too; archiving keeps them.
    archiving = {op.table for op in p.ops if isinstance(op, ArchiveTable)}
    p.ops = [op for op in p.ops if not (isinstance(op, DropConstraint) and op.table in archiving)]


# --- what only the metadata knows ----------------------------------------------------------


def _previous_field(previous: PreviousVersion | None, objs: list[str], names: list[str]) -> Any:
    """A field as last applied; ``objs`` and ``names`` list current names, then former ones."""
    if previous is None:
        return None
    before = previous.schema.get("objects", {})
    obj = next((before[o] for o in objs if o in before), {})
    fields = obj.get("fields", [])
    for name in names:
        for f in fields:
            if f.get("name") == name:
                return f
    return None


def _codes(values: Any) -> set[str]:
    return {v if isinstance(v, str) else v.get("value") for v in values or []}


def _check_picklists(p: _Planner, previous: PreviousVersion | None) -> None:
    """Refuse removing a picklist value that records still use (or values never in it)."""
    for obj in p.schema.objects.values():
        if obj.name in p.names.new_tables:
            continue
        live_table = p.names.table(obj.name)
        for f in obj.fields:
            if f.kind not in _PICKLISTS or (obj.name, f.name) in p.new_columns:
                continue
            column = p.names.column(obj.name, f.name)
            info = p.live.columns(live_table).get(column)
            if info is None:
                continue
            allowed = {v.value for v in f.values}
            before = _previous_field(
                previous,
                [obj.name, obj.renamed_from or obj.name],
                [f.name, f.renamed_from or f.name],
            )
            refused: set[str] | None = None
            if before is not None and before.get("type") == f.kind:
                refused = _codes(before.get("values")) - allowed
                if not refused:
                    continue
            p.refuse(
                checks.check_picklist(
                    p.conn,
                    f"{obj.name}.{f.name}",
                    live_table,
                    column,
                    info["type"],
                    refused,
                    allowed,
                    multi=f.kind is FieldType.MULTI_PICKLIST,
                )
            )


def _plan_purge(p: _Planner) -> None:
    """Drop archived tables and columns for good (only asked for with ``--purge``)."""
    restoring = {op.archived for op in p.ops if isinstance(op, (RestoreTable, RestoreColumn))}
    for table in sorted(p.live.tables):
        if is_archived(table) and table not in restoring:
            p.ops.append(PurgeTable(table, rows=checks.count_rows(p.conn, table)))
    for name in p.schema.objects:
        if name in p.names.new_tables:
            continue
        live_table = p.names.table(name)
        for column in p.live.columns(live_table):
            if is_archived(column) and column not in restoring:
                values = checks.count_rows(p.conn, live_table, column)
                p.ops.append(PurgeColumn(name, name=column, values=values))


def _plan_backfills(p: _Planner, previous: PreviousVersion | None) -> None:
    """Backfill the formula and rollup fields that are new, restored or defined anew since
    the last applied schema, on records that exist; take over unfinished backfills."""
    pending = _unfinished_backfills(p)
    restored = {(op.table, op.name) for op in p.ops if isinstance(op, RestoreColumn)}
    for obj in p.schema.objects.values():
        if obj.name in p.names.new_tables:
            continue
        fields, reasons = [], []
        for f in obj.fields:
            reason = _backfill_reason(p, previous, obj, f, restored)
            if reason is not None:
                fields.append(f.name)
                reasons.append(reason)
        jobs = pending.get(obj.renamed_from or "", []) + pending.get(obj.name, [])
        computed = {f.name for f in obj.fields if f.kind in _DEFINITION}
        if not fields:
            for job in jobs:
                named = tuple(f for f in job.fields if f in computed)
                p.ops.append(
                    ResumeBackfill(obj.name, job=job.id, fields=named, done=job.done,
                                   total=job.total)
                )  # fmt: skip
            continue
        for job in jobs:
            for name in job.fields:
                if name in computed and name not in fields:
                    fields.append(name)
                    reasons.append("unfinished backfill")
        rows = checks.count_rows(p.conn, p.names.table(obj.name))
        if rows:
            p.ops.append(Backfill(obj.name, fields=tuple(fields), reasons=tuple(reasons),
                                  rows=rows, replaces=tuple(j.id for j in jobs)))  # fmt: skip


def _backfill_reason(
    p: _Planner, previous: PreviousVersion | None, obj: Any, f: Any, restored: set[Any]
) -> str | None:
    keys = _DEFINITION.get(f.kind)
    if keys is None:
        return None
    kind = "formula" if f.kind is FieldType.FORMULA else "rollup"
    if (obj.name, f.name) in p.new_columns:
        return f"new {kind}"
    if (obj.name, f.name) in restored:
        return f"restored {kind}"
    if previous is None:
        return None  # nothing known of what the values were computed by
    before = _previous_field(
        previous, [obj.name, obj.renamed_from or obj.name], [f.name, f.renamed_from or f.name]
    )
    if before is None:
        return f"new {kind}"
    now = msgspec.to_builtins(f)
    if any(now.get(k) != before.get(k) for k in keys):
        return f"changed {kind}"
    return None


@dataclass(frozen=True)
class _Job:
    id: int
    fields: tuple[str, ...]
    done: int
    total: int


def _unfinished_backfills(p: _Planner) -> dict[str, list[_Job]]:
    if "_backfills" not in p.live.tables:
        return {}
    jobs = p.compiled.system["backfills"]
    rows = p.conn.execute(
        sa.select(jobs.c.id, jobs.c.object, jobs.c.fields, jobs.c.done, jobs.c.total)
        .where(jobs.c.finished_at.is_(None))
        .order_by(jobs.c.id)
    )
    found: dict[str, list[_Job]] = {}
    for row in rows:
        job = _Job(row.id, tuple(row.fields), row.done, row.total)
        found.setdefault(row.object, []).append(job)
    return found
