"""The record service running automations: after each write, in its transaction or from
the outbox, as the engine or as the triggering user (``engine.records.automations``).

A feature of ``RecordService`` taking part in the write steps (steps 10 and 11 of
``engine.records.writer``). An automation's writes are derived writes: each runs in a
child of the triggering write's context naming the automation, so its history and audit
say what caused it, and a loop is stopped with the chain named (the chain of queued work
travels in its outbox row) instead of running forever.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject
from engine.records.actor import Actor, WriteOptions
from engine.records.authorize import Operation, row_filter
from engine.records.automations import CompiledAutomation
from engine.records.autonumber import bump_counter
from engine.records.coerce import Invalid, coerce
from engine.records.disclosure import failure
from engine.records.effects import jsonable
from engine.records.errors import FieldError, NotFound, ValidationFailed
from engine.records.integrity import RelatedRecords
from engine.records.mail import EMAIL_TOPIC
from engine.records.messages import message, text_of
from engine.records.notifications import recipients, render, store
from engine.records.org_tree import subtree_ids
from engine.records.parts import Feature
from engine.records.people import ENGINE, actor_of, user_actor, users_named
from engine.records.prepare import with_related
from engine.records.stages import machine_for
from engine.records.timers import plan_timers
from engine.records.unit_of_work import Change, WriteContext
from engine.records.webhooks import WEBHOOK_TOPIC, call_webhook, render_body, sent_record
from engine.rules import EvalEnv
from engine.rules.bind import TRIGGER_ROOT, bind_record
from engine.storage.tables import ORG_UNIT_OBJECT
from metadata.model.automations import (
    AssignOwner,
    CallWebhook,
    CreateRecord,
    FindOrCreate,
    RunAs,
    RunPhase,
    RunTransition,
    SendNotification,
    SetFields,
    UpdateRelated,
)

__all__ = ["AUTOMATION_TOPIC", "AutomationCalls", "cause_of"]

Record = dict[str, Any]
_DEFAULT = WriteOptions()
log = logging.getLogger(__name__)
AUTOMATION_TOPIC = "automation.run"


def cause_of(automation: str) -> str:
    """How the chain of a write names an automation that made it."""
    return f"automation {automation}"


class AutomationCalls(Feature):
    def check_unlocked(self, ctx: WriteContext, cobj: CompiledObject, record_id: Any) -> None:
        return None

    def journal(self, ctx: WriteContext, change: Change) -> None:
        return None

    def automate(self, ctx: WriteContext, change: Change) -> Record | None:
        """Steps 10–11: run (or queue) the record-triggered automations the change fires
        and re-plan its timers; the record as it is now when an automation changed it in
        the transaction, else None."""
        conn, actor, cobj = ctx.conn, ctx.actor, change.cobj
        old, new = change.old, change.new
        env = EvalEnv(user=actor.as_user(), old=old, clock=self.clock, timezone=actor.timezone)
        record_id = change.record_id
        ran = False
        related = RelatedRecords(conn, self.compiled, cobj)
        for ca in self.automations.on_write.get(cobj.name, ()):
            # rules that read through lookups see the linked records
            seen = (with_related(old, ca.walks, related), with_related(new, ca.walks, related))
            if not ca.fires(change.operation, *seen, env):
                continue
            if ca.automation.run is RunPhase.IN_TRANSACTION:
                self._run_actions(ctx, ca, record_id, actor)
                ran = True
                continue
            payload = {
                "automation": ca.name,
                "record_id": record_id,
                "actor": actor.user_id,
                "chain": [*ctx.chain, cause_of(ca.name)],
            }
            ctx.events.extend(self.effects.enqueue(conn, AUTOMATION_TOPIC, [payload], ctx.now()))
        current = self.writer.fetch(conn, cobj, record_id, ENGINE, Operation.READ) if ran else None
        timed = self.automations.timed.get(cobj.name)
        if timed:
            timers = self.compiled.tables.system["timers"]
            after = current or new
            plan_timers(conn, timers, timed, old, after, actor.user_id, env, recheck=ran)
        return current

    def dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        """An outbox row: an automation's after-commit run, a webhook call, or an event for
        the plugins."""
        if topic == WEBHOOK_TOPIC:
            call_webhook(payload)
            return
        if topic == EMAIL_TOPIC:
            if self.mail is None:
                raise RuntimeError("no SMTP server is set (METACRM_SMTP_URL)")
            self.mail.send(payload["to"], payload["subject"], payload["body"])
            return
        if topic != AUTOMATION_TOPIC:
            self.plugins.deliver(topic, payload)
            return
        ca = self.automations.by_name.get(payload["automation"])
        if ca is None:
            return  # the automation was removed from the packs since
        chain = tuple(payload.get("chain", [])[:-1])
        try:
            with self.transactions.begin(ENGINE, _DEFAULT, chain) as opened:
                triggering = user_actor(opened.conn, self.compiled, payload.get("actor"))
                ctx = dataclasses.replace(opened, actor=triggering)  # same transaction
                if self._still_due(ctx.conn, ca, payload, triggering):
                    self._run_actions(ctx, ca, payload["record_id"], triggering)
        except NotFound as gone:  # the record was deleted since: nothing left to do
            log.info("automation %s skipped: %s", ca.name, gone)

    def _still_due(
        self,
        conn: sa.Connection,
        ca: CompiledAutomation,
        payload: dict[str, Any],
        triggering: Actor,
    ) -> bool:
        """Whether clock-driven work still applies to the record as it is now: a timer's
        due time is unchanged, a schedule's filter still holds (record triggers: always)."""
        if "due_at" not in payload and "scheduled_at" not in payload:
            return True
        record = self.writer.fetch(conn, ca.cobj, payload["record_id"], ENGINE, Operation.READ)
        env = EvalEnv(user=triggering.as_user(), clock=self.clock, timezone=triggering.timezone)
        if "due_at" in payload:
            due = ca.due_at(record, env)
            still = due is not None and due.isoformat() == payload["due_at"]
        else:
            still = ca.holds(record, env)
        if not still:
            log.info("automation %s skipped for %s: no longer due", ca.name, record["id"])
        return still

    def notifications(self, actor: Actor, limit: int = 50) -> list[Record]:
        """``actor``'s in-app notifications, unread first, newest first."""
        table = self.compiled.tables.system["notifications"]
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(table)
                .where(table.c.user_id == actor.user_id)
                .order_by(table.c.read_at.is_not(None), table.c.created_at.desc(), table.c.id)
                .limit(max(1, min(limit, 500)))
            )
            return [dict(r._mapping) for r in rows]

    def mark_notification_read(self, notification_id: str, actor: Actor) -> None:
        """Mark one of ``actor``'s notifications read (NotFound for anyone else's)."""
        table = self.compiled.tables.system["notifications"]
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            conn = ctx.conn
            try:
                done = conn.execute(
                    sa.update(table)
                    .where(table.c.id == notification_id, table.c.user_id == actor.user_id)
                    .values(read_at=self.clock())
                ).rowcount
            except sa.exc.StatementError:  # not an id at all
                done = 0
        if not done:
            raise NotFound("notification", notification_id)

    def deliver_outbox(self, limit: int = 100) -> Any:
        """Deliver due outbox rows (after-commit automations and plugin events)."""
        return self.outbox.deliver(self.dispatch, limit=limit)

    def _run_actions(
        self, ctx: WriteContext, ca: CompiledAutomation, record_id: Any, triggering: Actor
    ) -> None:
        """``ca``'s actions on the record, in order, each on the record as the previous
        one left it; as the engine or the triggering user (``run_as``), in a context
        derived from ``ctx`` that names the automation.

        Raises:
            ValidationFailed: An action's write is refused, or the chain of derived writes
                loops (named).
        """
        as_user = ca.automation.run_as is RunAs.TRIGGERING_USER
        inner = ctx.derived(cause_of(ca.name), record_id, actor=triggering if as_user else ENGINE,
                            options=_DEFAULT)  # fmt: skip
        env = EvalEnv(user=triggering.as_user(), clock=self.clock, timezone=triggering.timezone)
        related = RelatedRecords(ctx.conn, self.compiled, ca.cobj) if ca.walks else None
        for index, action in enumerate(ca.automation.actions):
            record = self.writer.fetch(ctx.conn, ca.cobj, record_id, ENGINE, Operation.READ)
            data = with_related(record, ca.walks, related)
            values, match = ca.evaluate(index, data, env), ca.match(index, data, env)
            self._act(inner, ca, action, record, values, match)

    def _act(
        self,
        ctx: WriteContext,
        ca: CompiledAutomation,
        action: Any,
        record: Record,
        values: dict[str, Any],
        match: dict[str, Any],
    ) -> None:
        conn, actor = ctx.conn, ctx.actor
        if isinstance(action, UpdateRelated):
            self._update_related(ctx, ca, action, record, values, match)
            return
        if isinstance(action, FindOrCreate):
            self._find_or_create(ctx, ca, action, record, values, match)
            return
        if isinstance(action, CreateRecord):
            target = self.object_named(action.object)
            self.writer.create(ctx, target, [values], echo=False)
            return
        if isinstance(action, CallWebhook):
            self._queue_webhook(ctx, ca, action, record)
            return
        if isinstance(action, SendNotification):
            self._notify(ctx, ca, action, record)
            return
        target, target_id = ca.cobj, record["id"]
        path = getattr(action, "target", None)
        if path is not None:
            reached = self._reach(conn, ca.cobj, record, path)
            if reached is None:
                log.info("automation %s: %s of %s is empty; nothing to change", ca.name, path,
                         record["id"])  # fmt: skip
                return
            target, target_id = reached
        writes: dict[str, Any] = {}
        engine_set: list[tuple[str, Any]] = []
        via = None
        if isinstance(action, SetFields):
            writes, engine_set = _split(values, target, actor)
        elif isinstance(action, RunTransition):
            machine = machine_for(self.stages, target.name, action.transition)
            writes[machine.field] = machine.transition(action.transition).to  # type: ignore[union-attr]
            via = action.transition
        elif isinstance(action, AssignOwner):
            owner = self._next_owner(conn, ca, action, record, values.get("owner"))
            if owner is None or str(owner) == str(record.get("owner")):
                return
            writes["owner"] = owner
        self.writer.update(ctx, target, target_id, writes, via=via,
                           comment=cause_of(ca.name), engine_set=engine_set,
                           echo=False)  # fmt: skip

    def _reach(
        self, conn: sa.Connection, cobj: CompiledObject, record: Record, path: str
    ) -> tuple[CompiledObject, Any] | None:
        """The object and id of the record ``path`` (lookups, hop by hop) reaches from
        ``record``; None where a hop is empty or its record is gone."""
        here, row = cobj, record
        for number, hop in enumerate(path.split(".")):
            linked = row.get(hop)
            if linked is None:
                return None
            here = self.compiled.object(here.fields[hop].to)
            if number == path.count("."):
                return here, linked
            try:
                row = self.writer.fetch(conn, here, linked, ENGINE, Operation.READ)
            except NotFound:
                return None
        return None

    def _matching(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        match: dict[str, Any],
        operation: Operation,
        *conditions: sa.ColumnElement[bool],
    ) -> list[Any] | None:
        """Ids of the live records of ``cobj`` whose ``match`` fields hold those values (as
        their fields store them) and ``conditions``, among those the automation's actor
        may reach for ``operation``, oldest first; None when a value cannot be stored in
        its field (so nothing can match it)."""
        table = self.compiled.tables[cobj.name]
        where = [table.c.archived.is_(False), *conditions]
        for name, value in match.items():
            fdef = cobj.fields.get(name)
            try:
                stored = coerce(fdef, value, ctx.actor.tz) if fdef is not None else value
            except Invalid:
                return None
            where.append(table.c[name].is_(None) if stored is None else table.c[name] == stored)
        allowed = row_filter(self.authorizer, ctx.actor, cobj, operation, self.compiled)
        if allowed is not None:
            where.append(allowed)
        query = sa.select(table.c.id).where(*where).order_by(table.c.created_at, table.c.id)
        return list(ctx.conn.execute(query).scalars())

    def _update_related(
        self,
        ctx: WriteContext,
        ca: CompiledAutomation,
        action: UpdateRelated,
        record: Record,
        values: dict[str, Any],
        match: dict[str, Any],
    ) -> None:
        """Every related record that matches, changed through the write steps in turn."""
        related = self.object_named(action.object)
        table = self.compiled.tables[related.name]
        via = action.via or next(f.name for child, f in self.compiled.references_to(ca.cobj.name)
                                 if child.name == related.name)  # fmt: skip
        conditions = [table.c[via] == record["id"]]
        if action.where is not None:
            bound = bind_record(action.where, TRIGGER_ROOT, record)
            conditions.append(self.filters.where(related, bound, ctx.actor))
        ids = self._matching(ctx, related, match, Operation.UPDATE, *conditions) or []
        writes, engine_set = _split(values, related, ctx.actor)
        for related_id in ids:
            self.writer.update(ctx, related, related_id, writes, comment=cause_of(ca.name),
                               engine_set=engine_set, echo=False)  # fmt: skip

    def _find_or_create(
        self,
        ctx: WriteContext,
        ca: CompiledAutomation,
        action: FindOrCreate,
        record: Record,
        values: dict[str, Any],
        match: dict[str, Any],
    ) -> None:
        """The oldest matching record the actor may read, or a new one; then ``link``."""
        found = self.object_named(action.object)
        ids = self._matching(ctx, found, match, Operation.READ)
        if ids:
            found_id = ids[0]
        else:
            [created] = self.writer.create(ctx, found, [{**values, **match}], echo=False)
            found_id = created["id"]
        if action.link is None:
            return
        current = self.writer.fetch(ctx.conn, ca.cobj, record["id"], ENGINE, Operation.READ)
        if str(current.get(action.link)) != str(found_id):
            writes, engine_set = _split({action.link: found_id}, ca.cobj, ctx.actor)
            self.writer.update(ctx, ca.cobj, record["id"], writes, comment=cause_of(ca.name),
                               engine_set=engine_set, echo=False)  # fmt: skip

    def _queue_webhook(
        self, ctx: WriteContext, ca: CompiledAutomation, action: CallWebhook, record: Record
    ) -> None:
        """Render the body now (the record as this write left it, just the fields the
        automation lists), call after the commit; the data leaving the system is audited."""
        sent = sent_record(ca.cobj, record, action.fields, action.include_pii)
        try:
            body = render_body(action.body, ca.name, ca.cobj.name, jsonable(sent))
        except ValueError as exc:  # the detail may quote the record: logged, not shown
            log.warning("automation %s: %s", ca.name, exc)
            text = message("rule_error", rule=ca.name, detail="the webhook body is not JSON")
            error = FieldError(field=None, rule=ca.name, code="rule_error", message=text)
            raise ValidationFailed([error]) from exc
        payload = {
            "automation": ca.name,
            "url": action.url,
            "body": body,
            "secret_env": action.secret_env,
            "timeout": action.timeout_seconds,
        }
        now = ctx.now()
        ctx.events.extend(self.effects.enqueue(ctx.conn, WEBHOOK_TOPIC, [payload], now))
        detail = {"automation": ca.name, "url": action.url, "fields": list(sent)}
        self.effects.audit(ctx.conn, "webhook", ca.cobj.name, record["id"], None, now, detail)

    def _notify(
        self, ctx: WriteContext, ca: CompiledAutomation, action: SendNotification, record: Record
    ) -> None:
        """Per recipient who may open the record, in their language and showing the
        record as they may see it: an in-app notification, and an e-mail queued for after
        the commit (when an SMTP server is set and the recipient has an address)."""
        conn = ctx.conn
        table = self.compiled.tables.system["notifications"]
        now = ctx.now()
        mails: list[dict[str, Any]] = []
        if "email" in action.channels and self.mail is None:
            log.warning("automation %s: no SMTP server is set; e-mail not sent", ca.name)
        for row in recipients(conn, self.compiled, ca.cobj, record, action.to):
            notice = self._notice(conn, ca, action, record, actor_of(row))
            if notice is None:
                log.info("automation %s: %s may not open %s %s; not notified", ca.name,
                         row.id, ca.cobj.name, record["id"])  # fmt: skip
                continue
            subject, body = notice
            if "in_app" in action.channels:
                store(conn, table, row.id, subject, body, ca.cobj, record["id"], ca.name, now)
            if "email" in action.channels and self.mail is not None and row.email:
                mails.append({"to": row.email, "subject": subject, "body": body})
        ctx.events.extend(self.effects.enqueue(conn, EMAIL_TOPIC, mails, now))

    def _notice(
        self,
        conn: sa.Connection,
        ca: CompiledAutomation,
        action: SendNotification,
        record: Record,
        reader: Actor,
    ) -> tuple[str, str] | None:
        """The subject and body ``reader`` gets from ``action``: the templates rendered in
        their language over the record as they may see it (hidden fields absent, personal
        data masked); None when they may not open the record, of which a notification
        then tells them nothing, not even that it exists.

        Raises:
            ValidationFailed: A template fails to render (named, not quoted).
        """
        if reader.user_id is not None and not self.writer.may_open(
            conn, ca.cobj, record["id"], reader
        ):
            return None
        seen = jsonable(self.authorizer.present(reader, ca.cobj, dict(record)))
        try:
            subject = render(text_of(action.subject), reader.locale, record=seen,
                             automation=ca.name)  # fmt: skip
            body = render(text_of(action.body), reader.locale, record=seen, automation=ca.name)
        except Exception as exc:  # a broken template: the write says so
            text = message("rule_error", rule=ca.name, detail=failure(ca.name, exc))
            error = FieldError(field=None, rule=ca.name, code="rule_error", message=text)
            raise ValidationFailed([error]) from exc
        return subject, body

    def notification_preview(
        self, automation: str, record_id: str, reader: Actor
    ) -> list[Record]:
        """What the notifications ``automation`` sends would tell ``reader`` about the
        record as it is now: ``{"subject", "body"}`` per notify action, rendered exactly
        as for a recipient (nothing when they may not open the record). For checking a
        template against a user's view; whether it fires, and for whom, is its trigger's
        and its ``to``'s business.

        Raises:
            NotFound: No such active automation, or no such record.
        """
        ca = self.automations.by_name.get(automation)
        if ca is None:
            raise NotFound("automation", automation)
        with self.db.read() as conn:
            record = self.writer.fetch(conn, ca.cobj, record_id, ENGINE, Operation.READ)
            found = []
            for action in ca.automation.actions:
                if isinstance(action, SendNotification):
                    notice = self._notice(conn, ca, action, record, reader)
                    if notice is not None:
                        found.append({"subject": notice[0], "body": notice[1]})
            return found

    def _next_owner(
        self,
        conn: sa.Connection,
        ca: CompiledAutomation,
        action: AssignOwner,
        record: Record,
        chosen: Any,
    ) -> str | None:
        """The next owner: round robin over the active users holding the role in the
        record's unit other than its current owner, or the user the rule names
        (``chosen``, a username), provided they are active, hold the role (if one is
        named) and work in the record's unit or a unit below it. None leaves the owner as
        it is."""
        unit = record.get("org_unit")
        users = self.compiled.tables.system["users"]
        if action.strategy == "rule":
            if not chosen or not isinstance(chosen, str):
                return None
            where = users.c.username == chosen
            units = self.compiled.tables.objects.get(ORG_UNIT_OBJECT)
            if unit is not None and units is not None:
                where = sa.and_(where, users.c.org_unit.in_(subtree_ids(units, unit)))
        elif unit is None:
            return None  # round robin shares out within a unit
        else:
            where = users.c.org_unit == unit
        pool = sorted(
            str(row.id) for row in users_named(conn, self.compiled, where)
            if action.role is None or action.role in (row.roles or [])
        )  # fmt: skip
        if not pool:
            log.info("automation %s found no owner for %s", ca.name, record.get("id"))
            return None
        if action.strategy == "rule":
            return pool[0]
        # Taking a record away from its owner (a lead nobody called back) gives it to
        # someone else: the current owner is skipped while anyone else is in the pool.
        others = [user for user in pool if user != str(record.get("owner"))] or pool
        counters = self.compiled.tables.system["autonumber"]
        turn = bump_counter(conn, counters, ca.cobj.name, f"rr:{ca.name}:{unit}"[:63])
        return others[(turn - 1) % len(others)]


def _split(
    values: dict[str, Any], cobj: CompiledObject, actor: Actor
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """An action's values as a write of ``actor``: what the engine sets itself (it may
    set read-only fields), and what goes through the caller's checks."""
    if actor.user_id is None:
        return {k: v for k, v in values.items() if k not in cobj.fields}, [
            (k, v) for k, v in values.items() if k in cobj.fields
        ]
    return dict(values), []
