"""The operations a migration plan is made of: small values that describe and apply themselves.

One class per kind of change. Each says in plain words what it will do (``describe``), in
which phase it runs (``phase``: the order that keeps every step valid, e.g. renames after
type changes, which refer to the old name), and how to run it with Alembic's
``Operations`` — inside ``batch_alter_table`` for column and constraint changes, so
SQLite gets its copy-and-swap and PostgreSQL plain ``ALTER TABLE``. Data checks are not
here (see ``checks``): by the time an operation runs, its data has been checked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic.operations import BatchOperations, Operations

from engine.storage.columns import ID_TYPE
from engine.storage.migrate.convert import TypeFamily, family_of

__all__ = [
    "AddColumn",
    "AddForeignKey",
    "ArchiveColumn",
    "ArchiveTable",
    "Backfill",
    "ChangeNullable",
    "ChangeType",
    "CreateIndex",
    "CreateTable",
    "DropConstraint",
    "Operation",
    "Phase",
    "PurgeColumn",
    "PurgeTable",
    "RenameColumn",
    "RenameTable",
    "RestoreColumn",
    "RestoreTable",
    "ResumeBackfill",
    "RunContext",
    "type_words",
]


class Phase(enum.IntEnum):
    """When an operation runs; lower first. Names used by later phases are the final ones."""

    RENAME_TABLES = 5
    RESTORE_TABLES = 10
    DROP_CONSTRAINTS = 20
    CREATE_TABLES = 30
    ALTER_COLUMNS = 40
    RENAME_COLUMNS = 50
    ADD_COLUMNS = 60
    ADD_CONSTRAINTS = 70
    ARCHIVE_TABLES = 80
    BACKFILL = 85
    PURGE = 90


@dataclass(frozen=True)
class RunContext:
    """What an operation needs besides Alembic: the connection, the tenant schema, the
    system tables and the hash of the schema being applied."""

    conn: sa.Connection
    schema: str | None
    system: dict[str, sa.Table] = field(default_factory=dict)
    content_hash: str = ""
    now: Any = None

    @property
    def is_sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"


def type_words(type_: sa.types.TypeEngine[Any]) -> str:
    """A column type in a consultant's words: ``decimal 18,2``, ``text(255)``, ``integer``."""
    family = family_of(type_)
    if family is TypeFamily.TEXT and getattr(type_, "length", None):
        return f"text({type_.length})"  # type: ignore[attr-defined]
    if family is TypeFamily.TEXT:
        return "long text"
    if family is TypeFamily.DECIMAL:
        return f"decimal {type_.precision},{type_.scale}"  # type: ignore[attr-defined]
    if family is TypeFamily.UUID:
        return "reference"
    return str(family)


@dataclass(frozen=True)
class Operation:
    """One step of a plan, on one table (named as it is when the step runs)."""

    phase: ClassVar[Phase]
    #: Runs inside ``batch_alter_table(table)`` (column and constraint changes).
    batched: ClassVar[bool] = True
    #: Changes the tables or records a job (a plan of only other steps records no version).
    changes_schema: ClassVar[bool] = True
    table: str

    def describe(self) -> str:
        raise NotImplementedError

    def identity(self) -> str:
        """What must be the same when the plan is made again under the lock for the
        migration to go ahead (the words, unless counts that live writes move are in them)."""
        return self.describe()

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        raise NotImplementedError

    def finish(self, ctx: RunContext) -> None:
        """Work after the table's batch is done (SQLite copies the table on batch exit)."""

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class CreateTable(Operation):
    phase = Phase.CREATE_TABLES
    batched = False
    definition: sa.Table = field(compare=False)
    #: Foreign keys inline; off on PostgreSQL, where they are added once every table exists.
    with_foreign_keys: bool = True

    def describe(self) -> str:
        kind = "system table" if self.table.startswith("_") else "object"
        return f"create {kind} {self.table} ({len(self.definition.columns)} columns)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        t = self.definition
        columns = [
            sa.Column(
                c.name,
                c.type,
                primary_key=c.primary_key,
                nullable=c.nullable,
                autoincrement=c.autoincrement,
                server_default=c.server_default.arg if c.server_default is not None else None,  # type: ignore[attr-defined]
            )
            for c in t.columns
        ]
        constraints: list[sa.schema.SchemaItem] = [
            sa.UniqueConstraint(*c.columns.keys(), name=c.name)
            for c in t.constraints
            if isinstance(c, sa.UniqueConstraint)
        ]
        if self.with_foreign_keys:
            constraints += [_copy_fk(fk) for fk in t.foreign_key_constraints]
        target.create_table(t.name, *columns, *constraints, schema=ctx.schema)


