"""Approval processes: who must agree before a record moves on, and what happens then.

An approval runs step by step. A step applies when its entry criteria hold (else it is
skipped); it is decided by its approvers (a role in the submitter's unit or above, the
record owner's manager, a named user, or the user in a field of the record): ``any`` of
them, or ``all``. A step whose ``auto_approve`` rule holds passes by itself. When the
last step passes the process's ``on_approve`` actions run (a workflow transition, field
updates); a rejection runs ``on_reject``. While an approval is pending the record is
locked to everyone but the current step's approvers (``lock_record``). State lives in
``_approvals`` and ``_approval_tasks``, written in the same transaction as the record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema, lookups_walked
from engine.records.actor import Actor
from engine.records.errors import FieldError, ValidationFailed
from engine.records.integrity import RelatedRecords
from engine.records.messages import message
from engine.records.org_tree import unit_and_above
from engine.records.people import role_holders, user_in_field, users_named
from engine.records.prepare import with_related
from engine.rules import CompiledRule, EvalEnv, RuleError, compile_rule
from engine.storage.tables import ORG_UNIT_OBJECT
from metadata.model.workflows import ApprovalMode, ApprovalProcess, Approver, ApproverKind

__all__ = ["Approvals", "CompiledProcess", "compile_processes"]

PENDING, APPROVED, REJECTED, RECALLED, SKIPPED = (
    "pending",
    "approved",
    "rejected",
    "recalled",
    "skipped",
)


@dataclass
class CompiledProcess:
    process: ApprovalProcess
    cobj: CompiledObject
    entry: CompiledRule | None = None
    step_entry: list[CompiledRule | None] = field(default_factory=list)
    step_auto: list[CompiledRule | None] = field(default_factory=list)
    on_approve: list[tuple[str, Any]] = field(default_factory=list)
    on_reject: list[tuple[str, Any]] = field(default_factory=list)
    #: Lookups the entry and auto-approve rules read through.
    walks: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.process.name


def compile_processes(compiled: CompiledSchema) -> dict[str, CompiledProcess]:
    """Every approval process of the schema, its rules compiled once per schema."""
    return compiled.once("approval_processes", _compile_processes)


def _compile_processes(compiled: CompiledSchema) -> dict[str, CompiledProcess]:
    out = {}
    for process in compiled.schema.approvals.values():
        cobj = compiled.objects.get(process.object)
        if cobj is None:
            continue

        def rule(r: Any, cobj: CompiledObject = cobj) -> CompiledRule | None:
            return compile_rule(r, cobj.context) if r is not None else None

        def sets(values: Mapping[str, Any], cobj: CompiledObject = cobj) -> list[tuple[str, Any]]:
            return [(k, rule(v) if isinstance(v, dict) else v) for k, v in values.items()]

        out[process.name] = CompiledProcess(
            process,
            cobj,
            rule(process.entry_criteria),
            [rule(s.entry_criteria) for s in process.steps],
            [rule(s.auto_approve) for s in process.steps],
            sets(process.on_approve.set_fields),
            sets(process.on_reject.set_fields),
            lookups_walked(cobj, [r for r in (process.entry_criteria,
                                              *(s.entry_criteria for s in process.steps),
                                              *(s.auto_approve for s in process.steps))
                                  if r is not None]),
        )  # fmt: skip
    return out


class Approvals:
    """The approval tables of one schema; every method works inside the caller's
    transaction (``conn``)."""

    def __init__(self, compiled: CompiledSchema, clock: Callable[[], dt.datetime]):
        self.compiled = compiled
        self.clock = clock
        self.processes = compile_processes(compiled)
        self.approvals = compiled.tables.system["approvals"]
        self.tasks = compiled.tables.system["approval_tasks"]
        self.locking = {p.process.object for p in self.processes.values() if p.process.lock_record}
        a = self.approvals
        self._pending = sa.select(a).where(  # kept: every update of a locking object asks
            a.c.object == sa.bindparam("_object"),
            a.c.record_id == sa.bindparam("_record_id"),
            a.c.status == PENDING,
        )

    def _seen(
        self, conn: sa.Connection, cproc: CompiledProcess, record: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """``record`` as the process's rules read it: with the records of the lookups
        they read through."""
        if not cproc.walks or "$related" in record:
            return record
        related = RelatedRecords(conn, self.compiled, cproc.cobj)
        return with_related(record, cproc.walks, related)

    # -- reading ----------------------------------------------------------------------

    def pending(self, conn: sa.Connection, object_name: str, record_id: Any) -> Any:
        """The record's pending approval row, if any."""
        params = {"_object": object_name, "_record_id": record_id}
        return conn.execute(self._pending, params).first()

    def approval(self, conn: sa.Connection, approval_id: str) -> Any:
        try:
            return conn.execute(
                sa.select(self.approvals).where(self.approvals.c.id == approval_id)
            ).first()
        except sa.exc.StatementError:  # not an id at all
            return None

    def open_task(self, conn: sa.Connection, approval: Any, user_id: Any) -> Any:
        """``user_id``'s undecided task in the approval's current step."""
        t = self.tasks
        query = sa.select(t).where(
            t.c.approval_id == approval.id,
            t.c.step == approval.step,
            t.c.approver == user_id,
            t.c.status == PENDING,
        )
        return conn.execute(query).first()

    def approver_of(self, conn: sa.Connection, approval: Any, user_id: Any) -> bool:
        """Whether ``user_id`` has (or had) a task in the approval, at any step."""
        t = self.tasks
        query = sa.select(t.c.id).where(t.c.approval_id == approval.id, t.c.approver == user_id)
        return user_id is not None and conn.execute(query.limit(1)).first() is not None

    def steps_tasks(self, conn: sa.Connection, approval_id: Any) -> list[dict[str, Any]]:
        t = self.tasks
        rows = conn.execute(
            sa.select(t).where(t.c.approval_id == approval_id).order_by(t.c.step, t.c.created_at)
        )
        return [dict(r._mapping) for r in rows]

    def inbox(self, conn: sa.Connection, user_id: Any) -> list[dict[str, Any]]:
        a, t = self.approvals, self.tasks
        rows = conn.execute(
            sa.select(a, t.c.id.label("task_id"), t.c.created_at.label("waiting_since"))
            .join(t, sa.and_(t.c.approval_id == a.c.id, t.c.step == a.c.step))
            .where(t.c.approver == user_id, t.c.status == PENDING, a.c.status == PENDING)
            .order_by(t.c.created_at)
        )
        return [dict(r._mapping) for r in rows]

    # -- writing ----------------------------------------------------------------------

    def start(
        self,
        conn: sa.Connection,
        cproc: CompiledProcess,
        record: Mapping[str, Any],
        submitter: Actor,
        comment: str | None,
        from_state: Any,
    ) -> tuple[dict[str, Any], str]:
        """Open an approval for ``record``; (the approval row, its status after any
        automatic steps: ``pending`` or ``approved``).

        Raises:
            ValidationFailed: The entry criteria do not hold, the record already has a
                pending approval, or a step has nobody who could decide it.
        """
        env = self._env(submitter)
        record = self._seen(conn, cproc, record)
        if cproc.entry is not None and not _holds(cproc.entry, record, env):
            raise _refusal("approval_not_applicable", submitter, process=_label(cproc))
        if self.pending(conn, cproc.process.object, record["id"]) is not None:
            raise _refusal("approval_pending", submitter, process=_label(cproc))
        row = {
            "id": str(uuid.uuid4()),
            "process": cproc.name,
            "object": cproc.process.object,
            "record_id": record["id"],
            "status": PENDING,
            "step": -1,
            "from_state": from_state,
            "submitted_by": submitter.user_id,
            "submitted_at": self.clock(),
            "comment": comment,
            "decided_at": None,
        }
        conn.execute(sa.insert(self.approvals), row)
        status = self.advance(conn, cproc, row, record, submitter)
        return row, status

    def advance(
        self,
        conn: sa.Connection,
        cproc: CompiledProcess,
        approval: Mapping[str, Any],
        record: Mapping[str, Any],
        submitter: Actor,
    ) -> str:
        """Move to the next step that applies and give its approvers their tasks; steps
        whose ``auto_approve`` holds pass at once. ``approved`` when none is left."""
        env = self._env(submitter)
        record = self._seen(conn, cproc, record)
        step = approval["step"] + 1
        now = self.clock()
        while step < len(cproc.process.steps):
            entry, auto = cproc.step_entry[step], cproc.step_auto[step]
            if entry is not None and not _holds(entry, record, env):
                step += 1
                continue
            if auto is not None and _holds(auto, record, env):
                step += 1
                continue
            spec = cproc.process.steps[step]
            people = {
                p for a in spec.approvers for p in self._approvers(conn, a, record, submitter)
            }
            if not people:
                raise _refusal("no_approver", submitter, step=spec.label or spec.name)
            conn.execute(
                sa.insert(self.tasks),
                [
                    {"id": str(uuid.uuid4()), "approval_id": approval["id"], "step": step,
                     "approver": person, "status": PENDING, "comment": None,
                     "created_at": now, "decided_at": None}
                    for person in sorted(people)
                ],
            )  # fmt: skip
            self._update(conn, approval["id"], step=step)
            return PENDING
        self._update(conn, approval["id"], step=step, status=APPROVED, decided_at=now)
        return APPROVED

    def decide(
        self,
        conn: sa.Connection,
        cproc: CompiledProcess,
        approval: Any,
        task: Any,
        approve: bool,
        comment: str | None,
    ) -> bool:
        """Record one approver's decision; True when it decides the step."""
        now = self.clock()
        t = self.tasks
        conn.execute(
            sa.update(t)
            .where(t.c.id == task.id)
            .values(status=APPROVED if approve else REJECTED, comment=comment, decided_at=now)
        )
        if not approve:
            self._close_step(conn, approval)
            self._update(conn, approval.id, status=REJECTED, decided_at=now)
            return True
        mode = cproc.process.steps[approval.step].mode
        if mode is ApprovalMode.ANY:
            self._close_step(conn, approval)
            return True
        still = conn.execute(
            sa.select(sa.func.count())
            .select_from(t)
            .where(t.c.approval_id == approval.id, t.c.step == approval.step, t.c.status == PENDING)
        ).scalar()
        return not still

    def escalate(
        self, conn: sa.Connection, approval: Any, record: Mapping[str, Any], submitter: Actor
    ) -> list[str]:
        """Add the ``escalate_to`` approvers to the current step when it has waited longer
        than ``escalate_after_hours``; the users added (none when not due, or done)."""
        cproc = self.processes.get(approval.process)
        if cproc is None or approval.step < 0 or approval.step >= len(cproc.process.steps):
            return []
        spec = cproc.process.steps[approval.step]
        if spec.escalate_after_hours is None or spec.escalate_to is None:
            return []
        t = self.tasks
        tasks = conn.execute(
            sa.select(t.c.approver, t.c.created_at).where(
                t.c.approval_id == approval.id, t.c.step == approval.step
            )
        ).all()
        since = min((row.created_at for row in tasks), default=None)
        due = since is not None and self.clock() - since >= dt.timedelta(
            hours=spec.escalate_after_hours
        )
        if not due:
            return []
        already = {str(row.approver) for row in tasks}
        added = sorted(self._approvers(conn, spec.escalate_to, record, submitter) - already)
        if added:
            conn.execute(
                sa.insert(t),
                [
                    {"id": str(uuid.uuid4()), "approval_id": approval.id, "step": approval.step,
                     "approver": person, "status": PENDING, "comment": None,
                     "created_at": self.clock(), "decided_at": None}
                    for person in added
                ],
            )  # fmt: skip
        return added

    def all_pending(self, conn: sa.Connection) -> list[Any]:
        a = self.approvals
        return list(conn.execute(sa.select(a).where(a.c.status == PENDING)).all())

    def recall(self, conn: sa.Connection, approval: Any) -> None:
        self._close_step(conn, approval)
        self._update(conn, approval.id, status=RECALLED, decided_at=self.clock())

    # -- helpers ----------------------------------------------------------------------

    def _close_step(self, conn: sa.Connection, approval: Any) -> None:
        t = self.tasks
        conn.execute(
            sa.update(t)
            .where(t.c.approval_id == approval.id, t.c.status == PENDING)
            .values(status=SKIPPED, decided_at=self.clock())
        )

    def _update(self, conn: sa.Connection, approval_id: Any, **values: Any) -> None:
        a = self.approvals
        conn.execute(sa.update(a).where(a.c.id == approval_id).values(**values))

    def _env(self, actor: Actor) -> EvalEnv:
        return EvalEnv(user=actor.as_user(), clock=self.clock, timezone=actor.timezone)

    def _approvers(
        self, conn: sa.Connection, spec: Approver, record: Mapping[str, Any], submitter: Actor
    ) -> set[str]:
        users = self.compiled.tables.system["users"]
        if spec.kind is ApproverKind.USER:
            key = users.c.username == spec.user
            if _is_uuid(spec.user):
                key = sa.or_(key, users.c.id == spec.user)
            return {str(row.id) for row in users_named(conn, self.compiled, key)}
        if spec.kind is ApproverKind.FIELD:
            return {
                str(row.id) for row in user_in_field(conn, self.compiled, record, spec.field or "")
            }
        if spec.kind is ApproverKind.MANAGER:
            return self._manager(conn, record)
        # a role in the submitter's unit or above, the submitter aside
        holders = role_holders(conn, self.compiled, spec.role, submitter.org_unit)
        return {str(row.id) for row in holders} - {str(submitter.user_id)}

    def _manager(self, conn: sa.Connection, record: Mapping[str, Any]) -> set[str]:
        """The manager of the owner's unit, or of the first unit above with a manager who
        is not the owner."""
        users = self.compiled.tables.system["users"]
        owner = record.get("owner")
        unit = conn.execute(sa.select(users.c.org_unit).where(users.c.id == owner)).scalar()
        table = self.compiled.tables.objects.get(ORG_UNIT_OBJECT)
        if table is None or "manager" not in table.c:
            return set()
        for unit_id in reversed(unit_and_above(conn, table, unit)):
            manager = conn.execute(sa.select(table.c.manager).where(table.c.id == unit_id)).scalar()
            if manager and str(manager) != str(owner):
                return {str(manager)}
        return set()


def _holds(rule: CompiledRule, record: Mapping[str, Any], env: EvalEnv) -> bool:
    try:
        return bool(rule(dict(record), env))
    except RuleError:
        return False


def _label(cproc: CompiledProcess) -> Any:
    return cproc.process.label or cproc.name


def _refusal(code: str, actor: Actor, **values: Any) -> ValidationFailed:
    error = FieldError(field=None, rule="approval", code=code, message=message(code, **values))
    return ValidationFailed([error], actor.locale)


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
