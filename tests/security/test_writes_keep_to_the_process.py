"""No create or update by a user reaches a state or a field the process keeps to itself.

From the packs on disk, for each object the process guards (a workflow, or a field only
the engine sets) and each role that may create it: a workflow's reserved states are all
but ``initial`` and its ``initial_states``; a create naming one is refused (single and
bulk alike), and so is an update to a state no transition from the current one reaches;
a create in a state it may start in still needs that state's own required fields.
Read-only, formula, rollup and autonumber fields, and the system columns only the engine
sets (``id``, ``created_by``, ``version`` …), are refused on create. Each refusal has a
control: the same values without the reserved part are accepted for the same user.

Then through every surface a user writes through, as one role per object (the one that
may edit most of what the process reserves): the HTTP API (create, bulk create, upsert,
``PATCH`` and bulk update), a CSV import over HTTP (the engine's import, as the CLI runs
it: the row is rejected naming field and rule; a computed or system column is ignored
and its value never lands), and the UI's record forms and list bulk "set" (signed in
with the sign-in form, posting the session's token from our own origin). A forged write
is refused naming the field and writes nothing; the control lands. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest

from engine.records import RecordError, ValidationFailed, WriteOptions

from .builder import SYSTEM, Unbuildable
from .conftest import KINDS
from .forged import (
    cells,
    created_by,
    csv_text,
    engine_columns,
    form_body,
    refused_fields,
    reserved_fields,
    reserved_states,
    some_value,
    surface_role,
    ui,
    unreachable,
)
from .overlap import repeated
from .packs import compiled, stacks
from .secrets_of import COMPUTED, LINKS, grant, roles
from .server import server

STACKS = {s.name: s for s in stacks()}
DRY = WriteOptions(dry_run=True, reason="hostile suite: may this user write this?")


def _guarded(schema: Any) -> list[str]:
    """Objects with something the process reserves: a workflow or an engine's field."""
    staged = {w.object for w in schema.workflows.values()}
    return [o for o in schema.objects if o in staged or reserved_fields(schema.objects[o])]


def _cases() -> list[tuple[str, str, str]]:
    found = []
    for stack in STACKS.values():
        schema = compiled(stack).schema
        for obj in _guarded(schema):
            for role in roles(schema):
                if grant(schema, role, obj).create != "none" and not repeated(stack, obj, role):
                    found.append((stack.name, obj, role))
    return found


def _surface_cases() -> list[tuple[str, str, str]]:
    found = []
    for stack in STACKS.values():
        schema = compiled(stack).schema
        for obj in _guarded(schema):
            role = surface_role(schema, obj)
            if role is not None and not repeated(stack, obj, role):
                found.append((stack.name, obj, role))
    return found


CASES = _cases()
SURFACES = _surface_cases()


def _refused(call: Any, field: str) -> bool:
    """Whether the write was refused, for ``field`` when the refusal names fields."""
    try:
        results = call()
    except ValidationFailed as exc:
        return any(e.field == field for e in exc.errors)
    except RecordError:
        return True
    if not isinstance(results, list):
        return False
    return all(not r.ok and any(e.field == field for e in r.errors) for r in results)


def _blamed(call: Any) -> set[str]:
    """The fields a refused write names (none when it is accepted)."""
    try:
        call()
    except ValidationFailed as exc:
        return {e.field for e in exc.errors if e.field}
    return set()


def share_links(world: Any, obj: str, values: dict[str, Any], actor: Any) -> None:
    """Share with ``actor`` the records ``values`` link to: the user may pick them."""
    for fdef in world.schema.objects[obj].fields:
        if fdef.kind in LINKS and values.get(fdef.name):
            world.service.share(fdef.to, values[fdef.name], SYSTEM, user=actor.user_id)


def _start(world: Any, obj: str, role: str) -> dict[str, Any]:
    """Values a record of ``obj`` is accepted with, the ones ``role`` may edit, with the
    records they link to shared with the role's user."""
    try:
        values = world.builder.valid_values(obj)
    except Unbuildable as exc:
        pytest.fail(f"no {obj} record can be made from the metadata: {exc}")
    share_links(world, obj, values, world.actors[role])
    g = grant(world.schema, role, obj)
    return {k: v for k, v in values.items() if g.access(k) == "edit"}


def _workflows(schema: Any, obj: str) -> list[Any]:
    return [w for w in schema.workflows.values() if w.object == obj]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "obj", "role"), CASES, ids=["-".join(c) for c in CASES])
