"""The cases the suite generates, from the packs' metadata only, and how one is run.

A case is (pack stack, object, role): the fields of the object the role may not learn
(hidden, or personal data it may not reveal on someone else's record), and every lookup
from an object the role reads that reaches it. Two records X1 and X2 of the object, and
a child of each through every such lookup, are made once per world; the case shares
them with its role's user, writes the secrets of run A, captures every probe, writes run
B (and, for hidden fields, nothing at all), captures again, and compares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.records import RecordError, ValidationFailed

from . import probes, side_paths
from .builder import SYSTEM, Unbuildable
from .secrets_of import COMPUTED, LINKS, grant, links_to, roles, secret_fields
from .server import server
from .values import runs, secret_four
from .world import World

#: How many of the fields a role may read are varied on a record it may not open.
_CLOSED_FIELDS = 1


@dataclass(frozen=True)
class CaseId:
    stack: str
    obj: str
    role: str

    def __str__(self) -> str:
        return f"{self.stack}-{self.obj}-{self.role}"


def case_ids(stack_name: str, schema: Any) -> list[CaseId]:
    """A case for each object and role where the role may read the object and there is
    something it may not learn: a secret field, or a record it may not open reached
    through a lookup from an object it reads."""
    found = []
    for role in roles(schema):
        for obj in schema.objects:
            g = grant(schema, role, obj)
            if not g.reads:
                continue
            children = [c for c, _ in links_to(schema, obj) if grant(schema, role, c).reads]
            closed = g.read != "all" and children
            if secret_fields(schema, role, obj) or closed:
                found.append(CaseId(stack_name, obj, role))
    return found


@dataclass
class Records:
    """X1, X2 and their children (``(child, link) -> (C1, C2)``) of one object."""

    ids: list[str]
    children: dict[tuple[str, str], list[str]]
    missing: dict[tuple[str, str], str] = field(default_factory=dict)


def _varied(schema: Any, obj: str, name: str) -> list[Any] | None:
    fdef = schema.objects[obj].field(name)
    if fdef is None or fdef.kind in COMPUTED or fdef.kind in LINKS:
        return None
    if getattr(fdef, "read_only", False):
        return None
    if any(w.object == obj and w.field == name for w in schema.workflows.values()):
        return None
    return secret_four(schema, fdef)


def _everyone_secret(schema: Any, obj: str) -> dict[str, list[Any]]:
    """The fields secret to some role, with their four values."""
    out = {}
    for role in roles(schema):
        for name in secret_fields(schema, role, obj):
            four = _varied(schema, obj, name)
            if four is not None:
                out[name] = four
    return out


def shown(schema: Any, obj: str) -> dict[str, Any]:
    """Values that keep a record inside the simple ``restrict`` rules roles read ``obj``
    through (``{"==": [{var: marketing_consent}, true]}``), so that sharing it shows it."""
    out: dict[str, Any] = {}
    for role in schema.roles.values():
        for rule in role.record_rules:
            if rule.object != obj or rule.effect != "restrict" or "read" not in rule.operations:
                continue
            test = rule.rule.get("==") if isinstance(rule.rule, dict) else None
            if not (isinstance(test, list) and len(test) == 2 and isinstance(test[0], dict)):
                continue
            name = test[0].get("var")
            known = isinstance(name, str) and schema.objects[obj].field(name) is not None
            if known and not isinstance(test[1], dict | list):
                out.setdefault(name, test[1])
    return out


def records(world: World, obj: str) -> Records:
    key = ("records", obj)
    if key in world.kept:
        return world.kept[key]
    schema = world.schema
    secrets = _everyone_secret(schema, obj)
    made = []
    for i in (0, 1):
        forced = {**shown(schema, obj), **{n: runs(four)["A"][i] for n, four in secrets.items()}}
        try:
            made.append(world.builder.build(obj, forced)["id"])
        except Unbuildable:  # a secret the record cannot hold with the others: fill it later
            made.append(world.builder.build(obj, shown(schema, obj))["id"])
    found = Records(made, {})
    for child, link in links_to(schema, obj):
        try:
            found.children[(child, link)] = [
                world.builder.build(child, {**shown(schema, child), link: x})["id"] for x in made
            ]
        except Unbuildable as exc:
            found.missing[(child, link)] = str(exc)
    world.kept[key] = found
    return found


class Case:
    def __init__(self, world: World, cid: CaseId):
        self.world = world
        self.cid = cid
        self.obj = cid.obj
        self.schema = world.schema
        self.service = world.service
        self.actor = world.actors[cid.role]
        self.secrets = secret_fields(self.schema, cid.role, cid.obj)
        self.records = records(world, cid.obj)
        self.ids = self.records.ids
        self.children = {
            k: v
            for k, v in self.records.children.items()
            if grant(self.schema, cid.role, k[0]).reads
        }
        self.notes: list[str] = [f"{k[0]}.{k[1]}: {why}" for k, why in
                                 self.records.missing.items()]  # fmt: skip
        self.literals: dict[str, tuple[Any, Any]] = {}

    # -- setup ---------------------------------------------------------------------------

    def share(self, obj: str, ids: list[str]) -> None:
        for record_id in ids:
            self.service.share(obj, record_id, SYSTEM, user=self.actor.user_id, access="edit")

    def share_children(self) -> None:
        """Share the children with the role's user; a child a restrict rule still keeps
        from them is left out of the case (and noted): probing it would prove nothing."""
        for (child, link), kids in list(self.children.items()):
            self.share(child, kids)
            try:
                self.service.get(child, kids[0], self.actor)
            except RecordError as exc:
                self.notes.append(f"{child}.{link}: not shown when shared ({exc})")
                del self.children[(child, link)]

    def computed(self, name: str) -> bool:
        fdef = self.schema.objects[self.obj].field(name)
        return fdef is not None and fdef.kind in COMPUTED

    def emptiable(self, fours: dict[str, list[Any]]) -> frozenset[str]:
        """The hidden fields of ``fours`` a record may hold empty (none when the record
        refuses them empty together)."""
        obj = self.schema.objects[self.obj]
        names = frozenset(
            n for n in fours
            if self.secrets[n] == "hidden" and not getattr(obj.field(n), "required", False)
        )  # fmt: skip
        try:
            self.write(fours, "A", empty=names)
        except ValidationFailed as exc:
            self.notes.append(f"hidden fields not emptied: {exc.errors[0].rule}")
            return frozenset()
        return names

    def closed_possible(self) -> bool:
        return bool(self.children) and grant(self.schema, self.cid.role, self.obj).read != "all"

    def open_fields(self) -> dict[str, list[Any]]:
        out = {}
        for name in self.secrets:
            four = _varied(self.schema, self.obj, name)
            if four is not None:
                out[name] = four
            elif self.schema.objects[self.obj].field(name).kind not in COMPUTED:
                self.notes.append(f"{self.obj}.{name}: not varied (its type)")
        return out

    def closed_fields(self) -> dict[str, list[Any]]:
        """A few fields the role could read on a record it may open (the title first)."""
        obj = self.schema.objects[self.obj]
        names = [obj.title_field] if obj.title_field else []
        names += [f.name for f in obj.fields]
        out: dict[str, list[Any]] = {}
        for name in dict.fromkeys(n for n in names if n and n not in self.secrets):
            four = _varied(self.schema, self.obj, name)
            if four is not None and obj.field(name).kind.value not in ("boolean",):
                out[name] = four
            if len(out) == _CLOSED_FIELDS:
                break
        return out

    def writable(self, fours: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The fields both records can hold each run's value of (alone, with the rest as
        they are); the others are noted and left out."""
        kept = dict(fours)
        for run in ("A", "B"):
            try:
                self.write(kept, run)
                continue
            except ValidationFailed:
                pass
            for name in list(kept):
                try:
                    self.write({name: kept[name]}, run)
                except ValidationFailed as exc:
                    self.notes.append(
                        f"{self.obj}.{name}: run {run} refused ({exc.errors[0].rule})"
                    )
                    del kept[name]
        return kept

    def write(self, fours: dict[str, list[Any]], run: str, empty: frozenset[str] = frozenset()):
        for i, record_id in enumerate(self.ids):
            values = {n: None if n in empty else runs(four)[run][i] for n, four in fours.items()}
            if values:
                self.service.update(self.obj, record_id, values, SYSTEM)

    def read_literals(self, names: list[str]) -> None:
        """The stored run-A values of X1 (``a``) and X2 (``c``): what a probe compares with."""
        first, second = (self.service.get(self.obj, i, SYSTEM) for i in self.ids)
        for name in names:
            self.literals[name] = (probes.plain(first.get(name)), probes.plain(second.get(name)))

    # -- capture -------------------------------------------------------------------------

    def classes(self, fields: list[str]) -> dict[str, str]:
        """Field -> how it is secret (``hidden``, ``masked``, ``own``; ``visible`` on a
        record the role may not open)."""
        g = grant(self.schema, self.cid.role, self.obj)
        out = {}
        for name in fields:
            how = self.secrets.get(name, "visible")
            out[name] = "own" if how == "masked" and g.view_pii == "own" else how
        return out

    def capture(self, fields: list[str], opened: bool, bodies_only: bool = False) -> dict:
        """Every probe's answer for the role; ``bodies_only`` leaves out the filters and
        sorts on the fields (those are refused whatever the fields hold)."""
        got: dict[str, Any] = {}
        service, actor, obj, ids = self.service, self.actor, self.obj, self.ids
        classes = self.classes(fields)
        firsts = {how: name for name, how in reversed(classes.items())}
        if opened and not bodies_only:
            for name in fields:
                a, c = self.literals[name]
                depth = "full" if firsts[classes[name]] == name else "core"
                for label, rule in probes.rules([{"var": name}, {"val": name}], a, c, depth):
                    got[f"{obj} filter {label}"] = _ids(probes.list_ids(service, obj, actor, ids,
                                                                        filter=rule))  # fmt: skip
                for key in (name, f"-{name}"):
                    got[f"{obj} sort {key}"] = _ids(
                        probes.list_ids(service, obj, actor, ids, sort=[key])
                    )
        if opened:
            got[f"{obj} list"] = probes.list_ids(service, obj, actor, ids)
            for record_id in ids:
                got[f"{obj} get {record_id}"] = probes.outcome(
                    lambda r=record_id: service.get(obj, r, actor)
                )
                got[f"{obj} history {record_id}"] = probes.outcome(
                    lambda r=record_id: probes.changes(service.history(obj, r, actor))
                )
            got[f"{obj} export"] = probes.exported(service, obj, actor, ids, None)
            g = grant(self.schema, self.cid.role, obj)
            readable = [
                f.name for f in self.schema.objects[obj].fields if g.access(f.name) != "none"
            ]
            got[f"{obj} export readable"] = probes.exported(service, obj, actor, ids, readable)
            for name in self.secrets:
                got[f"{obj} reveal {name}"] = probes.outcome(
                    lambda n=name: service.reveal(obj, ids[0], n, actor)
                )
            got[f"{obj} failing update"] = probes.outcome(
                lambda: service.update(obj, ids[0], self._failing_values(), actor)
            )
        if opened:
            got.update(self._over_http(fields, firsts, bodies_only))
        got.update(side_paths.capture(self, fields, opened, bodies_only))
        for (child, link), kids in self.children.items():
            if not bodies_only:
                for name in firsts.values():
                    a, c = self.literals[name]
                    paths = [{"var": f"{link}.{name}"}, {"val": [link, name]}]
                    for label, rule in probes.rules(paths, a, c, "through"):
                        got[f"{child} filter {label}"] = _ids(
                            probes.list_ids(service, child, actor, kids, filter=rule)
                        )
            got[f"{child} via {link} expanded"] = probes.list_ids(
                service, child, actor, kids, expand=[link]
            )
            if opened:
                related = {"==": [{"var": link}, ids[0]]}
                got[f"{child} related to {obj} via {link}"] = probes.outcome(
                    lambda c=child, r=related: service.list(c, actor, filter=r).records
                )
        return got

    def _over_http(self, fields: list[str], firsts: dict[str, str], bodies_only: bool) -> dict:
        """A representative few of the probes through the HTTP API: list filters (one
        field of each class), sort, list, export, related lists, transitions and a
        refused update."""
        http, role, obj, ids = server(self.world), self.cid.role, self.obj, self.ids
        base = f"/objects/{obj}/records"
        scoped = {"in": [{"var": "id"}, ids]}
        got: dict[str, Any] = {}

        def listing(rule: Any, **params: str) -> Any:
            where = {"and": [scoped, rule]} if rule is not None else scoped
            return probes.plain(http.call(role, "GET", base, params={"filter": json.dumps(where),
                                                                     **params}))  # fmt: skip

        if not bodies_only:
            for name in firsts.values():
                a, c = self.literals[name]
                for label, rule in probes.rules([{"var": name}], a, c, "core"):
                    got[f"HTTP {obj} filter {label}"] = listing(rule)
                got[f"HTTP {obj} sort -{name}"] = listing(None, sort=f"-{name}")
        got[f"HTTP {obj} list"] = listing(None)
        got[f"HTTP {obj} export"] = http.call(
            role, "GET", f"/objects/{obj}/export",
            params={"filter": json.dumps(scoped), "header": "name"},
        )  # fmt: skip
        got[f"HTTP {obj} failing update"] = probes.plain(
            http.call(role, "PATCH", f"{base}/{ids[0]}", json=self._failing_values())
        )
        got.update(self._moves_over_http())
        for child, link in self.children:
            got[f"HTTP {obj} related {child} via {link}"] = probes.plain(
                http.call(role, "GET", f"{base}/{ids[0]}/related/{child}", params={"via": link})
            )
        return got

    def _moves_over_http(self) -> dict[str, Any]:
        """Each record's transitions as the API offers them (what stands in the way of
        each, its stage moves), and every offered transition that is blocked taken all
        the same: the refusal (a guard's message, the fields still to fill). One that is
        not blocked is left untaken, so that the records keep their stage."""
        http, role = server(self.world), self.cid.role
        if not any(w.object == self.obj for w in self.schema.workflows.values()):
            return {}
        got: dict[str, Any] = {}
        for record_id in self.ids:
            path = f"/objects/{self.obj}/records/{record_id}/transitions"
            status, body = offered = probes.plain(http.call(role, "GET", path))
            got[f"HTTP {self.obj} transitions {record_id}"] = offered
            for move in body.get("available", []) if status == 200 else []:
                if move["guard_met"] and not move["required_fields"]:
                    continue
                got[f"HTTP {self.obj} take {move['name']} {record_id}"] = probes.plain(
                    http.call(role, "POST", f"{path}/{move['name']}", json={})
                )
        return got

    def _failing_values(self) -> dict[str, Any]:
        """A change the record refuses: a required field emptied (or, with none, a field
        that does not exist); every rule that fails with it is in the answer too."""
        for fdef in self.schema.objects[self.obj].fields:
            if getattr(fdef, "required", False) and fdef.name not in self.secrets:
                return {fdef.name: None}
        return {"__no_such_field__": 1}


