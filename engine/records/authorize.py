"""Step 1 of the write path: may this actor do this to this record?

The security issue fills this in (roles, scopes, record rules, sharing); until then
``AllowAll`` lets every authenticated actor do everything. The seam is already where it
belongs: the service asks before every read and write, and list queries take the
authorizer's row filter into their SQL WHERE clause.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

if TYPE_CHECKING:
    from engine.compiled import CompiledObject, CompiledSchema
    from engine.records.actor import Actor

__all__ = ["AllowAll", "Authorizer", "Operation"]


class Operation(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Authorizer(Protocol):
    def row_filter(
        self, actor: Actor, cobj: CompiledObject, operation: Operation, compiled: CompiledSchema
    ) -> sa.ColumnElement[bool] | None:
        """A WHERE clause limiting rows to those ``actor`` may ``operation``; None = all."""
        ...

    def check_write(
        self,
        actor: Actor,
        cobj: CompiledObject,
        operation: Operation,
        old: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        compiled: CompiledSchema,
    ) -> None:
        """Raise when the write is not allowed (NotFound where existence must not leak)."""
        ...


class AllowAll:
    """The permissive default until roles are enforced."""

    def row_filter(
        self, actor: Actor, cobj: CompiledObject, operation: Operation, compiled: CompiledSchema
    ) -> None:
        return None

    def check_write(
        self,
        actor: Actor,
        cobj: CompiledObject,
        operation: Operation,
        old: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        compiled: CompiledSchema,
    ) -> None:
        return None