def test_a_user_reaches_no_state_or_field_the_process_reserves(world_for, kind, stack, obj, role):
    world = world_for(STACKS[stack], kind)
    service, schema, actor = world.service, world.schema, world.actors[role]
    values = _start(world, obj, role)
    try:
        mine = service.create(obj, values, actor)
    except RecordError as exc:
        pytest.fail(f"{role} may create {obj} but not with values the metadata accepts: {exc}")
    accepted = []
    for w in _workflows(schema, obj):
        for start in [s for s in w.states if s.value in {w.initial, *w.initial_states}]:
            needed = set(start.required_fields)  # a state's own fields, on a create too
            row = {k: v for k, v in values.items() if k not in needed} | {w.field: start.value}
            blamed = _blamed(lambda r=row: service.create(obj, r, actor, options=DRY))
            if needed and not needed <= blamed:
                accepted.append(f"create as {start.value} without {sorted(needed - blamed)}")
        for i, state in enumerate(reserved_states(w)):
            row = {**values, w.field: state}
            if not _refused(lambda r=row: service.create(obj, r, actor, options=DRY), w.field):
                accepted.append(f"create with {w.field}={state!r}")
            in_bulk = service.bulk_create
            if i == 0 and not _refused(lambda r=row, b=in_bulk: b(obj, [r], actor, DRY), w.field):
                accepted.append(f"bulk create with {w.field}={state!r}")
        now = mine.get(w.field)
        for state in unreachable(w, now):
            change = {w.field: state}
            moved = service.update
            if not _refused(lambda c=change, u=moved: u(obj, mine["id"], c, actor, options=DRY),
                            w.field):  # fmt: skip
                accepted.append(f"update from {now!r} to {w.field}={state!r} (no transition)")
    for fdef in reserved_fields(schema.objects[obj]):
        value = some_value(world, fdef, actor)
        row = {**values, fdef.name: value}
        if not _refused(lambda r=row: service.create(obj, r, actor, options=DRY), fdef.name):
            accepted.append(f"create setting {fdef.kind.value} field {fdef.name}={value!r}")
    columns = engine_columns(actor)  # each one refused, all in one refusal
    row = {**values, **columns}
    blamed = _blamed(lambda: service.create(obj, row, actor, options=DRY))
    if not set(columns) <= blamed:
        accepted.append(f"create setting system columns {sorted(set(columns) - blamed)}")
    assert not accepted, f"{role} may write what the process reserves on {obj}: {accepted}"


