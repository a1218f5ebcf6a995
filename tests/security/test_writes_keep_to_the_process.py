"""No create or update by a user reaches a state or a field the process keeps to itself.

From the packs on disk, for each object and each role that may create it: a workflow's
reserved states are all but ``initial`` and its ``initial_states``; a create naming one
is refused (single, bulk and upsert alike), and so is an update to a state no transition
from the current one reaches. Read-only, formula, rollup and autonumber fields are
refused on create. Each refusal is checked against a control: the same values without
the reserved part are accepted for the same user. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.records import RecordError, ValidationFailed, WriteOptions

from .builder import SYSTEM, Unbuildable
from .conftest import KINDS
from .overlap import repeated
from .packs import compiled, stacks
from .secrets_of import COMPUTED, LINKS, grant, roles
from .values import filler

STACKS = {s.name: s for s in stacks()}
DRY = WriteOptions(dry_run=True, reason="hostile suite: may this user write this?")


def _reserved_fields(obj: Any) -> list[Any]:
    return [f for f in obj.fields if f.kind in COMPUTED or getattr(f, "read_only", False)]


def _cases() -> list[tuple[str, str, str]]:
    found = []
    for stack in STACKS.values():
        schema = compiled(stack).schema
        staged = {w.object for w in schema.workflows.values()}
        for obj in schema.objects:
            if obj not in staged and not _reserved_fields(schema.objects[obj]):
                continue
            for role in roles(schema):
                if grant(schema, role, obj).create != "none" and not repeated(stack, obj, role):
                    found.append((stack.name, obj, role))
    return found


CASES = _cases()


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


def _some_value(world: Any, fdef: Any, actor: Any) -> Any:
    """A value the field would hold if it were the user's to set."""
    if fdef.kind in COMPUTED:
        return "1"
    if fdef.kind in LINKS:
        parent = world.builder.parent(fdef.to)
        world.service.share(fdef.to, parent, SYSTEM, user=actor.user_id)
        return parent
    if fdef.kind.value == "user":
        return actor.user_id
    return (filler(world.schema, fdef, 99) or ["1"])[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "obj", "role"), CASES, ids=["-".join(c) for c in CASES])
def test_a_user_reaches_no_state_or_field_the_process_reserves(world_for, kind, stack, obj, role):
    world = world_for(STACKS[stack], kind)
    service, schema, actor = world.service, world.schema, world.actors[role]
    g = grant(schema, role, obj)
    try:
        values = world.builder.valid_values(obj)
    except Unbuildable as exc:
        pytest.skip(f"no {obj} record can be made from the metadata: {exc}")
    for parent_obj, parent in world.builder.parents.items():  # the links the values name
        service.share(parent_obj, parent, SYSTEM, user=actor.user_id)
    values = {k: v for k, v in values.items() if g.access(k) == "edit"}
    try:
        mine = service.create(obj, values, actor)
    except RecordError as exc:
        pytest.skip(f"no {obj} record {role} may create could be made: {exc}")
    accepted = []
    workflows = [w for w in schema.workflows.values() if w.object == obj]
    for w in workflows:
        starts = {w.initial, *getattr(w, "initial_states", [])}
        reserved = [s.value for s in w.states if s.value not in starts]
        for i, state in enumerate(reserved):
            row = {**values, w.field: state}
            if not _refused(lambda r=row: service.create(obj, r, actor, options=DRY), w.field):
                accepted.append(f"create with {w.field}={state!r}")
            in_bulk = service.bulk_create
            if i == 0 and not _refused(lambda r=row, b=in_bulk: b(obj, [r], actor, DRY), w.field):
                accepted.append(f"bulk create with {w.field}={state!r}")
        now = mine.get(w.field)
        reached = {t.to for t in w.transitions if now in t.from_ or "*" in t.from_}
        for state in [s.value for s in w.states if s.value not in reached | {now}]:
            change = {w.field: state}
            moved = service.update
            if not _refused(lambda c=change, u=moved: u(obj, mine["id"], c, actor, options=DRY),
                            w.field):  # fmt: skip
                accepted.append(f"update from {now!r} to {w.field}={state!r} (no transition)")
    for fdef in _reserved_fields(schema.objects[obj]):
        value = _some_value(world, fdef, actor)
        row = {**values, fdef.name: value}
        if not _refused(lambda r=row: service.create(obj, r, actor, options=DRY), fdef.name):
            accepted.append(f"create setting {fdef.kind.value} field {fdef.name}={value!r}")
    assert not accepted, f"{role} may write what the process reserves on {obj}: {accepted}"
