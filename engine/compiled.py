"""Compile a resolved schema once into what the record service runs: the CompiledSchema.

Tables, rule closures (defaults, formulas, validations), autonumber patterns and the
rollup dependency map are built here, so nothing is parsed or looked up per record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from engine.rule_checks import USER_OBJECT, rule_contexts, rule_tables
from engine.rules import CompiledRule, RuleContext, compile_rule, searched_scopes
from engine.storage.tables import CompiledTables, compile_tables
from metadata import ResolvedObject, ResolvedSchema
from metadata.model.fields import (
    AutonumberField,
    FieldType,
    FormulaField,
    RollupField,
)
from metadata.model.objects import ValidationRule

__all__ = [
    "CompiledObject",
    "CompiledSchema",
    "Rollup",
    "compile_schema",
    "lookups_walked",
    "walked_target",
]

T = TypeVar("T")
_COMPUTED = (FieldType.FORMULA, FieldType.ROLLUP, FieldType.AUTONUMBER)
#: Fields whose history would only repeat other fields' (a formula follows the fields it
#: reads; an autonumber never changes). A rollup's history is kept: its changes are
#: derived writes with a cause of their own (a child created, moved or deleted).
_FOLLOWS = (FieldType.FORMULA, FieldType.AUTONUMBER)


@dataclass(frozen=True)
class Rollup:
    """A parent's rollup field fed by a child object's link field."""

    parent: str
    field: RollupField
    child: str
    via: str


@dataclass
class CompiledObject:
    obj: ResolvedObject
    context: RuleContext
    fields: dict[str, Any]
    defaults: list[tuple[Any, Any]] = field(default_factory=list)
    formulas: list[tuple[FormulaField, CompiledRule]] = field(default_factory=list)
    validations: list[tuple[ValidationRule, CompiledRule]] = field(default_factory=list)
    autonumbers: list[AutonumberField] = field(default_factory=list)
    #: The rollups of other objects this object's records feed.
    rollups_fed: list[Rollup] = field(default_factory=list)
    #: This object's own rollup fields.
    rollups: list[Rollup] = field(default_factory=list)
    tracked: frozenset[str] = frozenset()
    external_id: str | None = None
    #: Lookup fields whose target records rules read through (``contact.account``).
    walks: frozenset[str] = frozenset()
    #: The lookups and master-details of every object that point here, as
    #: ``(child object, field)``: what a delete of this object's records must follow.
    referenced_by: list[tuple[CompiledObject, Any]] = field(default_factory=list)
    #: Scopes (a field, or None: the whole object) in which validations' record queries
    #: search this object; its writes take those locks (``engine.records.rule_records``).
    searched: frozenset[str | None] = frozenset()
    #: Its validations hold record queries: a bulk write prepares each row after the rows
    #: before it are written, so the queries see them.
    queries_records: bool = False

    @property
    def name(self) -> str:
        return self.obj.name

    def writable(self, name: str) -> bool:
        found = self.fields.get(name)
        return found is not None and found.kind not in _COMPUTED


@dataclass
class CompiledSchema:
    schema: ResolvedSchema
    tables: CompiledTables
    objects: dict[str, CompiledObject]
    #: The tables rules read in SQL (objects, and users as ``user``): ``rule_tables``.
    rule_tables: dict[str, sa.Table] = field(default_factory=dict)
    #: What the layers above compile from this schema (stage machines, automations),
    #: kept so every service over the same schema shares one copy (``once``).
    _built: dict[str, Any] = field(default_factory=dict, repr=False)

    def once(self, key: str, build: Callable[[CompiledSchema], T]) -> T:
        """``build(self)``, computed the first time ``key`` is asked for and kept (a
        compiled schema never changes, so neither does anything compiled from it)."""
        if key not in self._built:
            self._built[key] = build(self)
        return cast(T, self._built[key])

    @property
    def content_hash(self) -> str:
        return self.schema.content_hash

    def object(self, name: str) -> CompiledObject:
        return self.objects[name]

    def references_to(self, name: str) -> list[tuple[CompiledObject, Any]]:
        """``(child object, field)`` for every lookup or master-detail to ``name``."""
        return self.objects[name].referenced_by


def compile_schema(schema: ResolvedSchema) -> CompiledSchema:
    """Compile every object of ``schema``; raises RuleCompileError on a broken rule."""
    tables = compile_tables(schema)
    contexts = rule_contexts(schema)
    objects = {name: _compile_object(obj, contexts[name]) for name, obj in schema.objects.items()}
    for compiled in objects.values():
        for fdef in compiled.obj.fields:
            if isinstance(fdef, RollupField) and fdef.of in objects:
                via = fdef.via or _single_link(schema.objects[fdef.of], compiled.name)
                rollup = Rollup(compiled.name, fdef, fdef.of, via)
                objects[fdef.of].rollups_fed.append(rollup)
                compiled.rollups.append(rollup)
            relation = fdef.kind in (FieldType.LOOKUP, FieldType.MASTER_DETAIL)
            if relation and fdef.to in objects:
                objects[fdef.to].referenced_by.append((compiled, fdef))
        for rule, _ in compiled.validations:
            for searched, scope in searched_scopes(rule.rule):
                compiled.queries_records = True
                if searched in objects:
                    objects[searched].searched |= {scope}
    return CompiledSchema(
        schema=schema, tables=tables, objects=objects, rule_tables=rule_tables(tables)
    )


def _single_link(child: ResolvedObject, parent: str) -> str:
    return next(
        f.name
        for f in child.fields
        if f.kind in (FieldType.LOOKUP, FieldType.MASTER_DETAIL) and f.to == parent
    )


def _compile_object(obj: ResolvedObject, context: RuleContext) -> CompiledObject:
    compiled = CompiledObject(obj=obj, context=context, fields={f.name: f for f in obj.fields})
    for fdef in obj.fields:
        default = getattr(fdef, "default", None)
        if isinstance(default, dict):
            compiled.defaults.append((fdef, compile_rule(default, context)))
        elif default is not None:
            compiled.defaults.append((fdef, default))
        if isinstance(fdef, FormulaField):
            compiled.formulas.append((fdef, compile_rule(fdef.expression, context)))
        elif isinstance(fdef, AutonumberField):
            compiled.autonumbers.append(fdef)
        if getattr(fdef, "external_id", False) and compiled.external_id is None:
            compiled.external_id = fdef.name
    compiled.validations = [
        (rule, compile_rule(rule.rule, context)) for rule in obj.validations if rule.active
    ]
    rules = [r for _, r in compiled.defaults if callable(r)]
    rules += [r for _, r in compiled.formulas] + [r for _, r in compiled.validations]
    compiled.walks = lookups_walked(compiled, [rule.rule for rule in rules])
    compiled.tracked = frozenset(
        f.name
        for f in obj.fields
        if (f.track_history if f.track_history is not None else obj.track_history)
        and f.kind not in _FOLLOWS
    )
    return compiled


def lookups_walked(cobj: CompiledObject, rules: Iterable[Any]) -> frozenset[str]:
    """The lookup fields of ``cobj`` that ``rules`` (JsonLogic) read through
    (``assigned_partner.partner_unit`` walks ``assigned_partner``)."""
    return frozenset(
        head for rule in rules for head in _var_heads(rule) if walked_target(cobj, head)
    )


#: System columns holding a user's id.
_USER_COLUMNS = ("owner", "created_by", "updated_by")


def walked_target(cobj: CompiledObject, name: str) -> str | None:
    """The object a rule reads through field ``name`` (``user`` for user fields and the
    system user columns), or None when it is no lookup."""
    if name in _USER_COLUMNS:
        return USER_OBJECT
    fdef = cobj.fields.get(name)
    if fdef is None:
        return None
    if fdef.kind is FieldType.USER:
        return USER_OBJECT
    if fdef.kind in (FieldType.LOOKUP, FieldType.MASTER_DETAIL):
        return str(fdef.to)
    return None


def _var_heads(rule: Any) -> set[str]:
    """First segments of dotted ``var`` paths in ``rule`` (``contact.account`` -> contact)."""
    heads: set[str] = set()
    stack = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for op, arg in node.items():
                path = arg[0] if op == "var" and isinstance(arg, list) and arg else arg
                if op == "var" and isinstance(path, str) and "." in path:
                    heads.add(path.split(".", 1)[0])
                stack.append(arg)
        elif isinstance(node, list):
            stack.extend(node)
    return heads
