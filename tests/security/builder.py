"""Valid records of any object of any pack, written as the system through the record service.

The suite knows no pack: it fills what a record needs (required fields, a parent for each
required link) and, when the service refuses the record, reads the refusal: an empty
field is filled, a value the field refuses is replaced by the next candidate, and a
validation rule (or a transition's guard) that fails has the fields it reads tried in
turn (a picklist's other choices, a value copied from a linked record, a linked record
made to match, nothing). A rule that reads a linked record's stage (``order.status``) is
met with a linked record walked along its workflow's transitions to a state the rule
may accept, filling what each step asks for. Values the caller forces (the secrets) are
never touched. A record that still cannot be made is reported, not faked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
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


def rule_literals(rule: Any) -> set[Any]:
    """The plain values a rule names (``[vehicle_assigned, delivered]``)."""
    found: set[Any] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for arg in node.values():
                walk(arg)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str | int | float | bool):
            found.add(node)

    walk(rule)
    return found


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
        #: A record walked to a state, per (object, state); None when no walk gets there.
        self.staged: dict[tuple[str, str], str | None] = {}

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
        tried: dict[Any, Any] = {}
        for fdef in cobj.obj.fields:
            if fdef.name in forced or not self._fillable(obj, fdef):
                continue
            needed = getattr(fdef, "required", False) or fdef.kind.value == "master_detail"
            if needed and getattr(fdef, "default", None) is None:
                self._next(obj, fdef, values, tried)

        def create(filled: dict[str, Any]) -> dict[str, Any]:
            made = self.service.create(obj, {**filled, **forced, **place}, SYSTEM,
                                       options=_DRY if dry else _WRITE)  # fmt: skip
            return {**filled, **forced} if dry else made

        try:
            return self._accepted(obj, values, tried, forced, create)
        except Unbuildable as exc:
            if not forced and not dry:
                self.failures[obj] = str(exc)
            raise

    def walk(self, obj: str, record_id: str, state: str) -> None:
        """Move the record along its workflow's transitions (those a user may take, not
        an approval's outcomes) to ``state``, filling what each step asks for.

        Raises:
            Unbuildable: No path gets there, or a step could not be made.
        """
        workflow = next(w for (o, _), w in self.stage_fields.items()
                        if o == obj and state in {s.value for s in w.states})  # fmt: skip
        current = self.service.get(obj, record_id, SYSTEM)[workflow.field]
        for transition in self._path(workflow, current, state):
            record = self.service.get(obj, record_id, SYSTEM)
            cobj = self.compiled.objects[obj]
            stored = {f.name: record[f.name] for f in cobj.obj.fields
                      if self._fillable(obj, f) and record.get(f.name) is not None}  # fmt: skip
            moved = {workflow.field: transition.to}

            def update(
                filled: dict[str, Any], was: dict[str, Any] = stored, to: Any = moved
            ) -> dict[str, Any]:
                changes = {k: v for k, v in filled.items() if was.get(k) != v}
                changes |= {k: None for k in was if k not in filled}
                return self.service.update(obj, record_id, {**changes, **to}, SYSTEM)

            self._accepted(obj, dict(stored), {}, moved, update)

    def update(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """The record after ``changes``, written as the system with the other fields its
        refusals name filled as a new record's are.

        Raises:
            Unbuildable: The record refuses the changes whatever the suite fills in.
        """
        record = self.service.get(obj, record_id, SYSTEM)
        stored = {f.name: record[f.name] for f in self.compiled.objects[obj].obj.fields
                  if self._fillable(obj, f) and record.get(f.name) is not None}  # fmt: skip

        def write(filled: dict[str, Any]) -> dict[str, Any]:
            diff = {k: v for k, v in filled.items() if stored.get(k) != v}
            diff |= {k: None for k in stored if k not in filled}
            return self.service.update(obj, record_id, diff, SYSTEM)

        return self._accepted(obj, {**stored, **changes}, {}, changes, write)

    def _path(self, workflow: Any, start: Any, goal: str) -> list[Any]:
        """The shortest list of transitions from ``start`` to ``goal``."""
        outcomes = {
            final.transition
            for process in self.schema.approvals.values()
            if process.object == workflow.object
            for final in (process.on_approve, process.on_reject)
        }
        paths: dict[Any, list[Any]] = {start: []}
        frontier = [start]
        while frontier and goal not in paths:
            following = []
            for state in frontier:
                for t in workflow.transitions:
                    if t.name in outcomes or t.to in paths:
                        continue
                    if state in t.from_ or "*" in t.from_:
                        paths[t.to] = [*paths[state], t]
                        following.append(t.to)
            frontier = following
        if goal not in paths:
            raise Unbuildable(f"{workflow.object}: no transition path from {start} to {goal}")
        return paths[goal]

    def _accepted(
        self,
        obj: str,
        values: dict[str, Any],
        tried: dict[Any, Any],
        forced: dict[str, Any],
        write: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """``write(values)``, with ``values`` repaired after each refusal."""
        errors: list[Any] = []
        for _ in range(_ATTEMPTS):
            try:
                return write(values)
            except ValidationFailed as exc:
                errors = exc.errors
            if not self._repair(obj, errors, values, tried, forced):
                break
        reason = "; ".join(f"{e.field}: {e.rule}/{e.code}" for e in errors)
        raise Unbuildable(f"{obj}: {reason}")

    def through(self, obj: str, record_id: str, transition: Any) -> dict[str, Any]:
        """Take ``transition`` on a record as the system, with the fields it requires
        filled (and those its refusals name) as a new record's are; the record after it.

        Raises:
            Unbuildable: The record refuses the move whatever the suite fills in.
        """
        cobj = self.compiled.objects[obj]
        record = self.service.get(obj, record_id, SYSTEM)
        stored = {f.name: record[f.name] for f in cobj.obj.fields
                  if self._fillable(obj, f) and record.get(f.name) is not None}  # fmt: skip
        values = dict(stored)  # what the rules read through its lookups, as it holds them
        tried: dict[Any, Any] = {}
        for name in transition.required_fields:
            if cobj.fields.get(name) is not None and name not in stored:
                self._next(obj, cobj.fields[name], values, tried)
        errors: list[Any] = []
        for _ in range(_ATTEMPTS):
            changes = {k: v for k, v in values.items() if stored.get(k) != v}
            changes |= {k: None for k in stored if k not in values}
            asked = {k: values[k] for k in transition.required_fields if k in values}
            try:  # written first, as a guard reads formulas as they were before the move;
                if changes:  # what the move asks for again with it (an update may clear it)
                    self.service.update(obj, record_id, changes, SYSTEM)
                    stored = {k: v for k, v in values.items() if v is not None}
                return self.service.transition(obj, record_id, transition.name, SYSTEM,
                                               values=asked)  # fmt: skip
            except ValidationFailed as exc:
                errors = exc.errors
            if not self._repair(obj, errors, values, tried, {}, record_id):
                break
        reason = "; ".join(f"{e.field}: {e.rule}/{e.code}" for e in errors)
        raise Unbuildable(f"{obj} {transition.name}: {reason}")

    def satisfy(
        self, obj: str, rule: Any, values: dict[str, Any], tried: dict[Any, Any], record_id: str
    ) -> bool:
        """Move the record ``record_id`` (of ``obj``, holding ``values``) a step towards
        holding ``rule``: a field it reads to its next candidate, a child made for a
        rollup it reads; False when none is left to try."""
        return self._satisfy(obj, rule, values, tried, {}, record_id)

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

    def _next(self, obj: str, fdef: Any, values: dict[str, Any], tried: dict[Any, Any]) -> bool:
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

    def _rules(self, obj: str) -> dict[str, Any]:
        """The rules a refusal may name: the object's validations and its workflows'
        transition guards."""
        found = {t.name: t.guard for (o, _), w in self.stage_fields.items() if o == obj
                 for t in w.transitions if t.guard is not None}  # fmt: skip
        return found | {v.name: v.rule for v in self.compiled.objects[obj].obj.validations}

    def _repair(
        self,
        obj: str,
        errors: list[Any],
        values: dict[str, Any],
        tried: dict[Any, Any],
        forced: dict[str, Any],
        record_id: str | None = None,
    ) -> bool:
        cobj = self.compiled.objects[obj]
        rules = self._rules(obj)
        changed = False
        moved: set[str] = set()  # fields moved this round: the rules reading them wait a round
        for error in sorted(errors, key=lambda e: not self._reads_stage(obj, rules.get(e.rule))):
            if error.rule in rules and error.code in ("validation", "guard_failed"):
                reads = self._under_formulas(obj, rule_paths(rules[error.rule]))
                if {p.partition(".")[0] for p in reads} & moved:
                    continue
                before = dict(values)
                changed |= self._satisfy(obj, rules[error.rule], values, tried, forced, record_id)
                moved |= {k for k in {*values, *before} if values.get(k) != before.get(k)}
                continue
            fdef = cobj.fields.get(error.field or "")
            if fdef is None or error.field in forced or not self._fillable(obj, fdef):
                continue
            if error.code == "not_unique" and fdef.kind in LINKS and fdef.to != obj:
                tried.setdefault("taken", set()).add(values.get(fdef.name))
                tried.pop(("stage", fdef.name), None)  # its stages are to be tried again
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
        tried: dict[Any, Any],
        forced: dict[str, Any],
        record_id: str | None = None,
    ) -> bool:
        """Move one of the fields a failing rule reads (through the formulas it reads) to
        its next candidate: a value copied from the linked record the rule compares it
        with, a linked record made to match, one walked to another stage, a child made
        for a rollup of a record that exists, or the field's next filler."""
        cobj = self.compiled.objects[obj]
        paths = self._under_formulas(obj, rule_paths(rule))
        plain = [p for p in paths if "." not in p]
        through = [p.partition(".")[::2] for p in paths if p.count(".") == 1]
        for head, rest in through:  # {"==": [{var: vehicle}, {var: order.vehicle}]}: copy it
            linked = self._linked(obj, head, values)
            if linked is None or linked.get(rest) is None:
                continue
            for name in self._alike(obj, head, rest, plain):
                if name not in forced and self._fillable(obj, cobj.fields[name]) \
                        and values.get(name) != linked[rest]:  # fmt: skip
                    values[name] = linked[rest]
                    return True
        for head, _ in through:  # {"==": [{var: vehicle.dealer}, {var: dealer}]}: one that is
            if head in forced or self._linked(obj, head, values) is None:
                continue
            if self._matching(obj, head, paths, values, tried):
                return True
        for head, rest in through:  # {in: [{var: order.status}, [...]]}: a linked record walked
            if head not in forced and self._staged(obj, head, rest, rule, values, tried):
                return True
        for name in plain:
            fdef = cobj.fields.get(name)
            if record_id and fdef is not None and fdef.kind.value == "rollup" \
                    and ("rollup", name) not in tried:  # fmt: skip
                tried[("rollup", name)] = True
                if self._child_for(fdef, record_id):
                    return True
            if fdef is None or name in forced or not self._fillable(obj, fdef):
                continue
            if self._next(obj, fdef, values, tried):
                return True
            tried.pop(name, None)  # wrap round: the next field moves, this one starts over
            self._next(obj, fdef, values, tried)
        return False

    def _under_formulas(self, obj: str, paths: list[str]) -> list[str]:
        """``paths`` and, after each formula of ``obj`` among them, the paths its
        expression reads (a rule on a discount rate asks for a discount)."""
        fields = self.compiled.objects[obj].fields
        out: list[str] = []

        def add(path: str) -> None:
            if path in out:
                return
            out.append(path)
            fdef = fields.get(path)
            if fdef is not None and fdef.kind.value == "formula":
                for read in rule_paths(fdef.expression):
                    add(read)

        for path in paths:
            add(path)
        return out

    def _child_for(self, rollup: Any, record_id: str) -> bool:
        """A child that a rollup of ``record_id`` counts (a line of a quote)."""
        if rollup.via is None:
            return False
        try:
            self.build(rollup.of, {rollup.via: record_id})
        except Unbuildable:
            return False
        return True

    def _reads_stage(self, obj: str, rule: Any) -> bool:
        """Whether ``rule`` reads the stage of a linked record (``order.status``)."""
        fields = self.compiled.objects[obj].fields
        for path in rule_paths(rule) if rule is not None else []:
            head, _, rest = path.partition(".")
            target = getattr(fields.get(head), "to", None)
            if rest and (target, rest) in self.stage_fields:
                return True
        return False

    def _linked(self, obj: str, head: str, values: dict[str, Any]) -> dict[str, Any] | None:
        fdef = self.compiled.objects[obj].fields.get(head)
        if fdef is None or fdef.kind not in LINKS or not values.get(head):
            return None
        return self.service.get(fdef.to, values[head], SYSTEM)

    def _alike(self, obj: str, head: str, rest: str, plain: list[str]) -> list[str]:
        """The fields of ``obj`` among ``plain`` of the same kind as ``head.rest`` (a rule
        compares like with like)."""
        target = self.compiled.objects[self.compiled.objects[obj].fields[head].to]
        theirs = target.fields.get(rest)
        if theirs is None:
            return []
        out = []
        for name in plain:
            mine = self.compiled.objects[obj].fields.get(name)
            if name == head or mine is None or mine.kind != theirs.kind:
                continue
            if getattr(mine, "to", None) == getattr(theirs, "to", None):
                out.append(name)
        return out

    def _matching(
        self, obj: str, head: str, paths: list[str], values: dict[str, Any], tried: dict[Any, Any]
    ) -> bool:
        """Link ``head`` to a new record holding the values of ``obj`` the failing rule
        compares its fields with, and those every other rule compares that the linked
        record already matches."""
        linked = self._linked(obj, head, values) or {}
        plain = [p for p in paths if "." not in p]
        wanted = {}
        for path in paths:
            first, _, rest = path.partition(".")
            if first == head and rest and "." not in rest:
                for name in self._alike(obj, head, rest, plain):
                    if values.get(name) is not None:
                        wanted[rest] = values[name]
        if not wanted or all(linked.get(k) == v for k, v in wanted.items()):
            return False
        for rule in self._rules(obj).values():
            others = rule_paths(rule)
            for path in others:
                first, _, rest = path.partition(".")
                if first != head or not rest or "." in rest or rest in wanted:
                    continue
                for name in self._alike(obj, head, rest, [p for p in others if "." not in p]):
                    if values.get(name) is not None and linked.get(rest) == values[name]:
                        wanted[rest] = values[name]
        key = ("matching", head, tuple(sorted(wanted.items(), key=str)))
        if key in tried:
            return False
        tried[key] = True
        target = self.compiled.objects[obj].fields[head].to
        try:
            values[head] = self.build(target, wanted)["id"]
        except Unbuildable:
            return False
        return True

    def _staged(
        self,
        obj: str,
        head: str,
        rest: str,
        rule: Any,
        values: dict[str, Any],
        tried: dict[Any, Any],
    ) -> bool:
        """Link ``head`` to a record in the next stage of its workflow (the stages the rule
        names first) that the rule has not been tried with."""
        fdef = self.compiled.objects[obj].fields.get(head)
        if fdef is None or fdef.kind not in LINKS:
            return False
        workflow = self.stage_fields.get((fdef.to, rest))
        if workflow is None:
            return False
        named = rule_literals(rule)
        states = [s.value for s in workflow.states]
        states = [s for s in states if s in named] + [s for s in states if s not in named]
        key = ("stage", head)
        taken = tried.get("taken", set())
        for index in range(tried.get(key, -1) + 1, len(states)):
            tried[key] = index
            record = self._walked(fdef.to, states[index], taken)
            if record is not None and record != values.get(head):
                values[head] = record
                return True
        return False

    def _walked(self, obj: str, state: str, taken: set[Any]) -> str | None:
        """A record of ``obj`` in ``state`` (made once, again when the one made is taken)."""
        known = self.staged.get((obj, state), "")
        if known is None or (known and known not in taken):
            return known or None
        try:
            made = self.build(obj)["id"]
            self.walk(obj, made, state)
        except Unbuildable:
            self.staged[(obj, state)] = None
            return None
        self.staged[(obj, state)] = made
        return made
