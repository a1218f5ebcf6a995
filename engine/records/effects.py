"""What a write leaves behind in its transaction: field history, audit entry, outbox rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import sqlalchemy as sa

from engine.storage.tables import CompiledTables

__all__ = ["Effects", "jsonable"]


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: decimals as exact strings, moments in RFC 3339.

    History and audit rows store JSON, and API answers are built from records, so this
    runs on every listed row; msgspec does it in C.
    """
    return msgspec.to_builtins(value, enc_hook=str)


class Effects:
    """Writes the side records of a change on the caller's connection."""

    def __init__(self, tables: CompiledTables):
        self.history = tables.system["field_history"]
        self.audit_log = tables.system["audit_log"]
        self.outbox = tables.system["outbox"]
        self.shares = tables.system["record_shares"]
        self.transitions = tables.system["transitions"]
        # statements kept, so a write does not build them and their cache keys each time
        self._history_insert = sa.insert(self.history)
        self._audit_insert = sa.insert(self.audit_log)
        self._moves_insert = sa.insert(self.transitions)

    def record_history(
        self,
        conn: sa.Connection,
        object_name: str,
        record_id: str,
        changes: Iterable[tuple[str, Any, Any]],
        actor_id: str | None,
        at: dt.datetime,
        cause: str | None = None,
    ) -> None:
        """One row per changed field; ``cause`` names what derived the change (a rollup,
        an automation), None for a change a caller asked for."""
        rows = [
            {
                "object": object_name,
                "record_id": record_id,
                "field": field,
                "old_value": jsonable(old),
                "new_value": jsonable(new),
                "changed_at": at,
                "changed_by": actor_id,
                "cause": cause,
            }
            for field, old, new in changes
        ]
        if rows:
            conn.execute(self._history_insert, rows)

    def audit(
        self,
        conn: sa.Connection,
        action: str,
        object_name: str,
        record_id: str | None,
        actor_id: str | None,
        at: dt.datetime,
        detail: Mapping[str, Any],
    ) -> None:
        entry = {
            "at": at,
            "actor": actor_id,
            "action": action,
            "object": object_name,
            "record_id": record_id,
            "detail": jsonable(dict(detail)),
        }
        conn.execute(self._audit_insert, entry)

    def log_moves(
        self,
        conn: sa.Connection,
        object_name: str,
        moves: Iterable[tuple[str, Any]],
        actor_id: str | None,
        at: dt.datetime,
        comment: str | None = None,
    ) -> None:
        """Stage moves (``(record id, Move)``), one row each, for the record's timeline."""
        rows = [
            {
                "object": object_name,
                "record_id": record_id,
                "workflow": move.workflow,
                "transition": move.transition,
                "from_state": move.from_state,
                "to_state": move.to_state,
                "comment": comment,
                "at": at,
                "actor": actor_id,
            }
            for record_id, move in moves
        ]
        if rows:
            conn.execute(self._moves_insert, rows)

    def enqueue(
        self, conn: sa.Connection, topic: str, payloads: list[dict[str, Any]], at: dt.datetime
    ) -> list[int]:
        """Outbox rows for after-commit work; their ids, to deliver once committed."""
        if not payloads:
            return []
        rows = [
            {"created_at": at, "available_at": at, "topic": topic, "payload": jsonable(p)}
            for p in payloads
        ]
        insert = sa.insert(self.outbox).returning(self.outbox.c.id, sort_by_parameter_order=True)
        return list(conn.execute(insert, rows).scalars())
