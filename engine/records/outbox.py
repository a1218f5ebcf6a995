"""The outbox: work that must happen after a commit, delivered at least once.

A write puts its after-commit work in ``_outbox`` inside its own transaction, so the work
exists exactly when the write does. Delivery claims rows (a lease: ``available_at`` moves
into the future and ``attempts`` goes up), runs the handler, and marks them ``done``; a
failing row waits with a growing back-off and is ``dead`` after ``max_attempts``, parked
until an administrator retries it. Every attempt is logged in ``_outbox_attempts`` (with
the error of a failed one). A delivery that dies half-way leaves its rows to be claimed
again when the lease ends. The record service delivers its own rows right after
committing; ``metacrm worker`` delivers whatever is left, from any number of processes
(on PostgreSQL claims skip rows another worker holds; SQLite serialises writers).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.rules import system_clock
from engine.storage.database import Database

__all__ = ["Delivery", "Outbox"]

log = logging.getLogger(__name__)
Handler = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Delivery:
    """What one ``deliver`` call did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int  # including this one


class Outbox:
    def __init__(
        self,
        db: Database,
        table: sa.Table,
        attempts: sa.Table,
        clock: Callable[[], dt.datetime] = system_clock,
        *,
        lease: dt.timedelta = dt.timedelta(minutes=5),
        max_attempts: int = 8,
    ):
        self.db = db
        self.table = table
        self.attempts = attempts
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts

    def deliver(
        self, handler: Handler, *, ids: Collection[int] | None = None, limit: int = 100
    ) -> Delivery:
        """Run ``handler(topic, payload)`` for due rows (only ``ids``, when given)."""
        delivered = retried = dead = 0
        for row in self._claim(ids, limit):
            try:
                handler(row.topic, row.payload)
            except Exception as exc:
                log.exception("outbox row %s (%s) failed, attempt %s", row.id, row.topic,
                              row.attempts)  # fmt: skip
                if self._failed(row, f"{type(exc).__name__}: {exc}"[:2000]):
                    dead += 1
                else:
                    retried += 1
            else:
                self._finish(row, None, status="done", last_error=None)
                delivered += 1
        return Delivery(delivered, retried, dead)

    def dead(self, limit: int = 100) -> list[dict[str, Any]]:
        """Parked rows, newest first, with their last error."""
        table = self.table
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.topic, table.c.attempts, table.c.created_at,
                          table.c.last_error)
                .where(table.c.status == "dead")
                .order_by(table.c.id.desc())
                .limit(limit)
            )  # fmt: skip
            return [dict(r._mapping) for r in rows]

    def retry(self, ids: Collection[int] | None = None) -> int:
        """Put dead rows (only ``ids``, when given) back in the queue, due now, with a
        fresh count of attempts; how many."""
        table = self.table
        query = sa.update(table).where(table.c.status == "dead")
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        with self.db.engine.begin() as conn:
            values = {"status": "pending", "attempts": 0, "available_at": self.clock()}
            return conn.execute(query.values(**values)).rowcount

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        table = self.table
        with self.db.read() as conn:
            rows = conn.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))
            return {status: count for status, count in rows}

    def _claim(self, ids: Collection[int] | None, limit: int) -> list[_Claimed]:
        table, now = self.table, self.clock()
        query = (
            sa.select(table.c.id, table.c.topic, table.c.payload, table.c.attempts)
            .where(table.c.status == "pending", table.c.available_at <= now)
            .order_by(table.c.id)
            .limit(limit)
        )
        if ids is not None:
            if not ids:
                return []
            query = query.where(table.c.id.in_(list(ids)))
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        with self.db.engine.begin() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    sa.update(table)
                    .where(table.c.id.in_([r.id for r in rows]))
                    .values(attempts=table.c.attempts + 1, available_at=now + self.lease)
                )
        return [_Claimed(r.id, r.topic, r.payload, r.attempts + 1) for r in rows]

    def _failed(self, row: _Claimed, error: str) -> bool:
        """Back off (1, 2, 4 … minutes, at most 6 hours) or give up; True when dead."""
        if row.attempts >= self.max_attempts:
            self._finish(row, error, status="dead", last_error=error)
            return True
        wait = dt.timedelta(minutes=min(2 ** (row.attempts - 1), 360))
        self._finish(row, error, available_at=self.clock() + wait, last_error=error)
        return False

    def _finish(self, row: _Claimed, error: str | None, **values: Any) -> None:
        """Record the attempt and the row's new state together."""
        with self.db.engine.begin() as conn:
            conn.execute(sa.update(self.table).where(self.table.c.id == row.id).values(**values))
            conn.execute(
                sa.insert(self.attempts),
                {"outbox_id": row.id, "attempt": row.attempts, "at": self.clock(),
                 "ok": error is None, "error": error},
            )  # fmt: skip
