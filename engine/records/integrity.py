"""Checks against other rows, before the write: references point at live records, unique
values are not taken.

The database enforces both too (foreign keys, unique constraints), but its error names a
constraint, not a field, and arrives one row at a time. These checks name the field in the
user's language, report every bad row of a bulk call at once, and run one query per field
per chunk. A write that races past them still meets the constraint; the service turns that
into a WriteCollision (409) so the client retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema, walked_target
from engine.records.errors import FieldError
from engine.records.messages import message
from engine.records.prepare import SYSTEM_LABELS, Prepared, field_label
from engine.rule_checks import USER_FIELDS, USER_OBJECT
from engine.storage.tables import ORG_UNIT_OBJECT
from metadata.model.fields import FieldType

__all__ = ["RelatedRecords", "check_references", "check_unique"]

_UNSET = object()


class RelatedRecords:
    """The live records that rules read through lookups (``contact.account``), loaded once
    per call; a record found here needs no second query to prove the reference is live."""

    def __init__(self, conn: sa.Connection, compiled: CompiledSchema, cobj: CompiledObject):
        self._conn = conn
        self._compiled = compiled
        self._cobj = cobj
        self.loaded: dict[tuple[str, Any], dict[str, Any] | None] = {}

    def __call__(self, field: str, record_id: Any) -> dict[str, Any] | None:
        key = (field, record_id)
        if key not in self.loaded:
            self.loaded[key] = self._load(walked_target(self._cobj, field), record_id)
        return self.loaded[key]

    def _load(self, target: str | None, record_id: Any) -> dict[str, Any] | None:
        if target == USER_OBJECT:  # a user as rules may read one: ``USER_FIELDS`` only
            users = self._compiled.tables.system["users"]
            columns = [users.c[name] for name in USER_FIELDS]
            query = sa.select(*columns).where(users.c.id == record_id, users.c.disabled.is_(False))
            row = self._conn.execute(query).mappings().first()
        else:
            name = target or ""
            kept = self._compiled.once(f"integrity.live_record {name}",
                                       lambda c: _live_record(c.tables[name]))  # fmt: skip
            row = self._conn.execute(kept, {_ID: record_id}).mappings().first()
        return dict(row) if row is not None else None


def check_references(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    prepared: list[Prepared],
    related: RelatedRecords | None = None,
    visible: Callable[[CompiledObject], sa.ColumnElement[bool] | None] | None = None,
) -> None:
    """Lookups, user fields, ``owner`` and ``org_unit`` must name a live record or user.

    Archived records and disabled users are refused like missing ones. With ``visible``
    (the writer's read filter per object), a lookup to a record the writer may not read
    is refused the same way, so a lookup cannot be used to learn that a record exists.
    """
    for name, label, table, live, query in _reference_targets(compiled, cobj):
        wanted = {_new(p, name) for p in prepared} - {None, _UNSET}
        if not wanted:
            continue
        found = set()
        target = compiled.objects.get(getattr(cobj.fields.get(name), "to", None) or "")
        allowed = visible(target) if visible is not None and target is not None else None
        if allowed is not None:
            query = _live_ids(table, sa.and_(live, allowed))
        elif related is not None:
            found = {v for v in wanted if related.loaded.get((name, v)) is not None}
        if not wanted - found:
            continue
        found |= set(conn.execute(query, {_IDS: sorted(wanted - found, key=str)}).scalars())
        for p in prepared:
            value = _new(p, name)
            if value not in (None, _UNSET) and value not in found:
                p.errors.append(
                    FieldError(
                        field=name,
                        rule="reference",
                        code="bad_reference",
                        message=message("bad_reference", label=label),
                    )
                )


def _live_record(table: sa.Table) -> sa.Select[Any]:
    """The live row whose id is ``_ID``."""
    return sa.select(table).where(table.c.id == sa.bindparam(_ID), table.c.archived.is_(False))


def _live_ids(table: sa.Table, live: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The ids among ``_IDS`` (a list) of rows that meet ``live``."""
    return sa.select(table.c.id).where(table.c.id.in_(sa.bindparam(_IDS, expanding=True)), live)


_ID, _IDS = "_id", "_ids"


def check_unique(
    conn: sa.Connection, compiled: CompiledSchema, cobj: CompiledObject, prepared: list[Prepared]
) -> None:
    """No two records share a value of a unique field (or of a unique set of fields).

    Archived records keep their values, as the constraint does. Empty values never clash
    (SQL treats NULLs as distinct). Rows of the same call are compared with each other too.
    """
    table = compiled.tables[cobj.name]
    for columns in unique_keys(table):
        candidates: dict[tuple[Any, ...], list[Prepared]] = {}
        for p in prepared:
            if p.errors or not any(c in p.changed for c in columns):
                continue
            key = tuple(p.row.get(c) for c in columns)
            if None not in key:
                candidates.setdefault(key, []).append(p)
        if not candidates:
            continue
        cols = [table.c[c] for c in columns]
        match = (
            cols[0].in_([k[0] for k in candidates])
            if len(cols) == 1
            else (sa.tuple_(*cols).in_(list(candidates)))
        )
        taken: dict[tuple[Any, ...], set[str]] = {}
        for row in conn.execute(sa.select(table.c.id, *cols).where(match)):
            taken.setdefault(tuple(row[1:]), set()).add(row[0])
        for key, rows in candidates.items():
            holders = set(taken.get(key, ()))
            for p in rows:
                if holders - {p.row.get("id")}:
                    _blame(cobj, p, columns, key)
                holders.add(p.row.get("id") or str(id(p)))


def unique_keys(table: sa.Table) -> list[tuple[str, ...]]:
    """The column sets of the table's unique constraints, as the storage layer declared them."""
    return [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    ]


def _blame(cobj: CompiledObject, p: Prepared, columns: Sequence[str], key: tuple[Any, ...]) -> None:
    """The taken key, quoting only the parts this write's caller sent (a stored part of
    the key may be a field they may not read)."""
    name = next(c for c in columns if c in p.changed)
    label = field_label(cobj, name)
    if all(c in p.sent for c in columns):
        text = message("not_unique", label=label, value=" / ".join(str(v) for v in key))
    else:
        text = message("taken", label=label)
    p.errors.append(FieldError(field=name, rule="unique", code="not_unique", message=text))


def _new(p: Prepared, name: str) -> Any:
    """The value this write sets ``name`` to, or _UNSET when it leaves it alone."""
    change = p.changed.get(name)
    return _UNSET if change is None else change[1]


#: field, label, target table, its live rows, the ids among ``_IDS`` of those
_Target = tuple[str, dict[str, str], sa.Table, sa.ColumnElement[bool], sa.Select[Any]]


def _reference_targets(compiled: CompiledSchema, cobj: CompiledObject) -> list[_Target]:
    """Every reference ``cobj`` has, built once per schema: the conditions and the query
    are SQL expressions, costly to build (and to key for SQLAlchemy's cache) every write."""
    return compiled.once(f"reference_targets {cobj.name}",
                         lambda _: list(_targets_of(compiled, cobj)))  # fmt: skip


def _targets_of(compiled: CompiledSchema, cobj: CompiledObject) -> Iterator[_Target]:
    for name, label, table, live in _references(compiled, cobj):
        yield name, label, table, live, _live_ids(table, live)


def _references(
    compiled: CompiledSchema, cobj: CompiledObject
) -> Iterator[tuple[str, dict[str, str], sa.Table, sa.ColumnElement[bool]]]:
    tables = compiled.tables
    users = tables.system["users"]
    for name, fdef in cobj.fields.items():
        target = getattr(fdef, "to", None)
        if target in tables.objects:
            table = tables[target]
            yield name, fdef.label, table, table.c.archived.is_(False)
        elif fdef.kind is FieldType.USER:
            yield name, fdef.label, users, users.c.disabled.is_(False)
    yield "owner", SYSTEM_LABELS["owner"], users, users.c.disabled.is_(False)
    if ORG_UNIT_OBJECT in tables.objects:
        org_units = tables[ORG_UNIT_OBJECT]
        yield "org_unit", SYSTEM_LABELS["org_unit"], org_units, org_units.c.archived.is_(False)
