"""The auto demo's seed in process, on real SQLite files: valid VINs, the same data from the
same seed and time, once only, and nothing dated after the time it was seeded at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, UserStore
from engine.demo import DEMOS, auto
from engine.demo.vin import check_digit, make_vin, model_year_code
from engine.packs import discover
from engine.records import Actor, RecordService
from engine.storage.database import Database

NOW = dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC)  # 11:30 in Shanghai
SYSTEM = Actor(user_id=None, name="test")


def test_vins_carry_the_iso_3779_check_digit():
    assert check_digit("1M8GDM9AXKP042788") == "X"  # the textbook example
    assert check_digit("1HGCM82633A004352") == "3"
    assert (model_year_code(2025), model_year_code(2026), model_year_code(2031)) == ("S", "T", "1")
    vin = make_vin("LHX", "SC15F", 2026, "N", 207839)
    assert vin == "LHXSC15F7TN207839"
    for serial in range(1000, 1200):
        made = make_vin("LHX", "EL65R", 2026, "N", serial)
        assert len(made) == 17 and not set(made) & set("IOQ")
        assert made[8] == check_digit(made)
    with pytest.raises(ValueError):
        make_vin("LHX", "SC1", 2026, "N", 1)


def test_the_demos_name_their_packs_and_accounts():
    assert DEMOS["auto"].packs == ("base", "auto") and DEMOS["base"].packs == ("base",)
    roles = {role for user in auto.DEMO_USERS for role in user.roles}
    assert roles == {"administrator", "oem_headquarters", "oem_regional_manager",
                     "dealer_general_manager", "showroom_manager", "sales_consultant",
                     "service_advisor"}  # fmt: skip
    assert len({user.username for user in auto.DEMO_USERS}) == len(auto.DEMO_USERS)


def _seed(path: Path, leads: int) -> tuple[Database, RecordService, UserStore, object]:
    packs = discover()
    db = Database(f"sqlite:///{path}")
    service = Runtime(db, [packs["base"], packs["auto"]]).snapshot.service
    users = UserStore(db, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    return db, service, users, auto.seed_demo(service, users, None, leads=leads, now=NOW)


def _content(service: RecordService) -> tuple[list[tuple], list[tuple]]:
    """What the seed decided, leaving out who the lead centre's round robin picked."""
    leads = service.list("lead", SYSTEM, limit=500, sort=["lead_number"]).records
    vehicles = service.list("vehicle", SYSTEM, limit=500, sort=["vin"]).records
    return (
        [(x["lead_number"], x["name"], x["phone"], x["source"], x["lead_stage"],
          x["intention_level"], x["created_at"]) for x in leads],
        [(v["vin"], v["status"], v["colour"]) for v in vehicles],
    )  # fmt: skip


def test_the_seed_is_repeatable_runs_once_and_stops_at_its_present(tmp_path):
    first_db, first, first_users, accounts = _seed(tmp_path / "first.sqlite3", 40)
    second_db, second, _, _ = _seed(tmp_path / "second.sqlite3", 40)
    try:
        assert [u.username for u in accounts] == [u.username for u in auto.DEMO_USERS]
        leads, vehicles = _content(first)
        assert (leads, vehicles) == _content(second)
        assert len(leads) == 40 + 3  # and three owners who bought before
        assert {lead[4] for lead in leads} == set(dict(auto.STAGES))
        assert all(NOW - dt.timedelta(days=431) < lead[6] <= NOW for lead in leads)
        assert auto.seed_demo(first, first_users, None, leads=40, now=NOW) is None
        assert _content(first) == (leads, vehicles)
    finally:
        first_db.dispose()
        second_db.dispose()