def _forged(world: Any, obj: str, role: str) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(stage field, a reserved state) of each workflow, and a value for each field the
    process reserves and each system column the engine sets."""
    states = [(w.field, reserved_states(w)[0]) for w in _workflows(world.schema, obj)
              if reserved_states(w)]  # fmt: skip
    actor = world.actors[role]
    reserved = reserved_fields(world.schema.objects[obj])
    fields = {f.name: some_value(world, f, actor) for f in reserved}
    return states, fields | engine_columns(actor)


def _keyed(world: Any, obj: str, role: str, values: dict[str, Any]) -> str | None:
    """A field the role may read that tells this record from every other, to upsert on:
    a plain value the builder made for it or a unique lookup, else a text field the role
    may edit, given a value of its own in ``values``; None when the object has neither."""
    cobj = world.schema.objects[obj]
    g = grant(world.schema, role, obj)
    for name in values:
        fdef = cobj.field(name)
        plain = fdef.kind not in LINKS and fdef.kind.value in ("text", "email", "phone")
        if (plain or (fdef.kind in LINKS and fdef.unique)) and g.access(name) != "none":
            return name
    for fdef in cobj.fields:
        free = fdef.kind.value in ("text", "long_text") and not getattr(fdef, "pattern", None)
        if free and g.access(fdef.name) == "edit" and fdef not in reserved_fields(cobj):
            values[fdef.name] = f"K{uuid.uuid4().hex[:8]}"
            return fdef.name
    return None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "obj", "role"), SURFACES, ids=["-".join(c) for c in SURFACES])
def test_over_http_no_write_reaches_what_the_process_reserves(world_for, kind, stack, obj, role):
    world = world_for(STACKS[stack], kind)
    http, actor = server(world), world.actors[role]
    values = _start(world, obj, role)
    key = _keyed(world, obj, role, values)
    states, fields = _forged(world, obj, role)
    base = f"/objects/{obj}/records"
    before = created_by(world, obj, actor)
    accepted: list[str] = []

    def refused(what: str, answer: list[Any], names: list[str]) -> None:
        """A 4xx naming one of ``names`` (a refusal stops at the first check that fails)."""
        status, body = answer
        errors = body.get("errors") if isinstance(body, dict) else None
        if not 400 <= status < 500 or not set(names) & refused_fields(errors):
            accepted.append(f"{what}: {status}, not refused for them: {body!r:.300}")

    def refused_rows(what: str, answer: list[Any], names: list[list[str]]) -> None:
        status, body = answer
        results = body.get("results", []) if isinstance(body, dict) else []
        if status != 200 or len(results) != len(names):
            accepted.append(f"{what}: {status} {body!r:.300}")
            return
        for result, wanted in zip(results, names, strict=True):
            missing = set(wanted) - refused_fields(result.get("errors"))
            if result["ok"] or missing:
                accepted.append(f"{what} row {result['index']}: not refused for {missing}")

    forged_rows = [{**values, f: v} for f, v in [*states, *fields.items()]]
    forged_names = [[f] for f, _ in states] + [[f] for f in fields]
    for forged in [*({f: s} for f, s in states), *([fields] if fields else [])]:
        refused(f"POST {forged}", http.call(role, "POST", base, json={**values, **forged}),
                list(forged))  # fmt: skip
    bulk = {"operation": "create", "records": forged_rows}
    refused_rows("bulk create", http.call(role, "POST", f"{base}/bulk", json=bulk), forged_names)
    if key is not None:  # nothing to match on: no upsert can be asked for
        upsert = {"operation": "upsert", "key": key, "records": forged_rows, "all_or_none": False}
        refused_rows("bulk upsert", http.call(role, "POST", f"{base}/bulk", json=upsert),
                     forged_names)  # fmt: skip
    assert created_by(world, obj, actor) == before, f"a forged create wrote a {obj}: {accepted}"
    status, mine = http.call(role, "POST", base, json=values)
    assert status == 201, f"{role} may create {obj} but not over HTTP with {values}: {mine}"
    assert created_by(world, obj, actor) == before + 1
    for w in _workflows(world.schema, obj):
        now = mine[w.field]
        for state in unreachable(w, now)[:1]:
            change = {w.field: state, "version": mine["version"]}
            patched = http.call(role, "PATCH", f"{base}/{mine['id']}", json=change)
            refused(f"PATCH {w.field} {now}->{state}", patched, [w.field])
            rows = {"operation": "update", "records": [{"id": mine["id"], **change}]}
            in_bulk = http.call(role, "POST", f"{base}/bulk", json=rows)
            refused_rows(f"bulk update {w.field} {now}->{state}", in_bulk, [[w.field]])
        assert world.service.get(obj, mine["id"], SYSTEM)[w.field] == now
    assert not accepted, f"over HTTP {role} writes what the process reserves on {obj}: {accepted}"


#: What a forged computed column holds: no formula, rollup or autonumber gives it here.
_FORGED_CELL = "999999"


def _landed(world: Any, obj: str, actor: Any) -> dict[str, Any]:
    """The record of ``obj`` ``actor``'s user created last."""
    rule = {"==": [{"var": "created_by"}, actor.user_id]}
    page = world.service.list(obj, SYSTEM, filter=rule, sort=["-created_at"], limit=1)
    return page.records[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "obj", "role"), SURFACES, ids=["-".join(c) for c in SURFACES])
def test_a_csv_import_lands_nothing_the_process_reserves(world_for, kind, stack, obj, role):
    world = world_for(STACKS[stack], kind)
    http, actor, schema = server(world), world.actors[role], world.schema
    values = _start(world, obj, role)
    key = _keyed(world, obj, role, values)
    states, fields = _forged(world, obj, role)
    computed = [n for n in fields if n in engine_columns(actor)
                or schema.objects[obj].field(n).kind in COMPUTED]  # fmt: skip
    control = {**cells(values), **dict.fromkeys(computed, _FORGED_CELL)}
    external = world.runtime.snapshot.compiled.objects[obj].external_id
    alone = {**cells(values), **({external: ""} if external in values else {})}  # a row of its own
    forged = [(f, {**alone, f: s}) for f, s in states]
    forged += [(n, {**alone, **cells({n: v})}) for n, v in fields.items() if n not in computed]
    before = created_by(world, obj, actor)
    sheet = csv_text([control, *(row for _, row in forged)])
    status, report = http.call(role, "POST", f"/objects/{obj}/import",
                               files={"file": (f"{obj}.csv", sheet, "text/csv")})  # fmt: skip
    assert status == 200, report
    assert report["created"] == 1, f"the control row did not land: {report['rejects']}"
    assert created_by(world, obj, actor) == before + 1
    assert set(computed) <= set(report["ignored_columns"])
    landed = _landed(world, obj, actor)
    assert [n for n in computed if str(landed.get(n)) == _FORGED_CELL] == []
    rejects = {r["row"]: r["errors"] for r in report["rejects"]}
    landed_anyway = []
    for number, (name, _) in enumerate(forged, start=3):  # header row 1, the control row 2
        named = [e for e in rejects.get(number, []) if e["field"] == name and e["rule"]]
        if not named or named[0]["column"] != name:
            landed_anyway.append(f"row {number} ({name}): {rejects.get(number)}")
    assert not landed_anyway, f"{role} imports what the process reserves on {obj}: {landed_anyway}"
    kept = list(csv.DictReader(io.StringIO((report["reject_csv"] or "").lstrip("\ufeff"))))
    assert [int(r["_row"]) for r in kept] == list(range(3, 3 + len(forged)))
    assert all(name in r["_errors"] for r, (name, _) in zip(kept, forged, strict=True))
    for w in _workflows(schema, obj):
        now = landed[w.field]
        for state in unreachable(w, now)[:1] if key else []:
            moved = {"file": (f"{obj}.csv", csv_text([{key: cells(values)[key], w.field: state}]))}
            status, report = http.call(role, "POST", f"/objects/{obj}/import",
                                       params={"upsert_key": key}, files=moved)  # fmt: skip
            errors = report["rejects"][0]["errors"] if report.get("rejects") else []
            assert status == 200 and report["updated"] == 0, report
            assert w.field in refused_fields(errors), f"{now}->{state} by import: {report}"
        assert world.service.get(obj, landed["id"], SYSTEM)[w.field] == now


