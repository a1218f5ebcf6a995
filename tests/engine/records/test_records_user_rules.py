"""Rules reach users: through user fields (``assignee.org_unit``, ``owner.username``,
``owner.org_unit.kind``) and the acting user's unit kind (``$user.org_unit_kind``), in
validations and list filters; only a fixed whitelist of a user's columns is readable.
Expected rows are worked out here from the users and records the test made."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.rules import RuleCompileError, compile_rule
from engine.validate import validate_paths

ROOT = Path(__file__).resolve().parents[3]
PACKS = [ROOT / "industry_packs" / "base", ROOT / "tests" / "fixtures" / "staff_pack"]
SYSTEM = Actor(user_id=None)


@pytest.fixture(scope="module")
def staff() -> CompiledSchema:
    report = validate_paths(PACKS)
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def world(database, staff):
    staff.tables.metadata.create_all(database.engine)
    service = RecordService(database, staff)
    units = {}
    for key, kind, parent in (("brand", "brand", None), ("east", "region", "brand"),
                              ("s1", "store", "east"), ("s2", "store", "east")):  # fmt: skip
        values = {"name": key, "code": key.upper(), "kind": kind}
        if parent:
            values["parent"] = units[parent]
        units[key] = service.create("org_unit", values, SYSTEM)["id"]
    store = UserStore(database, staff.tables, hasher=PasswordHasher(n=2**4))
    people = {}
    for name, unit in (("ann", "s1"), ("bob", "s1"), ("cai", "s2"), ("dee", "east")):
        user = store.create_user(name, None, name.title(), roles=[], org_unit=units[unit])
        people[name] = store.actor_for(user)
    return service, units, people


def test_the_acting_users_unit_kind_is_read_from_their_unit(world):
    _, _, people = world
    assert people["ann"].as_user().as_data()["org_unit_kind"] == "store"
    assert people["dee"].as_user().as_data()["org_unit_kind"] == "region"


def test_a_validation_reads_through_a_user_field_and_the_actors_unit_kind(world):
    service, _, people = world
    ann, bob, cai, dee = (people[n] for n in ("ann", "bob", "cai", "dee"))
    made = service.create("task", {"title": "call", "assignee": bob.user_id}, ann)
    assert made["assignee"] == bob.user_id  # same store
    with pytest.raises(ValidationFailed) as refused:
        service.create("task", {"title": "call", "assignee": cai.user_id}, ann)
    assert [(e.field, e.rule) for e in refused.value.errors] == [
        ("assignee", "assignee_in_my_unit")
    ]
    with pytest.raises(ValidationFailed) as refused:
        service.create("task", {"title": "plan"}, dee)  # a region's manager
    assert [e.rule for e in refused.value.errors] == ["stores_only"]


def test_list_filters_read_through_owner_and_assignee_two_hops_deep(world):
    service, units, people = world
    made = []
    for owner, assignee in (("ann", "bob"), ("bob", None), ("cai", "cai"), ("ann", "ann")):
        actor = people[owner]
        values = {"title": f"{owner}-{assignee}"}
        if assignee:
            values["assignee"] = people[assignee].user_id
        made.append((owner, assignee, service.create("task", values, actor)["id"]))
    unit_of = {"ann": "s1", "bob": "s1", "cai": "s2", "dee": "east"}

    def listed(rule):
        return {r["id"] for r in service.list("task", SYSTEM, filter=rule, limit=500).records}

    assert listed({"===": [{"var": "owner.username"}, "ann"]}) == {
        i for o, _, i in made if o == "ann"
    }
    assert listed({"===": [{"var": "assignee.display_name"}, "Cai"]}) == {
        i for _, a, i in made if a == "cai"
    }
    assert listed({"==": [{"var": "assignee.org_unit"}, units["s1"]]}) == {
        i for _, a, i in made if a and unit_of[a] == "s1"
    }
    assert listed({"==": [{"var": "owner.org_unit.code"}, "S2"]}) == {
        i for o, _, i in made if unit_of[o] == "s2"
    }


def test_only_the_whitelisted_user_columns_are_readable(staff):
    context = staff.objects["task"].context
    for hidden in ("password_hash", "email", "roles", "locale"):
        with pytest.raises(RuleCompileError) as refused:
            compile_rule({"==": [{"var": f"owner.{hidden}"}, "x"]}, context)
        assert refused.value.problems[0].code == "unknown_field"
    with pytest.raises(RuleCompileError) as refused:
        compile_rule({"==": [{"var": "assignee.usrname"}, "x"]}, context)
    assert refused.value.problems[0].suggestion == "username"
