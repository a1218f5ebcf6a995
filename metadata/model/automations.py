"""Automations: what runs when records change, when a date comes near, or on a schedule."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec

from metadata.model.common import Label, Name, Operation, Rule, Spec

__all__ = [
    "Action",
    "AssignOwner",
    "Automation",
    "CallWebhook",
    "CreateRecord",
    "FindOrCreate",
    "Late",
    "RecordTrigger",
    "RunAs",
    "RunPhase",
    "RunTransition",
    "ScheduleTrigger",
    "SendNotification",
    "SetFields",
    "SkipAfter",
    "TimeTrigger",
    "Trigger",
    "UpdateRelated",
]

#: A lookup of the triggering record, or a path through lookups (``deal.customer``).
LookupPath = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        max_length=200,
        description="A lookup field of the triggering record, or a path through lookups "
        "(deal.customer): the record the action changes instead of the triggering one.",
        examples=["lead", "opportunity.account"],
    ),
]


class RecordTrigger(Spec, tag_field="kind", tag="record", kw_only=True):
    """Fires on create/update/delete when ``condition`` holds (or only when it becomes true)."""

    on: Annotated[list[Operation], msgspec.Meta(min_length=1)]
    condition: Rule = None
    only_when_becomes_true: bool = False


class SkipAfter(Spec, kw_only=True):
    """Run when the worker reaches it at most ``skip_after`` late (``90s``, ``30m``,
    ``2h``, ``1d``); skip it, with an audit entry, when later than that."""

    skip_after: Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]*[smhd]$")]


#: What a timer or schedule does when the worker reaches it after its time: ``fire``
#: (run at once, however late), ``skip`` (skip it when more than 5 minutes late) or
#: ``{skip_after: 2h}``. A skipped run is in the audit log (``timer_skipped``,
#: ``schedule_skipped``) with how late it was.
Late = Literal["fire", "skip"] | SkipAfter


class TimeTrigger(Spec, tag_field="kind", tag="time", kw_only=True):
    """Fires ``offset_hours`` after (negative: before) the date in ``field`` while
    ``condition`` holds; re-planned when either changes. A date without a time is taken
    as midnight in ``timezone`` (default: the engine's, Asia/Shanghai). ``late`` says what
    a timer reached after its due time does (a record created with its date already past,
    a worker that was down): ``fire`` runs it at once however late, ``skip`` skips it when
    more than 5 minutes late, ``{skip_after: 2h}`` when more than that; a skipped timer is
    in the audit log (``timer_skipped``) with how late it was."""

    field: Name
    offset_hours: int = 0
    condition: Rule = None
    timezone: str | None = None
    late: Late = "fire"


class ScheduleTrigger(Spec, tag_field="kind", tag="schedule", kw_only=True):
    """Fires for every record matching ``filter`` on a cron schedule (five fields, read
    in ``timezone``; default: the engine's, Asia/Shanghai). Editing ``cron`` or
    ``timezone`` re-plans the next run from the new ones. ``late`` says what a run the
    worker reaches after its time does (a missed run happens once, not once per miss), as
    for a time trigger; a skipped run is audited as ``schedule_skipped``."""

    cron: Annotated[str, msgspec.Meta(pattern=r"^\S+( \S+){4}$")]
    filter: Rule = None
    timezone: str | None = None
    late: Late = "fire"


Trigger = RecordTrigger | TimeTrigger | ScheduleTrigger


class SetFields(Spec, tag_field="type", tag="set_fields", kw_only=True):
    """Values are literals or JsonLogic over the triggering record; they go to the
    triggering record, or to the record ``target`` reaches (skipped when it is empty)."""

    values: dict[Name, Any]
    target: LookupPath | None = None


class CreateRecord(Spec, tag_field="type", tag="create_record", kw_only=True):
    """A new record of ``object``; ``values`` over the triggering record (``{var: id}``
    links it back)."""

    object: Name
    values: dict[Name, Any]


class UpdateRelated(Spec, tag_field="type", tag="update_related", kw_only=True):
    """Set ``values`` (over the triggering record) on every live record of ``object``
    that points to the triggering record through ``via`` (its only such lookup when
    omitted) and matches: each ``match`` field equal to its value over the triggering
    record, and ``where``, a rule over the related record in which
    ``{"var": "$trigger.<field>"}`` reads the triggering record."""

    object: Name
    via: Name | None = None
    match: dict[Name, Any] = msgspec.field(default_factory=dict)
    where: Rule = None
    values: Annotated[dict[Name, Any], msgspec.Meta(min_length=1)]


class FindOrCreate(Spec, tag_field="type", tag="find_or_create", kw_only=True):
    """The live record of ``object`` whose ``match`` fields equal their values over the
    triggering record, or a new one with ``match`` and ``values``; ``link`` names a lookup
    of the triggering record that is then set to it."""

    object: Name
    match: Annotated[dict[Name, Any], msgspec.Meta(min_length=1)]
    values: dict[Name, Any] = msgspec.field(default_factory=dict)
    link: Name | None = None


class AssignOwner(Spec, tag_field="type", tag="assign_owner", kw_only=True):
    """Round-robin over the users holding ``role`` in the record's org unit, or by rule."""

    strategy: Literal["round_robin", "rule"] = "round_robin"
    role: Name | None = None
    rule: Rule = None


class SendNotification(Spec, tag_field="type", tag="notify", kw_only=True):
    """``subject``/``body`` are Jinja2 templates rendered in the sandbox, per locale."""

    channels: list[Literal["in_app", "email"]] = msgspec.field(default_factory=lambda: ["in_app"])
    to: Annotated[list[str], msgspec.Meta(min_length=1)]
    subject: Label
    body: Label


class CallWebhook(Spec, tag_field="type", tag="webhook", kw_only=True):
    """POST a JSON body (a template) signed with HMAC-SHA256 using the secret in ``secret_env``.

    ``fields`` are all of the record that leaves: the body (and its template) sees ``id``,
    ``version`` and these, nothing else. A personal field (``pii: true``) goes out masked
    unless ``include_pii: true``, which ``metacrm validate`` reports as a warning.
    """

    url: str
    fields: Annotated[list[Name], msgspec.Meta(min_length=1)]
    include_pii: bool = False
    body: str | None = None
    secret_env: str | None = None
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10


class RunTransition(Spec, tag_field="type", tag="transition", kw_only=True):
    """Take ``transition`` on the triggering record, or on the record ``target`` reaches."""

    workflow: Name
    transition: Name
    target: LookupPath | None = None


Action = (
    SetFields
    | CreateRecord
    | UpdateRelated
    | FindOrCreate
    | AssignOwner
    | SendNotification
    | CallWebhook
    | RunTransition
)


class RunPhase(enum.StrEnum):
    IN_TRANSACTION = "in_transaction"
    AFTER_COMMIT = "after_commit"


class RunAs(enum.StrEnum):
    SYSTEM = "system"
    TRIGGERING_USER = "triggering_user"


class Automation(Spec, kw_only=True):
    """One file under ``automations/``."""

    name: Name
    object: Name
    label: Label | None = None
    description: str | None = None
    active: bool = True
    trigger: Trigger
    actions: Annotated[list[Action], msgspec.Meta(min_length=1)]
    run: RunPhase = RunPhase.AFTER_COMMIT
    run_as: RunAs = RunAs.SYSTEM
