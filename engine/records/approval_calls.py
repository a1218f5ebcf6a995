"""The record service's approval calls: submit, approve, reject, recall, the inbox.

A feature of ``RecordService`` taking part in the write steps (a record pending approval
is locked; a move that names an approval submits it, in the journal step); the process
logic is in ``engine.records.approvals``. A
workflow transition that names an approval submits it as part of the same write. The
outcome actions (a transition, field updates) run as the engine, in the transaction of
the decision that ends the process, with ``WriteOptions.process`` naming the process:
only such a write takes the transitions the outcome names (the audit entry of the write
says which process made it); every step is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject
from engine.records.actor import Actor, WriteOptions
from engine.records.approvals import APPROVED, PENDING, CompiledProcess
from engine.records.authorize import Operation
from engine.records.errors import Forbidden, NotFound
from engine.records.messages import message
from engine.records.parts import Feature
from engine.records.people import user_actor
from engine.records.stages import machine_for
from engine.records.unit_of_work import Change, WriteContext

__all__ = ["ApprovalCalls"]

Record = dict[str, Any]
_DEFAULT = WriteOptions()
ENGINE = Actor(user_id=None, name="approvals")


class ApprovalCalls(Feature):
    def submit(
        self,
        object_name: str,
        record_id: str,
        process: str,
        actor: Actor,
        comment: str | None = None,
    ) -> Record:
        """Submit the record to ``process`` (one that no transition starts); audited.

        Raises:
            NotFound: No such record the actor may change, or no such process for it.
            ValidationFailed: Entry criteria unmet, already pending, or no approver.
        """
        cobj = self.object_named(object_name)
        cproc = self.approvals.processes.get(process)
        if cproc is None or cproc.process.object != object_name:
            raise NotFound(f"{object_name} approval process", process)
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            record = self.writer.fetch(ctx.conn, cobj, record_id, actor, Operation.UPDATE,
                                       lock=True)  # fmt: skip
            self.check_unlocked(ctx, cobj, record_id)
            approval = self._submit_in(ctx, cobj, record, process, comment, None)
        return approval

    def approve(
        self, approval_id: str, actor: Actor, comment: str | None = None
    ) -> Record:
        """The current step approved by ``actor``; the process moves on or ends approved."""
        return self._decide(approval_id, actor, True, comment)

    def reject(
        self, approval_id: str, actor: Actor, comment: str | None = None
    ) -> Record:
        """The process ends rejected; its ``on_reject`` actions run."""
        return self._decide(approval_id, actor, False, comment)

    def recall(self, approval_id: str, actor: Actor) -> Record:
        """The submitter withdraws a pending approval; the record returns to the stage it
        was submitted from, unlocked."""
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            conn = ctx.conn
            approval = self.approvals.approval(conn, approval_id)
            if approval is None or approval.status != PENDING:
                raise NotFound("approval", approval_id)
            cproc = self.approvals.processes[approval.process]
            mine = actor.user_id is None or str(approval.submitted_by) == str(actor.user_id)
            if not mine or not cproc.process.allow_recall:
                text = message("forbidden", operation={"en": "recall", "zh-CN": "撤回"},
                               object=cproc.process.label or cproc.name)  # fmt: skip
                raise Forbidden("approval", "recall", text)
            self.approvals.recall(conn, approval)
            self._audit_approval(conn, approval, "approval_recall", actor, None)
            back = self._back_to(cproc, approval.from_state)
            if back:
                cause = f"approval {cproc.name}: recalled"
                inner = ctx.derived(cause, approval.record_id, actor=ENGINE, options=_as(cproc))
                self.writer.update(inner, cproc.cobj, approval.record_id, {}, comment=cause,
                                   engine_set=back)  # fmt: skip
            result = self._approval_view(conn, approval_id)
        return result

    def escalate_due(self) -> int:
        """Escalate every pending step that has waited past ``escalate_after_hours`` (its
        ``escalate_to`` approvers join the step); how many approvals were escalated. Run
        it periodically (``metacrm approvals escalate``)."""
        escalated = 0
        with self.transactions.begin(ENGINE, _DEFAULT) as ctx:
            conn = ctx.conn
            for approval in self.approvals.all_pending(conn):
                cproc = self.approvals.processes.get(approval.process)
                if cproc is None:
                    continue
                record = self.writer.fetch(conn, cproc.cobj, approval.record_id, ENGINE,
                                           Operation.READ)  # fmt: skip
                submitter = user_actor(conn, self.compiled, approval.submitted_by)
                added = self.approvals.escalate(conn, approval, record, submitter)
                if added:
                    escalated += 1
                    self._audit_approval(conn, approval, "approval_escalate", ENGINE,
                                         f"to {', '.join(added)}")  # fmt: skip
        return escalated

    def inbox(self, actor: Actor) -> list[Record]:
        """What awaits ``actor``: pending steps they are an approver of, oldest first.

        The process named them, so they decide whether or not their roles open the
        record; what they see of it is what their roles let them read: ``record`` is the
        record as they may read it (hidden fields out, personal data masked), or None
        when they may not open it, and then nothing of it reaches them, not even the
        stage it was submitted from (``from_state``).
        """
        with self.db.read() as conn:
            return [
                self._as_seen(conn, row, actor) for row in self.approvals.inbox(conn, actor.user_id)
            ]

    def approval(self, approval_id: str, actor: Actor) -> Record:
        """An approval with its tasks, for anyone who may read the record and for its
        approvers, with the record as the caller may read it (as in ``inbox``).

        Raises:
            NotFound: No such approval, or the caller neither reads its record nor is one
                of its approvers.
        """
        with self.db.read() as conn:
            row = self.approvals.approval(conn, approval_id)
            if row is None:
                raise NotFound("approval", approval_id)
            seen = self._as_seen(conn, self._approval_view(conn, approval_id), actor)
            if seen["record"] is None and not self.approvals.approver_of(conn, row, actor.user_id):
                raise NotFound("approval", approval_id)
            return seen

    def approvals_of(
        self, object_name: str, record_id: str, actor: Actor
    ) -> list[Record]:
        """A record's approvals with their tasks, newest first, for anyone who may read it."""
        cobj = self.object_named(object_name)
        table = self.approvals.approvals
        with self.db.read() as conn:
            self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
            ids = conn.execute(
                sa.select(table.c.id)
                .where(table.c.object == object_name, table.c.record_id == record_id)
                .order_by(table.c.submitted_at.desc())
            ).scalars()
            return [self._approval_view(conn, approval_id) for approval_id in list(ids)]

    # -- inside a transaction --------------------------------------------------------

    def journal(self, ctx: WriteContext, change: Change) -> None:
        """A stage move that names an approval submits the record to it."""
        for move in change.moves:
            if move.approval:
                self._submit_in(ctx, change.cobj, change.current, move.approval,
                                change.comment, move.from_state)  # fmt: skip

    def automate(self, ctx: WriteContext, change: Change) -> Record | None:
        return None

    def _submit_in(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        record: Record,
        process: str,
        comment: str | None,
        from_state: Any,
    ) -> Record:
        conn, actor = ctx.conn, ctx.actor
        cproc = self.approvals.processes[process]
        row, status = self.approvals.start(conn, cproc, record, actor, comment, from_state)
        self._audit_approval(conn, row, "approval_submit", actor, comment)
        if status == APPROVED:  # every step passed by itself
            self._outcome(ctx, cproc, record["id"], True)
        return self._approval_view(conn, row["id"])

    def _decide(
        self, approval_id: str, actor: Actor, approve: bool, comment: str | None
    ) -> Record:
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            conn = ctx.conn
            approval = self.approvals.approval(conn, approval_id)
            task = (
                self.approvals.open_task(conn, approval, actor.user_id)
                if approval is not None and approval.status == PENDING
                else None
            )
            if task is None:  # not an approver now: as if there were no such approval
                raise NotFound("approval", approval_id)
            cproc = self.approvals.processes[approval.process]
            decided = self.approvals.decide(conn, cproc, approval, task, approve, comment)
            action = "approval_approve" if approve else "approval_reject"
            self._audit_approval(conn, approval, action, actor, comment)
            if decided and not approve:
                self._outcome(ctx, cproc, approval.record_id, False)
            elif decided:
                record = self.writer.fetch(conn, cproc.cobj, approval.record_id, ENGINE,
                                           Operation.READ)  # fmt: skip
                submitter = user_actor(conn, self.compiled, approval.submitted_by)
                status = self.approvals.advance(
                    conn, cproc, dict(approval._mapping), record, submitter
                )
                if status == APPROVED:
                    self._outcome(ctx, cproc, approval.record_id, True)
            result = self._approval_view(conn, approval_id)
        return result

    def _outcome(
        self, ctx: WriteContext, cproc: CompiledProcess, record_id: Any, approved: bool
    ) -> None:
        """The process's ``on_approve`` or ``on_reject`` actions, run as the engine."""
        actions = cproc.process.on_approve if approved else cproc.process.on_reject
        sets = cproc.on_approve if approved else cproc.on_reject
        if actions.transition is None and not sets:
            return
        values: dict[str, Any] = {}
        if actions.transition is not None:
            machine = machine_for(self.stages, cproc.cobj.name, actions.transition)
            values[machine.field] = machine.transition(actions.transition).to  # type: ignore[union-attr]
        outcome = f"{cproc.name}: {'approved' if approved else 'rejected'}"
        inner = ctx.derived(f"approval {outcome}", record_id, actor=ENGINE, options=_as(cproc))
        self.writer.update(inner, cproc.cobj, record_id, values, via=actions.transition,
                           comment=outcome, engine_set=sets)  # fmt: skip

    def check_unlocked(self, ctx: WriteContext, cobj: CompiledObject, record_id: Any) -> None:
        """A record pending approval may be changed only by its current approvers."""
        conn, actor = ctx.conn, ctx.actor
        if actor.user_id is None or cobj.name not in self.approvals.locking:
            return
        pending = self.approvals.pending(conn, cobj.name, record_id)
        if pending is None:
            return
        cproc = self.approvals.processes.get(pending.process)
        if cproc is None or not cproc.process.lock_record:
            return
        if self.approvals.open_task(conn, pending, actor.user_id) is None:
            raise Forbidden(cobj.name, "update", message("locked_for_approval"))

    def _back_to(
        self, cproc: CompiledProcess, state: Any
    ) -> Sequence[tuple[str, Any]]:
        machines = self.stages.get(cproc.cobj.name, ())
        return [(m.field, state) for m in machines[:1]] if state is not None else []

    def _as_seen(
        self, conn: sa.Connection, approval: Record, actor: Actor
    ) -> Record:
        """``approval`` with ``record``: its record as ``actor`` may read it, or None when
        they may not open it; ``from_state`` (a value of the record) only where they may
        read the stage field."""
        cobj = self.compiled.objects.get(approval["object"])
        record = None
        if cobj is not None:
            try:
                stored = self.writer.fetch(conn, cobj, approval["record_id"], actor,
                                           Operation.READ)  # fmt: skip
                record = self.authorizer.present(actor, cobj, stored)
            except NotFound:
                pass
        machines = self.stages.get(cobj.name, ()) if cobj is not None else ()
        seen = dict(approval) | {"record": record}
        if record is None or (machines and machines[0].field not in record):
            seen["from_state"] = None
        return seen

    def _approval_view(self, conn: sa.Connection, approval_id: Any) -> Record:
        row = self.approvals.approval(conn, approval_id)
        return dict(row._mapping) | {"tasks": self.approvals.steps_tasks(conn, approval_id)}

    def _audit_approval(
        self,
        conn: sa.Connection,
        approval: Any,
        action: str,
        actor: Actor,
        comment: str | None,
    ) -> None:
        get = approval.get if isinstance(approval, dict) else approval._mapping.get
        detail = {"approval": str(get("id")), "process": get("process"), "comment": comment}
        self.effects.audit(conn, action, str(get("object")), get("record_id"), actor.user_id,
                           self.clock(), detail)  # fmt: skip


def _as(cproc: CompiledProcess) -> WriteOptions:
    """The options of a write that carries out ``cproc``'s outcome: it names the process,
    which may then take the transitions reserved to it (audited)."""
    return WriteOptions(process=cproc.name)
