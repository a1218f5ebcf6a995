"""The user directory: create, find, disable and re-enable users, set passwords.

A ``User`` is a plain frozen value without its password hash, so it can be logged, cached
and handed to templates without leaking anything. ``actor_for`` turns it into the
``Actor`` every ``RecordService`` call takes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.auth.errors import InvalidUserData, UserExists, UserNotFound
from engine.auth.passwords import PasswordHasher, check_password_policy
from engine.auth.tables import AuthTables, auth_tables
from engine.auth.user_fields import (
    check_email,
    check_locale,
    check_org_unit,
    check_roles,
    check_timezone,
    normalize_username,
    parse_id,
)
from engine.records.actor import Actor
from engine.rules import system_clock
from engine.storage.database import Database
from engine.storage.tables import ORG_UNIT_OBJECT, CompiledTables

__all__ = ["User", "UserStore", "user_from_row"]


@dataclass(frozen=True)
class User:
    """One person who can sign in (the password hash is deliberately not here)."""

    id: str
    username: str
    display_name: str
    email: str | None
    locale: str
    timezone: str
    org_unit: str | None
    roles: tuple[str, ...]
    disabled: bool
    created_at: dt.datetime


class UserStore:
    """Users in one tenant's ``_users`` table.

    Args:
        db: The tenant's database.
        tables: The compiled tables (or ``AuthTables``) holding ``_users`` and friends.
        clock: Returns the current aware time; tests pass their own.
        hasher: Password hashing cost; tests pass a cheap one.
    """

    def __init__(
        self,
        db: Database,
        tables: CompiledTables | AuthTables,
        clock: Callable[[], dt.datetime] = system_clock,
        hasher: PasswordHasher | None = None,
    ):
        self.db = db
        self.tables = auth_tables(tables)
        #: Org units, to read the kind of a user's unit (absent without a compiled pack).
        compiled = isinstance(tables, CompiledTables)
        self._units = tables.objects.get(ORG_UNIT_OBJECT) if compiled else None  # type: ignore[union-attr]
        self.clock = clock
        self.hasher = hasher or PasswordHasher()

    def create_user(
        self,
        username: str,
        password: str | None,
        display_name: str,
        roles: Iterable[str],
        org_unit: str | None = None,
        locale: str = "zh-CN",
        timezone: str = "Asia/Shanghai",
        email: str | None = None,
    ) -> User:
        """Add a user; ``password=None`` makes one who can only use API tokens.

        Raises:
            InvalidUserData: A field is malformed.
            PasswordRejected: The password breaks the policy.
            UserExists: The username (compared case-insensitively) is taken.
        """
        name = normalize_username(username)
        row = {
            "id": str(uuid.uuid4()),
            "username": name,
            "display_name": display_name.strip()[:200] or name,
            "email": check_email(email),
            "locale": check_locale(locale),
            "timezone": check_timezone(timezone),
            "org_unit": check_org_unit(org_unit),
            "roles": list(check_roles(roles)),
            "disabled": False,
            "created_at": self.clock(),
            "password_hash": None,
        }
        if password is not None:
            check_password_policy(password, name)
            row["password_hash"] = self.hasher.hash(password)
        if self.by_username(name) is not None:
            raise UserExists(name)
        try:
            with self.db.engine.begin() as conn:
                conn.execute(self.tables.users.insert().values(row))
        except sa.exc.IntegrityError:  # a concurrent create won the race
            raise UserExists(name) from None
        return user_from_row(row)

    def get(self, user_id: str) -> User | None:
        parsed = parse_id(user_id)
        if parsed is None:
            return None
        return self._one(self.tables.users.c.id == parsed)

    def by_username(self, username: str) -> User | None:
        try:
            name = normalize_username(username)
        except InvalidUserData:
            return None
        return self._one(self.tables.users.c.username == name)

    def require(self, username: str) -> User:
        """``by_username`` that raises ``UserNotFound`` instead of returning None."""
        user = self.by_username(username)
        if user is None:
            raise UserNotFound(username)
        return user

    def list_users(self, include_disabled: bool = True) -> list[User]:
        users = self.tables.users
        query = sa.select(users).order_by(users.c.username)
        if not include_disabled:
            query = query.where(users.c.disabled.is_(False))
        with self.db.read() as conn:
            return [user_from_row(row._mapping) for row in conn.execute(query)]

    def disable(self, username: str) -> User:
        """Stop the user signing in; their sessions end now and their API tokens stop
        resolving (they work again after ``enable`` unless revoked)."""
        user = self.require(username)
        with self.db.engine.begin() as conn:
            self._update(conn, user.id, disabled=True)
            self._end_sessions(conn, user.id)
        return self.require(username)

    def enable(self, username: str) -> User:
        user = self.require(username)
        with self.db.engine.begin() as conn:
            self._update(conn, user.id, disabled=False)
        return self.require(username)

    def set_locale(self, username: str, locale: str) -> User:
        """The language the user reads the CRM in (``InvalidUserData`` for one not shipped)."""
        user = self.require(username)
        with self.db.engine.begin() as conn:
            self._update(conn, user.id, locale=check_locale(locale))
        return self.require(username)

    def set_password(self, username: str, password: str) -> None:
        """Replace the password and end every session, so a stolen session dies with the
        old password.

        Raises:
            UserNotFound: No such user.
            PasswordRejected: The password breaks the policy.
        """
        user = self.require(username)
        check_password_policy(password, user.username)
        encoded = self.hasher.hash(password)
        with self.db.engine.begin() as conn:
            self._update(conn, user.id, password_hash=encoded)
            self._end_sessions(conn, user.id)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs and they are enabled, else None.

        Unknown, disabled and password-less users cost one scrypt run like everyone else,
        so response time does not reveal which usernames exist. A hash made with an older
        cost is upgraded on the way.
        """
        users = self.tables.users
        try:
            name = normalize_username(username)
        except InvalidUserData:
            self.hasher.burn(password)
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == name)).first()
        if row is None:
            self.hasher.burn(password)
            return None
        encoded = row.password_hash
        if not self.hasher.verify(password, encoded) or row.disabled:
            return None
        if self.hasher.needs_rehash(encoded):
            with self.db.engine.begin() as conn:
                self._update(conn, row.id, password_hash=self.hasher.hash(password))
        return user_from_row(row._mapping)

    def set_extra_org_units(self, username: str, units: Iterable[str]) -> list[str]:
        """Replace the units ``username`` belongs to besides their primary one.

        Their records scopes (``org_unit``, ``org_unit_and_below``) reach these units too,
        from the next request on.

        Raises:
            UserNotFound: No such user.
            InvalidUserData: A unit id is malformed.
        """
        user = self.require(username)
        wanted = sorted({check_org_unit(u) for u in units} - {None, user.org_unit})
        table = self.tables.user_org_units
        with self.db.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.user_id == user.id))
            if wanted:
                conn.execute(table.insert(), [{"user_id": user.id, "org_unit": u} for u in wanted])
        return wanted  # type: ignore[return-value]

    def extra_org_units(self, user: User) -> list[str]:
        table = self.tables.user_org_units
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(table.c.org_unit)
                .where(table.c.user_id == user.id)
                .order_by(table.c.org_unit)
            )
            return [str(u) for u in rows.scalars()]

    def actor_for(self, user: User, org_units: Iterable[str] | None = None) -> Actor:
        """The ``Actor`` for ``user``.

        Args:
            user: Who is acting.
            org_units: The user's org unit and its ancestors, if the caller resolved the
                hierarchy; by default just the user's own org unit.
        """
        units = (
            tuple(org_units)
            if org_units is not None
            else ((user.org_unit,) if user.org_unit else ())
        )
        return Actor(
            user_id=user.id,
            locale=user.locale,
            timezone=user.timezone,
            roles=user.roles,
            org_unit=user.org_unit,
            org_units=units,
            name=user.display_name,
            org_unit_kind=self._unit_kind(user.org_unit),
        )

    def _unit_kind(self, unit: str | None) -> str | None:
        """The ``kind`` of org unit ``unit``, for ``$user.org_unit_kind``."""
        if unit is None or self._units is None or "kind" not in self._units.c:
            return None
        units = self._units
        with self.db.read() as conn:
            return conn.execute(sa.select(units.c.kind).where(units.c.id == unit)).scalar()

    def _one(self, where: sa.ColumnElement[bool]) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(self.tables.users).where(where)).first()
        return user_from_row(row._mapping) if row else None

    def _end_sessions(self, conn: sa.Connection, user_id: str) -> None:
        sessions = self.tables.sessions
        conn.execute(sessions.delete().where(sessions.c.user_id == user_id))

    def _update(self, conn: sa.Connection, user_id: str, **values: Any) -> None:
        users = self.tables.users
        conn.execute(users.update().where(users.c.id == user_id).values(**values))


def user_from_row(row: Any) -> User:
    """A ``User`` from a ``_users`` row mapping (other columns in the row are ignored)."""
    return User(
        id=str(row["id"]),
        username=row["username"],
        display_name=row["display_name"],
        email=row["email"],
        locale=row["locale"],
        timezone=row["timezone"],
        org_unit=str(row["org_unit"]) if row["org_unit"] else None,
        roles=tuple(row["roles"] or ()),
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )
