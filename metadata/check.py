"""Cross-reference checks over the merged schema: everything named must exist and fit.

Each check reports with the file and line of the piece that holds the bad reference, and
suggests the nearest existing name. All checks run; nothing stops at the first problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from metadata.model.fields import (
    AutonumberField,
    FieldType,
    MultiPicklistField,
    PicklistField,
    RollupField,
    RollupFunction,
)
from metadata.model.objects import DuplicateRule, Normaliser
from metadata.model.workflows import ApproverKind
from metadata.problems import Problem, Severity, did_you_mean
from metadata.schema import Origin, ResolvedObject, ResolvedSchema

if TYPE_CHECKING:
    from metadata.resolve import SourceIndex

__all__ = ["SYSTEM_FIELDS", "check_schema"]

#: Columns the engine adds to every object; packs may reference but not declare them.
SYSTEM_FIELDS = (
    "id",
    "owner",
    "org_unit",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
    "archived",
)
_RELATIONS = (FieldType.LOOKUP, FieldType.MASTER_DETAIL)
_NUMERIC = (FieldType.INTEGER, FieldType.DECIMAL, FieldType.CURRENCY, FieldType.PERCENT)
_DATES = (FieldType.DATE, FieldType.DATETIME)
#: The field types each normaliser reads (None: any type that holds one value).
_NORMALISABLE: dict[Normaliser, frozenset[FieldType] | None] = {
    Normaliser.PHONE: frozenset({FieldType.PHONE, FieldType.TEXT}),
    Normaliser.EMAIL: frozenset({FieldType.EMAIL, FieldType.TEXT}),
    Normaliser.TEXT: frozenset(
        {FieldType.TEXT, FieldType.LONG_TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL}
    ),
    Normaliser.EXACT: None,
}
_NOT_MATCHABLE = frozenset({FieldType.MULTI_PICKLIST, FieldType.RICH_TEXT, FieldType.JSON,
                            FieldType.ATTACHMENT, FieldType.GEOLOCATION,
                            FieldType.ADDRESS})  # fmt: skip
#: The normaliser to suggest for a field of each type.
_FITTING = {FieldType.PHONE: Normaliser.PHONE, FieldType.EMAIL: Normaliser.EMAIL,
            FieldType.TEXT: Normaliser.TEXT, FieldType.LONG_TEXT: Normaliser.TEXT}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_AUTONUMBER_TOKEN = re.compile(r"\{([^}]*)\}")
_AUTONUMBER_TOKENS = re.compile(r"^(YYYY|YY|MM|DD|0+)$")


def check_schema(schema: ResolvedSchema, sources: SourceIndex) -> list[Problem]:
    return _Checker(schema, sources).run()


class _Checker:
    def __init__(self, schema: ResolvedSchema, sources: SourceIndex):
        self.schema = schema
        self.sources = sources
        self.problems: list[Problem] = []
        #: Old object name -> the object that claims it with ``renamed_from``.
        self.renames: dict[str, str] = {}

    def run(self) -> list[Problem]:
        for obj in self.schema.objects.values():
            self._object(obj)
        for name, layouts in self.schema.layouts.items():
            self._layouts(name, layouts)
        for name, workflow in self.schema.workflows.items():
            self._workflow(workflow, self.schema.origins[f"workflows.{name}"])
        for name, process in self.schema.approvals.items():
            self._approval(process, self.schema.origins[f"approvals.{name}"])
        for name, automation in self.schema.automations.items():
            self._automation(automation, self.schema.origins[f"automations.{name}"])
        for name, role in self.schema.roles.items():
            self._role(role, self.schema.origins[f"roles.{name}"])
        return self.problems

    # -- helpers -----------------------------------------------------------------------

    def _report(
        self, origin: Origin, sub: tuple[str | int, ...], code: str, message: str, **extra: Any
    ) -> None:
        self.problems.append(self.sources.problem(origin, sub, code=code, message=message, **extra))

    def _object_ref(
        self, name: str, origin: Origin, sub: tuple[str | int, ...]
    ) -> ResolvedObject | None:
        obj = self.schema.objects.get(name)
        if obj is None:
            self._report(
                origin,
                sub,
                "unknown_object",
                f"no object named {name!r}",
                expected="an object declared by one of the packs",
                suggestion=did_you_mean(name, self.schema.objects),
            )
        return obj

    def _field_ref(
        self,
        obj: ResolvedObject,
        name: str,
        origin: Origin,
        sub: tuple[str | int, ...],
        *,
        system_ok: bool = True,
    ) -> Any:
        field = obj.field(name)
        if field is None and not (system_ok and name in SYSTEM_FIELDS):
            self._report(
                origin,
                sub,
                "unknown_field",
                f"{obj.name!r} has no field {name!r}",
                suggestion=did_you_mean(name, [*obj.field_names, *SYSTEM_FIELDS]),
            )
        return field

    def _fields_ref(
        self,
        obj: ResolvedObject,
        names: Iterable[tuple[str, tuple[str | int, ...]]],
        origin: Origin,
    ) -> None:
        for name, sub in names:
            self._field_ref(obj, name, origin, sub)

    # -- objects -----------------------------------------------------------------------

    def _object(self, obj: ResolvedObject) -> None:
        origin = obj.origins["object"]
        if obj.renamed_from:
            self._renamed_from(obj, obj.renamed_from, origin)
        if obj.title_field:
            self._field_ref(
                obj, obj.title_field, obj.origins.get("attrs.title_field", origin), ("title_field",)
            )
        for i, index in enumerate(obj.indexes):
            at = obj.origins[f"indexes.{i}"]
            self._fields_ref(obj, ((f, ("fields", j)) for j, f in enumerate(index.fields)), at)
        for rule in obj.validations:
            at = obj.origins[f"validations.{rule.name}"]
            self._fields_ref(obj, ((f, ("fields", j)) for j, f in enumerate(rule.fields)), at)
        for field in obj.fields:
            self._field(obj, field, obj.origins[f"fields.{field.name}"])
        for dup in obj.duplicate_rules:
            self._duplicate_rule(obj, dup, obj.origins[f"duplicate_rules.{dup.name}"])

    def _renamed_from(self, obj: ResolvedObject, old: str, origin: Origin) -> None:
        """The old name must be free: a migration renames that table to ``obj``'s name.

        If ``old`` is still an object (or another object claims the same old name), the
        migration could not tell whose table it is, so the metadata is rejected instead.
        """
        if old != obj.name and old in self.schema.objects:
            self._report(
                origin,
                ("renamed_from",),
                "rename_clash",
                f"renamed_from {old!r}, but {old!r} is still an object; remove "
                f"renamed_from, or stop declaring {old!r}",
                expected="the former name of this object, no longer declared by any pack",
            )
            return
        other = self.renames.setdefault(old, obj.name)
        if other != obj.name:
            self._report(
                origin,
                ("renamed_from",),
                "rename_clash",
                f"renamed_from {old!r}, but object {other!r} is renamed from it too",
                expected="one object per former name",
            )

    def _field(self, obj: ResolvedObject, field: Any, origin: Origin) -> None:
        if field.name in SYSTEM_FIELDS:
            self._report(
                origin,
                ("name",),
                "reserved_name",
                f"{field.name!r} is a system field that every object already has",
                expected="a name other than " + ", ".join(SYSTEM_FIELDS),
            )
        if field.kind in _RELATIONS:
            self._object_ref(field.to, origin, ("to",))
        elif isinstance(field, PicklistField | MultiPicklistField):
            self._picklist(field, origin)
        elif isinstance(field, RollupField):
            self._rollup(obj, field, origin)
        elif isinstance(field, AutonumberField):
            self._autonumber(field, origin)
        scale, precision = getattr(field, "scale", None), getattr(field, "precision", None)
        if scale is not None and precision is not None and scale > precision:
            self._report(
                origin,
                ("scale",),
                "bad_scale",
                "scale is larger than precision",
                expected=f"at most {precision}",
                found=str(scale),
            )

    def _duplicate_rule(self, obj: ResolvedObject, rule: DuplicateRule, origin: Origin) -> None:
        """Matched fields exist and suit their normaliser; scope fields exist; the message
        names nothing but ``{existing}``."""
        for i, match in enumerate(rule.fields):
            field = self._field_ref(obj, match.field, origin, ("fields", i, "field"),
                                    system_ok=False)  # fmt: skip
            if field is None:
                continue
            kinds = _NORMALISABLE[match.normalise]
            if kinds is not None and _value_type(field) not in kinds:
                self._report(
                    origin,
                    ("fields", i, "normalise"),
                    "normaliser_type",
                    f"the {match.normalise} normaliser cannot read {match.field!r}, a "
                    f"{_value_type(field)} field",
                    expected="a field of type " + ", ".join(sorted(kinds)),
                    suggestion=str(_FITTING.get(_value_type(field), Normaliser.EXACT)),
                )
            elif _value_type(field) in _NOT_MATCHABLE:
                self._report(
                    origin,
                    ("fields", i, "field"),
                    "not_matchable",
                    f"{match.field!r} is a {_value_type(field)} field; records cannot be "
                    "matched on it",
                )
        self._fields_ref(obj, ((f, ("scope", j)) for j, f in enumerate(rule.scope)), origin)
        for locale, text in rule.message.items():
            for name in _PLACEHOLDER.findall(text):
                if name != "existing":
                    self._report(
                        origin,
                        ("message", locale),
                        "unknown_placeholder",
                        f"the message names {{{name}}}; it may name only {{existing}} "
                        "(the existing record, as the writer may see it)",
                        suggestion="existing",
                    )

    def _picklist(self, field: PicklistField | MultiPicklistField, origin: Origin) -> None:
        if field.value_set is not None:
            if field.value_set not in self.schema.value_sets:
                self._report(
                    origin,
                    ("value_set",),
                    "unknown_value_set",
                    f"no value set named {field.value_set!r}",
                    suggestion=did_you_mean(field.value_set, self.schema.value_sets),
                )
            return
        if not field.values:
            self._report(
                origin,
                (),
                "no_values",
                "a picklist needs values or a value_set",
                expected="values: [...] or value_set: <name>",
            )
        seen: set[str] = set()
        for i, value in enumerate(field.values):
            if value.value in seen:
                self._report(
                    origin,
                    ("values", i),
                    "duplicate_value",
                    f"picklist value {value.value!r} appears twice",
                )
            seen.add(value.value)
        default = getattr(field, "default", None)
        if isinstance(default, str) and default not in seen:
            self._report(
                origin,
                ("default",),
                "unknown_value",
                f"default {default!r} is not one of the values",
                suggestion=did_you_mean(default, seen),
            )

    def _rollup(self, obj: ResolvedObject, field: RollupField, origin: Origin) -> None:
        child = self._object_ref(field.of, origin, ("of",))
        if child is None:
            return
        self._link_back(child, field.via, obj, origin, ("via",), "bad_rollup_link")
        if field.function is RollupFunction.COUNT:
            return
        if field.field is None:
            self._report(origin, (), "missing_key", f"a {field.function} rollup needs 'field'")
            return
        target = self._field_ref(child, field.field, origin, ("field",), system_ok=False)
        numeric_only = field.function in (RollupFunction.SUM, RollupFunction.AVG)
        allowed = _NUMERIC if numeric_only else (*_NUMERIC, *_DATES)
        if target is not None and _value_type(target) not in allowed:
            self._report(
                origin,
                ("field",),
                "wrong_field_type",
                f"cannot {field.function} {child.name}.{field.field}",
                expected="a number field" if numeric_only else "a number, date or datetime field",
                found=str(target.kind),
            )

    def _link_back(
        self,
        child: ResolvedObject,
        via: str | None,
        parent: ResolvedObject,
        origin: Origin,
        sub: tuple[str | int, ...],
        code: str,
    ) -> None:
        """``child.via`` (or its only link, without ``via``) points to ``parent``."""
        links = [f for f in child.fields if f.kind in _RELATIONS and f.to == parent.name]
        if via is not None:
            field = self._field_ref(child, via, origin, sub, system_ok=False)
            if field is not None and field not in links:
                self._report(
                    origin,
                    sub,
                    code,
                    f"{child.name}.{via} does not point to {parent.name!r}",
                    expected=f"a lookup or master_detail on {child.name!r} to {parent.name!r}",
                )
        elif len(links) != 1:
            self._report(
                origin,
                sub,
                code,
                f"{child.name!r} has {len(links)} links to {parent.name!r}; say which with via",
                expected="via: " + " or ".join(f.name for f in links) if links else None,
            )

    def _autonumber(self, field: AutonumberField, origin: Origin) -> None:
        tokens = _AUTONUMBER_TOKEN.findall(field.pattern)
        for token in tokens:
            if not _AUTONUMBER_TOKENS.match(token):
                self._report(
                    origin,
                    ("pattern",),
                    "bad_autonumber",
                    f"unknown token {{{token}}} in the pattern",
                    expected="{YYYY}, {YY}, {MM}, {DD} and one counter such as {0000}",
                    suggestion=did_you_mean(token, ["YYYY", "YY", "MM", "DD", "0000"]),
                )
        if sum(1 for t in tokens if t and set(t) == {"0"}) != 1:
            self._report(
                origin,
                ("pattern",),
                "bad_autonumber",
                "the pattern needs exactly one counter such as {0000}",
                found=field.pattern,
            )

    # -- layouts, processes, roles -----------------------------------------------------

    def _layouts(self, object_name: str, layouts: Any) -> None:
        for kind in ("list_views", "forms"):
            for view in getattr(layouts, kind):
                origin = self.schema.origins[f"layouts.{object_name}.{kind}.{view.name}"]
                obj = self._object_ref(
                    object_name, Origin(pack=origin.pack, file=origin.file), ("object",)
                )
                if obj is None:
                    return
                if kind == "list_views":
                    names = [(c, ("columns", i)) for i, c in enumerate(view.columns)]
                    names += [(s.field, ("sort", i, "field")) for i, s in enumerate(view.sort)]
                    self._fields_ref(obj, names, origin)
                else:
                    self._form(obj, view, origin)

    def _form(self, obj: ResolvedObject, form: Any, origin: Origin) -> None:
        for s, section in enumerate(form.sections):
            for f, item in enumerate(section.fields):
                name = item if isinstance(item, str) else item.field
                sub = ("sections", s, "fields", f) + (() if isinstance(item, str) else ("field",))
                self._field_ref(obj, name, origin, sub)
        for r, related in enumerate(form.related):
            child = self._object_ref(related.object, origin, ("related", r, "object"))
            if child is None:
                continue
            links = [f.name for f in child.fields if f.kind in _RELATIONS and f.to == obj.name]
            via = related.via
            if via is not None and via not in links:
                self._report(
                    origin,
                    ("related", r, "via"),
                    "bad_related_link",
                    f"{child.name}.{via} does not point to {obj.name!r}",
                    suggestion=did_you_mean(via, links),
                )
            elif via is None and len(links) != 1:
                self._report(
                    origin,
                    ("related", r),
                    "bad_related_link",
                    f"{child.name!r} has {len(links)} links to {obj.name!r}; say which with via",
                )
            self._fields_ref(
                child,
                ((c, ("related", r, "columns", i)) for i, c in enumerate(related.columns)),
                origin,
            )

    def _workflow(self, workflow: Any, origin: Origin) -> None:
        obj = self._object_ref(workflow.object, origin, ("object",))
        if obj is None:
            return
        field = self._field_ref(obj, workflow.field, origin, ("field",), system_ok=False)
        if field is None:
            return
        if not isinstance(field, PicklistField):
            self._report(
                origin,
                ("field",),
                "not_a_picklist",
                f"a workflow runs on a picklist, but {obj.name}.{field.name} is {field.kind}",
                expected="a picklist field",
                suggestion=next((f.name for f in obj.fields if isinstance(f, PicklistField)), None),
            )
            return
        allowed = [v.value for v in field.values]
        states = [s.value for s in workflow.states]
        for i, state in enumerate(workflow.states):
            self._choice(
                state.value,
                allowed,
                origin,
                ("states", i, "value"),
                f"picklist {obj.name}.{field.name}",
            )
            self._fields_ref(
                obj,
                (
                    (n, ("states", i, "required_fields", j))
                    for j, n in enumerate(state.required_fields)
                ),
                origin,
            )
            self._fields_ref(
                obj, ((n, ("states", i, "set_fields", n)) for n in state.set_fields), origin
            )
        self._choice(workflow.initial, states, origin, ("initial",), "the workflow's states")
        for i, value in enumerate(workflow.initial_states):
            self._choice(value, states, origin, ("initial_states", i), "the workflow's states")
        for i, transition in enumerate(workflow.transitions):
            at = ("transitions", i)
            for j, source in enumerate(transition.from_):
                if source != "*":
                    self._choice(source, states, origin, (*at, "from", j), "the workflow's states")
            self._choice(transition.to, states, origin, (*at, "to"), "the workflow's states")
            self._fields_ref(
                obj,
                (
                    (n, (*at, "required_fields", j))
                    for j, n in enumerate(transition.required_fields)
                ),
                origin,
            )
            for j, role in enumerate(transition.roles):
                self._choice(role, list(self.schema.roles), origin, (*at, "roles", j), "the roles")
            if transition.approval is not None:
                self._choice(
                    transition.approval,
                    list(self.schema.approvals),
                    origin,
                    (*at, "approval"),
                    "the approval processes",
                )

    def _approval(self, process: Any, origin: Origin) -> None:
        obj = self._object_ref(process.object, origin, ("object",))
        if obj is None:
            return
        for s, step in enumerate(process.steps):
            approvers = [(("steps", s, "approvers", a), ap) for a, ap in enumerate(step.approvers)]
            if step.escalate_to is not None:
                approvers.append((("steps", s, "escalate_to"), step.escalate_to))
            for sub, approver in approvers:
                self._approver(obj, approver, origin, sub)
        for outcome in ("on_approve", "on_reject"):
            actions = getattr(process, outcome)
            self._fields_ref(
                obj, ((n, (outcome, "set_fields", n)) for n in actions.set_fields), origin
            )
            if actions.transition is not None:
                names = [
                    t.name
                    for w in self.schema.workflows.values()
                    if w.object == obj.name
                    for t in w.transitions
                ]
                self._choice(
                    actions.transition,
                    names,
                    origin,
                    (outcome, "transition"),
                    f"the transitions of {obj.name!r}'s workflows",
                )

    def _approver(
        self, obj: ResolvedObject, approver: Any, origin: Origin, sub: tuple[str | int, ...]
    ) -> None:
        needs = {ApproverKind.ROLE: "role", ApproverKind.USER: "user", ApproverKind.FIELD: "field"}
        key = needs.get(approver.kind)
        if key is not None and getattr(approver, key) is None:
            self._report(origin, sub, "missing_key", f"a {approver.kind} approver needs {key!r}")
            return
        if approver.kind is ApproverKind.ROLE:
            self._choice(
                approver.role, list(self.schema.roles), origin, (*sub, "role"), "the roles"
            )
        elif approver.kind is ApproverKind.FIELD:
            field = self._field_ref(obj, approver.field, origin, (*sub, "field"))
            if field is not None and field.kind is not FieldType.USER:
                self._report(
                    origin,
                    (*sub, "field"),
                    "wrong_field_type",
                    f"{obj.name}.{field.name} does not hold a user",
                    expected="a user field",
                    found=str(field.kind),
                )

    def _automation(self, automation: Any, origin: Origin) -> None:
        obj = self._object_ref(automation.object, origin, ("object",))
        if obj is None:
            return
        trigger = automation.trigger
        if getattr(trigger, "field", None) is not None:
            field = self._field_ref(obj, trigger.field, origin, ("trigger", "field"))
            if field is not None and _value_type(field) not in _DATES:
                self._report(
                    origin,
                    ("trigger", "field"),
                    "wrong_field_type",
                    f"a time trigger needs a date, but {obj.name}.{field.name} is {field.kind}",
                    expected="a date or datetime field",
                )
        self._trigger_timing(trigger, origin)
        if automation.run == "in_transaction" and not hasattr(trigger, "on"):
            self._report(
                origin,
                ("run",),
                "no_transaction",
                "only a record trigger has a write whose transaction the actions could join",
                expected="run: after_commit for a time or schedule trigger",
            )
        for i, action in enumerate(automation.actions):
            at = ("actions", i)
            kind = type(action).__name__
            if kind == "SetFields":
                target = self._lookup_path(obj, action.target, origin, (*at, "target"))
                if target is not None:
                    self._fields_ref(
                        target, ((n, (*at, "values", n)) for n in action.values), origin
                    )
            elif kind == "UpdateRelated":
                self._update_related(obj, action, origin, at)
            elif kind == "FindOrCreate":
                self._find_or_create(obj, action, origin, at)
            elif kind == "CreateRecord":
                target = self._object_ref(action.object, origin, (*at, "object"))
                if target is not None:
                    self._fields_ref(
                        target, ((n, (*at, "values", n)) for n in action.values), origin
                    )
            elif kind == "AssignOwner":
                if action.role is not None:
                    self._choice(
                        action.role, list(self.schema.roles), origin, (*at, "role"), "the roles"
                    )
                if (action.strategy == "rule") != (action.rule is not None):
                    self._report(
                        origin,
                        (*at, "rule"),
                        "missing_rule" if action.rule is None else "unused_rule",
                        "assign_owner needs a rule exactly when its strategy is 'rule'",
                        expected="a JsonLogic rule giving a username, with strategy: rule",
                    )
            elif kind == "CallWebhook":
                self._webhook_fields(obj, action, origin, at)
            elif kind == "RunTransition":
                target = self._lookup_path(obj, action.target, origin, (*at, "target"))
                workflow = self.schema.workflows.get(action.workflow)
                if target is not None and workflow is not None and workflow.object != target.name:
                    self._report(
                        origin,
                        (*at, "workflow"),
                        "wrong_workflow",
                        f"workflow {workflow.name!r} is of {workflow.object!r}, but the "
                        f"transition is taken on {target.name!r}",
                        expected=f"a workflow of {target.name!r}",
                    )
                elif workflow is None:
                    self._choice(
                        action.workflow,
                        list(self.schema.workflows),
                        origin,
                        (*at, "workflow"),
                        "the workflows",
                    )
                else:
                    self._choice(
                        action.transition,
                        [t.name for t in workflow.transitions],
                        origin,
                        (*at, "transition"),
                        f"the transitions of {workflow.name!r}",
                    )

    def _lookup_path(
        self, obj: ResolvedObject, path: str | None, origin: Origin, sub: tuple[str | int, ...]
    ) -> ResolvedObject | None:
        """The object an action's ``target`` reaches (``obj`` itself without one)."""
        if path is None:
            return obj
        here = obj
        for hop in path.split("."):
            field = here.field(hop)
            if field is None or field.kind not in _RELATIONS:
                self._report(
                    origin,
                    sub,
                    "bad_target",
                    f"{here.name}.{hop} is not a lookup, so {path!r} reaches no record",
                    expected=f"a lookup of {here.name!r}",
                    suggestion=did_you_mean(
                        hop, [f.name for f in here.fields if f.kind in _RELATIONS]
                    ),
                )
                return None
            reached = self.schema.objects.get(field.to)
            if reached is None:
                return None  # the field's own check reports the missing object
            here = reached
        return here

    def _update_related(
        self, obj: ResolvedObject, action: Any, origin: Origin, at: tuple[str | int, ...]
    ) -> None:
        related = self._object_ref(action.object, origin, (*at, "object"))
        if related is None:
            return
        self._link_back(related, action.via, obj, origin, (*at, "via"), "bad_link")
        for key in ("match", "values"):
            names = ((n, (*at, key, n)) for n in getattr(action, key))
            self._fields_ref(related, names, origin)

    def _find_or_create(
        self, obj: ResolvedObject, action: Any, origin: Origin, at: tuple[str | int, ...]
    ) -> None:
        found = self._object_ref(action.object, origin, (*at, "object"))
        if found is None:
            return
        for key in ("match", "values"):
            names = ((n, (*at, key, n)) for n in getattr(action, key))
            self._fields_ref(found, names, origin)
        if action.link is not None:
            link = self._field_ref(obj, action.link, origin, (*at, "link"), system_ok=False)
            if link is not None and (link.kind not in _RELATIONS or link.to != found.name):
                self._report(
                    origin,
                    (*at, "link"),
                    "bad_link",
                    f"{obj.name}.{action.link} does not point to {found.name!r}",
                    expected=f"a lookup of {obj.name!r} to {found.name!r}",
                )

    def _webhook_fields(
        self, obj: ResolvedObject, action: Any, origin: Origin, at: tuple[str | int, ...]
    ) -> None:
        """A webhook's ``fields`` name fields of its object; sending personal data unmasked
        (``include_pii``) is allowed, and said aloud."""
        names = ((n, (*at, "fields", i)) for i, n in enumerate(action.fields))
        self._fields_ref(obj, names, origin)
        personal = [n for n in action.fields if getattr(obj.field(n), "pii", False)]
        if action.include_pii:
            found = ", ".join(personal) or "none of the listed fields"
            self._report(
                origin,
                (*at, "include_pii"),
                "webhook_sends_pii",
                f"this webhook sends personal data unmasked to {action.url}: {found}",
                severity=Severity.WARNING,
                expected="include_pii only where the receiver is entitled to the data",
            )

    def _trigger_timing(self, trigger: Any, origin: Origin) -> None:
        """A schedule's cron expression and a trigger's time zone must mean something."""
        zone = getattr(trigger, "timezone", None)
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                self._report(
                    origin,
                    ("trigger", "timezone"),
                    "unknown_timezone",
                    f"{zone!r} is not a time zone",
                    expected="an IANA time zone name such as Asia/Shanghai",
                )
        cron = getattr(trigger, "cron", None)
        if cron is not None and not croniter.is_valid(cron):
            self._report(
                origin,
                ("trigger", "cron"),
                "bad_cron",
                f"{cron!r} is not a cron schedule",
                expected="five fields: minute hour day-of-month month day-of-week, "
                "e.g. '0 1 * * *' for 01:00 every day",
            )

    def _role(self, role: Any, origin: Origin) -> None:
        for name, grant in role.objects.items():
            obj = self._object_ref(name, origin, ("objects", name))
            if obj is not None:
                self._fields_ref(
                    obj, ((f, ("objects", name, "fields", f)) for f in grant.fields), origin
                )
        for i, rule in enumerate(role.record_rules):
            self._object_ref(rule.object, origin, ("record_rules", i, "object"))

    def _choice(
        self, value: str, allowed: list[str], origin: Origin, sub: tuple[str | int, ...], among: str
    ) -> None:
        if value not in allowed:
            self._report(
                origin,
                sub,
                "unknown_reference",
                f"{value!r} is not one of {among}",
                expected=(", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else ""))
                or "none are declared",
                suggestion=did_you_mean(value, allowed),
            )


def _value_type(field: Any) -> str:
    """The type of value a field holds: a formula's result type, else its own type."""
    result = getattr(field, "result_type", None)
    return FieldType(str(result)) if result is not None else field.kind
