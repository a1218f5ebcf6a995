"""RecordService: the one write path. Every create, update and delete goes through here.

Each call is one transaction and runs the steps of DESIGN.md in order: authorise;
defaults, coercion, formulas, required and validation rules (``prepare``); autonumbers;
plugin before-hooks; the SQL write with an optimistic version check; rollups of parents;
field history, audit entry and outbox rows; commit; after-commit hooks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records import disclosure
from engine.records.actor import Actor, WriteOptions
from engine.records.approval_calls import ApprovalCalls
from engine.records.approvals import Approvals
from engine.records.authorize import (
    AllowAll,
    Authorizer,
    Operation,
    Viewer,
    operation_label,
    row_filter,
)
from engine.records.automation_calls import AutomationCalls
from engine.records.automations import compile_automations
from engine.records.autonumber import next_numbers
from engine.records.coerce import Invalid, coerce
from engine.records.effects import Effects
from engine.records.errors import (
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionConflict,
    WriteCollision,
)
from engine.records.files import FileCalls, check_attachments
from engine.records.hooks import WriteEvent, plugin_manager
from engine.records.integrity import RelatedRecords, check_references, check_unique
from engine.records.mail import MailSettings
from engine.records.messages import message
from engine.records.org_tree import move_unit, place_units
from engine.records.outbox import Outbox
from engine.records.prepare import Prepared, prepare
from engine.records.query import BadQuery, Page, SqlFilters, list_records
from engine.records.rollups import affected, refresh_rollups
from engine.records.rule_records import RuleRecords
from engine.records.share_calls import ShareCalls
from engine.records.stage_calls import StageCalls
from engine.records.stages import compile_stage_machines
from engine.records.timed_calls import TimedCalls
from engine.rules import EvalEnv, system_clock
from engine.storage.blobs import BlobStore
from engine.storage.database import Database
from engine.storage.tables import ORG_UNIT_OBJECT
from metadata.model.fields import FieldType

__all__ = ["RecordService", "RowResult"]

Record = dict[str, Any]
DEFAULT_OPTIONS = WriteOptions()
#: The permissions beyond the four operations, as verbs for "you may not …".
_PURGE = {"en": "purge", "zh-CN": "彻底删除"}
_EXPORT = {"en": "export", "zh-CN": "导出"}
#: The engine reading its own writes back (after automations changed them).


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row of a bulk call."""

    index: int
    ok: bool
    record: Record | None = None
    errors: tuple[FieldError, ...] = ()
    created: bool = False


