"""Automations: what a pack wants done when records change, when a date comes near, or
on a schedule.

A record-triggered automation fires for the operations it names when its condition holds
on the record (as written; the record before deletion for a delete), or, with
``only_when_becomes_true``, when the condition holds now and did not before.

A time-triggered automation has a due time per record: the date in its field plus
``offset_hours``, while its condition holds. Every write re-plans it (a timer row beside
the record, in the write's transaction): a moved date moves the timer, a condition that
stops holding or a deleted record cancels it. A date without a time is midnight in the
trigger's time zone. When the timer is due the worker queues the run; at run time the due
time is worked out again from the record as it is then, and the run is dropped if it no
longer matches.

A scheduled automation runs on a cron schedule (read in its time zone) for every record
its filter selects in SQL; each record's run checks the filter again on the record as it
is then. A run missed while no worker ran happens once, not once per missed occurrence.
Editing its cron or time zone re-plans the next run from the new ones.

A timer or schedule reached late (the worker was down, a record was created with its date
already past) fires at once by default (``late: fire``); ``late: skip`` skips it when more
than ``LATE_GRACE`` late and ``late: {skip_after: 2h}`` when more than that, with an audit
entry saying how late it was.

Actions run in the write's transaction (``run: in_transaction``, record triggers only) or
after the commit, from the outbox (``after_commit``: retried until done). They run as the
engine or as the user who made the triggering write (``run_as``; for a timer, the user
whose write planned it; a schedule has no triggering user and runs as the engine), through
the record service, so that user's permissions apply. Writes made by automations may fire
automations in turn, up to a depth of ``MAX_DEPTH``; beyond it the write is refused with
the chain of automations named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from engine.compiled import CompiledObject, CompiledSchema, lookups_walked
from engine.rules import DEFAULT_TIMEZONE, CompiledRule, EvalEnv, RuleError, compile_rule
from metadata.model.automations import (
    AssignOwner,
    Automation,
    RecordTrigger,
    ScheduleTrigger,
    SkipAfter,
    TimeTrigger,
)

__all__ = [
    "LATE_GRACE",
    "MAX_DEPTH",
    "CompiledAutomation",
    "CompiledAutomations",
    "compile_automations",
    "duration",
]

MAX_DEPTH = 8
#: How late ``late: skip`` lets a run be: a busy worker's ordinary delay, not an outage.
LATE_GRACE = dt.timedelta(minutes=5)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``2h``, ``1d`` as a timedelta (ValueError for anything else)."""
    amount, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not amount.isdigit() or int(amount) <= 0:
        raise ValueError(f"not a duration: {text!r} (a number and s, m, h or d: 2h)")
    return dt.timedelta(**{_UNITS[unit]: int(amount)})


