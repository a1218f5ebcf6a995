"""The four auth tables, whether they come from a compiled schema or stand alone.

The API hands the stores its ``CompiledTables``; the CLI, which has no pack to compile,
uses the same table definitions on a fresh ``MetaData``. ``ensure_auth_tables`` creates
them until the migration sync owns every engine table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.system import define_system_tables
from engine.storage.tables import CompiledTables

__all__ = ["AuthTables", "auth_tables", "ensure_auth_tables"]


@dataclass(frozen=True)
class AuthTables:
    """``_users``, their extra org units, ``_sessions``, ``_api_tokens``, ``_login_attempts``."""

    users: sa.Table
    user_org_units: sa.Table
    sessions: sa.Table
    api_tokens: sa.Table
    login_attempts: sa.Table

    @property
    def all(self) -> list[sa.Table]:
        return [
            self.users,
            self.user_org_units,
            self.sessions,
            self.api_tokens,
            self.login_attempts,
        ]


def auth_tables(tables: CompiledTables | AuthTables | None = None) -> AuthTables:
    """The auth tables of ``tables``, or standalone definitions when none are given."""
    if isinstance(tables, AuthTables):
        return tables
    system = tables.system if tables is not None else define_system_tables(sa.MetaData())
    return AuthTables(
        users=system["users"],
        user_org_units=system["user_org_units"],
        sessions=system["sessions"],
        api_tokens=system["api_tokens"],
        login_attempts=system["login_attempts"],
    )


def ensure_auth_tables(
    db: Database, tables: CompiledTables | AuthTables | None = None
) -> AuthTables:
    """Create whichever auth tables are missing in ``db``'s tenant schema; touch nothing else.

    Temporary: the migration sync will create these with every other engine table.
    """
    found = auth_tables(tables)
    found.users.metadata.create_all(db.engine, tables=found.all, checkfirst=True)
    return found
