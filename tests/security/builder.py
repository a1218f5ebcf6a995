"""Valid records of any object of any pack, written as the system through the record service.

The suite knows no pack: it fills what a record needs (required fields, a parent for each
required link) and, when the service refuses the record, reads the refusal: an empty
field is filled, a value the field refuses is replaced by the next candidate, and a
validation rule that fails has the fields it reads tried in turn (a picklist's other
choices, a value copied from a linked record, nothing). Values the caller forces (the
secrets) are never touched. A record that still cannot be made is reported, not faked.
"""

from __future__ import annotations

import itertools
from typing import Any

from engine.records import Actor, ValidationFailed, WriteOptions

from .secrets_of import COMPUTED, LINKS
from .values import filler

SYSTEM = Actor(user_id=None, name="hostile suite")
_ATTEMPTS = 60
_DRY = WriteOptions(dry_run=True, reason="hostile suite: a record the caller may start from")
_WRITE = WriteOptions()
_counter = itertools.count(1)


class Unbuildable(Exception):
    """No valid record of an object could be made from its metadata."""


def rule_paths(rule: Any) -> list[str]:
    """The record paths a JsonLogic rule reads (``var``/``val``/``old``/``changed``)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for op, arg in node.items():
                if op in ("var", "val", "old", "changed"):
                    path = arg[0] if isinstance(arg, list) and arg else arg
                    if (
                        isinstance(arg, list)
                        and op == "val"
                        and all(isinstance(a, str) for a in arg)
                    ):
                        path = ".".join(arg)
                    if isinstance(path, str) and path and not path.startswith("$"):
                        found.append(path)
                walk(arg)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(rule)
    return list(dict.fromkeys(found))


class Builder:
    """Makes records of one stack, placed in one org unit and owned by one user."""

    def __init__(self, service: Any, owner: str, unit: str | None):
        self.service = service
        self.compiled = service.compiled
        self.schema = service.compiled.schema
        self.owner = owner
        self.unit = unit
        self.parents: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.stage_fields = {(w.object, w.field): w for w in self.schema.workflows.values()}

    def parent(self, obj: str) -> str:
        """One record of ``obj`` to link to (made once)."""
        if obj not in self.parents:
            self.parents[obj] = self.build(obj)["id"]
        return self.parents[obj]

    def valid_values(self, obj: str) -> dict[str, Any]:
        """Values a record of ``obj`` is accepted with (checked by a dry run), without
        owner, unit or stage: what a user may start from."""
        return self.build(obj, dry=True)

    def build(
        self, obj: str, forced: dict[str, Any] | None = None, dry: bool = False
    ) -> dict[str, Any]:
        """A new record of ``obj`` holding ``forced`` (with ``dry``: the values it was
        accepted with, nothing written)."""
        forced = dict(forced or {})
        if obj in self.failures and not forced:
            raise Unbuildable(self.failures[obj])
        cobj = self.compiled.objects[obj]
        place = {"owner": self.owner}
        if obj != "org_unit" and self.unit:
            place["org_unit"] = self.unit
        values: dict[str, Any] = {}
        tried: dict[str, int] = {}
        for fdef in cobj.obj.fields:
            if fdef.name in forced or not self._fillable(obj, fdef):
                continue
            needed = getattr(fdef, "required", False) or fdef.kind.value == "master_detail"
            if needed and getattr(fdef, "default", None) is None:
                self._next(obj, fdef, values, tried)
        errors: list[Any] = []
        for _ in range(_ATTEMPTS):
            try:
                made = self.service.create(obj, {**values, **forced, **place}, SYSTEM,
                                           options=_DRY if dry else _WRITE)  # fmt: skip
                return {**values, **forced} if dry else made
            except ValidationFailed as exc:
                errors = exc.errors
            if not self._repair(obj, errors, values, tried, forced):
                break
        reason = "; ".join(f"{e.field}: {e.rule}/{e.code}" for e in errors)
        if not forced and not dry:
            self.failures[obj] = reason
        raise Unbuildable(f"{obj}: {reason}")

    def through(self, obj: str, record_id: str, transition: Any) -> dict[str, Any]:
        """Take ``transition`` on a record as the system, with the fields it requires
        filled (and those its refusals name) as a new record's are; the record after it.

        Raises:
            Unbuildable: The record refuses the move whatever the suite fills in.
        """
        cobj = self.compiled.objects[obj]
        values: dict[str, Any] = {}
        tried: dict[str, int] = {}
        for name in transition.required_fields:
            if cobj.fields.get(name) is not None:
                self._next(obj, cobj.fields[name], values, tried)
        errors: list[Any] = []
        for _ in range(_ATTEMPTS):
            try:
                return self.service.transition(obj, record_id, transition.name, SYSTEM,
                                               values=values)  # fmt: skip
            except ValidationFailed as exc:
                errors = exc.errors
            if not self._repair(obj, errors, values, tried, {}):
                break
        reason = "; ".join(f"{e.field}: {e.rule}/{e.code}" for e in errors)
        raise Unbuildable(f"{obj} {transition.name}: {reason}")

    def satisfy(self, obj: str, rule: Any, values: dict[str, Any], tried: dict[str, int]) -> bool:
        """Move ``values`` (a record of ``obj``) a step towards holding ``rule``: a field
        it reads to its next candidate; False when none is left to try."""
        return self._satisfy(obj, rule, values, tried, {})

    def _fillable(self, obj: str, fdef: Any) -> bool:
        return fdef.kind not in COMPUTED and (obj, fdef.name) not in self.stage_fields

    def _candidates(self, obj: str, fdef: Any) -> list[Any]:
        if fdef.kind in LINKS:
            if fdef.to == obj:
                return [None]
            return [self.parent(fdef.to), None]
        if fdef.kind.value == "user":
            return [self.owner, None]
        found = filler(self.schema, fdef, next(_counter))
        required = getattr(fdef, "required", False)
        return found if required else [*found, None]

    def _next(self, obj: str, fdef: Any, values: dict[str, Any], tried: dict[str, int]) -> bool:
        """Give ``fdef`` its next candidate; False when none is left."""
        index = tried.get(fdef.name, -1) + 1
        candidates = self._candidates(obj, fdef)
        if index >= len(candidates):
            return False
        tried[fdef.name] = index
        if candidates[index] is None:
            values.pop(fdef.name, None)
        else:
            values[fdef.name] = candidates[index]
        return True

    def _repair(
        self,
        obj: str,
        errors: list[Any],
        values: dict[str, Any],
        tried: dict[str, int],
        forced: dict[str, Any],
    ) -> bool:
        cobj = self.compiled.objects[obj]
        rules = {v.name: v.rule for v in cobj.obj.validations}
        changed = False
        for error in errors:
            if error.rule in rules:
                changed |= self._satisfy(obj, rules[error.rule], values, tried, forced)
                continue
            fdef = cobj.fields.get(error.field or "")
            if fdef is None or error.field in forced or not self._fillable(obj, fdef):
                continue
            if error.code == "not_unique" and fdef.kind in LINKS and fdef.to != obj:
                values[fdef.name] = self.build(fdef.to)["id"]  # that pair is taken: a new one
                changed = True
                continue
            changed |= self._next(obj, fdef, values, tried)
        return changed

    def _satisfy(
        self,
        obj: str,
        rule: Any,
        values: dict[str, Any],
        tried: dict[str, int],
        forced: dict[str, Any],
    ) -> bool:
        """Move one of the fields a failing rule reads to its next candidate (or copy a
        value the rule compares it with from a linked record)."""
        cobj = self.compiled.objects[obj]
        paths = rule_paths(rule)
        plain = [p for p in paths if "." not in p]
        for path in paths:  # {"==": [{var: vehicle}, {var: order.vehicle}]}: copy it over
            head, _, rest = path.partition(".")
            if not rest or "." in rest or head not in values:
                continue
            target = getattr(cobj.fields.get(head), "to", None)
            if target is None:
                continue
            linked = self.service.get(target, values[head], SYSTEM)
            for name in plain:
                fdef = cobj.fields.get(name)
                if fdef is None or name in forced or linked.get(rest) is None:
                    continue
                if values.get(name) != linked[rest]:
                    values[name] = linked[rest]
                    return True
        for name in plain:
            fdef = cobj.fields.get(name)
            if fdef is None or name in forced or not self._fillable(obj, fdef):
                continue
            if self._next(obj, fdef, values, tried):
                return True
            tried.pop(name, None)  # wrap round: the next field moves, this one starts over
            self._next(obj, fdef, values, tried)
        return False
