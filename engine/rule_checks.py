"""Check every JsonLogic rule in a resolved schema against the object it runs on.

The metadata layer knows where rules are but not what they mean; ``engine.rules`` knows
what they mean but nothing of packs. This module joins the two so ``metacrm validate``
reports a misspelled operator or field in a rule with the file, line and rule path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from engine.rules import (
    RECORD_QUERIES,
    EvalEnv,
    FieldRef,
    RuleContext,
    RuleError,
    RuleNotSqlError,
    UserInfo,
    check_rule,
    to_sql,
)
from engine.rules.bind import TRIGGER_ROOT, bind_record
from engine.rules.safe_regex import pattern_problem
from engine.storage.tables import CompiledTables, compile_tables
from metadata import Origin, Problem, ResolvedObject, ResolvedSchema
from metadata.model.automations import UpdateRelated
from metadata.model.fields import FieldType, FormulaField, LookupField, RollupField, TextField
from metadata.resolve import SourceIndex

__all__ = ["USER_FIELDS", "USER_OBJECT", "check_rules", "rule_contexts"]

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

#: How rules name the users that user fields (``owner``, ``assigned_to``) point to.
USER_OBJECT = "user"
#: What rules may read of a user through a user field (``owner.org_unit``): a fixed
#: whitelist of ``_users`` columns. Never the password hash, e-mail, locale, roles or
#: sign-in data; the acting user's roles are ``$user.roles`` and ``has_role``.
USER_FIELDS = {
    "id": FieldRef("id", "text"),
    "username": FieldRef("username", "text"),
    "display_name": FieldRef("display_name", "text"),
    "org_unit": FieldRef("org_unit", "lookup", "org_unit"),
    "disabled": FieldRef("disabled", "boolean"),
}

_Where = tuple[Origin, tuple[str | int, ...]]
#: A signed-in user for compiling rules that read ``$user`` (only the shape matters).
_SOMEONE = "00000000-0000-4000-8000-000000000000"


def rule_contexts(schema: ResolvedSchema) -> dict[str, RuleContext]:
    """The rule schema of every object: its fields, system fields, and the objects it reaches.

    The field maps are built once and shared by all contexts, so this is linear in the
    size of the schema.
    """
    objects = {name: _field_refs(obj, schema) for name, obj in schema.objects.items()}
    objects.setdefault(USER_OBJECT, USER_FIELDS)
    return {
        name: RuleContext(object_name=name, fields=fields, objects=objects)
        for name, fields in objects.items()
        if name in schema.objects
    }


def _field_refs(obj: ResolvedObject, schema: ResolvedSchema) -> dict[str, FieldRef]:
    refs = {name: FieldRef(name, kind, target) for name, (kind, target) in _SYSTEM_TYPES.items()}
    for field in obj.fields:
        result = getattr(field, "result_type", None)
        if isinstance(field, RollupField):
            result = schema.rollup_result(field)
        refs[field.name] = FieldRef(
            name=field.name,
            type=str(field.kind),
            target=USER_OBJECT if field.kind is FieldType.USER else getattr(field, "to", None),
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
    queried = _record_query_places(schema)
    for object_name, rule, (origin, sub) in _rules(schema):
        if object_name not in contexts:
            continue  # the unknown object is reported by the metadata checks
        if id(rule) not in queried and next(_record_queries(rule), None) is not None:
            problems.append(
                sources.problem(
                    origin,
                    sub,
                    code="rule_record_query_here",
                    message="record queries (record_exists, record_count...) run only in "
                    "validations, list view filters and role record rules",
                    expected="a rollup field, or the query in a validation",
                )
            )
            continue
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
    if not problems:
        problems += _without_sql_form(schema, contexts, sources)
    return problems


def _without_sql_form(
    schema: ResolvedSchema, contexts: dict[str, RuleContext], sources: SourceIndex
) -> list[Problem]:
    """Rules that run inside a database query (record rules, list view filters, schedule
    filters) must have an SQL form, or every list of that object would fail at run time."""
    tables = compile_tables(schema)
    readable = rule_tables(tables)
    someone = EvalEnv(user=UserInfo(id=_SOMEONE, roles=(), org_unit=_SOMEONE, org_units=()))
    problems = []
    for object_name, rule, (origin, sub) in _sql_rules(schema):
        if object_name not in tables.objects:
            continue
        try:
            to_sql(
                rule, tables[object_name], contexts[object_name], tables=readable, env=someone
            )
        except RuleNotSqlError as exc:
            problems.append(
                sources.problem(
                    origin,
                    sub,
                    code="rule_no_sql",
                    message=f"this rule runs in the database query, but {exc}",
                    expected="operators with an SQL form, or ones over constants only",
                )
            )
        except RuleError:
            continue  # reported by check_rule
    return problems


#: A value of each type, standing in for the triggering record's when a rule that reads
#: ``$trigger`` is checked (only the type matters to the compiler).
_SAMPLES = {
    "integer": 0, "decimal": 0, "currency": 0, "percent": 0, "boolean": False,
    "date": "2000-01-01", "datetime": "2000-01-01T00:00:00+00:00", "time": "00:00:00",
    "multi_picklist": [],
}  # fmt: skip


def _sample_record(schema: ResolvedSchema, object_name: str) -> dict[str, Any]:
    obj = schema.objects.get(object_name)
    if obj is None:
        return {}
    refs = _field_refs(obj, schema)
    return {name: _SAMPLES.get(ref.value_type, _SOMEONE) for name, ref in refs.items()}
def rule_tables(tables: CompiledTables) -> dict[str, sa.Table]:
    """The tables rules read in SQL: every object's, and ``_users`` as ``user`` (only its
    ``USER_FIELDS`` resolve in a rule's context)."""
    readable: dict[str, sa.Table] = {USER_OBJECT: tables.system["users"]}
    readable.update(tables.objects)
    return readable


