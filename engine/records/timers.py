"""Timer and schedule rows: the plan of time-triggered automations, kept beside the
records they are for, and the next run of each scheduled one.

A timer row exists while a time-triggered automation has a due time for a record
(``pending``, then ``fired`` once queued). Writes re-plan it in their own transaction,
so the plan is exactly as current as the data; the worker only reads what is due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.records.automations import CompiledAutomation
from engine.rules import EvalEnv

__all__ = ["claim_due_timers", "claim_schedule", "plan_timers"]

PENDING, FIRED = "pending", "fired"


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
    conn: sa.Connection, table: sa.Table, now: dt.datetime, limit: int, skip_locked: bool
) -> list[Any]:
    """Due pending timers, marked fired in the caller's transaction (another worker on
    PostgreSQL skips the rows this one holds)."""
    query = (
        sa.select(table)
        .where(table.c.status == PENDING, table.c.due_at <= now)
        .order_by(table.c.due_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = list(conn.execute(query).all())
    for row in rows:
        conn.execute(
            sa.update(table)
            .where(table.c.automation == row.automation, table.c.record_id == row.record_id)
            .values(status=FIRED)
        )
    return rows


def claim_schedule(
    conn: sa.Connection, table: sa.Table, ca: CompiledAutomation, now: dt.datetime
) -> bool:
    """True when the schedule is due and this caller took its run (the next run is
    moved forward, so a second worker finds nothing to do). A schedule seen for the
    first time is planned from ``now``."""
    row = conn.execute(sa.select(table).where(table.c.automation == ca.name)).first()
    if row is None:
        conn.execute(sa.insert(table), {"automation": ca.name, "next_run_at": ca.next_run(now)})
        return False
    if row.next_run_at > now:
        return False
    taken = conn.execute(
        sa.update(table)
        .where(table.c.automation == ca.name, table.c.next_run_at == row.next_run_at)
        .values(next_run_at=ca.next_run(now), last_run_at=now)
    ).rowcount
    return taken == 1