@dataclass
class CompiledAutomation:
    automation: Automation
    cobj: CompiledObject
    #: The trigger's condition (a schedule's filter), compiled to Python.
    condition: CompiledRule | None = None
    #: Per action, its values as literals or compiled rules over the triggering record
    #: (an ``assign_owner`` by rule keeps its rule under ``owner``).
    values: list[dict[str, Any]] = field(default_factory=list)
    #: Per action, its ``match`` (``update_related``, ``find_or_create``), likewise.
    matches: list[dict[str, Any]] = field(default_factory=list)
    #: Lookups the condition and the action values read through (``$related``).
    walks: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.automation.name

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(getattr(self.automation.trigger, "timezone", None) or DEFAULT_TIMEZONE)

    @property
    def late_allowance(self) -> dt.timedelta | None:
        """How late a run may be and still run; None: however late (``late: fire``)."""
        late = getattr(self.automation.trigger, "late", "fire")
        if isinstance(late, SkipAfter):
            return duration(late.skip_after)
        return LATE_GRACE if late == "skip" else None

    @property
    def plan(self) -> str:
        """What a schedule's next run is computed from (its cron and time zone), kept
        beside the next run so an edit of either is noticed and re-planned."""
        trigger = self.automation.trigger
        assert isinstance(trigger, ScheduleTrigger)
        return f"{trigger.cron} {self.timezone.key}"

    def fires(
        self,
        operation: str,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
        env: EvalEnv,
    ) -> bool:
        trigger = self.automation.trigger
        if operation not in trigger.on:  # type: ignore[union-attr]
            return False
        subject = new if new is not None else old
        if not self.holds(subject, env):
            return False
        if trigger.only_when_becomes_true and old is not None and new is not None:  # type: ignore[union-attr]
            return not self.holds(old, env)
        return True

    def holds(self, record: Mapping[str, Any] | None, env: EvalEnv) -> bool:
        """The trigger's condition (or filter) on ``record``; a rule error counts as no."""
        if self.condition is None:
            return True
        try:
            return bool(self.condition(dict(record or {}), env))
        except RuleError:
            return False

    def due_at(self, record: Mapping[str, Any] | None, env: EvalEnv) -> dt.datetime | None:
        """When a time trigger fires for ``record``: None when it has no date or the
        condition does not hold."""
        trigger = self.automation.trigger
        assert isinstance(trigger, TimeTrigger)
        if record is None or not self.holds(record, env):
            return None
        value = record.get(trigger.field)
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        elif isinstance(value, dt.date):
            moment = dt.datetime.combine(value, dt.time(), self.timezone)
        else:
            return None
        return (moment + dt.timedelta(hours=trigger.offset_hours)).astimezone(dt.UTC)

    def next_run(self, after: dt.datetime) -> dt.datetime:
        """A schedule's first occurrence strictly after ``after`` (UTC)."""
        trigger = self.automation.trigger
        assert isinstance(trigger, ScheduleTrigger)
        local = after.astimezone(self.timezone)
        following: dt.datetime = croniter(trigger.cron, local).get_next(dt.datetime)
        return following.astimezone(dt.UTC)

    def evaluate(self, index: int, record: Mapping[str, Any], env: EvalEnv) -> dict[str, Any]:
        """Action ``index``'s values for ``record``."""
        return _evaluated(self.values[index], record, env)

    def match(self, index: int, record: Mapping[str, Any], env: EvalEnv) -> dict[str, Any]:
        """Action ``index``'s ``match`` for ``record``."""
        return _evaluated(self.matches[index], record, env)


def _evaluated(values: dict[str, Any], record: Mapping[str, Any], env: EvalEnv) -> dict[str, Any]:
    return {
        name: (value(dict(record), env) if callable(value) else value)
        for name, value in values.items()
    }


@dataclass
class CompiledAutomations:
    """The active automations of a schema, by how they are triggered."""

    #: Record-triggered, per object, in name order.
    on_write: dict[str, list[CompiledAutomation]] = field(default_factory=dict)
    #: Time-triggered, per object.
    timed: dict[str, list[CompiledAutomation]] = field(default_factory=dict)
    scheduled: list[CompiledAutomation] = field(default_factory=list)
    by_name: dict[str, CompiledAutomation] = field(default_factory=dict)


def compile_automations(compiled: CompiledSchema) -> CompiledAutomations:
    """The active automations of ``compiled``, compiled once per schema."""
    return compiled.once("automations", _compile_automations)


def _compile_automations(compiled: CompiledSchema) -> CompiledAutomations:
    out = CompiledAutomations()
    for automation in sorted(compiled.schema.automations.values(), key=lambda a: a.name):
        cobj = compiled.objects.get(automation.object)
        if cobj is None or not automation.active:
            continue
        trigger = automation.trigger
        condition = getattr(trigger, "condition", None) or getattr(trigger, "filter", None)
        ca = CompiledAutomation(
            automation, cobj, compile_rule(condition, cobj.context) if condition else None
        )
        for action in automation.actions:
            values = dict(getattr(action, "values", {}) or {})
            if isinstance(action, AssignOwner) and action.rule is not None:
                values = {"owner": action.rule}
            ca.values.append(_compiled(values, cobj))
            ca.matches.append(_compiled(getattr(action, "match", None) or {}, cobj))
        rules = [condition, *(v for a in automation.actions for key in ("values", "match")
                              for v in (getattr(a, key, None) or {}).values()),
                 *(a.rule for a in automation.actions if isinstance(a, AssignOwner))]  # fmt: skip
        ca.walks = lookups_walked(cobj, [r for r in rules if isinstance(r, dict)])
        out.by_name[ca.name] = ca
        if isinstance(trigger, RecordTrigger):
            out.on_write.setdefault(cobj.name, []).append(ca)
        elif isinstance(trigger, TimeTrigger):
            out.timed.setdefault(cobj.name, []).append(ca)
        else:
            out.scheduled.append(ca)
    return out


def _compiled(values: Mapping[str, Any], cobj: CompiledObject) -> dict[str, Any]:
    """Literals as they are, rules compiled over ``cobj``'s records."""
    return {
        name: compile_rule(value, cobj.context) if isinstance(value, dict) else value
        for name, value in values.items()
    }
