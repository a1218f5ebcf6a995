"""Listing records: JsonLogic filters compiled to SQL, multi-key sort, keyset pages.

The filter, the authorizer's row filter and the archived flag are one WHERE clause, so
the database does the filtering and no row is fetched to be dropped in Python. Pages are
keyset-based: the cursor is an opaque token holding the last row's sort values and id,
so page N costs the same as page 1 and concurrent inserts do not shift pages.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.actor import Actor
from engine.records.authorize import RowAccess, RuleReader, Viewer
from engine.records.cursor import InvalidCursor, decode_cursor, encode_cursor
from engine.records.errors import RecordError
from engine.rules import EvalEnv, FieldHidden, system_clock, to_sql_with_env
from engine.storage.tables import SYSTEM_COLUMNS

__all__ = ["BadQuery", "Page", "SqlFilters", "list_records"]

MAX_LIMIT = 500


class BadQuery(RecordError):
    """A list request that cannot be run as asked (unknown field, bad cursor, bad filter)."""

    code = "bad_query"


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None
    #: ``(object, field)`` of the personal fields the filter and sort read: each such use
    #: is audited like a reveal.
    personal: tuple[tuple[str, str], ...] = ()


class SqlFilters:
    """List filters compiled to SQL, each rule once per schema when it can be.

    A list view sends the same filter with every page and every refresh; compiling it is
    most of a list request's Python work. A rule that reads neither the user nor the clock
    compiles to the same expression for everyone with the same roles, so it is kept
    (SQLAlchemy expressions are immutable and shared safely between threads), with the
    personal fields it reads. One whose SQL depends on who reads it (a path through a
    lookup reaches only the targets the reader may open; their own records' personal
    data) is kept per actor: the SQL holds no looked-up data (memberships, the unit tree
    and shares are read by the database when it runs), and the actor's value (user, roles,
    units) is part of the key, so no two readers share one. One that reads the clock, or
    whose reader's access reads it, is compiled per call.
    """

    def __init__(
        self,
        compiled: CompiledSchema,
        clock: Callable[[], dt.datetime] = system_clock,
        keep: int = 512,
    ):
        self.compiled = compiled
        self.clock = clock
        self.keep = keep
        self._kept: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def where(
        self,
        cobj: CompiledObject,
        rule: Any,
        actor: Actor,
        reader: RuleReader | None = None,
    ) -> sa.ColumnElement[bool]:
        """The SQL condition of ``rule`` on ``cobj``'s table, for ``actor``.

        Args:
            reader: For a rule the actor wrote (a filter, a search): what they may read,
                asked for every field the rule reaches. None for the packs' own rules.

        Raises:
            BadQuery: The rule does not compile, has no SQL form, or reads a field the
                reader may not use; the reason says why.
        """
        try:
            key: Any = (cobj.name, json.dumps(rule, sort_keys=True))
        except (TypeError, ValueError):
            key = None  # not plain JSON (a caller passed dates or such): compile each time
        if key and reader is not None:
            key = (*key, actor.roles)  # the roles decide what the reader may read
        kept = self._kept.get(key) if key else None
        if kept is _PER_USER:
            kept = self._kept.get((*key, actor))
        if kept is not None:
            if reader is not None:
                reader.personal.extend(p for p in kept[1] if p not in reader.personal)
            kept_where: sa.ColumnElement[bool] = kept[0]
            return kept_where
        env = EvalEnv(user=actor.as_user(), timezone=actor.timezone, clock=self.clock)
        table = self.compiled.tables[cobj.name]
        try:
            where, uses_env = to_sql_with_env(
                rule,
                table,
                cobj.context,
                tables=self.compiled.rule_tables,
                env=env,
                reader=reader,
            )
        except FieldHidden as exc:
            raise BadQuery(f"cannot filter on {exc.object_name}.{exc.field}: {exc.reason}") from exc
        except Exception as exc:  # RuleCompileError / RuleNotSqlError carry the reason
            raise BadQuery(f"filter cannot be used: {exc}") from exc
        if key and not uses_env and not (reader is not None and reader.timely):
            found = (where, list(reader.personal) if reader else [])
            with self._lock:
                if reader is not None and reader.per_user:
                    self._keep(key, _PER_USER)  # not the same for everyone with these roles
                    self._keep((*key, actor), found)
                else:
                    self._keep(key, found)
        return where

    def kept(self, cobj: CompiledObject, rule: Any) -> bool:
        """Whether a pack's ``rule`` on ``cobj`` is kept, which it is only when its SQL
        reads neither the user nor the clock (and it has been compiled)."""
        try:
            return (cobj.name, json.dumps(rule, sort_keys=True)) in self._kept
        except (TypeError, ValueError):
            return False

    def _keep(self, key: Any, value: Any) -> None:
        if key not in self._kept and len(self._kept) >= self.keep:
            del self._kept[next(iter(self._kept))]  # the oldest
        self._kept[key] = value


#: Kept in place of a rule whose SQL differs from reader to reader with the same roles.
_PER_USER = object()


def list_records(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    viewer: Viewer,
    filters: SqlFilters,
    *,
    filter: Any = None,
    sort: list[str] | None = None,
    limit: int = 50,
    cursor: str | None = None,
    fields: list[str] | None = None,
    expand: list[str] | None = None,
    count: bool = False,
) -> Page:
    """One page of ``cobj``'s live records, as ``viewer`` may see them.

    Only records the viewer may read are selected (their row filter is part of the
    WHERE clause); filtering, sorting, choosing or expanding a field they may not read is
    refused as if the field did not exist.

    Args:
        filter: A JsonLogic rule; refused (BadQuery) when it has no SQL form.
        sort: Field names, ``-name`` for descending; ``id`` is always the last key.
        limit: Page size, at most 500.
        cursor: The ``next_cursor`` of the previous page.
        fields: Columns to return (``id`` and ``version`` always come along).
        expand: Lookup fields whose target record replaces the id (one level).
        count: Also count every matching record (costs a second query).
    """
    table = compiled.tables[cobj.name]
    readable = viewer.readable(cobj)
    known = set(readable) if readable is not None else set(SYSTEM_COLUMNS) | set(cobj.fields)
    reader = viewer.rule_reader()
    conditions: list[sa.ColumnElement[bool]] = [table.c.archived.is_(False)]
    if filter is not None:
        conditions.append(filters.where(cobj, filter, viewer.actor, reader))
    access = viewer.access(cobj)
    paths: list[sa.ColumnElement[bool]] | None = None
    if access is not None:
        conditions.extend(access.restricts)
        paths = _access_paths(conn, access, viewer.actor)
    keys = _sort_keys(sort or [], known, cobj, table, reader)
    order: list[Any] = []
    for column, descending in keys:
        if column.nullable:  # nulls last on every database; a NOT NULL key keeps its index
            order.append(column.is_(None))
        order.append(column.desc() if descending else column.asc())
    limit = max(1, min(limit, MAX_LIMIT))
    page = conditions + ([_after(keys, _cursor_values(cursor, keys))] if cursor else [])
    selected = _columns(table, fields, known)
    # The cursor is read off the last row, so the sort keys ride along (and leave after).
    riders = [c for c, _ in keys if c not in selected]
    query = sa.select(*selected, *riders)
    if paths is not None and len(paths) > 1:
        query = query.where(table.c.id.in_(_first_of_each(table, paths, page, order, limit + 1)))
    else:
        query = query.where(*page, *(paths or []))
    rows = [dict(r) for r in conn.execute(query.order_by(*order).limit(limit + 1)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1][c.name] for c, _ in keys]) if more and rows else None
    for row in rows:
        for column in riders:
            del row[column.name]
    rows = [viewer.present(cobj, row) for row in rows]
    if expand:
        _expand(conn, compiled, cobj, rows, expand, viewer, known)
    total = None
    if count:
        reach = [sa.or_(*paths)] if paths is not None else []
        counting = sa.select(sa.func.count()).select_from(table).where(*conditions, *reach)
        total = conn.execute(counting).scalar()
    personal = tuple(reader.personal) if reader is not None else ()
    return Page(records=rows, next_cursor=next_cursor, total=total, personal=personal)


def _access_paths(
    conn: sa.Connection, access: RowAccess, actor: Actor
) -> list[sa.ColumnElement[bool]] | None:
    """The ways a row may be reached, the units bound as values (looked up once per actor).

    With the unit ids in hand the database plans with real numbers: a dealer's one unit
    is an equality its ``(org_unit, id)`` index serves in page order, and a region's
    units an IN list whose share of the table the statistics know. Left as a subquery,
    the planner guesses, and walks the whole table for a unit with few records.
    """
    if access.paths is None:
        return None
    paths = list(access.paths)
    if access.units is not None:
        column, units = access.units.column, access.units.ids(conn, actor)
        if len(units) == 1:
            paths.insert(1, column == units[0])
        elif units:
            paths.insert(1, column.in_(units))
    return paths or [sa.false()]


def _first_of_each(
    table: sa.Table,
    paths: list[sa.ColumnElement[bool]],
    conditions: list[sa.ColumnElement[bool]],
    order: list[Any],
    size: int,
) -> sa.CompoundSelect[Any]:
    """The ids of the first ``size`` rows of each access path in page order (a row
    reached two ways comes twice; the caller selects by id).

    The page is among them: a row on it is, in each path that reaches it, no further
    back than on the page. Each branch is one condition the database can serve from its
    own index and stop early, where one query with the paths OR-ed would walk the table
    in page order and filter, slow when the user reaches few rows.
    """
    branches = [
        sa.select(table.c.id).where(*conditions, path).order_by(*order).limit(size).subquery()
        for path in paths
    ]
    # A bare ``id`` (the branch's only column) rather than ``branch.c.id``: making a
    # subquery's columns copies the table's Column objects, a third of this function's time.
    ids = sa.column("id", table.c.id.type)
    return sa.union_all(*(sa.select(ids).select_from(branch) for branch in branches))


def _columns(table: sa.Table, fields: list[str] | None, known: set[str]) -> list[sa.Column[Any]]:
    if not fields:
        return [c for c in table.c if c.name in known]
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise BadQuery(f"unknown field(s): {', '.join(unknown)}")
    wanted = dict.fromkeys(["id", "version", *fields])
    return [table.c[name] for name in wanted]


def _sort_keys(
    sort: list[str],
    known: set[str],
    cobj: CompiledObject,
    table: sa.Table,
    reader: RuleReader | None,
) -> list[tuple[Any, bool]]:
    keys = []
    for item in sort:
        descending = item.startswith("-")
        name = item.lstrip("-+")
        if name not in known:
            raise BadQuery(f"cannot sort on unknown field {name!r}")
        if name == "id":
            continue
        try:
            column = reader.sort_column(cobj.name, name, table) if reader else table.c[name]
        except FieldHidden as exc:
            raise BadQuery(f"cannot sort on {name!r}: {exc.reason}") from exc
        keys.append((column, descending))
    keys.append((table.c.id, False))
    return keys


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the (nulls last) order of ``keys``."""
    clauses = []
    for i, (column, descending) in enumerate(keys):
        equal_before = [_same(c, v) for (c, _), v in zip(keys[:i], values[:i], strict=True)]
        value = values[i]
        if value is None:
            continue  # nothing sorts after null at this position except by later keys
        if isinstance(value, bool):  # SQLAlchemy takes a bare True/False for IS, not for >
            value = sa.literal(value, column.type)
        beyond = column < value if descending else column > value
        clauses.append(sa.and_(*equal_before, sa.or_(beyond, column.is_(None))))
    return sa.or_(*clauses) if clauses else sa.false()