def _copy_fk(fk: sa.ForeignKeyConstraint) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        fk.column_keys,
        [e.target_fullname for e in fk.elements],
        name=fk.name,
        ondelete=fk.ondelete,
    )


@dataclass(frozen=True)
class RestoreTable(Operation):
    phase = Phase.RESTORE_TABLES
    batched = False
    archived: str = ""
    rows: int = 0

    def describe(self) -> str:
        return f"restore object {self.table} from {self.archived} ({self.rows} rows back)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.rename_table(self.archived, self.table, schema=ctx.schema)


@dataclass(frozen=True)
class RenameTable(Operation):
    """An object renamed with ``renamed_from``: its table, records and history move along.

    Runs first, so every later step uses the new name. Both databases carry foreign keys
    of other tables along: PostgreSQL refers to tables by identity, and SQLite (3.26+,
    ``legacy_alter_table`` off) rewrites the ``REFERENCES`` clauses of the children.
    The system rows keyed by object name (``follow``: field history, audit log,
    autonumber counters) are renamed in the same transaction, so history follows.
    """

    phase = Phase.RENAME_TABLES
    batched = False
    old: str = ""
    rows: int = 0
    #: System tables with an ``object`` column whose rows move to the new name.
    follow: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"rename object {self.old} → {self.table} ({self.rows} records)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.rename_table(self.old, self.table, schema=ctx.schema)
        for name in self.follow:
            system = sa.table(name, sa.column("object", sa.String), schema=ctx.schema)
            ctx.conn.execute(
                system.update().where(system.c.object == self.old).values(object=self.table)
            )


@dataclass(frozen=True)
class ArchiveTable(Operation):
    phase = Phase.ARCHIVE_TABLES
    batched = False
    archived: str = ""
    rows: int = 0

    def describe(self) -> str:
        return f"archive object {self.table} as {self.archived} ({self.rows} rows kept)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.rename_table(self.table, self.archived, schema=ctx.schema)


@dataclass(frozen=True)
class PurgeTable(Operation):
    phase = Phase.PURGE
    batched = False
    rows: int = 0

    def describe(self) -> str:
        return f"purge archived table {self.table} ({self.rows} rows deleted for good)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.drop_table(self.table, schema=ctx.schema)


@dataclass(frozen=True)
class AddColumn(Operation):
    phase = Phase.ADD_COLUMNS
    definition: sa.Column[Any] = field(compare=False, default=None)  # type: ignore[assignment]

    def describe(self) -> str:
        c = self.definition
        required = ", required" if not c.nullable else ""
        return f"add field {self.table}.{c.name} ({type_words(c.type)}{required})"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        c = self.definition
        target.add_column(sa.Column(c.name, c.type, nullable=c.nullable))  # type: ignore[call-arg]


@dataclass(frozen=True)
class RenameColumn(Operation):
    phase = Phase.RENAME_COLUMNS
    old: str = ""
    new: str = ""

    def describe(self) -> str:
        return f"rename field {self.table}.{self.old} → {self.table}.{self.new}"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.alter_column(self.old, new_column_name=self.new)  # type: ignore[call-arg]


@dataclass(frozen=True)
class RestoreColumn(Operation):
    phase = Phase.RENAME_COLUMNS
    archived: str = ""
    name: str = ""
    values: int = 0

    def describe(self) -> str:
        return (
            f"restore field {self.table}.{self.name} from {self.archived} "
            f"({self.values} values back)"
        )

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.alter_column(self.archived, new_column_name=self.name)  # type: ignore[call-arg]


