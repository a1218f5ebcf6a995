"""What the authorizer keeps between pages never crosses from one reader to another.

A list page keeps the SQL of a reader's filter when it depends on who reads it (a path
through a lookup reaches only the targets the reader may open), per actor, and looks the
units their scope reaches up once per actor (an actor is made per request). The pages
here alternate between readers who differ only in where they sit, with the same filter,
and each must get exactly the rows the base pack's roles give them: a condition or a
unit list kept for one and handed to the other would show in the ids.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
SYSTEM = Actor(user_id=None, name="setup")
#: The user's filter: open leads whose assigned partner is a dealer (a lookup path).
FILTER = {"and": [{"in": [{"var": "status"}, ["new"]]},
                  {"==": [{"var": "assigned_partner.kind"}, "dealer"]}]}  # fmt: skip
DEALERS = ("dealer_a", "dealer_b", "dealer_c")


def _manager_reads() -> dict[str, str]:
    """The dealer manager's read scopes on leads and partners, from the pack's roles."""
    roles = yaml.safe_load((BASE / "security" / "roles.yaml").read_text(encoding="utf-8"))
    manager = next(r for r in roles["roles"] if r["name"] == "dealer_manager")
    return {name: manager["objects"][name]["read"] for name in ("lead", "partner")}


@pytest.fixture(scope="session")
def base() -> CompiledSchema:
    return compile_schema(validate_paths([BASE]).schema)


@pytest.fixture
def network(database, base) -> dict[str, Any]:
    """Three dealers under one region, a partner record in each (dealer c's a store), and
    from each dealer leads assigned to each partner and to none."""
    base.tables.metadata.create_all(database.engine)
    service = RecordService(database, base, authorizer=RoleAuthorizer(base))
    brand = service.create("org_unit", {"name": "B", "code": "B", "kind": "brand"}, SYSTEM)
    region = service.create(
        "org_unit", {"name": "R", "code": "R", "kind": "region", "parent": brand["id"]}, SYSTEM
    )
    units, partners = {}, {}
    for i, key in enumerate(DEALERS):
        units[key] = service.create(
            "org_unit",
            {"name": key, "code": key.upper(), "kind": "dealer", "parent": region["id"]},
            SYSTEM,
        )["id"]
        partners[key] = service.create(
            "partner",
            {"name": f"Partner {key}", "partner_code": f"P{i}",
             "kind": "store" if key == "dealer_c" else "dealer", "status": "active",
             "contract_number": f"C{i}", "contract_start": "2026-01-01",
             "contract_end": "2028-12-31", "partner_unit": units[key], "org_unit": units[key]},
            SYSTEM,
        )  # fmt: skip
    leads = []
    for key in DEALERS:
        for assigned in (key, *(k for k in DEALERS if k != key), None):
            lead = service.create(
                "lead",
                {"name": f"{key} {assigned}", "source": "website", "email": "x@example.cn",
                 "org_unit": units[key],
                 "assigned_partner": partners[assigned]["id"] if assigned else None},
                SYSTEM,
            )  # fmt: skip
            # Where it sits as stored: the pack dispatches an assigned lead to its
            # partner's unit (an automation), which decides who reads it.
            stored = service.get("lead", lead["id"], SYSTEM)
            sits = next(k for k, unit in units.items() if unit == stored["org_unit"])
            leads.append((lead["id"], sits, assigned))
    users = UserStore(database, base.tables, hasher=PasswordHasher(n=2**4))
    managers = {}
    for key in DEALERS:
        user = users.create_user(
            f"{key}.manager", None, key, roles=["dealer_manager"], org_unit=units[key]
        )
        managers[key] = users.actor_for(user)
    return {"service": service, "users": users, "units": units, "partners": partners,
            "leads": leads, "managers": managers}  # fmt: skip


def _expected(net: dict[str, Any], sits_in: set[str]) -> list[str]:
    """The leads FILTER gives a dealer manager who sits in the ``sits_in`` dealers, from
    the roles' scopes: their dealers' leads, whose partner they may open and is a dealer."""
    assert _manager_reads() == {"lead": "org_unit_and_below", "partner": "org_unit_and_below"}
    kinds = {key: partner["kind"] for key, partner in net["partners"].items()}
    return sorted(
        lead_id
        for lead_id, unit, assigned in net["leads"]
        if unit in sits_in and assigned in sits_in and kinds[assigned] == "dealer"
    )


def _page(net: dict[str, Any], actor: Actor) -> list[str]:
    return sorted(r["id"] for r in net["service"].list("lead", actor, filter=FILTER).records)


def test_readers_in_different_dealers_never_share_a_kept_condition(network):
    managers = network["managers"]
    expected = {key: _expected(network, {key}) for key in DEALERS}
    assert expected["dealer_a"] and expected["dealer_b"] and not expected["dealer_c"]
    for _ in range(2):  # each page after the first would reuse what was kept
        for key in (*DEALERS, *reversed(DEALERS)):
            assert _page(network, managers[key]) == expected[key], key
            # The next request of the same user: an equal actor, a fresh look-up.
            assert _page(network, dataclasses.replace(managers[key])) == expected[key], key


def test_the_same_user_moved_to_another_dealer_reads_that_dealer_from_the_next_request(network):
    a = network["managers"]["dealer_a"]
    assert _page(network, a) == _expected(network, {"dealer_a"})
    moved = dataclasses.replace(a, org_unit=network["units"]["dealer_b"])  # same user id
    assert _page(network, moved) == _expected(network, {"dealer_b"})
    assert _page(network, dataclasses.replace(a)) == _expected(network, {"dealer_a"})


def test_a_membership_added_counts_from_the_next_request(network):
    a, users = network["managers"]["dealer_a"], network["users"]
    assert _page(network, a) == _expected(network, {"dealer_a"})
    users.set_extra_org_units("dealer_a.manager", [network["units"]["dealer_b"]])
    # An equal actor (same user, roles and unit) of the next request: the kept SQL reads
    # memberships when it runs, and the unit list is looked up again.
    again = dataclasses.replace(a)
    assert again == a
    assert _page(network, again) == _expected(network, {"dealer_a", "dealer_b"})
