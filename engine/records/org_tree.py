"""The organisation tree as a materialised path, kept by the record service.

Each org unit stores ``path``: the ids from the root down to itself, ``/root/…/self/``.
"This unit and everything below" is then one indexed prefix match, whatever the depth,
and moving a unit rewrites its subtree's paths in the same transaction, so access
follows the move at once. Ids, not codes, make the path: codes may be renamed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from engine.records.errors import FieldError, ValidationFailed
from engine.records.messages import message

__all__ = ["below_unit", "place_units", "subtree_ids", "unit_and_above", "unit_position"]


def subtree_ids(units: sa.Table, roots: Any) -> sa.Select[Any]:
    """The ids of the ``roots`` units and every unit below them (a SELECT for ``IN``).

    ``roots`` is one unit id or a SELECT of unit ids.
    """
    root = _root_alias(units)
    if not isinstance(roots, sa.Select | sa.CompoundSelect):
        roots = sa.select(sa.literal(roots, units.c.id.type))
    return (
        sa.select(units.c.id)
        .join(root, units.c.path.like(root.c.path + "%"))
        .where(root.c.id.in_(roots))
    )


@functools.cache
def _root_alias(units: sa.Table) -> Any:
    """One alias per table: building its column collection costs more than the query."""
    return units.alias("root")


def unit_and_above(conn: sa.Connection, units: sa.Table | None, unit_id: Any) -> list[str]:
    """The unit and its ancestors, root first, read off its path (no recursion)."""
    if unit_id is None or units is None:
        return []
    path = conn.execute(sa.select(units.c.path).where(units.c.id == unit_id)).scalar()
    return [p for p in (path or "").split("/") if p] or [str(unit_id)]


def place_units(conn: sa.Connection, units: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Set ``path`` and ``depth`` on new units; a parent may be earlier in ``rows``."""
    placed: dict[Any, tuple[str, int]] = {}
    for row in rows:
        parent = row.get("parent")
        if parent is None:
            path, depth = "/", -1
        elif parent in placed:
            path, depth = placed[parent]
        else:
            path, depth = _position(conn, units, parent)
        row["path"] = f"{path}{row['id']}/"
        row["depth"] = depth + 1
        placed[row["id"]] = (row["path"], row["depth"])


def unit_position(
    conn: sa.Connection, units: sa.Table, old: Mapping[str, Any], parent: Any, locale: str
) -> dict[str, Any]:
    """The unit's new ``path`` and ``depth`` under ``parent``.

    Raises:
        ValidationFailed: ``parent`` is the unit itself or lies below it.
    """
    path, depth = ("/", -1) if parent is None else _position(conn, units, parent)
    old_path = old["path"] or f"/{old['id']}/"
    if path.startswith(old_path):
        error = FieldError(field="parent", rule="org_tree", code="cycle", message=message("cycle"))
        raise ValidationFailed([error], locale)
    return {"path": f"{path}{old['id']}/", "depth": depth + 1}


def below_unit(
    conn: sa.Connection, units: sa.Table, old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[tuple[Any, str, int]]:
    """``(id, new path, new depth)`` of every unit below a unit that moved from ``old``
    to ``new`` (its rows before and after), shallowest first."""
    old_path = old["path"] or f"/{old['id']}/"
    shift = (new["depth"] or 0) - (old["depth"] or 0)
    rows = conn.execute(
        sa.select(units.c.id, units.c.path, units.c.depth)
        .where(units.c.path.like(old_path + "%"), units.c.id != old["id"])
        .order_by(units.c.depth, units.c.id)
    ).all()
    for row in rows:
        yield row.id, new["path"] + row.path[len(old_path) :], (row.depth or 0) + shift


def _position(conn: sa.Connection, units: sa.Table, unit_id: Any) -> tuple[str, int]:
    row = conn.execute(sa.select(units.c.path, units.c.depth).where(units.c.id == unit_id)).first()
    if row is None or row.path is None:  # the reference check reports a missing parent
        return "/", -1
    return row.path, row.depth or 0
