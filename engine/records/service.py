"""RecordService: what callers (the API, the UI, imports, the worker) read and write by.

Each write call opens one transaction and one ``WriteContext`` (``engine.records.
unit_of_work``) and runs the write steps of ``engine.records.writer``, written once for
every kind of write; reads ask the authorizer what the actor may see. The features
(stages, approvals, sharing, files, automations, clock-driven work) are composed
objects over the same parts (``engine.records.parts``); the service hands their calls on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.actor import Actor, WriteOptions
from engine.records.approval_calls import ApprovalCalls
from engine.records.approvals import Approvals
from engine.records.authorize import (
    AllowAll,
    Authorizer,
    Operation,
    Viewer,
    row_filter,
)
from engine.records.automation_calls import AutomationCalls
from engine.records.automations import compile_automations
from engine.records.coerce import Invalid, coerce
from engine.records.effects import Effects
from engine.records.errors import (
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from engine.records.file_calls import FileCalls
from engine.records.hooks import plugin_manager
from engine.records.mail import MailSettings
from engine.records.messages import message
from engine.records.outbox import Outbox
from engine.records.parts import Parts
from engine.records.query import BadQuery, Page, SqlFilters, list_records
from engine.records.share_calls import ShareCalls
from engine.records.stage_calls import StageCalls
from engine.records.stages import compile_stage_machines
from engine.records.timed_calls import TimedCalls
from engine.records.unit_of_work import Transactions, WriteContext
from engine.records.writer import Writer
from engine.rules import system_clock
from engine.storage.blobs import BlobStore
from engine.storage.database import Database

__all__ = ["RecordService", "RowResult"]

Record = dict[str, Any]
DEFAULT_OPTIONS = WriteOptions()
#: The permission beyond the four operations, as a verb for "you may not …".
_EXPORT = {"en": "export", "zh-CN": "导出"}


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row of a bulk call."""

    index: int
    ok: bool
    record: Record | None = None
    errors: tuple[FieldError, ...] = ()
    created: bool = False
    #: A duplicate rule merged the row into an existing record (``record`` is that one).
    merged: bool = False
    #: Duplicate rules that matched and let the row through (``Duplicate``s).
    warnings: tuple[Any, ...] = ()


#: Names for the service's return types: inside the class ``list`` is its method.
Results = list[RowResult]
Records = list[Record]
Ids = list[int]


