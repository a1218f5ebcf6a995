"""The database a tenant's records live in: URL, tenant schema, and connection settings.

``METACRM_DATABASE_URL`` picks the database (default: a SQLite file in the working
directory); ``METACRM_DATABASE_SCHEMA`` the PostgreSQL schema holding the tenant's tables
(default ``public``). Tables are defined without a schema and mapped onto the tenant's
through SQLAlchemy's ``schema_translate_map``, so no query names a schema by hand and a
tenant can move to another schema (or, with Citus, another node) unchanged.
"""

from __future__ import annotations

import collections
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["DEFAULT_SQLITE_FILE", "Database"]

DEFAULT_SQLITE_FILE = "metacrm.sqlite3"
_READ_ONLY = "metacrm_read_only"
_HOLDS_TURN = "metacrm_write_turn"


class _Turns:
    """A lock that hands itself to its waiters in the order they came (a plain
    ``threading.Lock`` lets the thread that just released it take it again at once).

    A writer waits at most ``timeout`` seconds, as SQLite's own ``busy_timeout`` would,
    and then fails as SQLite does ("database is locked") rather than hang; a thread that
    asks while it holds the turn (a write opened inside its own write) fails at once, as
    it would otherwise wait for itself.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._mutex = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._holder: int | None = None
        self.timeout = timeout

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._holder is None:
                self._holder = me
                return
            if self._holder == me:
                raise sqlite3.OperationalError("database is locked (by this thread's own write)")
            mine = threading.Event()
            self._waiting.append(mine)
        mine.wait(self.timeout)
        with self._mutex:
            if mine.is_set():  # the releasing writer handed the turn over: it is ours
                self._holder = me
                return
            self._waiting.remove(mine)
        raise sqlite3.OperationalError("database is locked")

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()
                self._holder = -1  # the next waiter's, who records itself on waking
            else:
                self._holder = None

#: One queue per SQLite file: this process's writers of the file take turns in it.
_TURNS: dict[str, _Turns] = {}
_TURNS_LOCK = threading.Lock()


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

    SQLite's busy handler waits by sleeping and trying again, longer each time, so under
    many writers some wait many sleeps while others get straight in (a p99 many times the
    median). Writers of one file in this process therefore first take their turn in a
    lock of the process's own, which wakes the next waiter as soon as the last commits;
    ``busy_timeout`` is left to arbitrate between processes.
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

    turn = _turn_of(url)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get(_READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
            return
        try:
            turn.acquire()
        except sqlite3.OperationalError as exc:  # as SQLite's own lock error reads
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, exc) from None
        connection.info[_HOLDS_TURN] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end_turn(connection, turn)
            raise

    @sa.event.listens_for(engine, "commit")
    def _on_commit(connection: sa.Connection) -> None:
        _end_turn(connection, turn)

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(connection: sa.Connection) -> None:
        _end_turn(connection, turn)

    @sa.event.listens_for(engine, "reset")
    def _on_reset(_dbapi_connection: Any, record: Any, _state: Any = None) -> None:
        if record.info.pop(_HOLDS_TURN, False):  # returned to the pool mid-transaction
            turn.release()

    return engine


def _turn_of(url: sa.URL) -> _Turns:
    """The write queue of the file ``url`` names (an in-memory database has its own)."""
    name = url.database or ""
    key = str(Path(name).resolve()) if name and name != ":memory:" else f"memory:{id(url)}"
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, _Turns())


def _end_turn(connection: sa.Connection, turn: _Turns) -> None:
    if connection.info.pop(_HOLDS_TURN, False):
        turn.release()
