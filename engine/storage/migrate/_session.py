"""The connection a migration runs on: one transaction, the tenant schema, FKs as SQLite needs.

PostgreSQL: the search path is set to the tenant schema for the transaction only, so the
inspector and Alembic see exactly the tenant's tables, and DDL is transactional.
SQLite: foreign key enforcement is switched off for the connection (it cannot change inside
a transaction) because Alembic's batch mode copies a table and drops the original, and a
DROP with enforcement on would run ON DELETE CASCADE on the children. Integrity is checked
with ``PRAGMA foreign_key_check`` before commit instead, and enforcement is switched back
on before the connection returns to the pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.migrate.refusals import MigrationFailed

__all__ = ["migration_connection"]


@contextmanager
def migration_connection(db: Database, *, commit: bool) -> Iterator[sa.Connection]:
    """A connection inside one transaction; committed only if ``commit`` and no error."""
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if db.is_sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            trans = conn.begin()
            try:
                if not db.is_sqlite:
                    if commit:  # a fresh tenant starts from nothing, not even its schema
                        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"')
                    conn.exec_driver_sql(f'SET LOCAL search_path TO "{db.schema}"')
                yield conn
                if commit:
                    if db.is_sqlite:
                        _check_foreign_keys(conn)
                    trans.commit()
                else:
                    trans.rollback()
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
        finally:
            if db.is_sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(conn: sa.Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        sample = ", ".join(f"{r[0]} row {r[1]} → {r[2]}" for r in broken[:10])
        raise MigrationFailed(f"the change would leave broken references: {sample}")