_INPUT = re.compile(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"')
_FIELD_ERROR = re.compile(r'<p class="field-error" id="f-([^"]+)-error" >([^<]+)</p>')
_ALERT = re.compile(r'<p class="error" role="alert">([^<]*)</p>')


def _named(html: str, schema: Any, obj: str, name: str) -> bool:
    """Whether the form page blames ``name``: beside the field, or in the page's alert."""
    if any(field == name for field, _ in _FIELD_ERROR.findall(html)):
        return True
    fdef = schema.objects[obj].field(name)
    if fdef is None:  # a system column: the form has no place for it, the alert tells
        return any("cannot be changed" in alert for alert in _ALERT.findall(html))
    label = (fdef.label or {}).get("en", name)
    return any(label in alert for alert in _ALERT.findall(html))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "obj", "role"), SURFACES, ids=["-".join(c) for c in SURFACES])
def test_a_ui_form_writes_nothing_the_process_reserves(world_for, kind, stack, obj, role):
    world = world_for(STACKS[stack], kind)
    actor, schema = world.actors[role], world.schema
    values = _start(world, obj, role)
    states, fields = _forged(world, obj, role)
    user = ui(world, role)
    page = user.get(f"/ui/o/{obj}/new")
    assert page.status_code == 200, page.status_code
    offered = {n.partition(".")[0] for n in _INPUT.findall(page.text)}
    control = form_body(schema, obj, {k: v for k, v in values.items() if k in offered})
    before = created_by(world, obj, actor)
    accepted = []
    for forged in [*({f: v} for f, v in states), *([fields] if fields else [])]:
        sent = [(k, v) for k, v in control if k.partition(".")[0] not in forged]
        answer = user.post(f"/ui/o/{obj}/new", sent + form_body(schema, obj, forged))
        blamed = [n for n in forged if _named(answer.text, schema, obj, n)]
        if not 400 <= answer.status_code < 500 or len(blamed) < len(forged):
            accepted.append(f"new {obj} with {forged}: {answer.status_code}, named {blamed}")
    assert created_by(world, obj, actor) == before, f"a forged form wrote a {obj}: {accepted}"
    made = user.post(f"/ui/o/{obj}/new", control)
    assert made.status_code in (302, 303), f"{role} cannot create {obj} with the form it is shown"
    record_id = made.headers["location"].rsplit("/", 1)[1]
    for w in _workflows(schema, obj):
        now = world.service.get(obj, record_id, SYSTEM)[w.field]
        for state in unreachable(w, now)[:1]:  # the session's token serves every form
            version = str(world.service.get(obj, record_id, SYSTEM)["version"])
            sent = [(k, v) for k, v in control if k != w.field]
            answer = user.post(f"/ui/o/{obj}/{record_id}/edit",
                               [*sent, (w.field, state), ("version", version)])  # fmt: skip
            if not 400 <= answer.status_code < 500 or not _named(answer.text, schema, obj, w.field):
                accepted.append(f"edit {obj} from {now} to {w.field}={state}: {answer.status_code}")
            answer = user.post(f"/ui/o/{obj}/bulk", [("ids", record_id),  # a list's bulk "set"
                               ("action", f"set:{w.field}"), ("value", state)])  # fmt: skip
            if 'class="error">✗' not in answer.text:
                accepted.append(f"bulk set {w.field}={state} from {now}: {answer.status_code}")
        assert world.service.get(obj, record_id, SYSTEM)[w.field] == now
    assert not accepted, f"{role}'s forms write what the process reserves on {obj}: {accepted}"