@dataclass(frozen=True)
class ArchiveColumn(Operation):
    phase = Phase.RENAME_COLUMNS
    name: str = ""
    archived: str = ""
    values: int = 0
    #: Archived columns are optional, so new records need not fill a field that is gone.
    was_required: bool = False

    def describe(self) -> str:
        return (
            f"archive field {self.table}.{self.name} as {self.archived} ({self.values} values kept)"
        )

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.alter_column(  # type: ignore[call-arg]
            self.name,
            new_column_name=self.archived,
            nullable=True if self.was_required else None,
        )


@dataclass(frozen=True)
class PurgeColumn(Operation):
    phase = Phase.PURGE
    values: int = 0

    name: str = ""

    def describe(self) -> str:
        return (
            f"purge archived column {self.table}.{self.name} "
            f"({self.values} values deleted for good)"
        )

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.drop_column(self.name)  # type: ignore[call-arg]


@dataclass(frozen=True)
class ChangeType(Operation):
    """Convert a column; its values were checked, and on SQLite are rewritten exactly."""

    phase = Phase.ALTER_COLUMNS
    column: str = ""
    old_type: sa.types.TypeEngine[Any] = field(compare=False, default=None)  # type: ignore[assignment]
    new_type: sa.types.TypeEngine[Any] = field(compare=False, default=None)  # type: ignore[assignment]
    nullable: bool = True
    #: (record id, converted value) for every non-null value.
    converted: tuple[tuple[str, Any], ...] = field(compare=False, default=())

    def describe(self) -> str:
        return (
            f"change {self.table}.{self.column} from {type_words(self.old_type)} to "
            f"{type_words(self.new_type)} ({len(self.converted)} rows convert)"
        )

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        extra: dict[str, Any] = {}
        if not ctx.is_sqlite:
            compiled = self.new_type.compile(dialect=ctx.conn.dialect)
            extra["postgresql_using"] = f'CAST("{self.column}" AS {compiled})'
        target.alter_column(  # type: ignore[call-arg]
            self.column,
            type_=self.new_type,
            existing_type=self.old_type,
            existing_nullable=self.nullable,
            **extra,
        )

    def finish(self, ctx: RunContext) -> None:
        # SQLite's CAST follows its own affinity rules ('true' AS BOOLEAN is 0), so write
        # back the values the checks converted in Python.
        if not ctx.is_sqlite or not self.converted:
            return
        table = sa.table(
            self.table, sa.column("id", ID_TYPE), sa.column(self.column, self.new_type)
        )
        stmt = (
            table.update()
            .where(table.c.id == sa.bindparam("_id"))
            .values({self.column: sa.bindparam("_value", type_=self.new_type)})
        )
        ctx.conn.execute(stmt, [{"_id": i, "_value": v} for i, v in self.converted])


@dataclass(frozen=True)
class ChangeNullable(Operation):
    phase = Phase.ALTER_COLUMNS
    column: str = ""
    nullable: bool = True
    existing_type: sa.types.TypeEngine[Any] = field(compare=False, default=None)  # type: ignore[assignment]

    def describe(self) -> str:
        state = "optional (nulls allowed)" if self.nullable else "required (not null)"
        return f"make {self.table}.{self.column} {state}"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.alter_column(  # type: ignore[call-arg]
            self.column, nullable=self.nullable, existing_type=self.existing_type
        )


@dataclass(frozen=True)
class CreateIndex(Operation):
    """An index or a unique constraint (both keep values findable; the latter forbids twins)."""

    phase = Phase.ADD_CONSTRAINTS
    name: str = ""
    columns: tuple[str, ...] = ()
    unique: bool = False
    constraint: bool = False

    def describe(self) -> str:
        what = "unique constraint" if self.unique else "index"
        return f"add {what} {self.name} on {self.table} ({', '.join(self.columns)})"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        if self.constraint:
            target.create_unique_constraint(self.name, list(self.columns))  # type: ignore[call-arg]
        else:
            target.create_index(self.name, list(self.columns), unique=self.unique)  # type: ignore[call-arg]


