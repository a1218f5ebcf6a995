"""The record service's stage workflow calls: take a transition, see which are offered.

A feature of ``RecordService``: the moves themselves are checked inside the write steps
(``engine.records.stages``, called from ``prepare``); these calls name a transition,
list the ones a user may take, and read the move log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine.records.actor import Actor, WriteOptions
from engine.records.authorize import Operation
from engine.records.errors import Forbidden
from engine.records.integrity import RelatedRecords
from engine.records.parts import Feature
from engine.records.prepare import with_related
from engine.records.stages import machine_for
from engine.rules import EvalEnv

__all__ = ["StageCalls"]

Record = dict[str, Any]
_DEFAULT = WriteOptions()


class StageCalls(Feature):
    def transition(
        self,
        object_name: str,
        record_id: str,
        name: str,
        actor: Actor,
        values: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        comment: str | None = None,
        options: WriteOptions = _DEFAULT,
    ) -> Record:
        """Take the workflow transition ``name``, with ``values`` it asks for filled in.

        The same checks as any write, plus the transition's: it leaves the record's
        current stage, the actor holds one of its roles, its guard holds and the fields
        it and the target stage require are filled. The move is logged with ``comment``.

        Raises:
            NotFound: No such record the actor may see, or no such transition.
            ValidationFailed: The transition cannot be taken now; the errors say why.
        """
        cobj = self.object_named(object_name)
        machine = machine_for(self.stages, object_name, name)
        target = {**(values or {}), machine.field: machine.transition(name).to}  # type: ignore[union-attr]
        with self.transactions.begin(actor, options) as ctx:
            record = self.writer.update(ctx, cobj, record_id, target,
                                        expected_version=expected_version, via=name,
                                        comment=comment)  # fmt: skip
        return self.authorizer.present(actor, cobj, record)

    def transitions(
        self, object_name: str, record_id: str, actor: Actor
    ) -> list[Record]:
        """The transitions ``actor`` may take from the record's current stage, each with
        what still stands in the way (fields to fill, an unmet condition). None for a
        reader who may not change the record: a guard's verdict reads fields they may
        not see, and they could not take the move anyway."""
        cobj = self.object_named(object_name)
        machines = self.stages.get(object_name, ())
        with self.db.read() as conn:
            record = self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
            try:
                self.writer.fetch(conn, cobj, record_id, actor, Operation.UPDATE)
            except Forbidden:
                return []
            related = RelatedRecords(conn, self.compiled, cobj)
            seen = {m.workflow.name: with_related(record, m.walks, related) for m in machines}
        env = EvalEnv(user=actor.as_user(), old=record, clock=self.clock, timezone=actor.timezone)
        offered = []
        for machine in machines:
            for t in machine.leaving(record.get(machine.field)):
                if not machine.may_take(t, actor):
                    continue
                missing, objection = machine.blockers(t, seen[machine.workflow.name], env)
                offered.append(
                    {
                        "name": t.name,
                        "label": t.label or {"en": t.name},
                        "workflow": machine.workflow.name,
                        "field": machine.field,
                        "from": record.get(machine.field),
                        "to": t.to,
                        "required_fields": missing,
                        "guard_met": objection is None,
                        "guard_message": t.guard_message if objection is not None else None,
                        "approval": t.approval,
                    }
                )
        return offered

    def moves(self, object_name: str, record_id: str, actor: Actor) -> list[Record]:
        """The record's stage moves, oldest first (for anyone who may read it)."""
        cobj = self.object_named(object_name)
        log = self.effects.transitions
        with self.db.read() as conn:
            self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
            rows = conn.execute(
                sa.select(log)
                .where(log.c.object == object_name, log.c.record_id == record_id)
                .order_by(log.c.at, log.c.id)
            )
            return [dict(r._mapping) for r in rows]
