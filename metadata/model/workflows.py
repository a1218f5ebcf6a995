"""Stage workflows (state machines on a picklist) and approval processes."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

from metadata.model.common import Label, Name, Rule, Spec

__all__ = [
    "ApprovalMode",
    "ApprovalProcess",
    "ApprovalStep",
    "Approver",
    "ApproverKind",
    "FinalActions",
    "State",
    "StateCategory",
    "Transition",
    "Workflow",
]


class StateCategory(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    CLOSED = "closed"


class State(Spec, kw_only=True):
    """A stage; ``value`` is one of the workflow field's picklist values."""

    value: str
    label: Label | None = None
    category: StateCategory = StateCategory.OPEN
    required_fields: list[Name] = msgspec.field(default_factory=list)
    set_fields: dict[Name, Any] = msgspec.field(default_factory=dict)


class Transition(Spec, kw_only=True):
    """A permitted move between states; ``from`` lists the source states (``*`` = any)."""

    name: Name
    label: Label | None = None
    from_: Annotated[list[str], msgspec.Meta(min_length=1)] = msgspec.field(name="from")
    to: str
    roles: list[Name] = msgspec.field(default_factory=list)
    guard: Rule = None
    guard_message: Label | None = None
    required_fields: list[Name] = msgspec.field(default_factory=list)
    approval: Name | None = None


class Workflow(Spec, kw_only=True):
    """One file under ``workflows/``: the stage machine of one picklist field.

    A new record starts in ``initial`` (when it names no stage) or in one of
    ``initial_states``; every other state is reached only through a transition.
    """

    name: Name
    object: Name
    field: Name
    label: Label | None = None
    initial: str
    initial_states: list[str] = msgspec.field(default_factory=list)
    states: Annotated[list[State], msgspec.Meta(min_length=1)]
    transitions: list[Transition] = msgspec.field(default_factory=list)


class ApproverKind(enum.StrEnum):
    ROLE = "role"
    MANAGER = "manager"
    USER = "user"
    FIELD = "field"


class Approver(Spec, kw_only=True):
    """Who decides a step: a role in the submitter's org unit or above, the owner's
    manager, a named user, or the user held in a field of the record."""

    kind: ApproverKind
    role: Name | None = None
    user: str | None = None
    field: Name | None = None


class ApprovalMode(enum.StrEnum):
    ANY = "any"
    ALL = "all"


class ApprovalStep(Spec, kw_only=True):
    name: Name
    label: Label | None = None
    approvers: Annotated[list[Approver], msgspec.Meta(min_length=1)]
    mode: ApprovalMode = ApprovalMode.ANY
    entry_criteria: Rule = None
    auto_approve: Rule = None
    escalate_after_hours: Annotated[int, msgspec.Meta(ge=1)] | None = None
    escalate_to: Approver | None = None


class FinalActions(Spec, kw_only=True):
    """What happens when a process ends: a workflow transition and/or field updates."""

    transition: Name | None = None
    set_fields: dict[Name, Any] = msgspec.field(default_factory=dict)


class ApprovalProcess(Spec, kw_only=True):
    """One file under ``approvals/``: steps a record passes before final actions run."""

    name: Name
    object: Name
    label: Label | None = None
    entry_criteria: Rule = None
    steps: Annotated[list[ApprovalStep], msgspec.Meta(min_length=1)]
    lock_record: bool = True
    allow_recall: bool = True
    on_approve: FinalActions = msgspec.field(default_factory=FinalActions)
    on_reject: FinalActions = msgspec.field(default_factory=FinalActions)
