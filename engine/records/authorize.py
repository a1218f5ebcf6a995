"""Step 1 of the write path: may this actor do this to this record?

The service asks its authorizer before every read and write: list and get queries carry
its row access in their SQL WHERE clause, writes are checked before anything runs, and
what reads return passes ``present`` (hidden fields out, personal data masked). The
enforcing implementation is ``engine.security.RoleAuthorizer``; ``AllowAll`` serves
trusted callers (the engine's own tests of the write path, tools run by an operator).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from engine.rules import FieldReader

if TYPE_CHECKING:
    from engine.compiled import CompiledObject, CompiledSchema
    from engine.records.actor import Actor

__all__ = [
    "AllowAll", "Authorizer", "Operation", "RowAccess", "RuleReader", "UnitReach", "Viewer",
    "operation_label", "row_filter",
]  # fmt: skip


class Operation(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_OPERATION_LABELS = {
    Operation.READ: {"en": "read", "zh-CN": "查看"},
    Operation.CREATE: {"en": "create", "zh-CN": "新建"},
    Operation.UPDATE: {"en": "change", "zh-CN": "修改"},
    Operation.DELETE: {"en": "delete", "zh-CN": "删除"},
}


def operation_label(operation: Operation) -> dict[str, str]:
    """The operation as a verb in every shipped locale, for messages."""
    return _OPERATION_LABELS[operation]


@dataclass(frozen=True)
class UnitReach:
    """The units whose records a scope reaches for one actor.

    ``select`` (a SELECT of unit ids) is what the database runs inside a condition; a list
    page binds the ids instead (``ids``), so the planner sees real values, and looks them
    up once per actor object, kept in its ``looked_up`` under ``key``: an actor lives for
    one request, so a moved unit or a changed membership counts from the next request.
    """

    column: sa.ColumnElement[Any]
    select: sa.Select[Any] | sa.CompoundSelect[Any]
    #: Which look-up this is, for the actor's memo: the authorizer's own token and the scope.
    key: Any

    def ids(self, conn: sa.Connection, actor: Actor) -> tuple[Any, ...]:
        found = actor.looked_up.get(self.key)
        if found is None:
            found = tuple(dict.fromkeys(conn.execute(self.select).scalars()))
            actor.looked_up[self.key] = found
        return found


@dataclass(frozen=True)
class RowAccess:
    """The rows an actor may reach, kept in parts so a list query can use them well.

    A row is reached by any of the ``paths`` (their own records, rules that grant, shares)
    or by sitting in one of the units ``units`` reaches, and only if every ``restricts``
    condition holds. ``paths`` None means every
    row (then only the restrictions apply).
    """

    paths: tuple[sa.ColumnElement[bool], ...] | None
    restricts: tuple[sa.ColumnElement[bool], ...] = ()
    units: UnitReach | None = None

    def condition(self) -> sa.ColumnElement[bool] | None:
        """All of it as one WHERE clause (None: every row)."""
        reach = None
        if self.paths is not None:
            reached = list(self.paths)
            if self.units is not None:
                reached.append(self.units.column.in_(self.units.select))
            reach = sa.or_(*reached) if reached else sa.false()
        parts = ([reach] if reach is not None else []) + list(self.restricts)
        return sa.and_(*parts) if parts else None


def row_filter(
    authorizer: Authorizer,
    actor: Actor,
    cobj: CompiledObject,
    operation: Operation,
    compiled: CompiledSchema,
) -> sa.ColumnElement[bool] | None:
    """The rows ``actor`` may ``operation`` as one WHERE clause; None = all."""
    access = authorizer.row_access(actor, cobj, operation, compiled)
    return None if access is None else access.condition()


class RuleReader(FieldReader, Protocol):
    """One user's reading of the rules they write, for one request: the field-access
    decision the rule compiler asks for every field, and what it decided.

    Attributes:
        personal: ``(object, field)`` of each personal field read so far (to audit).
        per_user: The SQL built so far depends on the user, not only on their roles.
        timely: The SQL built so far depends on the moment it was built (a lookup's
            target rows are decided by a rule that reads the clock): not to be kept.
    """

    personal: list[tuple[str, str]]
    per_user: bool
    timely: bool

    def sort_column(self, object_name: str, name: str, table: sa.Table) -> Any:
        """The column to sort ``object_name`` on by ``name``.

        Raises:
            FieldHidden: The reader may not sort on it.
        """
        ...


class Authorizer(Protocol):
    def row_access(
        self, actor: Actor, cobj: CompiledObject, operation: Operation, compiled: CompiledSchema
    ) -> RowAccess | None:
        """The rows ``actor`` may ``operation``; None = all."""
        ...

    def check_write(
        self,
        conn: sa.Connection,
        actor: Actor,
        cobj: CompiledObject,
        operation: Operation,
        old: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        compiled: CompiledSchema,
    ) -> None:
        """Raise when the write is not allowed: Forbidden for the operation, a field error
        for a field the actor may not edit or a placement outside their scope."""
        ...

    def readable(self, actor: Actor, cobj: CompiledObject) -> frozenset[str] | None:
        """The fields ``actor`` may read, filter and sort on; None when all."""
        ...

    def may_search(self, actor: Actor, cobj: CompiledObject, field: str) -> bool:
        """May ``actor`` filter and sort on ``field`` across every record they read?"""
        ...

    def rule_reader(self, actor: Actor) -> RuleReader | None:
        """What ``actor``'s own rules (filters, sorts, searches) may read, field by field
        and through lookups; None when everything. One per request: it counts the
        personal fields used, for the audit log."""
        ...

    def present(
        self, actor: Actor, cobj: CompiledObject, record: dict[str, Any], unmask: bool = False
    ) -> dict[str, Any]:
        """``record`` as ``actor`` may see it: hidden fields out, personal data masked
        (unless ``unmask`` and the actor may see it unmasked)."""
        ...

    def may_reveal(
        self, actor: Actor, cobj: CompiledObject, field: str, owner: str | None = None
    ) -> bool:
        """May ``actor`` see ``field`` unmasked (one value at a time, audited) on a record
        ``owner`` owns?"""
        ...

    def may_export_pii(self, actor: Actor, cobj: CompiledObject) -> bool:
        """May ``actor`` export ``cobj``'s personal data unmasked (audited)?"""
        ...

    def may_manage_metadata(self, actor: Actor) -> bool:
        """May ``actor`` see pending metadata changes and apply them?"""
        ...

    def check_share(
        self,
        conn: sa.Connection,
        actor: Actor,
        cobj: CompiledObject,
        record: Mapping[str, Any],
        *,
        user: Any = None,
        org_unit: Any = None,
    ) -> None:
        """Raise Forbidden when ``actor`` may not share ``record`` (or, without a grantee,
        withdraw its shares), a field error for a grantee outside their reach."""
        ...

    def may_purge(self, actor: Actor, cobj: CompiledObject) -> bool:
        """May ``actor`` delete ``cobj``'s records for good (``hard``)?"""
        ...

    def may_export(self, actor: Actor, cobj: CompiledObject) -> bool:
        """May ``actor`` export ``cobj``'s records at all?"""
        ...


