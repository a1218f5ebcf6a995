"""The write steps, written once: every create, update and delete goes through them.

A write of one or more records of an object runs, in order:

1. **authorise** — the actor may make this write (``Authorizer.check_write``);
2. **prepare** — defaults, coercion, stage moves, formulas, required fields, validation
   rules (``engine.records.prepare``);
3. **integrity** — references, unique keys, attachments, then duplicate rules
   (``engine.records.duplicates``: block, warn, or turn a create into a merge);
4. **number** — autonumbers, system columns, the org tree's own path;
5. **before-hooks** — plugins may still refuse;
6. **persist** — one INSERT, or an UPDATE guarded by the version read in step 1 (a
   merged create is an update of the record it matched, through these steps); the
   duplicate rules' match keys follow the row;
7. **derived changes** — rollups of the parents, paths below a moved unit: each one a
   write of that record through these same steps (``Origin.DERIVED``, with its cause);
8. **journal** — field history, stage moves, the audit entry (the approvals a move
   submits start here too);
9. **outbox** — events for after-commit plugin hooks;
10. **automations** — record-triggered automations run (or are queued) and
11. **timers** — time-triggered ones are re-planned.

Steps 1–6 are per operation; 7–11 are one sequence (``_after``) for every operation and
every origin. Nothing here opens or commits a transaction: the caller's ``WriteContext``
carries the connection, the actor and what to do after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records import disclosure
from engine.records.actor import Actor
from engine.records.authorize import Authorizer, Operation, operation_label, row_filter
from engine.records.autonumber import next_numbers
from engine.records.duplicates import MERGE_CAUSE, Duplicates
from engine.records.effects import Effects
from engine.records.errors import (
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from engine.records.files import check_attachments
from engine.records.hooks import PluginManager, WriteEvent
from engine.records.integrity import RelatedRecords, check_references, check_unique
from engine.records.messages import message
from engine.records.org_tree import below_unit, place_units, unit_position
from engine.records.prepare import Prepared, prepare
from engine.records.rollups import parents_of, rollup_values
from engine.records.rule_records import RuleRecords
from engine.records.stages import StageMachine
from engine.records.unit_of_work import Change, Origin, WriteContext
from engine.storage.tables import ORG_UNIT_OBJECT

__all__ = ["ENGINE", "AfterWrite", "Writer"]

Record = dict[str, Any]
#: The engine writing records it derives (rollups, org paths): every check of the data
#: applies, the caller's record access does not (the caller's write caused it).
ENGINE = Actor(user_id=None, name="engine")
_PURGE = {"en": "purge", "zh-CN": "彻底删除"}
#: Parameter names of the kept statements (no column is called so: ``_`` is reserved).
_ID, _VERSION = "_record_id", "_record_version"


class AfterWrite(Protocol):
    """A feature taking part in the write steps (approvals, automations)."""

    def check_unlocked(self, ctx: WriteContext, cobj: CompiledObject, record_id: Any) -> None:
        """Refuse to change a record the feature has locked."""

    def journal(self, ctx: WriteContext, change: Change) -> None:
        """Step 8: what the feature records of the change (an approval a move submits)."""

    def automate(self, ctx: WriteContext, change: Change) -> Record | None:
        """Steps 10–11: react to the change; the record as it is now if that changed it."""


class Writer:
    """The steps of the one write path, over a compiled schema."""

    def __init__(
        self,
        compiled: CompiledSchema,
        authorizer: Authorizer,
        plugins: PluginManager,
        effects: Effects,
        stages: Mapping[str, Sequence[StageMachine]],
        *,
        locks_rows: bool,
    ):
        self.compiled = compiled
        self.authorizer = authorizer
        self.plugins = plugins
        self.effects = effects
        self.stages = stages
        self.locks_rows = locks_rows
        self.duplicates = Duplicates(compiled, authorizer)
        #: Features taking part, in order (set by the service once they exist).
        self.features: list[AfterWrite] = []

    # -- reading inside a write ----------------------------------------------------------

    def fetch(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        record_id: Any,
        actor: Actor,
        operation: Operation,
        *,
        lock: bool = False,
    ) -> Record:
        """The live record as ``actor`` may reach it for ``operation``.

        Raises:
            NotFound: No such record the actor may read.
            Forbidden: They may read it but not do ``operation`` to it.
        """
        query = self._by_id(cobj, lock and self.locks_rows)
        allowed = row_filter(self.authorizer, actor, cobj, operation, self.compiled)
        if allowed is not None:
            query = query.where(allowed)
        try:
            row = conn.execute(query, {_ID: str(record_id)}).mappings().first()
        except sa.exc.StatementError:  # not a valid id for the column type
            row = None
        if row is None:
            if operation is not Operation.READ and self.may_open(conn, cobj, record_id, actor):
                label = operation_label(operation)
                text = message("forbidden", operation=label, object=cobj.obj.label)
                raise Forbidden(cobj.name, operation.value, text)
            raise NotFound(cobj.name, str(record_id))
        return dict(row)

    def _by_id(self, cobj: CompiledObject, lock: bool) -> sa.Select[Any]:
        """The live record by id (``_ID``), locked or not: one statement per object kept
        for the schema, so a write does not build it and its cache key again each time."""

        def build(compiled: CompiledSchema) -> sa.Select[Any]:
            table = compiled.tables[cobj.name]
            query = sa.select(table).where(table.c.id == sa.bindparam(_ID),
                                           table.c.archived.is_(False))  # fmt: skip
            return query.with_for_update() if lock else query

        return self.compiled.once(f"writer.by_id {cobj.name} {lock}", build)

    def _guarded_update(self, cobj: CompiledObject) -> sa.Update:
        """UPDATE of the record ``_ID`` still at version ``_VERSION``; the values come as
        parameters, so the statement is built once per object."""

        def build(compiled: CompiledSchema) -> sa.Update:
            table = compiled.tables[cobj.name]
            return sa.update(table).where(table.c.id == sa.bindparam(_ID),
                                          table.c.version == sa.bindparam(_VERSION))  # fmt: skip

        return self.compiled.once(f"writer.guarded_update {cobj.name}", build)

    def may_open(
        self, conn: sa.Connection, cobj: CompiledObject, record_id: Any, actor: Actor
    ) -> bool:
        """Whether ``actor`` may read the record (to answer 403 rather than 404)."""
        try:
            self.fetch(conn, cobj, record_id, actor, Operation.READ)
        except NotFound:
            return False
        return True

    # -- create ------------------------------------------------------------------------

    def create(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        rows: Sequence[Mapping[str, Any]],
        *,
        echo: bool = True,
    ) -> list[Record]:
        """Create ``rows``; all or none.

        Raises:
            ValidationFailed: Any row breaks a check; the errors of every row.
        """
        return [record for record, _ in self._create(ctx, cobj, rows, echo)]

    def create_one(
        self, ctx: WriteContext, cobj: CompiledObject, values: Mapping[str, Any]
    ) -> tuple[Record, bool]:
        """Create one record; it and whether it is new (False: a duplicate rule merged
        it into an existing record, which is returned).

        Raises:
            ValidationFailed: The row breaks a check.
        """
        [(record, merged)] = self._create(ctx, cobj, [values], True)
        return record, not merged

    def _create(
        self, ctx: WriteContext, cobj: CompiledObject, rows: Sequence[Mapping[str, Any]],
        echo: bool,
    ) -> list[tuple[Record, bool]]:  # fmt: skip
        prepared = self.prepare(ctx, cobj, rows, echo=echo)
        errors = [e for p in prepared for e in p.errors]
        if errors:
            raise ValidationFailed(errors, ctx.actor.locale)
        records = self.insert(ctx, cobj, prepared)
        errors = [e for p in prepared for e in p.errors]  # a merge the record refused
        if errors:
            raise ValidationFailed(errors, ctx.actor.locale)
        self._warn(ctx, prepared)
        return [(r, p.merged_into is not None) for r, p in zip(records, prepared, strict=True)]

    def prepare(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        rows: Sequence[Mapping[str, Any]],
        old: Record | None = None,
        via: str | None = None,
        engine_set: Sequence[tuple[str, Any]] = (),
        derived: Mapping[str, Any] | None = None,
        *,
        echo: bool = True,
    ) -> list[Prepared]:
        """Steps 1–3 for each row, each row's errors in its Prepared; errors quote only
        what the caller sent (nothing, without ``echo``)."""
        conn, actor = ctx.conn, ctx.actor
        operation = Operation.CREATE if old is None else Operation.UPDATE
        machines = self.stages.get(cobj.name, ())
        walking = cobj.walks or any(m.walks for m in machines)
        related = RelatedRecords(conn, self.compiled, cobj) if walking else None
        records = RuleRecords(conn, self.compiled.rule_tables)

        def visible(target: CompiledObject) -> sa.ColumnElement[bool] | None:
            return row_filter(self.authorizer, actor, target, Operation.READ, self.compiled)

        prepared = []
        for values in rows:
            try:
                self.authorizer.check_write(
                    conn, actor, cobj, operation, old, values, self.compiled
                )
            except ValidationFailed as refused:  # that row's errors; the others go on
                prepared.append(Prepared(row={}, errors=refused.errors,
                                         sent=values if echo else {}))  # fmt: skip
                continue
            prepared.append(
                prepare(cobj, values, actor, ctx.clock, old, related, machines, via, engine_set,
                        echo=echo, process=ctx.options.process, derived=derived,
                        rules=derived is None or bool(values) or bool(engine_set),
                        records=records)
            )  # fmt: skip
        check_references(conn, self.compiled, cobj, prepared, related, visible)
        check_unique(conn, self.compiled, cobj, prepared)
        check_attachments(conn, self.compiled.tables.system["files"], cobj, prepared, actor)
        self.duplicates.check(ctx, cobj, prepared, rows, old)
        for p in prepared:
            p.errors = disclosure.echo(p.errors, p.sent)
        return prepared

    def insert(
        self, ctx: WriteContext, cobj: CompiledObject, prepared: list[Prepared]
    ) -> list[Record]:
        """Steps 4–11 for rows that passed ``prepare``; the records as written, in order.

        A row a duplicate rule merges is written into its match after the new rows (it
        may match one of them); one its match refuses gets errors and an empty record.
        """
        fresh = [p for p in prepared if p.merge is None]
        written = iter(self._insert_new(ctx, cobj, fresh))
        return [self._merge(ctx, cobj, p) if p.merge is not None else next(written)
                for p in prepared]  # fmt: skip

    def _insert_new(
        self, ctx: WriteContext, cobj: CompiledObject, prepared: list[Prepared]
    ) -> list[Record]:
        if not prepared:
            return []
        conn, actor = ctx.conn, ctx.actor
        now = ctx.now()
        counters = self.compiled.tables.system["autonumber"]
        for fdef in cobj.autonumbers:
            today = now.astimezone(actor.tz).date()
            numbers = next_numbers(conn, counters, cobj.name, fdef, today, len(prepared))
            for p, number in zip(prepared, numbers, strict=True):
                p.row[fdef.name] = number
        table = self.compiled.tables[cobj.name]
        columns = table.c.keys()
        records = []
        for p in prepared:
            row = p.row
            row.update(
                id=str(uuid.uuid4()),
                created_at=now,
                updated_at=now,
                version=1,
                archived=False,
                created_by=ctx.author,
                updated_by=ctx.author,
            )
            row.setdefault("owner", actor.user_id)
            row.setdefault("org_unit", actor.org_unit)
            for rollup in cobj.rollups:
                if rollup.field.function in ("count", "sum"):
                    row[rollup.field.name] = 0  # no children yet
            records.append({name: row.get(name) for name in columns})
        if cobj.name == ORG_UNIT_OBJECT:
            place_units(conn, table, records)
        self._before_hooks(ctx, "create", cobj, records)
        conn.execute(sa.insert(table), records)
        self.duplicates.keep(conn, cobj, records)
        self._check_restricted_creates(ctx, cobj, [r["id"] for r in records])
        changes = [
            Change("create", cobj, None, record, {k: (None, v) for k, v in p.changed.items()},
                   ctx.origin, ctx.cause, moves=tuple(p.moves))
            for p, record in zip(prepared, records, strict=True)
        ]  # fmt: skip
        return self._after(ctx, changes)

    def _merge(self, ctx: WriteContext, cobj: CompiledObject, p: Prepared) -> Record:
        """A create a duplicate rule merges: an update of its match, filling only what the
        match leaves empty, with the rule as its cause in history and audit."""
        merge = p.merge
        target = merge.target()  # None: the earlier row it matched was refused
        savepoint = ctx.conn.begin_nested()
        events, callbacks = len(ctx.events), len(ctx.on_commit)
        try:
            if target is None:
                raise NotFound(cobj.name, "-")
            existing = self.fetch(ctx.conn, cobj, target, ctx.actor, Operation.UPDATE,
                                  lock=True)  # fmt: skip
            filled = self.duplicates.merge_values(cobj, p, existing)
            inner = ctx.derived(f"{MERGE_CAUSE} {merge.rule.name}", target)
            record = self.update(inner, cobj, target, filled)
            detail = {"rule": merge.rule.name, "fields": sorted(filled)}
            self.effects.audit(ctx.conn, "merge", cobj.name, target, ctx.actor.user_id,
                               ctx.now(), detail)  # fmt: skip
        except (ValidationFailed, NotFound, Forbidden, VersionConflict) as exc:
            savepoint.rollback()
            del ctx.events[events:], ctx.on_commit[callbacks:]
            p.errors.extend(exc.row_errors())
            return {}
        savepoint.commit()
        p.merged_into = target
        return record

    def _warn(self, ctx: WriteContext, prepared: Iterable[Prepared]) -> None:
        """The caller's own rows' duplicate warnings, for the response."""
        if ctx.origin is Origin.USER:
            ctx.warnings.extend(w for p in prepared for w in p.warnings)

    def _check_restricted_creates(
        self, ctx: WriteContext, cobj: CompiledObject, ids: list[Any]
    ) -> None:
        """The new rows meet the actor's restrict rules for ``create`` (the same SQL that
        narrows reads and updates, so a rule through a lookup reads the linked record).

        Raises:
            Forbidden: A new row falls outside them; the caller's transaction rolls back.
        """
        access = self.authorizer.row_access(ctx.actor, cobj, Operation.CREATE, self.compiled)
        if access is None or not access.restricts:
            return
        table = self.compiled.tables[cobj.name]
        outside = ctx.conn.execute(
            sa.select(table.c.id).where(table.c.id.in_(ids), sa.not_(sa.and_(*access.restricts)))
        ).first()
        if outside is not None:
            text = message("forbidden", operation=operation_label(Operation.CREATE),
                           object=cobj.obj.label)  # fmt: skip
            raise Forbidden(cobj.name, Operation.CREATE.value, text)

    # -- update ------------------------------------------------------------------------

    def update(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        record_id: Any,
        values: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        via: str | None = None,
        comment: str | None = None,
        engine_set: Sequence[tuple[str, Any]] = (),
        rollups: bool = False,
        derived: Mapping[str, Any] | None = None,
        echo: bool = True,
    ) -> Record:
        """Change ``values`` of one record; the record as it is after the write.

        ``rollups`` recomputes the record's rollup fields after locking it (a child of it
        changed); ``derived`` are values the engine worked out (an org path) and sets as
        they are. Such a recomputation alone runs the record's formulas but not its
        required fields or validation rules: they judge what a user enters, and the user
        whose child write moved a total cannot answer for the parent (its next save does).
        A write that changes nothing writes nothing and returns the record.

        Raises:
            NotFound, Forbidden: The actor may not reach / change the record.
            VersionConflict: ``expected_version`` is not the stored one, or another writer
                got in between.
            ValidationFailed: The write breaks a check.
        """
        conn, actor = ctx.conn, ctx.actor
        table = self.compiled.tables[cobj.name]
        old = self.fetch(conn, cobj, record_id, actor, Operation.UPDATE, lock=True)
        for feature in self.features:
            feature.check_unlocked(ctx, cobj, record_id)
        if expected_version is not None and old["version"] != expected_version:
            raise VersionConflict(
                cobj.name,
                record_id,
                expected_version,
                old["version"],
                self._changed_since(ctx, cobj, record_id, expected_version),
            )
        if rollups:
            derived = {**rollup_values(conn, self.compiled, cobj, record_id), **(derived or {})}
        [prepared] = self.prepare(
            ctx, cobj, [values], old, via, engine_set, derived, echo=echo
        )
        if prepared.errors:
            raise ValidationFailed(prepared.errors, actor.locale)
        self._warn(ctx, [prepared])
        if not prepared.changed:
            return old
        now = ctx.now()
        changes = {k: new for k, (_, new) in prepared.changed.items()}
        if cobj.name == ORG_UNIT_OBJECT and "parent" in changes:
            changes |= unit_position(conn, table, old, changes["parent"], actor.locale)
        changes.update(updated_at=now, updated_by=ctx.author, version=old["version"] + 1)
        self._before_hooks(ctx, "update", cobj, [prepared.row | changes])
        result = conn.execute(
            self._guarded_update(cobj), {**changes, _ID: record_id, _VERSION: old["version"]}
        )
        if result.rowcount != 1:
            current = conn.execute(sa.select(table.c.version).where(table.c.id == record_id))
            raise VersionConflict(
                cobj.name,
                record_id,
                old["version"],
                current.scalar() or 0,
                self._changed_since(ctx, cobj, record_id, old["version"]),
            )
        self.duplicates.keep(conn, cobj, [old | changes], changed=prepared.changed.__contains__)
        change = Change("update", cobj, old, old | changes, dict(prepared.changed), ctx.origin,
                        ctx.cause, moves=tuple(prepared.moves), comment=comment)  # fmt: skip
        [record] = self._after(ctx, [change])
        return record

    def _changed_since(
        self, ctx: WriteContext, cobj: CompiledObject, record_id: Any, version: int
    ) -> list[str]:
        """The fields changed since ``version`` that the writer may read: a conflict names
        no field its writer could not see."""
        log = self.effects.audit_log
        rows = ctx.conn.execute(
            sa.select(log.c.detail).where(
                log.c.object == cobj.name, log.c.record_id == record_id, log.c.action == "update"
            )
        )
        readable = self.authorizer.readable(ctx.actor, cobj)
        return sorted(
            {
                f
                for (detail,) in rows
                if detail.get("version", 0) > version
                for f in detail.get("fields", [])
                if readable is None or f in readable
            }
        )

    # -- delete ------------------------------------------------------------------------

    def delete(self, ctx: WriteContext, cobj: CompiledObject, record_id: Any, hard: bool) -> None:
        """Archive the record (or remove it when ``hard``), with its master-detail children.

        Raises:
            Forbidden: The actor may not delete it, or ``hard`` without ``purge``.
        """
        conn, actor = ctx.conn, ctx.actor
        table = self.compiled.tables[cobj.name]
        old = self.fetch(conn, cobj, record_id, actor, Operation.DELETE, lock=True)
        for feature in self.features:
            feature.check_unlocked(ctx, cobj, record_id)
        self.authorizer.check_write(conn, actor, cobj, Operation.DELETE, old, {}, self.compiled)
        if hard and not self.authorizer.may_purge(actor, cobj):
            text = message("forbidden", operation=_PURGE, object=cobj.obj.label)
            raise Forbidden(cobj.name, "purge", text)
        self._delete_children(ctx, cobj, record_id, hard)
        now = ctx.now()
        self._before_hooks(ctx, "delete", cobj, [old])
        if hard:
            conn.execute(sa.delete(table).where(table.c.id == record_id))
            self.duplicates.forget(conn, cobj, record_id)
        else:
            conn.execute(
                sa.update(table)
                .where(table.c.id == record_id)
                .values(
                    archived=True,
                    version=old["version"] + 1,
                    updated_at=now,
                    updated_by=ctx.author,
                )
            )
        self._after(ctx, [Change("delete", cobj, old, None, {}, ctx.origin, ctx.cause,
                                 purged=hard)])  # fmt: skip

    def _delete_children(
        self, ctx: WriteContext, cobj: CompiledObject, record_id: Any, hard: bool
    ) -> None:
        """Records that point here follow their field's on-delete rule, through these steps.

        ``restrict`` refuses while live records point here; ``cascade`` deletes them the
        same way (archive or remove); ``set_null`` clears the reference when the record is
        removed for good (an archived record can still be restored, so links stay).
        """
        for child, fdef in self.compiled.references_to(cobj.name):
            table = self.compiled.tables[child.name]
            ids = (
                ctx.conn.execute(
                    sa.select(table.c.id).where(
                        table.c[fdef.name] == record_id, table.c.archived.is_(False)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                continue
            rule = str(fdef.on_delete)
            if rule == "restrict":
                text = message("in_use", count=len(ids), object=child.obj.plural_label)
                error = FieldError(field=None, rule=f"{child.name}.{fdef.name}", code="in_use",
                                   message=text)  # fmt: skip
                raise ValidationFailed([error], ctx.actor.locale)
            for child_id in ids:
                if rule == "cascade":
                    self.delete(ctx, child, child_id, hard)
                elif hard:
                    self.update(ctx, child, child_id, {fdef.name: None})

    # -- steps 5, 7-11 -----------------------------------------------------------------

    def _before_hooks(
        self, ctx: WriteContext, operation: str, cobj: CompiledObject, records: Iterable[Record]
    ) -> None:
        if ctx.options.skip_hooks:
            return
        for record in records:
            event = WriteEvent(
                operation=operation, object=cobj.name, record=record, actor_id=ctx.actor.user_id
            )
            self.plugins.run_before_write(event, ctx.actor.locale)

    def _after(self, ctx: WriteContext, changes: list[Change]) -> list[Record]:
        """Steps 7–11 for ``changes`` (one operation on one object); the records as they
        are after every automation that ran in the transaction."""
        self._derive(ctx, changes)
        self._journal(ctx, changes)
        for change in changes:
            for feature in self.features:
                feature.journal(ctx, change)
        self._queue(ctx, changes)
        records = []
        for change in changes:
            current = change.new
            for feature in self.features:
                current = feature.automate(ctx, change) or current
            records.append(dict(current) if current is not None else {})
        return records

    def _derive(self, ctx: WriteContext, changes: list[Change]) -> None:
        """Step 7: the writes these changes cause, each through every step."""
        cobj = changes[0].cobj
        if cobj.name == ORG_UNIT_OBJECT:
            for change in changes:
                self._move_subtree(ctx, change)
        parents = parents_of(cobj.rollups_fed, [(c.old, c.new) for c in changes])
        for parent_name, ids in parents.items():
            parent = self.compiled.object(parent_name)
            for parent_id in sorted(ids, key=str):  # one lock order for every writer
                cause = f"rollup {parent_name} ← {cobj.name}"
                inner = ctx.derived(cause, parent_id, actor=ENGINE)
                try:
                    self.update(inner, parent, parent_id, {}, rollups=True, echo=False)
                except NotFound:
                    continue  # the parent was archived: it keeps its last totals

    def _move_subtree(self, ctx: WriteContext, change: Change) -> None:
        """The units below a unit whose parent changed, each given its new path."""
        if change.operation != "update" or "parent" not in change.changed:
            return
        table = self.compiled.tables[ORG_UNIT_OBJECT]
        cobj = change.cobj
        assert change.old is not None and change.new is not None  # an update has both
        for unit_id, path, depth in below_unit(ctx.conn, table, change.old, change.new):
            inner = ctx.derived(f"org path below {change.record_id}", unit_id, actor=ENGINE)
            self.update(inner, cobj, unit_id, {}, derived={"path": path, "depth": depth},
                        echo=False)  # fmt: skip

    def _journal(self, ctx: WriteContext, changes: list[Change]) -> None:
        """Step 8: field history, stage moves and one audit entry per call."""
        conn = ctx.conn
        now = ctx.now()
        cobj = changes[0].cobj
        operation = changes[0].operation
        action = "purge" if changes[0].purged else operation
        for change in changes:
            if change.operation == "update":
                tracked = [(f, b, a) for f, (b, a) in change.changed.items() if f in cobj.tracked]
                self.effects.record_history(conn, cobj.name, change.record_id, tracked,
                                            ctx.author, now, change.cause)  # fmt: skip
            moves = [(change.record_id, move) for move in change.moves]
            self.effects.log_moves(conn, cobj.name, moves, ctx.author, now, change.comment)
        detail: dict[str, Any] = dict(ctx.options.audit())
        if operation == "create":
            detail = {"ids": [c.record_id for c in changes], **detail}
        elif operation == "update":
            [change] = changes
            detail = {"version": change.new["version"],  # type: ignore[index]
                      "fields": sorted(change.changed), **detail}  # fmt: skip
        else:
            detail = {"version": changes[0].old["version"], **detail}  # type: ignore[index]
        if ctx.origin is Origin.DERIVED:
            detail["cause"] = list(ctx.chain)
        record_id = changes[0].record_id if len(changes) == 1 else None
        self.effects.audit(conn, action, cobj.name, record_id, ctx.author, now, detail)

    def _queue(self, ctx: WriteContext, changes: list[Change]) -> None:
        """Step 9: outbox rows for the after-commit hooks (only when a plugin has one)."""
        if not self.plugins.has_after_commit():
            return
        what = {"create": "created", "update": "updated"}.get(changes[0].operation, "deleted")
        payloads = [
            WriteEvent(operation=what, object=c.cobj.name, record=c.current,
                       actor_id=ctx.actor.user_id, old=c.old if what == "updated" else None,
                       ).payload()
            for c in changes
        ]  # fmt: skip
        ctx.events.extend(self.effects.enqueue(ctx.conn, f"record.{what}", payloads, ctx.now()))
