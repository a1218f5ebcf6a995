"""What a user learns is the same whatever a secret is: every pack, object, role and path.

The cases come from the packs on disk (``cases.case_ids``); each runs every read path of
the record service as a user holding one role, for two sets of secret values (and, for
hidden fields, none at all), and fails with every probe whose answer differed. On a record
the role may not open, reached through a lookup from one it reads, the fields it could
read elsewhere are secrets too. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from .builder import Unbuildable
from .cases import Case, blind_probes, case_ids, differences, secret_objects, unread
from .conftest import KINDS
from .overlap import repeated
from .packs import compiled, stacks
from .side_paths import approval_steps, blind_side_paths, pending_approval

STACKS = {s.name: s for s in stacks()}
CASES = [
    cid
    for s in STACKS.values()
    for cid in case_ids(s.name, compiled(s).schema)
    if not repeated(s, cid.obj, cid.role)
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cid", CASES, ids=str)
def test_what_a_role_learns_does_not_depend_on_a_secret(world_for, kind, cid):
    world = world_for(STACKS[cid.stack], kind)
    try:
        case = Case(world, cid)
    except Unbuildable as exc:
        pytest.skip(f"no {cid.obj} record can be made from the metadata: {exc}")
    case.share_children()
    found: list[str] = []
    if case.closed_possible():
        fields = case.writable(case.closed_fields())
        case.write(fields, "A")
        case.read_literals(list(fields))
        first = case.capture(list(fields), opened=False)
        assert not unread(first, case), f"{cid.role} cannot read the children shared with them"
        case.write(fields, "B")
        found += [
            f"[closed {cid.obj}] {d}"
            for d in differences(first, case.capture(list(fields), opened=False))
        ]
    case.share(cid.obj, case.ids)
    fields = case.writable(case.open_fields())
    case.write(fields, "A")
    probed = [n for n in case.secrets if n in fields or case.computed(n)]
    case.read_literals(probed)
    first = case.capture(probed, opened=True)
    opened = first[f"{cid.obj} get {case.ids[0]}"]
    assert opened[0] == "ok", f"{cid.role} cannot read the record shared with them: {opened}"
    case.write(fields, "B")
    found += [f"[run B] {d}" for d in differences(first, case.capture(probed, opened=True))]
    hidden = case.emptiable(fields)
    if hidden:
        empty = case.capture(probed, opened=True, bodies_only=True)
        found += [f"[hidden empty] {d}" for d in differences({k: first[k] for k in empty}, empty)]
    assert not found, "\n".join([f"{cid} learns a secret ({len(found)}):", *found, *case.notes])


SECRET_OBJECTS = [
    (s.name, obj) for s in STACKS.values() for obj in secret_objects(compiled(s).schema)
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("stack", "obj"), SECRET_OBJECTS, ids=[f"{s}-{o}" for s, o in SECRET_OBJECTS]
)
def test_the_probes_tell_the_secrets_apart_to_who_may_read_them(world_for, kind, stack, obj):
    world = world_for(STACKS[stack], kind)
    assert blind_probes(world, stack, obj) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("stack", "obj"), SECRET_OBJECTS, ids=[f"{s}-{o}" for s, o in SECRET_OBJECTS]
)
def test_the_side_paths_tell_the_secrets_apart_to_who_may_read_them(world_for, kind, stack, obj):
    """Search, the UI's pages and notifications, where the metadata says they show one
    of the secrets (``side_paths.blind_side_paths``)."""
    world = world_for(STACKS[stack], kind)
    assert blind_side_paths(world, stack, obj) == []


APPROVALS = [
    (s.name, process.name, step)
    for s in STACKS.values()
    for process, step in approval_steps(compiled(s).schema)
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("stack", "process", "step"), APPROVALS, ids=[f"{s}-{p}-{i}" for s, p, i in APPROVALS]
)
def test_every_approval_step_is_probed_pending(world_for, kind, stack, process, step):
    """The approval probes (``side_paths.approved``) need a request of each process
    pending at each of its steps before a role's user: the builder reaches one from the
    metadata, and a role's user has it in their inbox."""
    world = world_for(STACKS[stack], kind)
    pending = pending_approval(world, world.schema.approvals[process], step)
    assert not isinstance(pending, str), f"{process} step {step}: {pending}"
    deciders = [r for r, a in world.actors.items() if r != "administrator"
                and any(e["id"] == pending[1] for e in world.service.inbox(a))]  # fmt: skip
    assert deciders, f"{process} step {step}: no role's user has the request in their inbox"
