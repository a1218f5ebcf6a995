"""SQLite writers of one process take turns: in order, and failing rather than hanging
where SQLite itself would fail ("database is locked")."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa

from engine.storage.database import Database


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (writer INTEGER)")
    yield database
    database.dispose()


def test_a_write_opened_inside_the_same_threads_write_fails_at_once(db):
    with db.engine.begin() as outer:
        outer.exec_driver_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(sa.exc.OperationalError, match="this thread's own write"), \
                db.engine.begin() as inner:
            inner.exec_driver_sql("INSERT INTO t VALUES (2)")
    with db.read() as conn:  # the outer write committed; the turn is free again
        assert conn.exec_driver_sql("SELECT writer FROM t").scalars().all() == [1]
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (3)")


def test_writers_get_their_turn_in_the_order_they_asked(db):
    order: list[int] = []
    holding = threading.Event()
    release = threading.Event()

    def first() -> None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (0)")
            holding.set()
            release.wait(10)

    def writer(n: int, asked: threading.Event) -> None:
        asked.set()
        with db.engine.begin() as conn:
            order.append(n)
            conn.exec_driver_sql(f"INSERT INTO t VALUES ({n})")

    holder = threading.Thread(target=first)
    holder.start()
    holding.wait(10)
    threads = []
    for n in range(1, 6):  # each asks only once the one before is queued
        asked = threading.Event()
        thread = threading.Thread(target=writer, args=(n, asked))
        thread.start()
        asked.wait(10)
        threads.append(thread)
        threading.Event().wait(0.05)
    release.set()
    for thread in [holder, *threads]:
        thread.join(10)
    assert order == [1, 2, 3, 4, 5]


def test_a_writer_that_waits_too_long_fails_as_sqlite_would(db, monkeypatch):
    from engine.storage import database

    turn = database._turn_of(db.url)
    monkeypatch.setattr(turn, "timeout", 0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with pytest.raises(sa.exc.OperationalError) as failed, db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert isinstance(failed.value.orig, sqlite3.OperationalError)
    release.set()
    holder.join(10)
    with db.engine.begin() as conn:  # the queue is whole again
        conn.exec_driver_sql("INSERT INTO t VALUES (3)")
    with db.read() as conn:
        stored = conn.exec_driver_sql("SELECT writer FROM t ORDER BY writer").scalars().all()
    assert stored == [1, 3]
