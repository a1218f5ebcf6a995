"""Finding users for the engine's own work: approvers, notification recipients, the
actor behind queued work. Only active users are ever found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledSchema
from engine.records.actor import Actor
from engine.records.org_tree import unit_and_above
from engine.storage.tables import ORG_UNIT_OBJECT

__all__ = ["ENGINE", "actor_of", "role_holders", "user_actor", "user_in_field", "users_named"]


def role_holders(
    conn: sa.Connection, compiled: CompiledSchema, role: str | None, unit: Any
) -> list[Any]:
    """Users holding ``role`` whose unit is ``unit`` or a unit above it (every unit when
    ``unit`` is None or there is no org tree)."""
    users = compiled.tables.system["users"]
    query = sa.select(users).where(users.c.disabled.is_(False))
    units = unit_and_above(conn, compiled.tables.objects.get(ORG_UNIT_OBJECT), unit)
    if units:
        query = query.where(users.c.org_unit.in_(units))
    return [row for row in conn.execute(query) if role in (row.roles or [])]


def users_named(
    conn: sa.Connection, compiled: CompiledSchema, key: sa.ColumnElement[bool]
) -> list[Any]:
    """Active users matching ``key`` (a condition on the users table)."""
    users = compiled.tables.system["users"]
    return list(conn.execute(sa.select(users).where(key, users.c.disabled.is_(False))))


def user_in_field(
    conn: sa.Connection, compiled: CompiledSchema, record: Mapping[str, Any], field: str
) -> list[Any]:
    """The active user a user field of ``record`` holds (``owner`` included), if any."""
    value = record.get(field)
    if not value:
        return []
    users = compiled.tables.system["users"]
    return users_named(conn, compiled, users.c.id == value)


#: Work no user asked for directly (a schedule's run, an automation run as the engine).
ENGINE = Actor(user_id=None, name="automations")


def user_actor(conn: sa.Connection, compiled: CompiledSchema, user_id: Any) -> Actor:
    """The user who caused queued work, as they are now (the engine if unknown)."""
    if user_id is None:
        return ENGINE
    users = compiled.tables.system["users"]
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return ENGINE if row is None else actor_of(row)


def actor_of(row: Any) -> Actor:
    """A user row as the actor it acts as."""
    return Actor(
        user_id=str(row.id), roles=tuple(row.roles or ()), org_unit=row.org_unit,
        locale=row.locale, timezone=row.timezone, name=row.display_name,
    )  # fmt: skip
