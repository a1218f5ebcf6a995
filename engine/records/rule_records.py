"""Other records as a validation's record queries see them: the write's connection, read only.

A validation such as "a booking may not overlap another booking of the same room" must see
every live record, including those the writer may not read (its fixed message discloses
nothing of them), and records written earlier in the same transaction. It must also hold
under concurrent writers: on PostgreSQL, under READ COMMITTED, two transactions booking the
same room would each check, see no overlap, and both commit. So before a record query runs,
the writer takes a transaction-scoped advisory lock named for what the query depends on
(``lock_key``: the searched object, narrowed to one value of a field the query equates
with the record's, such as ``booking.room``); every write of a searched object takes the
same lock for its old and new values (``prepare``). The second writer waits for the first
to commit, and its query, a new statement, then sees the first booking. Locks are taken
in sorted order within a call. SQLite needs none: a write transaction holds the database
from its start (``BEGIN IMMEDIATE``), so writers never interleave.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from engine.rules import FieldReader

__all__ = ["RuleRecords"]


class RuleRecords:
    """The ``RecordSource`` validations run their record queries on (``engine.rules``).

    Attributes:
        tables: The objects' tables by name.
        reader: None: validations search every live record (see module doc).
    """

    def __init__(self, conn: sa.Connection, tables: Mapping[str, sa.Table]) -> None:
        self._conn = conn
        self.tables = tables
        self.reader: FieldReader | None = None

    def scalar(self, query: sa.Executable, locks: Sequence[str]) -> Any:
        self.lock(locks)
        return self._conn.execute(query).scalar()

    def lock(self, keys: Iterable[str]) -> None:
        """Wait for, then hold until commit, the advisory locks named ``keys``."""
        if self._conn.dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):
            self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_number(key))))


def _lock_number(key: str) -> int:
    """A stable signed 64-bit number for a lock name (PostgreSQL's advisory lock space)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
