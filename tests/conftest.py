"""Real databases for tests: a SQLite file per test, and a throwaway PostgreSQL database.

PostgreSQL is the one on 127.0.0.1:5432 (trust auth). Each test session creates its own
database and drops it at the end (under pytest-xdist each worker is a session of its own,
so workers never share a database). Where no server answers, PostgreSQL tests are skipped
with the reason, except under CI (``CI`` set), where that is a failure: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.storage.database import Database

PG_HOST = os.environ.get("METACRM_TEST_PG", "127.0.0.1:5432")

# The CLI's consoles are made at import and keep a width found in the environment then;
# tests that read CLI output set COLUMNS in the environment of the run itself. An inherited
# width (pytest-xdist's workers start with readline's COLUMNS=80) would wrap their output.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)


def _pg_admin_url() -> tuple[str | None, str]:
    reasons = []
    for user in ("postgres", "root"):
        url = f"postgresql+psycopg://{user}@{PG_HOST}/postgres"
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("select 1")
            return url, ""
        except sa.exc.OperationalError as exc:
            reasons.append(f"{user}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    return None, "; ".join(reasons)


@pytest.fixture(autouse=True)
def _files_in_tmp(tmp_path, monkeypatch) -> None:
    """Uploaded files go to the test's own directory, whichever database it runs on."""
    monkeypatch.setenv("METACRM_FILES_DIR", str(tmp_path / "files"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    admin_url, reason = _pg_admin_url()
    if admin_url is None:
        message = f"PostgreSQL at {PG_HOST} unavailable ({reason})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the PostgreSQL tests")
        pytest.skip(message)
    name = f"metacrm_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def _empty_database(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A SQLite file in ``folder``, or a fresh tenant schema in the session's PostgreSQL."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{folder / 'test.sqlite3'}")
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("pg_server_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    db = Database(url, schema=schema)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield db
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each kind; on PostgreSQL, a fresh tenant schema per test."""
    with _empty_database(request.param, tmp_path, request) as db:
        yield db


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One empty database of each kind for a module's tests that only write records of
    their own and assert on nothing else (many parameters of one request, say), so they
    need not each pay for a schema of their own."""
    folder = tmp_path_factory.mktemp("module-database")
    with _empty_database(request.param, folder, request) as db:
        yield db
