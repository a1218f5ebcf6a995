"""Record-triggered automations: what a pack wants done when records are created,
changed or deleted.

An automation fires for the operations it names when its condition holds on the record
(as written; the record before deletion for a delete), or, with
``only_when_becomes_true``, when the condition holds now and did not before. Its actions
run in the write's transaction (``run: in_transaction``) or after the commit, from the
outbox (``after_commit``: retried until done). They run as the engine or as the user who
made the triggering write (``run_as``), through the record service, so that user's
permissions apply. Writes made by automations may fire automations in turn, up to a depth
of ``MAX_DEPTH``; beyond it the write is refused with the chain of automations named.

Supported actions: ``set_fields``, ``create_record``, ``transition``, ``assign_owner``
(round robin), ``webhook`` (always called from the outbox, after the commit) and
``notify`` (in-app; the e-mail channel is logged as not sent until SMTP delivery lands).
Automations using an action the engine does not run yet (``assign_owner`` by rule) or a
time or schedule trigger are left out and logged when the schema loads, not half-run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.compiled import CompiledObject, CompiledSchema
from engine.rules import CompiledRule, EvalEnv, RuleError, compile_rule
from metadata.model.automations import (
    AssignOwner,
    Automation,
    CallWebhook,
    CreateRecord,
    RecordTrigger,
    RunTransition,
    SendNotification,
    SetFields,
)

__all__ = ["MAX_DEPTH", "CompiledAutomation", "compile_automations"]

log = logging.getLogger(__name__)
MAX_DEPTH = 8
_SUPPORTED = (SetFields, CreateRecord, RunTransition, AssignOwner, CallWebhook, SendNotification)


@dataclass
class CompiledAutomation:
    automation: Automation
    cobj: CompiledObject
    condition: CompiledRule | None = None
    #: Per action, its values as literals or compiled rules over the triggering record.
    values: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.automation.name

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
        if not self._holds(subject, env):
            return False
        if trigger.only_when_becomes_true and old is not None and new is not None:  # type: ignore[union-attr]
            return not self._holds(old, env)
        return True

    def evaluate(self, index: int, record: Mapping[str, Any], env: EvalEnv) -> dict[str, Any]:
        """Action ``index``'s values for ``record``."""
        return {
            name: (value(dict(record), env) if callable(value) else value)
            for name, value in self.values[index].items()
        }

    def _holds(self, record: Mapping[str, Any] | None, env: EvalEnv) -> bool:
        if self.condition is None:
            return True
        try:
            return bool(self.condition(dict(record or {}), env))
        except RuleError:
            return False


def compile_automations(compiled: CompiledSchema) -> dict[str, list[CompiledAutomation]]:
    """The active record-triggered automations per object, in name order."""
    out: dict[str, list[CompiledAutomation]] = {}
    for automation in sorted(compiled.schema.automations.values(), key=lambda a: a.name):
        cobj = compiled.objects.get(automation.object)
        if cobj is None or not automation.active:
            continue
        reason = _not_run(automation)
        if reason:
            log.warning("automation %s is not run: %s", automation.name, reason)
            continue
        trigger = automation.trigger
        condition = trigger.condition  # type: ignore[union-attr]
        ca = CompiledAutomation(
            automation, cobj, compile_rule(condition, cobj.context) if condition else None
        )
        for action in automation.actions:
            values = getattr(action, "values", {}) or {}
            ca.values.append(
                {
                    name: compile_rule(value, cobj.context) if isinstance(value, dict) else value
                    for name, value in values.items()
                }
            )
        out.setdefault(cobj.name, []).append(ca)
    return out


def _not_run(automation: Automation) -> str | None:
    if not isinstance(automation.trigger, RecordTrigger):
        return f"{automation.trigger.__class__.__name__} triggers come later"
    for action in automation.actions:
        if not isinstance(action, _SUPPORTED):
            return f"{action.__class__.__name__} actions come later"
        if isinstance(action, AssignOwner) and action.strategy != "round_robin":
            return "assign_owner by rule comes later"
    return None
