"""A form layout's rules (``visible_when``, ``required_when``, ``read_only_when`` on fields,
``visible_when`` on sections) evaluated on the server, by the engine's own rule compiler.

The page asks again as the user edits (``POST …/form-state``), so the browser never runs
a second rule engine that could disagree with the one that validates the record. The
values a rule sees are the form's, coerced as a save would coerce them; a value that does
not coerce yet (half-typed) is seen as typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from engine.compiled import CompiledObject
from engine.records.coerce import Invalid, coerce
from engine.rules import CompiledRule, EvalEnv, RuleError, compile_rule
from metadata.model.layouts import FormField, FormLayout

__all__ = ["FormState", "form_state", "typed_values"]

_KEYS = ("visible_when", "required_when", "read_only_when")
#: Compiled rules by (schema content hash, object, rule): a new schema compiles afresh.
_compiled: dict[tuple[str, str, str], CompiledRule] = {}


@dataclass(frozen=True)
class FormState:
    """What the rules say now: per field (visible, required, read-only), per section
    whether it shows."""

    fields: dict[str, tuple[bool, bool, bool]]
    sections: dict[str, bool]

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": {
                name: {"visible": v, "required": r, "read_only": ro}
                for name, (v, r, ro) in self.fields.items()
            },
            "sections": self.sections,
        }


def typed_values(cobj: CompiledObject, values: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """Form values as the record service would store them, where they already make sense."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        fdef = cobj.fields.get(name)
        if fdef is None or value in (None, "", []):
            typed[name] = None if value in ("", []) else value
            continue
        try:
            typed[name] = coerce(fdef, value, tz)
        except (Invalid, ValueError, TypeError):
            typed[name] = value
    return typed


def form_state(
    schema_hash: str,
    cobj: CompiledObject,
    layout: FormLayout | None,
    record: Mapping[str, Any],
    env: EvalEnv,
) -> FormState:
    """Evaluate every rule of ``layout`` on ``record`` (a rule that fails counts as not
    holding, so a broken rule never hides a field by accident… or shows one: visible
    defaults to yes, required and read-only to no)."""
    fields: dict[str, tuple[bool, bool, bool]] = {}
    sections: dict[str, bool] = {}
    if layout is None:
        return FormState(fields, sections)
    for section in layout.sections:
        sections[section.name] = _holds(
            (schema_hash, cobj), section.visible_when, record, env, default=True
        )
        for item in section.fields:
            if not isinstance(item, FormField):
                continue
            visible, required, read_only = (
                _holds(
                    (schema_hash, cobj),
                    getattr(item, key),
                    record,
                    env,
                    default=key == "visible_when",
                )
                for key in _KEYS
            )
            fields[item.field] = (visible, required, read_only)
    return FormState(fields, sections)


def _holds(
    where: tuple[str, CompiledObject],
    rule: Any,
    record: Mapping[str, Any],
    env: EvalEnv,
    *,
    default: bool,
) -> bool:
    if rule is None:
        return default
    schema_hash, cobj = where
    key = (schema_hash, cobj.name, json.dumps(rule, sort_keys=True, default=str))
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compiled[key] = compile_rule(rule, cobj.context)
    try:
        return bool(compiled(dict(record), env))
    except RuleError:
        return default
