"""Timer and schedule rows: the plan of time-triggered automations, kept beside the
records they are for, and the next run of each scheduled one.

A timer row exists while a time-triggered automation has a due time for a record
(``pending``, then ``fired`` once queued, or ``skipped`` when it was reached later than its
``late`` rule allows). Writes re-plan it in their own transaction, so the plan is exactly
as current as the data; the worker only reads what is due. A schedule row keeps the cron
and time zone its next run was computed from, so an edited schedule is re-planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa

from engine.records.automations import CompiledAutomation
from engine.rules import EvalEnv

__all__ = [
    "Claim",
    "Late",
    "audit_late",
    "claim_due_timers",
    "claim_schedule",
    "plan_timers",
]

PENDING, FIRED, SKIPPED = "pending", "fired", "skipped"


class Claim(Enum):
    """What ``claim_schedule`` found: not due (or another worker took it), a run to make,
    or a run skipped for being late."""

    NOT_DUE = "not_due"
    RUN = "run"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Late:
    """A run skipped because it was reached later than its automation's ``late`` rule."""

    automation: str
    object: str
    record_id: Any
    due_at: dt.datetime
    reached_at: dt.datetime
    allowed: dt.timedelta

    @property
    def detail(self) -> dict[str, Any]:
        late = self.reached_at - self.due_at
        return {"automation": self.automation, "due_at": self.due_at.isoformat(),
                "late_seconds": int(late.total_seconds()),
                "allowed_seconds": int(self.allowed.total_seconds())}  # fmt: skip


def plan_timers(
    conn: sa.Connection,
    table: sa.Table,
    automations: Iterable[CompiledAutomation],
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    planned_by: Any,
    env: EvalEnv,
    *,
    recheck: bool = False,
) -> None:
    """Re-plan each automation's timer for the record a write took from ``old`` to
    ``new`` (None: created / deleted). Nothing is written when the due time did not
    change, unless ``recheck`` (another write in between may have re-planned it)."""
    record_id = (new or old or {}).get("id")
    for ca in automations:
        before = ca.due_at(old, env)
        after = ca.due_at(new, env)
        if before == after and not recheck and (old is not None or after is None):
            continue  # a timer that fired stays fired while its due time stands
        where = sa.and_(table.c.automation == ca.name, table.c.record_id == record_id)
        if old is None and not recheck:
            current = None  # a new record has no timer yet
        else:
            current = conn.execute(sa.select(table.c.due_at, table.c.status).where(where)).first()
        if after is None:
            if current is not None:
                conn.execute(sa.delete(table).where(where))
            continue
        if current is not None and current.due_at == after:
            continue
        values = {"due_at": after, "status": PENDING, "planned_by": planned_by}
        if current is None:
            row = {"automation": ca.name, "record_id": record_id, "object": ca.cobj.name}
            conn.execute(sa.insert(table), {**row, **values})
        else:
            conn.execute(sa.update(table).where(where).values(**values))


def claim_due_timers(
    conn: sa.Connection,
    table: sa.Table,
    now: dt.datetime,
    limit: int,
    skip_locked: bool,
    automations: Mapping[str, CompiledAutomation],
) -> tuple[list[Any], list[Late]]:
    """Due pending timers, marked in the caller's transaction (another worker on
    PostgreSQL skips the rows this one holds): those to fire (``fired``) and those reached
    later than their automation's ``late`` rule allows (``skipped``)."""
    query = (
        sa.select(table)
        .where(table.c.status == PENDING, table.c.due_at <= now)
        .order_by(table.c.due_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    fire, skipped = [], []
    for row in conn.execute(query).all():
        ca = automations.get(row.automation)
        allowed = ca.late_allowance if ca is not None else None
        status = FIRED
        if allowed is not None and now - row.due_at > allowed:
            status = SKIPPED
            late = Late(row.automation, row.object, row.record_id, row.due_at, now, allowed)
            skipped.append(late)
        else:
            fire.append(row)
        conn.execute(
            sa.update(table)
            .where(table.c.automation == row.automation, table.c.record_id == row.record_id)
            .values(status=status)
        )
    return fire, skipped


def claim_schedule(
    conn: sa.Connection, table: sa.Table, ca: CompiledAutomation, now: dt.datetime
) -> tuple[Claim, Late | None]:
    """Whether the schedule is due and this caller took its run (the next run is moved
    forward, so a second worker finds nothing to do), or skipped it for being late. A
    schedule seen for the first time, or whose cron or time zone changed since its next
    run was planned, is planned from ``now``."""
    row = conn.execute(sa.select(table).where(table.c.automation == ca.name)).first()
    if row is None:
        first = {"automation": ca.name, "next_run_at": ca.next_run(now), "plan": ca.plan}
        conn.execute(sa.insert(table), first)
        return Claim.NOT_DUE, None
    if row.plan is None:  # planned before plans were kept: it stands, and is now known
        conn.execute(sa.update(table).where(table.c.automation == ca.name).values(plan=ca.plan))
    elif row.plan != ca.plan:
        conn.execute(
            sa.update(table)
            .where(table.c.automation == ca.name)
            .values(next_run_at=ca.next_run(now), plan=ca.plan)
        )
        return Claim.NOT_DUE, None
    if row.next_run_at > now:
        return Claim.NOT_DUE, None
    allowed = ca.late_allowance
    late = allowed is not None and now - row.next_run_at > allowed
    values: dict[str, Any] = {"next_run_at": ca.next_run(now)}
    if not late:
        values["last_run_at"] = now
    taken = conn.execute(
        sa.update(table)
        .where(table.c.automation == ca.name, table.c.next_run_at == row.next_run_at)
        .values(values)
    ).rowcount
    if taken != 1:
        return Claim.NOT_DUE, None
    if late:
        assert allowed is not None
        return Claim.SKIPPED, Late(ca.name, ca.cobj.name, None, row.next_run_at, now, allowed)
    return Claim.RUN, None


def audit_late(conn: sa.Connection, audit: sa.Table, skipped: Iterable[Late], kind: str) -> None:
    """One audit entry per skipped run (``timer_skipped`` / ``schedule_skipped``), so a
    consultant can see why nothing happened."""
    rows = [
        {"at": s.reached_at, "actor": None, "action": f"{kind}_skipped", "object": s.object,
         "record_id": s.record_id, "detail": s.detail}
        for s in skipped
    ]  # fmt: skip
    if rows:
        conn.execute(sa.insert(audit), rows)