class RecordService(
    StageCalls, ShareCalls, ApprovalCalls, AutomationCalls, TimedCalls, FileCalls
):
    """Reads and writes records of a compiled schema for an authenticated actor."""

    def __init__(
        self,
        db: Database,
        compiled: CompiledSchema,
        *,
        authorizer: Authorizer | None = None,
        plugins: Any = None,
        clock: Callable[[], dt.datetime] = system_clock,
        mail: MailSettings | None = None,
        files: BlobStore | None = None,
    ):
        """``mail`` defaults to the SMTP setting in the environment (``engine.records.mail``),
        ``files`` to the blob store the database's settings name (``engine.storage.blobs``)."""
        self.db = db
        self.compiled = compiled
        self.authorizer = authorizer or AllowAll()
        self.plugins = plugins or plugin_manager()
        self.clock = clock
        self.effects = Effects(compiled.tables)
        self.filters = SqlFilters(compiled, clock)
        self.stages = compile_stage_machines(compiled)
        attempts = compiled.tables.system["outbox_attempts"]
        self.outbox = Outbox(db, self.effects.outbox, attempts, clock)
        self.approvals = Approvals(compiled, clock)
        self.automations = compile_automations(compiled)
        self.mail = mail or MailSettings.from_env()
        self.files = files or BlobStore.for_database(db)

    def _env(self, actor: Actor) -> EvalEnv:
        """Rules evaluated for ``actor``'s write: their user, the service's clock, their zone."""
        return EvalEnv(user=actor.as_user(), clock=self.clock, timezone=actor.timezone)

    # -- reading -----------------------------------------------------------------------

    def get(self, object_name: str, record_id: str, actor: Actor) -> Record:
        cobj = self._object(object_name)
        with self.db.read() as conn:
            row = self._fetch(conn, cobj, record_id, actor, Operation.READ)
        return self.authorizer.present(actor, cobj, row)

    def list(self, object_name: str, actor: Actor, **options: Any) -> Page:
        """A page of records; see ``engine.records.query.list_records`` for the options."""
        cobj = self._object(object_name)
        viewer = Viewer(self.authorizer, actor, self.compiled)
        with self.db.read() as conn, _values_fit():
            page = list_records(conn, self.compiled, cobj, viewer, self.filters, **options)
        self._audit_personal(actor, page.personal, "list")
        return page

    def export(self, object_name: str, actor: Actor, **options: Any) -> Iterator[Page]:
        """Every matching record, page by page, for a file leaving the system; audited.

        Only an actor whose roles grant ``export`` on the object may export it (reading is
        not exporting); personal data is unmasked only for one who may also view it. The
        check runs when the first page is asked for. One audit entry records who exported
        what (filter, fields, whether unmasked) and how many rows, written when the export
        ends, however it ends. The options are ``list``'s (``cursor`` excepted).

        Raises:
            Forbidden: The actor may not export the object.
        """
        cobj = self._object(object_name)
        if not self.authorizer.may_export(actor, cobj):
            text = message("forbidden", operation=_EXPORT, object=cobj.obj.label)
            raise Forbidden(cobj.name, "export", text)
        unmask = self.authorizer.may_export_pii(actor, cobj)
        viewer = Viewer(self.authorizer, actor, self.compiled, unmask=unmask)
        rows = 0
        cursor = None
        try:
            while True:
                with self.db.read() as conn, _values_fit():
                    page = list_records(
                        conn, self.compiled, cobj, viewer, self.filters, cursor=cursor, **options
                    )
                if rows == 0:
                    self._audit_personal(actor, page.personal, "export")
                rows += len(page.records)
                yield page
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor
        finally:
            detail = {
                "filter": options.get("filter"),
                "fields": options.get("fields"),
                "unmasked": unmask,
                "rows": rows,
            }
            with self.db.engine.begin() as conn:
                self.effects.audit(
                    conn, "export", object_name, None, actor.user_id, self.clock(), detail
                )

    def _audit_personal(self, actor: Actor, personal: Iterable[tuple[str, str]], via: str) -> None:
        """A filter, sort or search that read personal data is audited like a reveal
        (once per field and request): who, which field, and through what."""
        personal = list(personal)
        if not personal:
            return
        with self.db.engine.begin() as conn:
            for object_name, field in personal:
                detail = {"field": field, "via": via}
                self.effects.audit(
                    conn, "reveal", object_name, None, actor.user_id, self.clock(), detail
                )

    def history(self, object_name: str, record_id: str, actor: Actor) -> list[Record]:
        """Field changes of one record, oldest first: fields the actor may not read are
        left out and personal data is masked, as on the record itself."""
        cobj = self._object(object_name)
        table = self.effects.history
        with self.db.read() as conn:
            self._fetch(conn, cobj, record_id, actor, Operation.READ)
            rows = conn.execute(
                sa.select(table)
                .where(table.c.object == object_name, table.c.record_id == record_id)
                .order_by(table.c.changed_at, table.c.id)
            )
            changes = [dict(r._mapping) for r in rows]
        shown = []
        for change in changes:
            name = change["field"]
            old = self.authorizer.present(actor, cobj, {name: change["old_value"]})
            new = self.authorizer.present(actor, cobj, {name: change["new_value"]})
            if name in new:
                shown.append(change | {"old_value": old[name], "new_value": new[name]})
        return shown

    def reveal(self, object_name: str, record_id: str, field: str, actor: Actor) -> Any:
        """One personal value unmasked, for an actor whose role may view it; audited.

        Raises:
            NotFound: No such record the actor may read (or no such readable field).
            Forbidden: The actor may see the field only masked.
        """
        cobj = self._object(object_name)
        fdef = cobj.fields.get(field)
        if fdef is None or field not in self.authorizer.present(actor, cobj, {field: None}):
            raise NotFound(object_name, f"{record_id}.{field}")
        with self.db.engine.begin() as conn:
            record = self._fetch(conn, cobj, record_id, actor, Operation.READ)
            if not self.authorizer.may_reveal(actor, cobj, field, record.get("owner")):
                text = message("no_reveal", label=fdef.label)
                raise Forbidden(object_name, "reveal", text)
            detail = {"field": field}
            self.effects.audit(
                conn, "reveal", object_name, record_id, actor.user_id, self.clock(), detail
            )
        return record[field]

    # -- writing -----------------------------------------------------------------------

    def create(
        self,
        object_name: str,
        values: Mapping[str, Any],
        actor: Actor,
        options: WriteOptions = DEFAULT_OPTIONS,
    ) -> Record:
        [result] = self._create_many(object_name, [values], actor, options, all_or_none=True)
        if not result.ok:
            raise ValidationFailed(list(result.errors), actor.locale)
        return result.record  # type: ignore[return-value]

    def bulk_create(
        self,
        object_name: str,
        rows: Iterable[Mapping[str, Any]],
        actor: Actor,
        options: WriteOptions = DEFAULT_OPTIONS,
        *,
        all_or_none: bool = True,
        keep_records: bool = True,
        chunk_size: int = 1000,
    ) -> list[RowResult]:
        """Create many records in one transaction, streaming ``rows`` in chunks.

        With ``all_or_none`` (the default) one bad row writes nothing and every row's
        result says why; without it the good rows land and the bad ones are reported.
        ``keep_records=False`` leaves the written records out of the results, so an import
        of any size runs in bounded memory.
        """
        return self._create_many(
            object_name,
            rows,
            actor,
            options,
            all_or_none=all_or_none,
            keep_records=keep_records,
            chunk_size=chunk_size,
        )

    def update(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        actor: Actor,
        *,
        expected_version: int | None = None,
        options: WriteOptions = DEFAULT_OPTIONS,
    ) -> Record:
        """Change the given fields; a stale ``expected_version`` raises VersionConflict."""
        cobj = self._object(object_name)
        events: list[int] = []
        with self._transaction(options) as conn:
            record = self._update_in(
                conn, cobj, record_id, values, actor, expected_version, options, events
            )
        self._after_commit(events, options)
        return self.authorizer.present(actor, cobj, record)

    def upsert(
        self,
        object_name: str,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        key: str | None = None,
        options: WriteOptions = DEFAULT_OPTIONS,
        all_or_none: bool = True,
    ) -> list[RowResult]:
        """Create or update by an external id field, all in one transaction.

        A row matches only a record the actor may read: one they cannot is, for them, not
        there, so the row creates (and a unique key refuses it as a create would), rather
        than telling them such a record exists.

        Raises:
            BadQuery: No key given and no external id, or a key that is not a field the
                actor may read (matching on it would tell them its values), told alike.
        """
        cobj = self._object(object_name)
        key = key or cobj.external_id
        if key is None:
            raise BadQuery(f"{object_name} has no external id; name the field to upsert on")
        readable = self.authorizer.readable(actor, cobj)
        if key not in cobj.fields or (readable is not None and key not in readable):
            raise BadQuery(f"cannot upsert on {object_name}.{key}: no such field you may read")
        table = self.compiled.tables[object_name]
        field = cobj.fields[key]
        live = [table.c.archived.is_(False)]
        seen = row_filter(self.authorizer, actor, cobj, Operation.READ, self.compiled)
        if seen is not None:
            live.append(seen)

        def write(
            conn: sa.Connection, values: Mapping[str, Any], events: list[int]
        ) -> tuple[Record, bool]:
            try:  # matched as stored; no key, or one the field refuses, creates (and fails)
                match = coerce(field, values.get(key), actor.tz)
            except Invalid:
                match = None
            existing = None
            if match is not None and match != []:
                found = sa.select(table.c.id).where(table.c[key] == match, *live)
                existing = conn.execute(found).scalar()
            if existing is None:
                return self._insert(conn, cobj, [values], actor, options, events)[0], True
            return self._update_in(
                conn, cobj, existing, values, actor, None, options, events
            ), False

        return self._row_by_row(cobj, actor, rows, write, options, all_or_none)

    def bulk_update(
        self,
        object_name: str,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        options: WriteOptions = DEFAULT_OPTIONS,
        all_or_none: bool = True,
    ) -> list[RowResult]:
        """Update many records by id in one transaction.

        Each row is ``{"id": ..., "version": n, field: value, ...}``; ``version`` is
        optional and, when given, a row whose record moved on since is refused as a
        conflict. A missing record, a stale version and broken rules are that row's errors.
        """
        cobj = self._object(object_name)

        def write(
            conn: sa.Connection, values: Mapping[str, Any], events: list[int]
        ) -> tuple[Record, bool]:
            changes = dict(values)
            record_id = changes.pop("id", None)
            version = changes.pop("version", None)
            problems = []
            if not isinstance(record_id, str):
                problems.append(_bad_key("id", "required"))
            if version is not None and (type(version) is not int):
                problems.append(_bad_key("version", "not_an_integer"))
            if problems:
                raise ValidationFailed(problems, actor.locale)
            record = self._update_in(
                conn, cobj, record_id, changes, actor, version, options, events
            )
            return record, False

        return self._row_by_row(cobj, actor, rows, write, options, all_or_none)

    def delete(
        self,
        object_name: str,
        record_id: str,
        actor: Actor,
        *,
        hard: bool = False,
        options: WriteOptions = DEFAULT_OPTIONS,
    ) -> None:
        """Archive the record (or remove it when ``hard``), with its master-detail children.

        Raises:
            Forbidden: The actor may not delete it, or ``hard`` without ``purge``.
        """
        cobj = self._object(object_name)
        events: list[int] = []
        with self._transaction(options) as conn:
            self._delete_in(conn, cobj, record_id, actor, hard, options, events)
        self._after_commit(events, options)

    # -- the steps ---------------------------------------------------------------------

    def _create_many(
        self,
        object_name: str,
        rows: Iterable[Mapping[str, Any]],
        actor: Actor,
        options: WriteOptions,
        *,
        all_or_none: bool,
        keep_records: bool = True,
        chunk_size: int = 1000,
    ) -> list[RowResult]:
        cobj = self._object(object_name)
        events: list[int] = []
        results: list[RowResult] = []
        failed = False
        if cobj.queries_records:  # each row's record queries see the rows before it
            chunk_size = 1
        with self._transaction(options) as conn:
            for start, chunk in _chunks(rows, chunk_size):
                prepared = self._prepare_many(conn, cobj, chunk, actor, options)
                good = [p for p in prepared if not p.errors]
                failed = failed or len(good) < len(prepared)
                if not (failed and all_or_none):
                    written = iter(self._write_new(conn, cobj, good, actor, options, events))
                for offset, p in enumerate(prepared):
                    index = start + offset
                    if p.errors:
                        results.append(RowResult(index, False, errors=tuple(p.errors)))
                    elif failed and all_or_none:
                        results.append(RowResult(index, True, None))
                    else:
                        record = next(written)
                        shown = (
                            self.authorizer.present(actor, cobj, record) if keep_records else None
                        )
                        results.append(RowResult(index, True, shown, created=True))
            if failed and all_or_none:
                conn.rollback()
                return [r if not r.ok else RowResult(r.index, True, None) for r in results]
        self._after_commit(events, options)
        return results

    def _row_by_row(
        self,
        cobj: CompiledObject,
        actor: Actor,
        rows: Iterable[Mapping[str, Any]],
        write: Callable[[sa.Connection, Mapping[str, Any], list[int]], tuple[Record, bool]],
        options: WriteOptions,
        all_or_none: bool,
    ) -> list[RowResult]:
        """Run ``write`` for each row in one transaction, each row's failure its own result.

        With ``all_or_none`` one failure rolls everything back; without it each row runs in
        a savepoint, so a row that fails halfway leaves nothing behind and the rest land.
        """
        results: list[RowResult] = []
        events: list[int] = []
        with self._transaction(options) as conn:
            for index, values in enumerate(rows):
                row_events: list[int] = []
                savepoint = None if all_or_none else conn.begin_nested()
                try:
                    record, created = write(conn, values, row_events)
                except (ValidationFailed, NotFound, VersionConflict) as exc:
                    if savepoint is not None:
                        savepoint.rollback()
                    results.append(RowResult(index, False, errors=tuple(exc.row_errors())))
                    continue
                if savepoint is not None:
                    savepoint.commit()
                events.extend(row_events)
                shown = self.authorizer.present(actor, cobj, record)
                results.append(RowResult(index, True, shown, created=created))
            if all_or_none and not all(r.ok for r in results):
                conn.rollback()
                return [r if not r.ok else RowResult(r.index, True, None) for r in results]
        self._after_commit(events, options)
        return results

    def _insert(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        rows: list[Mapping[str, Any]],
        actor: Actor,
        options: WriteOptions,
        events: list[int],
        *,
        echo: bool = True,
    ) -> list[Record]:
        prepared = self._prepare_many(conn, cobj, rows, actor, options, echo=echo)
        errors = [e for p in prepared for e in p.errors]
        if errors:
            raise ValidationFailed(errors, actor.locale)
        return self._write_new(conn, cobj, prepared, actor, options, events)

    def _check_restricted_creates(
        self, conn: sa.Connection, cobj: CompiledObject, ids: list[Any], actor: Actor
    ) -> None:
        """The new rows meet the actor's restrict rules for ``create`` (the same SQL that
        narrows reads and updates, so a rule through a lookup reads the linked record).

        Raises:
            Forbidden: A new row falls outside them; the caller's transaction rolls back.
        """
        access = self.authorizer.row_access(actor, cobj, Operation.CREATE, self.compiled)
        if access is None or not access.restricts:
            return
        table = self.compiled.tables[cobj.name]
        outside = conn.execute(
            sa.select(table.c.id).where(table.c.id.in_(ids), sa.not_(sa.and_(*access.restricts)))
        ).first()
        if outside is not None:
            text = message("forbidden", operation=operation_label(Operation.CREATE),
                           object=cobj.obj.label)  # fmt: skip
            raise Forbidden(cobj.name, Operation.CREATE.value, text)

    def _prepare_many(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor,
        options: WriteOptions,
        old: Record | None = None,
        via: str | None = None,
        engine_set: Sequence[tuple[str, Any]] = (),
        *,
        echo: bool = True,
    ) -> list[Prepared]:
        """Every check of the write before it is made, each row's errors in its Prepared;
        errors quote only what the caller sent (nothing, without ``echo``)."""
        operation = Operation.CREATE if old is None else Operation.UPDATE
        walking = cobj.walks or any(m.walks for m in self.stages.get(cobj.name, ()))
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
            stages = self.stages.get(cobj.name, ())
            prepared.append(
                prepare(cobj, values, actor, self.clock, old, related, stages, via, engine_set,
                        echo=echo, process=options.process, records=records)
            )  # fmt: skip
        check_references(conn, self.compiled, cobj, prepared, related, visible)
        check_unique(conn, self.compiled, cobj, prepared)
        check_attachments(conn, self.compiled.tables.system["files"], cobj, prepared, actor)
        for p in prepared:
            p.errors = disclosure.echo(p.errors, p.sent)
        return prepared

    def _write_new(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        prepared: list[Prepared],
        actor: Actor,
        options: WriteOptions,
        events: list[int],
    ) -> list[Record]:
        if not prepared:
            return []
        now = self.clock()
        counters = self.compiled.tables.system["autonumber"]
        for fdef in cobj.autonumbers:
            today = now.astimezone(actor.tz).date()
            numbers = next_numbers(conn, counters, cobj.name, fdef, today, len(prepared))
            for p, number in zip(prepared, numbers, strict=True):
                p.row[fdef.name] = number
        columns = self.compiled.tables[cobj.name].c.keys()
        records = []
        for p in prepared:
            row = p.row
            row.update(
                id=str(uuid.uuid4()),
                created_at=now,
                updated_at=now,
                version=1,
                archived=False,
                created_by=actor.user_id,
                updated_by=actor.user_id,
            )
            row.setdefault("owner", actor.user_id)
            row.setdefault("org_unit", actor.org_unit)
            for fdef in cobj.obj.fields:
                if fdef.kind is FieldType.ROLLUP and fdef.function in ("count", "sum"):
                    row[fdef.name] = 0  # no children yet
            records.append({name: row.get(name) for name in columns})
        if cobj.name == ORG_UNIT_OBJECT:
            place_units(conn, self.compiled.tables[cobj.name], records)
        self._before_hooks("create", cobj, records, actor, options)
        conn.execute(sa.insert(self.compiled.tables[cobj.name]), records)
        self._check_restricted_creates(conn, cobj, [r["id"] for r in records], actor)
        moves = [(r["id"], m) for p, r in zip(prepared, records, strict=True) for m in p.moves]
        self.effects.log_moves(conn, cobj.name, moves, actor.user_id, now)
        parents: dict[str, set[Any]] = {}
        for row in records:
            affected(cobj.rollups_fed, None, row, parents)
        refresh_rollups(conn, self.compiled, cobj.rollups_fed, parents, self._env(actor))
        self.effects.audit(
            conn,
            "create",
            cobj.name,
            records[0]["id"] if len(records) == 1 else None,
            actor.user_id,
            now,
            {"ids": [r["id"] for r in records], **options.audit()},
        )
        self._queue(conn, "created", cobj, records, now, events, actor)
        written = []
        for record in records:
            record = self._automate(conn, cobj, "create", None, record, actor, events) or record
            written.append(dict(record))
        return written

    def _update_in(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        record_id: str,
        values: Mapping[str, Any],
        actor: Actor,
        expected_version: int | None,
        options: WriteOptions,
        events: list[int],
        *,
        via: str | None = None,
        comment: str | None = None,
        engine_set: Sequence[tuple[str, Any]] = (),
        echo: bool = True,
    ) -> Record:
        table = self.compiled.tables[cobj.name]
        old = self._fetch(conn, cobj, record_id, actor, Operation.UPDATE, lock=True)
        self._check_unlocked(conn, cobj, record_id, actor)
        if expected_version is not None and old["version"] != expected_version:
            raise VersionConflict(
                cobj.name,
                record_id,
                expected_version,
                old["version"],
                self._changed_since(conn, cobj, record_id, expected_version, actor),
            )
        [prepared] = self._prepare_many(
            conn, cobj, [values], actor, options, old, via, engine_set, echo=echo
        )
        if prepared.errors:
            raise ValidationFailed(prepared.errors, actor.locale)
        if not prepared.changed:
            return old
        now = self.clock()
        changes = {k: new for k, (_, new) in prepared.changed.items()}
        if cobj.name == ORG_UNIT_OBJECT and "parent" in changes:
            changes |= move_unit(conn, table, old, changes["parent"], actor.locale)
        changes.update(updated_at=now, updated_by=actor.user_id, version=old["version"] + 1)
        self._before_hooks("update", cobj, [prepared.row | changes], actor, options)
        result = conn.execute(
            sa.update(table)
            .where(table.c.id == record_id, table.c.version == old["version"])
            .values(changes)
        )
        if result.rowcount != 1:
            current = conn.execute(sa.select(table.c.version).where(table.c.id == record_id))
            raise VersionConflict(
                cobj.name,
                record_id,
                old["version"],
                current.scalar() or 0,
                self._changed_since(conn, cobj, record_id, old["version"], actor),
            )
        record = old | changes
        parents: dict[str, set[Any]] = {}
        affected(cobj.rollups_fed, old, record, parents)
        refresh_rollups(conn, self.compiled, cobj.rollups_fed, parents, self._env(actor))
        tracked = [(f, b, a) for f, (b, a) in prepared.changed.items() if f in cobj.tracked]
        self.effects.record_history(conn, cobj.name, record_id, tracked, actor.user_id, now)
        moves = [(record_id, move) for move in prepared.moves]
        self.effects.log_moves(conn, cobj.name, moves, actor.user_id, now, comment)
        for move in prepared.moves:
            if move.approval:
                self._submit_in(conn, cobj, old | changes, move.approval, actor, comment,
                                move.from_state, events)  # fmt: skip
        self.effects.audit(
            conn,
            "update",
            cobj.name,
            record_id,
            actor.user_id,
            now,
            {"version": record["version"], "fields": sorted(prepared.changed), **options.audit()},
        )
        self._queue(conn, "updated", cobj, [record], now, events, actor, old=old)
        return self._automate(conn, cobj, "update", old, record, actor, events) or record

    def _delete_in(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        record_id: str,
        actor: Actor,
        hard: bool,
        options: WriteOptions,
        events: list[int],
    ) -> None:
        table = self.compiled.tables[cobj.name]
        old = self._fetch(conn, cobj, record_id, actor, Operation.DELETE, lock=True)
        self._check_unlocked(conn, cobj, record_id, actor)
        self.authorizer.check_write(conn, actor, cobj, Operation.DELETE, old, {}, self.compiled)
        if hard and not self.authorizer.may_purge(actor, cobj):
            text = message("forbidden", operation=_PURGE, object=cobj.obj.label)
            raise Forbidden(cobj.name, "purge", text)
        self._delete_children(conn, cobj, record_id, actor, hard, options, events)
        now = self.clock()
        self._before_hooks("delete", cobj, [old], actor, options)
        if hard:
            conn.execute(sa.delete(table).where(table.c.id == record_id))
        else:
            conn.execute(
                sa.update(table)
                .where(table.c.id == record_id)
                .values(
                    archived=True,
                    version=old["version"] + 1,
                    updated_at=now,
                    updated_by=actor.user_id,
                )
            )
        parents: dict[str, set[Any]] = {}
        affected(cobj.rollups_fed, old, None, parents)
        refresh_rollups(conn, self.compiled, cobj.rollups_fed, parents, self._env(actor))
        self.effects.audit(
            conn,
            "purge" if hard else "delete",
            cobj.name,
            record_id,
            actor.user_id,
            now,
            {"version": old["version"], **options.audit()},
        )
        self._queue(conn, "deleted", cobj, [old], now, events, actor)
        self._automate(conn, cobj, "delete", old, None, actor, events)

    def _delete_children(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        record_id: str,
        actor: Actor,
        hard: bool,
        options: WriteOptions,
        events: list[int],
    ) -> None:
        """Records that point here follow their field's on-delete rule, through this service.

        ``restrict`` refuses while live records point here; ``cascade`` deletes them the
        same way (archive or remove); ``set_null`` clears the reference when the record is
        removed for good (an archived record can still be restored, so links stay).
        """
        for child in self.compiled.objects.values():
            for fdef in child.obj.fields:
                if fdef.kind not in (FieldType.LOOKUP, FieldType.MASTER_DETAIL):
                    continue
                if fdef.to != cobj.name:
                    continue
                table = self.compiled.tables[child.name]
                ids = (
                    conn.execute(
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
                    raise ValidationFailed(
                        [
                            FieldError(
                                field=None,
                                rule=f"{child.name}.{fdef.name}",
                                code="in_use",
                                message=message(
                                    "in_use", count=len(ids), object=child.obj.plural_label
                                ),
                            )
                        ],
                        actor.locale,
                    )
                for child_id in ids:
                    if rule == "cascade":
                        self._delete_in(conn, child, child_id, actor, hard, options, events)
                    elif hard:
                        self._update_in(
                            conn, child, child_id, {fdef.name: None}, actor, None, options, events
                        )

    # -- helpers -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, options: WriteOptions) -> Iterator[sa.Connection]:
        """One write transaction; a constraint a concurrent writer beat us to is a 409.

        A dry run goes through every step and is rolled back instead of committed.
        """
        try:
            with self.db.engine.begin() as conn:
                yield conn
                if options.dry_run:
                    conn.rollback()
        except sa.exc.IntegrityError as exc:
            raise WriteCollision(str(exc.orig)) from exc

    def _object(self, name: str) -> CompiledObject:
        try:
            return self.compiled.objects[name]
        except KeyError:
            raise NotFound(name, "*") from None

    def _fetch(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        record_id: str,
        actor: Actor,
        operation: Operation,
        *,
        lock: bool = False,
    ) -> Record:
        table = self.compiled.tables[cobj.name]
        query = sa.select(table).where(table.c.id == str(record_id), table.c.archived.is_(False))
        allowed = row_filter(self.authorizer, actor, cobj, operation, self.compiled)
        if allowed is not None:
            query = query.where(allowed)
        if lock and not self.db.is_sqlite:
            query = query.with_for_update()
        try:
            row = conn.execute(query).mappings().first()
        except sa.exc.StatementError:  # not a valid id for the column type
            row = None
        if row is None:
            if operation is not Operation.READ and self._fetch_quietly(
                conn, cobj, record_id, actor
            ):
                label = operation_label(operation)
                text = message("forbidden", operation=label, object=cobj.obj.label)
                raise Forbidden(cobj.name, operation.value, text)
            raise NotFound(cobj.name, str(record_id))
        return dict(row)

    def _fetch_quietly(
        self, conn: sa.Connection, cobj: CompiledObject, record_id: str, actor: Actor
    ) -> bool:
        """Whether ``actor`` may read the record (to answer 403 rather than 404)."""
        try:
            self._fetch(conn, cobj, record_id, actor, Operation.READ)
        except NotFound:
            return False
        return True

    def _changed_since(
        self, conn: sa.Connection, cobj: CompiledObject, record_id: str, version: int,
        actor: Actor,
    ) -> list[str]:  # fmt: skip
        """The fields changed since ``version`` that ``actor`` may read: a conflict names
        no field its writer could not see."""
        log = self.effects.audit_log
        rows = conn.execute(
            sa.select(log.c.detail).where(
                log.c.object == cobj.name, log.c.record_id == record_id, log.c.action == "update"
            )
        )
        readable = self.authorizer.readable(actor, cobj)
        return sorted(
            {
                f
                for (detail,) in rows
                if detail.get("version", 0) > version
                for f in detail.get("fields", [])
                if readable is None or f in readable
            }
        )

    def _before_hooks(
        self,
        operation: str,
        cobj: CompiledObject,
        records: Iterable[Record],
        actor: Actor,
        options: WriteOptions,
    ) -> None:
        if options.skip_hooks:
            return
        for record in records:
            event = WriteEvent(
                operation=operation, object=cobj.name, record=record, actor_id=actor.user_id
            )
            self.plugins.run_before_write(event, actor.locale)

    def _queue(
        self,
        conn: sa.Connection,
        what: str,
        cobj: CompiledObject,
        records: list[Record],
        now: dt.datetime,
        events: list[int],
        actor: Actor,
        old: Record | None = None,
    ) -> None:
        """Outbox rows for the after-commit hooks (only when a plugin has one); their ids
        go to ``events``, to deliver once the transaction committed."""
        if not self.plugins.has_after_commit():
            return
        payloads = [
            WriteEvent(
                operation=what, object=cobj.name, record=r, actor_id=actor.user_id, old=old
            ).payload()
            for r in records
        ]
        events.extend(self.effects.enqueue(conn, f"record.{what}", payloads, now))

    def _after_commit(self, events: list[int], options: WriteOptions) -> None:
        """Deliver this write's outbox rows now; what fails stays for ``metacrm outbox``."""
        if options.dry_run or not events:
            return  # nothing was committed, or nothing to do
        self.outbox.deliver(self._deliver, ids=events)


@contextlib.contextmanager
def _values_fit() -> Iterator[None]:
    """A list whose filter holds a value its field's column cannot (text that is no uuid
    for an id, a NUL character on PostgreSQL) is the caller's bad query, not a failure."""
    try:
        yield
    except sa.exc.DataError as exc:
        raise BadQuery("the filter compares a field with a value it cannot hold") from exc


def _bad_key(name: str, code: str) -> FieldError:
    """A bulk update row whose ``id`` or ``version`` is missing or not of its type."""
    return FieldError(field=name, rule=code, code=code, message=message(code, label=name))


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterable[tuple[int, list[Any]]]:
    """``(index of first row, rows)`` for consecutive chunks of ``rows``."""
    chunk: list[Mapping[str, Any]] = []
    start = 0
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield start, chunk
            start += size
            chunk = []
    if chunk:
        yield start, chunk