def unread(capture: dict[str, Any], case: Case) -> list[str]:
    """The records a capture should have read but did not (a case proves nothing on a
    record its role cannot see at all)."""
    missing = []
    for child, link in case.children:
        rows = capture[f"{child} via {link} expanded"]
        if rows[0] != "ok" or len(rows[1]) != 2:
            missing.append(f"{child} through {link}: {rows!r:.200}")
    return missing


def _ids(result: Any) -> Any:
    if result[0] == "ok":
        return ["ok", [r["id"] for r in result[1]]]
    return result


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    out = []
    for key in first.keys() | second.keys():
        if first.get(key) != second.get(key):
            one, two = repr(first.get(key)), repr(second.get(key))
            at = next((i for i, (x, y) in enumerate(zip(one, two, strict=False)) if x != y), 0)
            start, end = max(0, at - 300), max(0, at - 300) + 600  # a long page: where they part
            out.append(f"{key}:\n      {one[start:end]}\n   vs {two[start:end]}")
    return sorted(out)


def secret_objects(schema: Any) -> list[str]:
    """Objects with a field some role may not learn."""
    return [obj for obj in schema.objects if _everyone_secret(schema, obj)]


def blind_probes(world: World, stack: str, obj: str) -> list[str]:
    """The secret fields of ``obj`` whose probes cannot tell run A from run B for someone
    who may read them (the stranger, an administrator): a probe that cannot proves nothing.
    """
    case = Case(world, CaseId(stack, obj, "administrator"))
    fours = case.writable(_everyone_secret(case.schema, obj))
    case.write(fours, "A")
    case.read_literals(list(fours))

    def answers() -> dict[str, list[Any]]:
        out = {}
        for name in fours:
            a, c = case.literals[name]
            found = [
                _ids(probes.list_ids(case.service, obj, case.actor, case.ids, filter=rule))
                for _, rule in probes.rules([{"var": name}, {"val": name}], a, c, "full")
            ]
            found.append(
                _ids(probes.list_ids(case.service, obj, case.actor, case.ids, sort=[name]))
            )
            out[name] = found
        return out

    first = answers()
    case.write(fours, "B")
    second = answers()
    return [name for name in fours if first[name] == second[name]] + [
        note for note in case.notes if "refused" in note
    ]