def _same(column: Any, value: Any) -> sa.ColumnElement[bool]:
    same: sa.ColumnElement[bool] = column.is_(None) if value is None else column == value
    return same


def _cursor_values(cursor: str, keys: list[tuple[Any, bool]]) -> list[Any]:
    try:
        return decode_cursor(cursor, [column for column, _ in keys])
    except InvalidCursor as exc:
        raise BadQuery(str(exc)) from exc


def _expand(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    rows: list[dict[str, Any]],
    expand: list[str],
    viewer: Viewer,
    known: set[str],
) -> None:
    """Lookups replaced by their records, where the viewer may read the target record; a
    lookup to a record they may not read keeps its bare id."""
    for name in expand:
        target = getattr(cobj.fields.get(name), "to", None)
        if target is None or name not in known:
            raise BadQuery(f"{name!r} is not a lookup that can be expanded")
        ids = {r[name] for r in rows if r.get(name)}
        if not ids:
            continue
        table = compiled.tables[target]
        tobj = compiled.objects[target]
        query = sa.select(table).where(table.c.id.in_(ids), table.c.archived.is_(False))
        allowed = viewer.rows(tobj)
        if allowed is not None:
            query = query.where(allowed)
        found = {r["id"]: viewer.present(tobj, dict(r)) for r in conn.execute(query).mappings()}
        for row in rows:
            if row.get(name) in found:
                row[name] = found[row[name]]