def _record_query_places(schema: ResolvedSchema) -> set[int]:
    """The rules (by identity) that may hold record queries: validations (run on the
    write's connection), role record rules and list view filters (SQL)."""
    places = {id(rule.rule) for obj in schema.objects.values() for rule in obj.validations}
    places |= {id(r.rule) for role in schema.roles.values() for r in role.record_rules}
    for layouts in schema.layouts.values():
        places |= {id(view.filter) for view in layouts.list_views if view.filter is not None}
    return places


def _record_queries(rule: Any) -> Iterator[Any]:
    """The record queries of a rule (JSON), outermost first."""
    stack = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            if len(node) == 1 and next(iter(node)) in RECORD_QUERIES:
                yield node
                continue
            stack.extend(node.values())


def _sql_rules(schema: ResolvedSchema) -> Iterator[tuple[str, Any, _Where]]:
    for name, obj in schema.objects.items():  # a validation runs its record queries in SQL
        for rule in obj.validations:
            at = obj.origins[f"validations.{rule.name}"]
            for query in _record_queries(rule.rule):
                yield name, query, (at, ("rule",))
    for name, obj in schema.objects.items():
        yield from _duplicate_conditions(name, obj)
    for name, role in schema.roles.items():
        at = schema.origins[f"roles.{name}"]
        for r, record_rule in enumerate(role.record_rules):
            yield record_rule.object, record_rule.rule, (at, ("record_rules", r, "rule"))
    for name, layouts in schema.layouts.items():
        for view in layouts.list_views:
            if view.filter is not None:
                at = schema.origins[f"layouts.{name}.list_views.{view.name}"]
                yield name, view.filter, (at, ("filter",))
    for name, automation in schema.automations.items():
        at = schema.origins[f"automations.{name}"]
        rule = getattr(automation.trigger, "filter", None)
        if rule is not None:
            yield automation.object, rule, (at, ("trigger", "filter"))
        for a, action in enumerate(automation.actions):  # over the related records
            if isinstance(action, UpdateRelated) and action.where is not None:
                sample = _sample_record(schema, automation.object)
                bound = bind_record(action.where, TRIGGER_ROOT, sample)
                yield action.object, bound, (at, ("actions", a, "where"))


def _duplicate_conditions(name: str, obj: ResolvedObject) -> Iterator[tuple[str, Any, _Where]]:
    """A duplicate rule's condition runs in the query that finds the existing record."""
    for dup in obj.duplicate_rules:
        if dup.condition is not None:
            yield name, dup.condition, (obj.origins[f"duplicate_rules.{dup.name}"], ("condition",))


def _rules(schema: ResolvedSchema) -> Iterator[tuple[str, Any, _Where]]:
    """Every (object, rule, where) in the schema; absent rules (None) are skipped."""
    for name, obj in schema.objects.items():
        for rule in obj.validations:
            yield name, rule.rule, (obj.origins[f"validations.{rule.name}"], ("rule",))
        yield from _duplicate_conditions(name, obj)
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
        for a, action in enumerate(automation.actions):  # values read the triggering record
            for key in ("values", "match"):
                for field, value in (getattr(action, key, None) or {}).items():
                    if isinstance(value, dict):
                        yield automation.object, value, (at, ("actions", a, key, field))
            if getattr(action, "rule", None) is not None:
                yield automation.object, action.rule, (at, ("actions", a, "rule"))
    for name, role in schema.roles.items():
        at = schema.origins[f"roles.{name}"]
        for r, record_rule in enumerate(role.record_rules):
            yield record_rule.object, record_rule.rule, (at, ("record_rules", r, "rule"))
