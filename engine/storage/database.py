"""The database a tenant's records live in: URL, tenant schema, and connection settings.

``METACRM_DATABASE_URL`` picks the database (default: a SQLite file in the working
directory); ``METACRM_DATABASE_SCHEMA`` the PostgreSQL schema holding the tenant's tables
(default ``public``). Tables are defined without a schema and mapped onto the tenant's
through SQLAlchemy's ``schema_translate_map``, so no query names a schema by hand and a
tenant can move to another schema (or, with Citus, another node) unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["DEFAULT_SQLITE_FILE", "Database"]

DEFAULT_SQLITE_FILE = "metacrm.sqlite3"
_READ_ONLY = "metacrm_read_only"


class Database:
    """An engine bound to one tenant's schema."""

    def __init__(self, url: str | None = None, schema: str | None = None, **engine_kw: Any):
        url = url or os.environ.get("METACRM_DATABASE_URL") or _default_url()
        self.url = sa.engine.make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.schema = None
            self.engine = _sqlite_engine(self.url, **engine_kw)
        else:
            self.schema = schema or os.environ.get("METACRM_DATABASE_SCHEMA") or "public"
            base = sa.create_engine(self.url, pool_pre_ping=True, **engine_kw)
            self.engine = base.execution_options(schema_translate_map={None: self.schema})

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def read(self) -> sa.Connection:
        """A connection for reads: on SQLite its transaction does not take the write lock,
        so readers never queue behind (or hold up) writers. Use ``engine.begin()`` to write.
        """
        return self.engine.connect().execution_options(**{_READ_ONLY: True})

    def dispose(self) -> None:
        self.engine.dispose()


def _default_url() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def _sqlite_engine(url: sa.URL, **engine_kw: Any) -> Engine:
    """SQLite with WAL, foreign keys on, and write transactions that take the lock up front.

    ``BEGIN IMMEDIATE`` makes concurrent writers queue on ``busy_timeout`` instead of
    failing mid-transaction when two readers both try to upgrade to a write lock. Reads
    (``Database.read``) begin deferred: WAL gives them a snapshot without any lock.
    """
    engine = sa.create_engine(
        url, connect_args={"isolation_level": None, "timeout": 30}, **engine_kw
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
