"""Roles enforced: the record service's authorizer once packs declare who may do what.

Reads are limited in SQL: ``row_access`` turns the caller's scope, record rules and shares
into the WHERE clause the list and get queries carry, so rows outside it are never
fetched. Writes are checked before anything else runs: the operation's scope, the fields
the caller may edit, and where the record ends up (a write may not place a record
outside what the writer could then reach). What reads return passes ``present``: fields
the caller may not read are left out and personal data is masked.

The system actor (no user id: the CLI, migrations, the engine's own jobs) is trusted.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.records.authorize import Operation, RowAccess, UnitReach, operation_label
from engine.records.errors import FieldError, Forbidden, ValidationFailed
from engine.records.masking import mask
from engine.records.messages import message
from engine.records.org_tree import subtree_ids
from engine.records.prepare import SYSTEM_LABELS
from engine.records.query import SqlFilters
from engine.records.sharing import shared_ids
from engine.rules import FieldHidden, system_clock
from engine.security.field_access import FieldAccessResolver
from engine.security.grants import ObjectAccess, Policy
from engine.storage.tables import ORG_UNIT_OBJECT, SYSTEM_COLUMNS
from metadata.model.fields import FieldType
from metadata.model.security import Access, Scope

if TYPE_CHECKING:
    from engine.compiled import CompiledObject, CompiledSchema
    from engine.records.actor import Actor

__all__ = ["RoleAuthorizer"]

_ACCESS = {
    Operation.READ: Access.READ,
    Operation.CREATE: Access.CREATE,
    Operation.UPDATE: Access.UPDATE,
    Operation.DELETE: Access.DELETE,
}
#: Where a record sits: the system columns a writer may set, within their scope.
_PLACEMENT = tuple(SYSTEM_LABELS)
#: Users' scope conditions kept at once (the oldest make room).
_KEEP_REACHES = 4096


class RoleAuthorizer:
    """Enforces the roles of one compiled schema."""

    def __init__(self, compiled: CompiledSchema, clock: Callable[[], dt.datetime] = system_clock):
        """``clock`` is what record rules read as now (``now``, ``today``): the service's."""
        self.compiled = compiled
        self.policy = compiled.once("role_policy", _policy)
        self.filters = SqlFilters(compiled, clock)
        self._views: dict[tuple[tuple[str, ...], str, bool], Any] = {}
        self._reaches: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        #: Names this authorizer's look-ups in an actor's memo (two schemas, two databases
        #: never share one).
        self._token = object()

    def access(self, actor: Actor, cobj: CompiledObject) -> ObjectAccess:
        return self.policy.access(tuple(sorted(actor.roles)), cobj.name)

    # -- reads ---------------------------------------------------------------------------

    def row_access(
        self,
        actor: Actor,
        cobj: CompiledObject,
        operation: Operation,
        compiled: CompiledSchema,
        shares: bool = True,
    ) -> RowAccess | None:
        """The rows ``actor`` may ``operation``; without ``shares``, by their roles alone."""
        if actor.user_id is None:
            return None
        access = self.access(actor, cobj)
        table = compiled.tables[cobj.name]
        grants, restricts = access.rules(_ACCESS[operation])
        narrowed = tuple(self.filters.where(cobj, rule.rule, actor) for rule in restricts)
        scope = access.scope(_ACCESS[operation])
        if scope is Scope.ALL:
            return RowAccess(paths=None, restricts=narrowed) if narrowed else None
        granted = tuple(self.filters.where(cobj, rule.rule, actor) for rule in grants)
        if scope is Scope.NONE:
            return RowAccess(paths=granted, restricts=narrowed)
        own, units, shared = self._scope_reach(actor, cobj.name, table, operation, scope)
        if not shares:
            shared = ()
        return RowAccess(paths=(own, *granted, *shared), restricts=narrowed, units=units)

    def rules_kept(self, actor: Actor, cobj: CompiledObject) -> bool:
        """Whether the record rules deciding which ``cobj`` rows ``actor`` reads (as
        ``row_access`` compiled them) read neither the user nor the clock, so SQL that
        embeds those rows may be kept for this actor."""
        access = self.access(actor, cobj)
        grants, restricts = access.rules(Access.READ)
        rules = restricts if access.scope(Access.READ) is Scope.ALL else (*grants, *restricts)
        return all(self.filters.kept(cobj, rule.rule) for rule in rules)

    def _scope_reach(
        self, actor: Actor, object_name: str, table: sa.Table, operation: Operation, scope: Scope
    ) -> tuple[sa.ColumnElement[bool], UnitReach | None, tuple[sa.ColumnElement[bool], ...]]:
        """The ways ``scope`` reaches rows of ``table`` for ``actor``: their own, the units
        and the shares (an ``IN`` on a SELECT of record ids).

        Kept per actor (a list page asks on every request, and building these costs more
        than the database takes to run them): they hold no data, only SQL that reads
        memberships, the unit tree and shares when it runs, so an equal actor of another
        request reuses them safely. The unit ids a list page binds are data: they are kept
        on the actor object itself (``UnitReach.ids``), for that request only.
        """
        key = (table, operation, scope, actor)
        found = self._reaches.get(key)
        if found is not None:
            return found
        own = table.c.owner == actor.user_id  # every scope has your own
        units = None
        if scope is not Scope.OWN:
            unit_column = table.c.id if object_name == ORG_UNIT_OBJECT else table.c.org_unit
            units = UnitReach(unit_column, self._reach(scope, actor), (self._token, scope))
        shared: tuple[sa.ColumnElement[bool], ...] = ()
        if operation in (Operation.READ, Operation.UPDATE):
            ids = shared_ids(
                self.compiled.tables.system["record_shares"], object_name, actor.user_id,
                actor.org_unit, edit=operation is Operation.UPDATE,
            )  # fmt: skip
            shared = (table.c.id.in_(ids),)
        found = (own, units, shared)
        with self._lock:
            if len(self._reaches) >= _KEEP_REACHES:
                del self._reaches[next(iter(self._reaches))]  # the oldest
            self._reaches[key] = found
        return found

    def readable(self, actor: Actor, cobj: CompiledObject) -> frozenset[str] | None:
        """The fields ``actor`` may read, filter and sort on; None when all of them."""
        if actor.user_id is None:
            return None
        access = self.access(actor, cobj)
        return frozenset(
            [*SYSTEM_COLUMNS, *(name for name in cobj.fields if access.can_read(name))]
        )

    def may_search(self, actor: Actor, cobj: CompiledObject, field: str) -> bool:
        """May ``actor`` filter and sort on ``field`` across every record they read
        (what a search box or a sorted picker needs)? The resolver's answer for a sort:
        readable, and personal data only for who may reveal it on every record."""
        reader = self.rule_reader(actor)
        if reader is None:
            return True
        try:
            reader.sort_column(cobj.name, field, self.compiled.tables[cobj.name])
        except FieldHidden:
            return False
        return True

    def rule_reader(self, actor: Actor) -> FieldAccessResolver | None:
        """The field-access decision for the rules ``actor`` writes (filters, sorts,
        searches); None for the system actor, who reads everything."""
        if actor.user_id is None:
            return None
        return FieldAccessResolver(self, actor, self.compiled)

    def present(
        self, actor: Actor, cobj: CompiledObject, record: dict[str, Any], unmask: bool = False
    ) -> dict[str, Any]:
        """``record`` as ``actor`` may see it: unreadable fields out, personal data masked
        (kept for an unmasked export by an actor who may take one)."""
        if actor.user_id is None:
            return record
        hidden, masked = self._view(tuple(sorted(actor.roles)), cobj.name, unmask)
        return {
            name: (mask(masked[name], value) if name in masked else value)
            for name, value in record.items()
            if name not in hidden
        }

    def _view(
        self, roles: tuple[str, ...], object_name: str, unmask: bool
    ) -> tuple[frozenset[str], dict[str, FieldType]]:
        """The fields a role set may not read, and those it sees masked (with their
        type); worked out once per role set, not per row."""
        key = (roles, object_name, unmask)
        found = self._views.get(key)
        if found is None:
            cobj = self.compiled.objects[object_name]
            access = self.policy.access(roles, object_name)
            unmask = unmask and access.view_pii and access.export
            hidden = frozenset(name for name in cobj.fields if not access.can_read(name))
            masked = {
                name: fdef.kind
                for name, fdef in cobj.fields.items()
                if name not in hidden and getattr(fdef, "pii", False) and not unmask
            }
            found = self._views[key] = (hidden, masked)
        return found

    def may_reveal(
        self, actor: Actor, cobj: CompiledObject, field: str, owner: str | None = None
    ) -> bool:
        if actor.user_id is None:
            return True
        access = self.access(actor, cobj)
        if not access.can_read(field):
            return False
        return access.view_pii or (access.view_own_pii and owner == actor.user_id)

    def may_export_pii(self, actor: Actor, cobj: CompiledObject) -> bool:
        if actor.user_id is None:
            return True
        access = self.access(actor, cobj)
        return access.view_pii and access.export

    def may_manage_metadata(self, actor: Actor) -> bool:
        """Roles with ``manage_metadata`` (administrator, consultant): a permission of its
        own, independent of any access to records."""
        return actor.user_id is None or self.policy.manages_metadata(actor.roles)

    # -- writes --------------------------------------------------------------------------

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
        if actor.user_id is None:
            return
        access = self.access(actor, cobj)
        scope = access.scope(_ACCESS[operation])
        if scope is Scope.NONE:
            raise Forbidden(
                cobj.name,
                operation.value,
                message("forbidden", operation=operation_label(operation), object=cobj.obj.label),
            )
        errors = []
        for name in values:
            fdef = cobj.fields.get(name)
            if fdef is None or access.can_edit(name):
                continue  # unknown names and system columns are the record service's call
            code = "read_only" if access.can_read(name) else "unknown_field"
            errors.append(
                FieldError(
                    field=name,
                    rule="field_access",
                    code=code,
                    message=message(code, label=fdef.label, object=cobj.obj.label, field=name),
                )
            )
        if errors:
            raise ValidationFailed(errors, actor.locale)
        if operation is Operation.DELETE:
            return
        blamed = "parent" if self._moved_out(conn, scope, actor, cobj, old, values) else None
        if blamed is None and (
            operation is Operation.CREATE or any(k in values for k in _PLACEMENT)
        ):
            owner = values.get("owner", old["owner"] if old else actor.user_id)
            unit = values.get("org_unit", old["org_unit"] if old else actor.org_unit)
            assigned = "owner" in values and (old is None or values["owner"] != old["owner"])
            blamed = self._misplaced(conn, scope, actor, owner, unit, assigned)
        if blamed is not None:
            label = cobj.fields["parent"].label if blamed == "parent" else SYSTEM_LABELS[blamed]
            text = message("out_of_scope", label=label, operation=operation_label(operation))
            error = FieldError(field=blamed, rule="scope", code="out_of_scope", message=text)
            raise ValidationFailed([error], actor.locale)

    # -- scopes --------------------------------------------------------------------------

    def _member_units(self, actor: Actor) -> sa.Select[Any] | sa.CompoundSelect:
        """The actor's units: the primary one and those they also belong to, looked up by
        the database in the same query (a membership change counts at once)."""
        extra = self.compiled.tables.system["user_org_units"]
        also = sa.select(extra.c.org_unit).where(extra.c.user_id == actor.user_id)
        if actor.org_unit is None:
            return also
        return sa.union_all(sa.select(sa.literal(actor.org_unit, extra.c.org_unit.type)), also)

    def _reach(self, scope: Scope, actor: Actor) -> sa.Select[Any] | sa.CompoundSelect:
        """The units whose records ``scope`` reaches (beyond the actor's own records)."""
        units = self.compiled.tables.objects.get(ORG_UNIT_OBJECT)
        if scope is Scope.ORG_UNIT or units is None:
            return self._member_units(actor)
        return subtree_ids(units, self._member_units(actor))

    def _misplaced(
        self,
        conn: sa.Connection,
        scope: Scope,
        actor: Actor,
        owner: Any,
        unit: Any,
        assigned: bool = False,
    ) -> str | None:
        """Which of ``owner`` and ``org_unit`` would put a record outside ``scope``, if any.

        Beyond ``all``, a record must sit in a unit the actor reaches (their own units for
        ``own`` and ``org_unit``, and those below for ``org_unit_and_below``), or in no
        unit if the actor owns it; with ``own``, the actor must also be its owner. An owner
        newly ``assigned`` must be someone the actor reaches: a member of one of those
        units or of the record's unit, so a record is never handed outside the writer's
        reach (another dealer's consultant would see it).
        """
        if scope is Scope.ALL:
            return None
        mine = owner is not None and owner == actor.user_id
        if scope is Scope.NONE or (scope is Scope.OWN and not mine):
            return "owner"
        if unit is None:
            return None if mine else "org_unit"
        units = Scope.ORG_UNIT if scope is Scope.OWN else scope
        if not self._within(conn, units, actor, [unit]):
            return "org_unit"
        if assigned and owner is not None and not mine:
            return None if self._reaches_user(conn, units, actor, owner, unit) else "owner"
        return None

    def _within(self, conn: sa.Connection, scope: Scope, actor: Actor, ids: list[Any]) -> bool:
        """Whether every unit of ``ids`` is one ``scope`` reaches for ``actor``."""
        reach = self._reach(scope, actor).subquery()
        column = reach.c[0]
        found = sa.select(sa.func.count(sa.distinct(column))).where(column.in_(ids))
        try:
            return conn.execute(found).scalar() == len({str(i) for i in ids})
        except sa.exc.StatementError:  # not a unit id at all
            return False

    def _reaches_user(
        self, conn: sa.Connection, scope: Scope, actor: Actor, user: Any, unit: Any
    ) -> bool:
        """Whether ``user`` belongs (first or also) to a unit ``scope`` reaches for
        ``actor``, or to ``unit``, the record's own."""
        users = self.compiled.tables.system["users"]
        extra = self.compiled.tables.system["user_org_units"]
        theirs = sa.union_all(
            sa.select(users.c.org_unit.label("unit")).where(users.c.id == user),
            sa.select(extra.c.org_unit).where(extra.c.user_id == user),
        ).subquery()
        inside = [theirs.c.unit.in_(self._reach(scope, actor))]
        if unit is not None:
            inside.append(theirs.c.unit == unit)
        found = sa.select(theirs.c.unit).where(sa.or_(*inside)).exists()
        try:
            return conn.execute(sa.select(found)).scalar() is True
        except sa.exc.StatementError:  # not a user id at all
            return False

    def _moved_out(
        self,
        conn: sa.Connection,
        scope: Scope,
        actor: Actor,
        cobj: CompiledObject,
        old: Mapping[str, Any] | None,
        values: Mapping[str, Any],
    ) -> bool:
        """Whether a new or changed ``parent`` of an org unit leaves the writer's reach.

        Beyond ``all``, the new parent, and for a move the unit and its old parent too,
        must be units the writer reaches: a regional manager may rearrange the region's
        dealers, but not hang one (and every record in it) under another region, nor
        move the region itself. No parent (a root) is for ``all`` only. A move below
        the unit itself is refused as a cycle when the tree is rewritten.
        """
        if cobj.name != ORG_UNIT_OBJECT or "parent" not in values or scope is Scope.ALL:
            return False
        if old is not None and values["parent"] == old["parent"]:
            return False
        ids = [values["parent"], *((old["id"], old["parent"]) if old is not None else ())]
        if any(i is None for i in ids):
            return True
        return not self._within(conn, Scope.ORG_UNIT if scope is Scope.OWN else scope, actor, ids)

    # -- sharing, purging, exporting ------------------------------------------------------

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
        """Refuse a share (or, with no grantee, its withdrawal) the actor may not make.

        Only who reaches the record for ``update`` by their roles (owner, scope, grant
        rules) may share it, as Salesforce lets only the owner and those above: a share
        never lets its holder share on. The grantee must be a user or unit within the
        actor's ``share`` scope (default: their ``read`` scope), or of the record's unit.

        Raises:
            Forbidden: The actor may not share this record.
            ValidationFailed: The grantee is outside what the actor may share with.
        """
        if actor.user_id is None:
            return
        access = self.access(actor, cobj)
        scope = access.share
        if scope is Scope.NONE or not self._changes_by_role(conn, actor, cobj, record["id"]):
            text = message("forbidden", operation=_SHARE, object=cobj.obj.label)
            raise Forbidden(cobj.name, "share", text)
        if scope is Scope.ALL or (user is None and org_unit is None):
            return
        unit = record["id"] if cobj.name == ORG_UNIT_OBJECT else record.get("org_unit")
        units = Scope.ORG_UNIT if scope is Scope.OWN else scope
        if user is not None:
            field, label = "user", _USER
            inside = self._reaches_user(conn, units, actor, user, unit)
        else:
            field, label = "org_unit", SYSTEM_LABELS["org_unit"]
            inside = org_unit == unit or self._within(conn, units, actor, [org_unit])
        if not inside:
            text = message("out_of_scope", label=label, operation=_SHARE)
            error = FieldError(field=field, rule="share", code="out_of_scope", message=text)
            raise ValidationFailed([error], actor.locale)

    def _changes_by_role(
        self, conn: sa.Connection, actor: Actor, cobj: CompiledObject, record_id: Any
    ) -> bool:
        """Whether ``actor``'s roles alone, shares left out, let them change the record."""
        access = self.row_access(actor, cobj, Operation.UPDATE, self.compiled, shares=False)
        condition = None if access is None else access.condition()
        if condition is None:
            return True
        table = self.compiled.tables[cobj.name]
        found = sa.select(table.c.id).where(table.c.id == record_id, condition).exists()
        return conn.execute(sa.select(found)).scalar() is True

    def may_purge(self, actor: Actor, cobj: CompiledObject) -> bool:
        """``purge``: deleting for good (``hard``) is a permission of its own, beyond
        ``delete`` (which archives, and can be undone)."""
        return actor.user_id is None or self.access(actor, cobj).purge

    def may_export(self, actor: Actor, cobj: CompiledObject) -> bool:
        """``export``: taking records out as a file is a permission of its own, beyond
        ``read``."""
        return actor.user_id is None or self.access(actor, cobj).export


_SHARE = {"en": "share", "zh-CN": "共享"}
_USER = {"en": "User", "zh-CN": "用户"}


def _policy(compiled: CompiledSchema) -> Policy:
    """The roles' grants combined per object, once per compiled schema."""
    return Policy(compiled.schema.roles, compiled.objects)