class AllowAll:
    """Everything, unmasked: for trusted callers only."""

    def row_access(
        self, actor: Actor, cobj: CompiledObject, operation: Operation, compiled: CompiledSchema
    ) -> None:
        return None

    def check_write(
        self,
        conn: sa.Connection,
        actor: Actor,
        cobj: CompiledObject,
        operation: Operation,
        old: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        compiled: CompiledSchema,
    ) -> None:
        return None

    def readable(self, actor: Actor, cobj: CompiledObject) -> None:
        return None

    def may_search(self, actor: Actor, cobj: CompiledObject, field: str) -> bool:
        return True

    def rule_reader(self, actor: Actor) -> None:
        return None

    def present(
        self, actor: Actor, cobj: CompiledObject, record: dict[str, Any], unmask: bool = False
    ) -> dict[str, Any]:
        return record

    def may_reveal(
        self, actor: Actor, cobj: CompiledObject, field: str, owner: str | None = None
    ) -> bool:
        return True

    def may_export_pii(self, actor: Actor, cobj: CompiledObject) -> bool:
        return True

    def may_manage_metadata(self, actor: Actor) -> bool:
        return True

    def check_share(
        self,
        conn: sa.Connection,
        actor: Actor,
        cobj: CompiledObject,
        record: Mapping[str, Any],
        *,
        user: Any = None,
        org_unit: Any = None,
    ) -> None:
        return None

    def may_purge(self, actor: Actor, cobj: CompiledObject) -> bool:
        return True

    def may_export(self, actor: Actor, cobj: CompiledObject) -> bool:
        return True


@dataclass(frozen=True)
class Viewer:
    """One actor's view of the records of a schema: what reads may return, ready to use."""

    authorizer: Authorizer
    actor: Actor
    compiled: CompiledSchema
    #: Personal data as stored, for an export the actor may take unmasked.
    unmask: bool = False

    def rows(self, cobj: CompiledObject) -> sa.ColumnElement[bool] | None:
        return row_filter(self.authorizer, self.actor, cobj, Operation.READ, self.compiled)

    def access(self, cobj: CompiledObject) -> RowAccess | None:
        return self.authorizer.row_access(self.actor, cobj, Operation.READ, self.compiled)

    def readable(self, cobj: CompiledObject) -> frozenset[str] | None:
        return self.authorizer.readable(self.actor, cobj)

    def rule_reader(self) -> RuleReader | None:
        return self.authorizer.rule_reader(self.actor)

    def present(self, cobj: CompiledObject, record: dict[str, Any]) -> dict[str, Any]:
        return self.authorizer.present(self.actor, cobj, record, self.unmask)
