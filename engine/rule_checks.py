"""Check every JsonLogic rule in a resolved schema against the object it runs on.

The metadata layer knows where rules are but not what they mean; ``engine.rules`` knows
what they mean but nothing of packs. This module joins the two so ``metacrm validate``
reports a misspelled operator or field in a rule with the file, line and rule path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.rules import FieldRef, RuleContext, check_rule
from engine.rules.safe_regex import pattern_problem
from metadata import Origin, Problem, ResolvedObject, ResolvedSchema
from metadata.model.fields import FormulaField, LookupField, RollupField, TextField
from metadata.resolve import SourceIndex

__all__ = ["check_rules", "rule_contexts"]

#: How rules see the columns every object has (see metadata.check.SYSTEM_FIELDS).
_SYSTEM_TYPES = {
    "id": ("text", None),
    "owner": ("user", "user"),
    "org_unit": ("lookup", "org_unit"),
    "created_at": ("datetime", None),
    "created_by": ("user", "user"),
    "updated_at": ("datetime", None),
    "updated_by": ("user", "user"),
    "version": ("integer", None),
    "archived": ("boolean", None),
}

_Where = tuple[Origin, tuple[str | int, ...]]


def rule_contexts(schema: ResolvedSchema) -> dict[str, RuleContext]:
    """The rule schema of every object: its fields, system fields, and the objects it reaches.

    The field maps are built once and shared by all contexts, so this is linear in the
    size of the schema.
    """
    objects = {name: _field_refs(obj) for name, obj in schema.objects.items()}
    return {
        name: RuleContext(object_name=name, fields=fields, objects=objects)
        for name, fields in objects.items()
    }


def _field_refs(obj: ResolvedObject) -> dict[str, FieldRef]:
    refs = {name: FieldRef(name, kind, target) for name, (kind, target) in _SYSTEM_TYPES.items()}
    for field in obj.fields:
        result = getattr(field, "result_type", None)
        if isinstance(field, RollupField):
            result = "integer" if field.function == "count" else "decimal"
        refs[field.name] = FieldRef(
            name=field.name,
            type=str(field.kind),
            target=getattr(field, "to", None),
            result_type=str(result) if result is not None else None,
        )
    return refs


def check_rules(schema: ResolvedSchema, sources: SourceIndex) -> list[Problem]:
    """A problem for every rule that would not compile, and every text pattern that could
    hang a worker (they run on user input), located in its pack file."""
    problems: list[Problem] = []
    for obj in schema.objects.values():
        for field in obj.fields:
            if isinstance(field, TextField) and field.pattern is not None:
                refused = pattern_problem(field.pattern)
                if refused:
                    problems.append(
                        sources.problem(
                            obj.origins[f"fields.{field.name}"],
                            ("pattern",),
                            code="unsafe_pattern",
                            message=f"the pattern is refused: {refused}",
                        )
                    )
    contexts = rule_contexts(schema)
    for object_name, rule, (origin, sub) in _rules(schema):
        if object_name not in contexts:
            continue  # the unknown object is reported by the metadata checks
        for found in check_rule(rule, contexts[object_name]):
            rule_path = f" at {found.path}" if found.path else ""
            problems.append(
                sources.problem(
                    origin,
                    sub,
                    code=f"rule_{found.code}",
                    message=f"in the rule{rule_path}: {found.message}",
                    suggestion=found.suggestion,
                )
            )
    return problems


def _rules(schema: ResolvedSchema) -> Iterator[tuple[str, Any, _Where]]:
    """Every (object, rule, where) in the schema; absent rules (None) are skipped."""
    for name, obj in schema.objects.items():
        for rule in obj.validations:
            yield name, rule.rule, (obj.origins[f"validations.{rule.name}"], ("rule",))
        for field in obj.fields:
            at = obj.origins[f"fields.{field.name}"]
            if isinstance(getattr(field, "default", None), dict):
                yield name, field.default, (at, ("default",))
            if isinstance(field, FormulaField):
                yield name, field.expression, (at, ("expression",))
            if isinstance(field, RollupField) and field.filter is not None:
                yield field.of, field.filter, (at, ("filter",))
            if isinstance(field, LookupField) and field.filter is not None:
                yield field.to, field.filter, (at, ("filter",))
    for name, layouts in schema.layouts.items():
        for view in layouts.list_views:
            if view.filter is not None:
                at = schema.origins[f"layouts.{name}.list_views.{view.name}"]
                yield name, view.filter, (at, ("filter",))
        for form in layouts.forms:
            at = schema.origins[f"layouts.{name}.forms.{form.name}"]
            for s, section in enumerate(form.sections):
                if section.visible_when is not None:
                    yield name, section.visible_when, (at, ("sections", s, "visible_when"))
                for f, item in enumerate(section.fields):
                    for key in ("visible_when", "required_when", "read_only_when"):
                        rule = getattr(item, key, None)
                        if rule is not None:
                            yield name, rule, (at, ("sections", s, "fields", f, key))
    for name, workflow in schema.workflows.items():
        at = schema.origins[f"workflows.{name}"]
        for t, transition in enumerate(workflow.transitions):
            if transition.guard is not None:
                yield workflow.object, transition.guard, (at, ("transitions", t, "guard"))
    for name, process in schema.approvals.items():
        at = schema.origins[f"approvals.{name}"]
        if process.entry_criteria is not None:
            yield process.object, process.entry_criteria, (at, ("entry_criteria",))
        for s, step in enumerate(process.steps):
            for key in ("entry_criteria", "auto_approve"):
                rule = getattr(step, key)
                if rule is not None:
                    yield process.object, rule, (at, ("steps", s, key))
    for name, automation in schema.automations.items():
        at = schema.origins[f"automations.{name}"]
        for key in ("condition", "filter"):
            rule = getattr(automation.trigger, key, None)
            if rule is not None:
                yield automation.object, rule, (at, ("trigger", key))
    for name, role in schema.roles.items():
        at = schema.origins[f"roles.{name}"]
        for r, record_rule in enumerate(role.record_rules):
            yield record_rule.object, record_rule.rule, (at, ("record_rules", r, "rule"))