@dataclass(frozen=True)
class AddForeignKey(Operation):
    phase = Phase.ADD_CONSTRAINTS
    name: str = ""
    columns: tuple[str, ...] = ()
    target_table: str = ""
    target_columns: tuple[str, ...] = ("id",)
    ondelete: str | None = None

    def describe(self) -> str:
        cols = ", ".join(self.columns)
        return f"add reference {self.table}.{cols} → {self.target_table} ({self.name})"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        target.create_foreign_key(  # type: ignore[call-arg]
            self.name,
            self.target_table,
            list(self.columns),
            list(self.target_columns),
            ondelete=self.ondelete,
            referent_schema=ctx.schema,
        )


class ConstraintKind(enum.StrEnum):
    INDEX = "index"
    UNIQUE = "unique"
    FOREIGN_KEY = "foreignkey"


@dataclass(frozen=True)
class DropConstraint(Operation):
    """Drop an index, unique constraint or reference; no data is lost."""

    phase = Phase.DROP_CONSTRAINTS
    name: str = ""
    what: ConstraintKind = ConstraintKind.INDEX

    def describe(self) -> str:
        words = {
            ConstraintKind.INDEX: "index",
            ConstraintKind.UNIQUE: "unique constraint",
            ConstraintKind.FOREIGN_KEY: "reference",
        }
        return f"drop {words[self.what]} {self.name} on {self.table} (no data lost)"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        if self.what is ConstraintKind.INDEX:
            target.drop_index(self.name)  # type: ignore[call-arg]
        else:
            target.drop_constraint(self.name, type_=str(self.what))  # type: ignore[call-arg]


@dataclass(frozen=True)
class Backfill(Operation):
    """Fill formula and rollup fields that are new or whose definition changed, on the
    records that exist. In the migration's transaction only the job is recorded (in
    ``_backfills``, replacing unfinished jobs of the same object); the records are filled
    after the commit, in batches by id that record their progress, so a killed backfill
    goes on where it stopped (``engine.records.backfill``)."""

    phase = Phase.BACKFILL
    batched = False
    fields: tuple[str, ...] = ()
    #: Per field, why: ``new formula``, ``changed rollup``...
    reasons: tuple[str, ...] = ()
    rows: int = 0
    #: Unfinished jobs of this object that this one takes over.
    replaces: tuple[int, ...] = ()

    def describe(self) -> str:
        named = ", ".join(
            f"{self.table}.{f} ({why})" for f, why in zip(self.fields, self.reasons, strict=True)
        )
        return f"backfill {named} on {self.rows} records, as saving each would compute them"

    def identity(self) -> str:
        # records created since the plan was shown are filled too: the count may move
        return f"backfill {self.table}: {', '.join(self.fields)}"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        jobs = ctx.system["backfills"]
        if self.replaces:
            ctx.conn.execute(
                jobs.update().where(jobs.c.id.in_(self.replaces)).values(finished_at=ctx.now)
            )
        ctx.conn.execute(
            jobs.insert().values(
                object=self.table, fields=list(self.fields), content_hash=ctx.content_hash,
                total=self.rows, done=0, changed=0, created_at=ctx.now,
            )
        )  # fmt: skip


@dataclass(frozen=True)
class ResumeBackfill(Operation):
    """A backfill a previous migration recorded and that has not finished (it was killed,
    or is running): it goes on from the record where it stopped."""

    phase = Phase.BACKFILL
    batched = False
    changes_schema = False
    job: int = 0
    fields: tuple[str, ...] = ()
    done: int = 0
    total: int = 0

    def describe(self) -> str:
        named = ", ".join(f"{self.table}.{f}" for f in self.fields)
        return f"resume backfill of {named} ({self.done} of {self.total} records done)"

    def identity(self) -> str:
        return f"resume backfill {self.job}"

    def run(self, target: Operations | BatchOperations, ctx: RunContext) -> None:
        """Nothing in the migration's transaction: the job is already recorded."""
