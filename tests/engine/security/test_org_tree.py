"""The organisation tree: paths kept by the record service, access that follows a move."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
SYSTEM = Actor(user_id=None)


@pytest.fixture(scope="session")
def base() -> CompiledSchema:
    return compile_schema(validate_paths([BASE]).schema)


@pytest.fixture
def tree(database, base):
    base.tables.metadata.create_all(database.engine)
    service = RecordService(database, base, authorizer=RoleAuthorizer(base))
    units = {}
    for key, kind, parent in (
        ("brand", "brand", None),
        ("east", "region", "brand"),
        ("south", "region", "brand"),
        ("pudong", "dealer", "east"),
        ("store", "store", "pudong"),
    ):
        values = {"name": key, "code": key.upper(), "kind": kind}
        if parent:
            values["parent"] = units[parent]["id"]
        units[key] = service.create("org_unit", values, SYSTEM)
    return service, units


def test_paths_and_depths_are_kept_by_the_engine(tree):
    service, units = tree
    store = service.get("org_unit", units["store"]["id"], SYSTEM)
    ids = [units[k]["id"] for k in ("brand", "east", "pudong", "store")]
    assert store["path"] == "/" + "/".join(ids) + "/"
    assert store["depth"] == 3
    with pytest.raises(ValidationFailed) as refused:
        service.update("org_unit", units["east"]["id"], {"path": "/forged/"}, SYSTEM)
    assert refused.value.errors[0].field == "path"


def _east_manager(units):
    """The east region's manager as one request sees them (a new Actor per request)."""
    return Actor(
        user_id="00000000-0000-4000-8000-0000000000e1",
        roles=("sales_manager",),
        org_unit=units["east"]["id"],
    )


def test_moving_a_unit_moves_its_subtree_and_access_follows_from_the_next_request(tree):
    service, units = tree
    east_manager = _east_manager(units)
    lead = service.create(
        "lead",
        {"name": "Li Lei", "source": "website", "email": "li@example.cn",
         "org_unit": units["store"]["id"]},
        SYSTEM,
    )  # fmt: skip
    assert [r["id"] for r in service.list("lead", east_manager).records] == [lead["id"]]

    service.update("org_unit", units["pudong"]["id"], {"parent": units["south"]["id"]}, SYSTEM)
    store = service.get("org_unit", units["store"]["id"], SYSTEM)
    assert store["path"].startswith(service.get("org_unit", units["south"]["id"], SYSTEM)["path"])
    assert store["depth"] == 3
    assert service.list("lead", _east_manager(units)).records == []
    south_manager = Actor(
        user_id="00000000-0000-4000-8000-0000000000e2",
        roles=("sales_manager",),
        org_unit=units["south"]["id"],
    )
    assert [r["id"] for r in service.list("lead", south_manager).records] == [lead["id"]]


def test_a_unit_cannot_move_under_itself(tree):
    service, units = tree
    with pytest.raises(ValidationFailed) as refused:
        service.update("org_unit", units["east"]["id"], {"parent": units["store"]["id"]}, SYSTEM)
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == ("parent", "cycle")
    assert service.get("org_unit", units["pudong"]["id"], SYSTEM)["parent"] == units["east"]["id"]


def _lead(service, actor, unit_id, name="Han Meimei"):
    values = {"name": name, "email": "han@example.cn"}
    if unit_id is not None:
        values["org_unit"] = unit_id
    return service.create("lead", values, actor)


def test_a_dealer_creates_only_inside_its_units_and_extra_units_count_from_the_next_request(
    tree,
):
    service, units = tree
    store = UserStore(service.db, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    user = store.create_user(
        "pd.manager", None, "PD", roles=["dealer_manager"], org_unit=units["pudong"]["id"]
    )
    manager = store.actor_for(user)
    assert _lead(service, manager, units["store"]["id"])["org_unit"] == units["store"]["id"]
    with pytest.raises(ValidationFailed) as refused:
        _lead(service, manager, units["south"]["id"])
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (
        "org_unit",
        "out_of_scope",
    )
    southern = _lead(service, SYSTEM, units["south"]["id"], name="Lin Tao")
    assert southern["id"] not in {r["id"] for r in service.list("lead", manager).records}

    store.set_extra_org_units("pd.manager", [units["south"]["id"]])
    manager = store.actor_for(user)  # the next request
    assert southern["id"] in {r["id"] for r in service.list("lead", manager).records}
    assert _lead(service, manager, units["south"]["id"])["org_unit"] == units["south"]["id"]
    assert store.extra_org_units(user) == [units["south"]["id"]]
