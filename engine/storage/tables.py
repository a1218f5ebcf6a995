"""Compile a resolved schema into SQLAlchemy Core tables: one real table per object.

Every object table has the system columns (id, owner, org unit, created/updated at and
by, version for optimistic locking, archived flag), one typed column per field, foreign
keys with the declared on-delete behaviour, and the indexes and unique constraints the
metadata asks for. Beside them live the engine's own tables (``engine.storage.system``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from engine.storage.columns import ID_TYPE, UTCDateTime, column_type, rollup_type
from engine.storage.system import define_system_tables
from metadata import ResolvedObject, ResolvedSchema
from metadata.check import SYSTEM_FIELDS
from metadata.model.fields import FieldType, OnDelete

__all__ = [
    "ORG_UNIT_OBJECT",
    "SYSTEM_COLUMNS",
    "CompiledTables",
    "compile_tables",
    "constraint_name",
]

SYSTEM_COLUMNS = SYSTEM_FIELDS
_ON_DELETE = {
    OnDelete.RESTRICT: "RESTRICT",
    OnDelete.SET_NULL: "SET NULL",
    OnDelete.CASCADE: "CASCADE",
}
ORG_UNIT_OBJECT = "org_unit"


@dataclass(frozen=True)
class CompiledTables:
    """The tables of one schema version, sharing one ``MetaData``."""

    metadata: sa.MetaData
    objects: dict[str, sa.Table]
    system: dict[str, sa.Table]

    def __getitem__(self, object_name: str) -> sa.Table:
        return self.objects[object_name]


def compile_tables(schema: ResolvedSchema) -> CompiledTables:
    """Tables for every object of ``schema`` (same metadata, same tables, on any database)."""
    metadata = sa.MetaData()
    system = define_system_tables(metadata)
    objects = {name: _object_table(metadata, obj, schema) for name, obj in schema.objects.items()}
    return CompiledTables(metadata=metadata, objects=objects, system=system)


def constraint_name(kind: str, table: str, columns: list[str]) -> str:
    """A deterministic name within PostgreSQL's 63 characters."""
    name = f"{kind}_{table}_{'_'.join(columns)}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52]}_{digest}"


def _object_table(metadata: sa.MetaData, obj: ResolvedObject, schema: ResolvedSchema) -> sa.Table:
    org_fk = (
        [
            sa.ForeignKey(
                f"{ORG_UNIT_OBJECT}.id",
                ondelete="RESTRICT",
                name=constraint_name("fk", obj.name, ["org_unit"]),
            )
        ]
        if ORG_UNIT_OBJECT in schema.objects and obj.name != ORG_UNIT_OBJECT
        else []
    )
    columns: list[sa.Column[object]] = [
        sa.Column("id", ID_TYPE, primary_key=True),
        sa.Column("owner", ID_TYPE),
        sa.Column("org_unit", ID_TYPE, *org_fk),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", ID_TYPE),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", ID_TYPE),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    ]
    # columns -> unique?; a unique constraint also serves as the index, so it wins.
    wanted: dict[tuple[str, ...], tuple[bool, str | None]] = {}

    def want(cols: tuple[str, ...], unique: bool, name: str | None = None) -> None:
        if not wanted.get(cols, (False, None))[0]:
            wanted[cols] = (unique, name)

    for field in obj.fields:
        args: list[sa.schema.SchemaItem] = []
        relation = field.kind in (FieldType.LOOKUP, FieldType.MASTER_DETAIL)
        if relation and field.to in schema.objects:
            ondelete = _ON_DELETE[OnDelete(field.on_delete)]
            fk_name = constraint_name("fk", obj.name, [field.name])
            args.append(sa.ForeignKey(f"{field.to}.id", ondelete=ondelete, name=fk_name))
        nullable = field.kind is not FieldType.MASTER_DETAIL
        kind = (
            rollup_type(schema.rollup_result(field))
            if field.kind is FieldType.ROLLUP
            else column_type(field)
        )
        columns.append(sa.Column(field.name, kind, *args, nullable=nullable))
        if getattr(field, "unique", False) or getattr(field, "external_id", False):
            want((field.name,), True)
        elif field.indexed or relation or field.kind is FieldType.USER:
            want((field.name,), False)
    for index in obj.indexes:
        want(tuple(index.fields), index.unique, index.name)
    constraints: list[sa.schema.SchemaItem] = []
    for cols, (unique, name) in wanted.items():
        name = name or constraint_name("uq" if unique else "ix", obj.name, list(cols))
        constraints.append(
            sa.UniqueConstraint(*cols, name=name) if unique else sa.Index(name, *cols)
        )
    table = sa.Table(obj.name, metadata, *columns, *constraints)
    # Whose and where, each with the id: a list of one user's or one unit's records reads
    # them from the index in page order (see engine.records.query).
    for key in ("owner", "org_unit", "updated_at"):
        sa.Index(constraint_name("ix", obj.name, [key, "id"]), table.c[key], table.c.id)
    return table