class RecordService:
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
        self.stages = stages = compile_stage_machines(compiled)
        attempts = compiled.tables.system["outbox_attempts"]
        outbox = Outbox(db, self.effects.outbox, attempts, clock)
        self.approvals = Approvals(compiled, clock)
        self.automations = compile_automations(compiled)
        mail = mail or MailSettings.from_env()
        self.files = files or BlobStore.for_database(db)
        self.writer = Writer(compiled, self.authorizer, self.plugins, self.effects, stages,
                             locks_rows=not db.is_sqlite)  # fmt: skip
        self.transactions = Transactions(db.engine, clock, self._deliver)
        parts = Parts(
            db=db, compiled=compiled, authorizer=self.authorizer, plugins=self.plugins,
            clock=clock, effects=self.effects, filters=self.filters, stages=self.stages,
            approvals=self.approvals, automations=self.automations, outbox=outbox,
            mail=mail, files=self.files, writer=self.writer,
            transactions=self.transactions,
        )  # fmt: skip
        self.workflow = StageCalls(parts)
        self.approval_calls = ApprovalCalls(parts)
        self.sharing = ShareCalls(parts)
        self.file_calls = FileCalls(parts)
        self.automation_calls = AutomationCalls(parts)
        self.timed = TimedCalls(parts)
        self.writer.features = [self.approval_calls, self.automation_calls]
        # The features' calls, as the service's own (what the API, UI and worker call).
        self.transition = self.workflow.transition
        self.transitions = self.workflow.transitions
        self.moves = self.workflow.moves
        self.submit = self.approval_calls.submit
        self.approve = self.approval_calls.approve
        self.reject = self.approval_calls.reject
        self.recall = self.approval_calls.recall
        self.escalate_due = self.approval_calls.escalate_due
        self.inbox = self.approval_calls.inbox
        self.approval = self.approval_calls.approval
        self.approvals_of = self.approval_calls.approvals_of
        self.share = self.sharing.share
        self.unshare = self.sharing.unshare
        self.shares = self.sharing.shares
        self.upload = self.file_calls.upload
        self.open_file = self.file_calls.open_file
        self.notifications = self.automation_calls.notifications
        self.mark_notification_read = self.automation_calls.mark_notification_read
        self.deliver_outbox = self.automation_calls.deliver_outbox
        self.notification_preview = self.automation_calls.notification_preview
        self.queue_due_automations = self.timed.queue_due_automations

    @property
    def outbox(self) -> Outbox:
        """Where after-commit work waits; replaceable (a rehearsal holds what would leave)."""
        return self.automation_calls.outbox

    @outbox.setter
    def outbox(self, outbox: Outbox) -> None:
        self.automation_calls.outbox = outbox

    @property
    def mail(self) -> MailSettings | None:
        """The SMTP server notifications are sent through (None: e-mail is not sent)."""
        return self.automation_calls.mail

    @mail.setter
    def mail(self, settings: MailSettings | None) -> None:
        self.automation_calls.mail = settings

    def _deliver(self, ids: Ids) -> None:
        """Deliver a committed write's outbox rows now; what fails stays for the worker."""
        self.outbox.deliver(self.automation_calls.dispatch, ids=ids)

    # -- reading -----------------------------------------------------------------------

    def get(self, object_name: str, record_id: str, actor: Actor) -> Record:
        cobj = self._object(object_name)
        with self.db.read() as conn:
            row = self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
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

    def history(self, object_name: str, record_id: str, actor: Actor) -> Records:
        """Field changes of one record, oldest first: fields the actor may not read are
        left out and personal data is masked, as on the record itself."""
        cobj = self._object(object_name)
        table = self.effects.history
        with self.db.read() as conn:
            self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
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
            record = self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
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
        """The record created (or the one a duplicate rule merged it into)."""
        record = self.create_row(object_name, values, actor, options).record
        assert record is not None  # a created (or merged) row always carries its record
        return record

    def create_row(
        self,
        object_name: str,
        values: Mapping[str, Any],
        actor: Actor,
        options: WriteOptions = DEFAULT_OPTIONS,
    ) -> RowResult:
        """``create``, saying whether the row was created or merged and what duplicate
        rules warned of (what the API and the UI show).

        Raises:
            ValidationFailed: The row breaks a check (a blocking duplicate rule included).
        """
        [result] = self._create_many(object_name, [values], actor, options, all_or_none=True)
        if not result.ok:
            raise ValidationFailed(list(result.errors), actor.locale)
        return result

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
    ) -> Results:
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
        record = self.update_row(object_name, record_id, values, actor,
                                 expected_version=expected_version, options=options).record
        assert record is not None  # an update that succeeded always carries its record
        return record

    def update_row(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        actor: Actor,
        *,
        expected_version: int | None = None,
        options: WriteOptions = DEFAULT_OPTIONS,
    ) -> RowResult:
        """``update``, with what duplicate rules warned of."""
        cobj = self._object(object_name)
        with self.transactions.begin(actor, options) as ctx:
            record = self.writer.update(ctx, cobj, record_id, values,
                                        expected_version=expected_version)  # fmt: skip
        shown = self.authorizer.present(actor, cobj, record)
        return RowResult(0, True, shown, warnings=tuple(ctx.warnings))

    def upsert(
        self,
        object_name: str,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        key: str | None = None,
        options: WriteOptions = DEFAULT_OPTIONS,
        all_or_none: bool = True,
    ) -> Results:
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
        live: list[sa.ColumnElement[bool]] = [table.c.archived.is_(False)]
        seen = row_filter(self.authorizer, actor, cobj, Operation.READ, self.compiled)
        if seen is not None:
            live.append(seen)

        def write(ctx: WriteContext, values: Mapping[str, Any]) -> tuple[Record, bool]:
            try:  # matched as stored; no key, or one the field refuses, creates (and fails)
                match = coerce(field, values.get(key), actor.tz)
            except Invalid:
                match = None
            existing = None
            if match is not None and match != []:
                found = sa.select(table.c.id).where(table.c[key] == match, *live)
                existing = ctx.conn.execute(found).scalar()
            if existing is None:
                return self.writer.create_one(ctx, cobj, values)  # merged: not created
            return self.writer.update(ctx, cobj, existing, values), False

        return self._row_by_row(cobj, actor, rows, write, options, all_or_none)

    def bulk_update(
        self,
        object_name: str,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        options: WriteOptions = DEFAULT_OPTIONS,
        all_or_none: bool = True,
    ) -> Results:
        """Update many records by id in one transaction.

        Each row is ``{"id": ..., "version": n, field: value, ...}``; ``version`` is
        optional and, when given, a row whose record moved on since is refused as a
        conflict. A missing record, a stale version and broken rules are that row's errors.
        """
        cobj = self._object(object_name)

        def write(ctx: WriteContext, values: Mapping[str, Any]) -> tuple[Record, bool]:
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
            record = self.writer.update(ctx, cobj, record_id, changes, expected_version=version)
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
        with self.transactions.begin(actor, options) as ctx:
            self.writer.delete(ctx, cobj, record_id, hard)

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
    ) -> Results:
        cobj = self._object(object_name)
        results: Results = []
        failed = False
        if cobj.queries_records:  # each row's record queries see the rows before it
            chunk_size = 1
        with self.transactions.begin(actor, options) as ctx:
            for start, chunk in _chunks(rows, chunk_size):
                prepared = self.writer.prepare(ctx, cobj, chunk)
                passed = [not p.errors for p in prepared]
                good = [p for p in prepared if not p.errors]
                failed = failed or len(good) < len(prepared)
                inserted = not (failed and all_or_none)
                written = iter(self.writer.insert(ctx, cobj, good) if inserted else ())
                for offset, p in enumerate(prepared):
                    index = start + offset
                    record = next(written) if inserted and passed[offset] else None
                    if p.errors:  # its checks, or the record a merge went into refused it
                        failed = True
                        results.append(RowResult(index, False, errors=tuple(p.errors)))
                    elif record is None:
                        results.append(RowResult(index, True, None))
                    else:
                        shown = (
                            self.authorizer.present(actor, cobj, record) if keep_records else None
                        )
                        merged = p.merged_into is not None
                        results.append(RowResult(index, True, shown, created=not merged,
                                                 merged=merged,
                                                 warnings=tuple(p.warnings)))  # fmt: skip
            if failed and all_or_none:
                ctx.rollback()
                return [r if not r.ok else RowResult(r.index, True, None) for r in results]
        return results

    def _row_by_row(
        self,
        cobj: CompiledObject,
        actor: Actor,
        rows: Iterable[Mapping[str, Any]],
        write: Callable[[WriteContext, Mapping[str, Any]], tuple[Record, bool]],
        options: WriteOptions,
        all_or_none: bool,
    ) -> Results:
        """Run ``write`` for each row in one transaction, each row's failure its own result.

        With ``all_or_none`` one failure rolls everything back; without it each row runs in
        a savepoint, so a row that fails halfway leaves nothing behind and the rest land.
        """
        results: Results = []
        with self.transactions.begin(actor, options) as ctx:
            for index, values in enumerate(rows):
                savepoint = None if all_or_none else ctx.conn.begin_nested()
                events, callbacks = len(ctx.events), len(ctx.on_commit)
                warned = len(ctx.warnings)
                try:
                    record, created = write(ctx, values)
                except (ValidationFailed, NotFound, VersionConflict) as exc:
                    if savepoint is not None:
                        savepoint.rollback()
                    del ctx.events[events:], ctx.on_commit[callbacks:]  # rolled back with it
                    del ctx.warnings[warned:]
                    results.append(RowResult(index, False, errors=tuple(exc.row_errors())))
                    continue
                if savepoint is not None:
                    savepoint.commit()
                shown = self.authorizer.present(actor, cobj, record)
                results.append(RowResult(index, True, shown, created=created,
                                         warnings=tuple(ctx.warnings[warned:])))  # fmt: skip
            if all_or_none and not all(r.ok for r in results):
                ctx.rollback()
                return [r if not r.ok else RowResult(r.index, True, None) for r in results]
        return results

    def _object(self, name: str) -> CompiledObject:
        try:
            return self.compiled.objects[name]
        except KeyError:
            raise NotFound(name, "*") from None


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
