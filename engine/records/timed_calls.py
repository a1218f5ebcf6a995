"""The record service's clock-driven work: queue the runs of time-triggered automations
whose timers are due and of scheduled automations whose time has come.

A feature of ``RecordService``, called by the worker (``engine.worker``). Runs are queued in
the outbox, in the transaction that claims them, so a worker that dies after claiming
loses nothing: the outbox delivers them, with its retries.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from engine.records.automation_calls import AUTOMATION_TOPIC, cause_of
from engine.records.parts import Feature
from engine.records.people import ENGINE
from engine.records.timers import Claim, audit_late, claim_due_timers, claim_schedule

if TYPE_CHECKING:
    from engine.records.automations import CompiledAutomation

__all__ = ["DueWork", "TimedCalls"]

log = logging.getLogger(__name__)
_BATCH = 1000


@dataclass(frozen=True)
class DueWork:
    """What one round queued: timers fired, schedules run, records they selected."""

    timers: int = 0
    schedules: int = 0
    scheduled_records: int = 0
    #: Schedules whose run failed (logged; tried again next round).
    failed: tuple[str, ...] = ()
    #: Timers and schedule runs skipped for being late (``late``; in the audit log).
    skipped: int = 0


class TimedCalls(Feature):
    def queue_due_automations(self, limit: int = 500) -> DueWork:
        """Queue what the clock says is due; delivery is the outbox's business."""
        timers, skipped = self._fire_timers(limit)
        schedules = records = 0
        failed = []
        for ca in self.automations.scheduled:
            try:
                count = self._run_schedule(ca)
            except sa.exc.DBAPIError:  # its filter fails in the database: the others go on
                log.exception("schedule %s failed; it is tried again next round", ca.name)
                failed.append(f"schedule {ca.name}")
                continue
            if count == -1:
                skipped += 1
            elif count is not None:
                schedules += 1
                records += count
        return DueWork(timers, schedules, records, tuple(failed), skipped)

    def _fire_timers(self, limit: int) -> tuple[int, int]:
        """Queue due timers; returns (fired, skipped for being late)."""
        table = self.compiled.tables.system["timers"]
        now = self.clock()
        automations = self.automations.by_name
        with self.db.engine.begin() as conn:
            rows, late = claim_due_timers(
                conn, table, now, limit, not self.db.is_sqlite, automations
            )
            audit_late(conn, self.effects.audit_log, late, "timer")
            payloads = [
                {
                    "automation": row.automation,
                    "record_id": row.record_id,
                    "actor": row.planned_by,
                    "chain": [cause_of(row.automation)],
                    "due_at": row.due_at.isoformat(),
                }
                for row in rows
            ]
            self.effects.enqueue(conn, AUTOMATION_TOPIC, payloads, now)
        for skipped in late:
            log.info("timer %s skipped for %s: %s", skipped.automation, skipped.record_id,
                     skipped.detail)  # fmt: skip
        return len(rows), len(late)

    def _run_schedule(self, ca: CompiledAutomation) -> int | None:
        """Queue one run per record the schedule's filter selects now; None when the
        schedule is not due (or another worker took this run), -1 when the run was
        skipped for being late (audited)."""
        schedules = self.compiled.tables.system["schedules"]
        table = self.compiled.tables[ca.cobj.name]
        now = self.clock()
        try:
            with self.db.engine.begin() as conn:
                claim, late = claim_schedule(conn, schedules, ca, now)
                if claim is Claim.SKIPPED:
                    audit_late(conn, self.effects.audit_log, [late] if late else [], "schedule")
                    log.info("schedule %s skipped: %s", ca.name, late and late.detail)
                    return -1
                if claim is Claim.NOT_DUE:
                    return None
                query = sa.select(table.c.id).where(table.c.archived.is_(False))
                rule = getattr(ca.automation.trigger, "filter", None)
                if rule is not None:
                    reader = dataclasses.replace(ENGINE, timezone=ca.timezone.key)
                    query = query.where(self.filters.where(ca.cobj, rule, reader))
                ids = conn.execute(query.order_by(table.c.id)).scalars().all()
                stamp = now.isoformat()
                for start in range(0, len(ids), _BATCH):
                    payloads = [
                        {"automation": ca.name, "record_id": rid, "actor": None,
                         "chain": [cause_of(ca.name)], "scheduled_at": stamp}
                        for rid in ids[start : start + _BATCH]
                    ]  # fmt: skip
                    self.effects.enqueue(conn, AUTOMATION_TOPIC, payloads, now)
                count = len(ids)
                conn.execute(
                    sa.update(schedules)
                    .where(schedules.c.automation == ca.name)
                    .values(last_count=count)
                )
        except sa.exc.IntegrityError:  # two workers saw a new schedule at once
            return None
        log.info("schedule %s queued %s records", ca.name, count)
        return count
