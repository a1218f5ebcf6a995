"""Stage workflows: the state machine of a picklist field, enforced on every write.

A new record starts in the workflow's ``initial`` state or one of its ``initial_states``,
with the fields that state requires filled. Afterwards its stage changes only along a
declared transition: from one of its ``from`` states to its ``to`` state, by a user
holding one of its roles (any user who may update the record when it names none), when
its guard holds and the fields the transition and the target state require are filled.
A transition an approval process's final actions name is that process's alone: only the
write carrying out its outcome (``WriteOptions.process``) takes it. Entering a state sets
that state's ``set_fields``. A direct update of the stage field is such a move too: it is
accepted when a transition allows it and refused with the reason otherwise. Each move is
logged (a creation is in the audit log, not here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.compiled import CompiledObject, CompiledSchema, lookups_walked
from engine.records.actor import Actor
from engine.records.errors import FieldError, NotFound
from engine.records.integrity import RelatedRecords
from engine.records.messages import message, text_of
from engine.records.prepare import Prepared, field_label, set_by_engine, with_related
from engine.rules import CompiledRule, EvalEnv, RuleError, compile_rule
from metadata.model.workflows import ApprovalProcess, State, Transition, Workflow

__all__ = ["Move", "StageMachine", "compile_stage_machines", "machine_for"]

_EMPTY: tuple[Any, ...] = (None, "", [], {})
_ANY = "*"


@dataclass(frozen=True)
class Move:
    """A transition about to happen (logged once the write succeeds)."""

    workflow: str
    transition: str
    from_state: str | None
    to_state: str
    #: The approval process the transition starts, if it names one.
    approval: str | None = None


@dataclass
class StageMachine:
    """One workflow, compiled: its states, transitions, guards and entry updates."""

    workflow: Workflow
    cobj: CompiledObject
    states: dict[str, State] = field(default_factory=dict)
    guards: dict[str, CompiledRule] = field(default_factory=dict)
    entry: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    #: Lookups the guards read through (``account.credit_hold``).
    walks: frozenset[str] = frozenset()
    #: Transitions an approval's final actions take, with the processes that take them.
    reserved: dict[str, list[ApprovalProcess]] = field(default_factory=dict)

    @property
    def field(self) -> str:
        return self.workflow.field

    @property
    def starts(self) -> list[str]:
        """The states a new record may start in, ``initial`` first."""
        return list(dict.fromkeys([self.workflow.initial, *self.workflow.initial_states]))

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.workflow.transitions if t.name == name), None)

    def leaving(self, state: Any) -> list[Transition]:
        return [t for t in self.workflow.transitions if state in t.from_ or _ANY in t.from_]

    def may_take(self, transition: Transition, actor: Actor, process: str = "") -> bool:
        """Roles decide; no roles named means anyone who may update the record. A reserved
        transition is taken only by the approval ``process`` that owns it."""
        if transition.name in self.reserved:
            return self._owns(transition, process)
        if actor.user_id is None or not transition.roles:
            return True
        return bool(set(transition.roles) & set(actor.roles))

    def blockers(
        self, transition: Transition, record: Mapping[str, Any], env: EvalEnv
    ) -> tuple[list[str], str | None]:
        """(required fields still empty, the guard's objection) for taking ``transition``
        from ``record`` as it would be after the write."""
        target = self.states.get(transition.to)
        wanted = [*transition.required_fields, *(target.required_fields if target else [])]
        missing = [name for name in dict.fromkeys(wanted) if record.get(name) in _EMPTY]
        guard = self.guards.get(transition.name)
        objection = None
        if guard is not None:
            try:
                passed = bool(guard(dict(record), env))
            except RuleError as exc:
                passed, objection = False, str(exc)
            if not passed and objection is None:
                objection = "guard"
        return missing, objection

    def step(
        self,
        old: Mapping[str, Any] | None,
        prepared: Prepared,
        actor: Actor,
        clock: Callable[[], dt.datetime],
        via: str | None = None,
        related: RelatedRecords | None = None,
        process: str = "",
    ) -> Move | None:
        """Check the stage change ``prepared`` makes (and apply the entry updates); the
        move to log, or None. Problems are added to ``prepared.errors``. Guards read
        through lookups via ``related``; ``process`` names the approval whose outcome
        the write carries out, if it is one."""
        row = prepared.row
        env = EvalEnv(user=actor.as_user(), old=old, clock=clock, timezone=actor.timezone)
        if old is None:
            self._start(prepared, actor, env)
            return None  # a creation, not a move: the audit log has it
        before, after = old.get(self.field), row.get(self.field)
        if before == after and via is None:
            return None
        candidates = [
            t for t in self.leaving(before) if t.to == after and (via is None or t.name == via)
        ]
        if via is not None and not candidates:
            transition = self.transition(via)
            target = transition.to if transition else after
            self._refuse(prepared, "no_transition", before, target)
            return None
        if not candidates:
            self._refuse(prepared, "no_transition", before, after)
            return None
        open_ = [t for t in candidates if t.name not in self.reserved or self._owns(t, process)]
        if not open_:
            self._refuse(prepared, "approval_outcome", before, after, candidates[0])
            return None
        allowed = [t for t in open_ if self.may_take(t, actor, process)]
        if not allowed:
            self._refuse(prepared, "transition_role", before, after, open_[0])
            return None
        chosen = allowed[0]
        seen = with_related(row, self.walks, related)
        missing, objection = self.blockers(chosen, seen, env)
        for name in missing:
            label = field_label(self.cobj, name)
            text = message("required_for_stage", label=label, transition=_label(chosen))
            prepared.errors.append(
                FieldError(field=name, rule=chosen.name, code="required_for_stage", message=text)
            )
        if objection is not None:
            text = (text_of(chosen.guard_message) if chosen.guard_message
                    else message("guard_failed", transition=_label(chosen)))  # fmt: skip
            prepared.errors.append(
                FieldError(field=self.field, rule=chosen.name, code="guard_failed", message=text)
            )
        if missing or objection is not None:
            return None
        self._enter(after, old, prepared, actor, env)
        return Move(self.workflow.name, chosen.name, before, str(after), chosen.approval)

    def _owns(self, transition: Transition, process: str) -> bool:
        return any(p.name == process for p in self.reserved.get(transition.name, ()))

    def _start(self, prepared: Prepared, actor: Actor, env: EvalEnv) -> None:
        """A new record's stage: ``initial`` when none is given, else one it may start in,
        entered with the fields that state requires filled."""
        row = prepared.row
        if row.get(self.field) in _EMPTY:
            row[self.field] = self.workflow.initial
            prepared.changed[self.field] = (None, self.workflow.initial)
        state = row[self.field]
        if state not in self.starts:
            values = {
                "label": field_label(self.cobj, self.field),
                "state": self._state_label(state),
                "allowed": self._state_labels(self.starts),
            }
            prepared.errors.append(
                FieldError(
                    field=self.field,
                    rule=self.workflow.name,
                    code="not_initial_state",
                    message=message("not_initial_state", **values),
                    value=state,
                )
            )
            return
        self._enter(state, None, prepared, actor, env)
        target = self.states.get(state)
        for name in target.required_fields if target else ():
            if row.get(name) in _EMPTY:
                label = field_label(self.cobj, name)
                text = message("required_for_state", label=label, state=self._state_label(state))
                prepared.errors.append(
                    FieldError(field=name, rule=f"{self.workflow.name}.{state}",
                               code="required_for_state", message=text)
                )  # fmt: skip

    def _enter(
        self,
        state: Any,
        old: Mapping[str, Any] | None,
        prepared: Prepared,
        actor: Actor,
        env: EvalEnv,
    ) -> None:
        """Apply the target state's ``set_fields`` (engine-set: read-only fields too)."""
        rule = f"{self.workflow.name}.{state}"
        set_by_engine(self.cobj, prepared, old, self.entry.get(state, []), actor, env, rule)

    def _refuse(
        self,
        prepared: Prepared,
        code: str,
        before: Any,
        after: Any,
        transition: Transition | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "label": field_label(self.cobj, self.field),
            "from": self._state_label(before),
            "to": self._state_label(after),
        }
        if transition is not None:
            values["transition"] = _label(transition)
            values["roles"] = ", ".join(transition.roles)
            owners = self.reserved.get(transition.name)
            if owners:
                values["process"] = owners[0].label or owners[0].name
        prepared.errors.append(
            FieldError(
                field=self.field,
                rule=transition.name if transition else self.workflow.name,
                code=code,
                message=message(code, **values),
            )
        )

    def _state_labels(self, values: list[str]) -> dict[str, str]:
        """Several states named in one message, in each locale."""
        labels = [self._state_label(v) for v in values]
        return {
            locale: sep.join(text.get(locale) or text["en"] for text in labels)
            for locale, sep in (("en", ", "), ("zh-CN", "、"))
        }

    def _state_label(self, value: Any) -> Any:
        state = self.states.get(value)
        return state.label if state is not None and state.label else {"en": str(value)}


def _label(transition: Transition) -> Any:
    return transition.label or transition.name


def compile_stage_machines(compiled: CompiledSchema) -> dict[str, Sequence[StageMachine]]:
    """The workflows of each object, compiled once per schema (``CompiledSchema.once``)."""
    return compiled.once("stage_machines", _compile_machines)


def _compile_machines(compiled: CompiledSchema) -> dict[str, Sequence[StageMachine]]:
    machines: dict[str, list[StageMachine]] = {}
    for workflow in compiled.schema.workflows.values():
        cobj = compiled.objects.get(workflow.object)
        if cobj is None:
            continue
        machine = StageMachine(workflow, cobj, {s.value: s for s in workflow.states})
        for transition in workflow.transitions:
            if transition.guard is not None:
                machine.guards[transition.name] = compile_rule(transition.guard, cobj.context)
        machine.walks = lookups_walked(cobj, [t.guard for t in workflow.transitions if t.guard])
        names = {t.name for t in workflow.transitions}
        for process in compiled.schema.approvals.values():
            if process.object != workflow.object:
                continue
            for actions in (process.on_approve, process.on_reject):
                if actions.transition in names:
                    machine.reserved.setdefault(actions.transition, []).append(process)
        for state in workflow.states:
            machine.entry[state.value] = [
                (name, compile_rule(value, cobj.context) if isinstance(value, dict) else value)
                for name, value in state.set_fields.items()
            ]
        machines.setdefault(cobj.name, []).append(machine)
    return dict(machines.items())


def machine_for(
    stages: Mapping[str, Sequence[StageMachine]], object_name: str, transition: str
) -> StageMachine:
    """The stage machine of ``object_name`` that has the transition ``transition``.

    Raises:
        NotFound: The object has no such transition.
    """
    for machine in stages.get(object_name, ()):
        if machine.transition(transition) is not None:
            return machine
    raise NotFound(f"{object_name} transition", transition)
