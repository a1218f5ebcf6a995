"""The base pack's hand-down of leads to dealers (厂家下发), through the real record
service: its rule reads through a lookup (``assigned_partner.partner_unit``), which the
automation must see to fire at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import Actor, RecordService
from engine.security import RoleAuthorizer
from engine.storage.database import Database
from engine.validate import validate_paths

BASE = Path(__file__).resolve().parents[2] / "industry_packs" / "base"
SYSTEM = Actor(user_id=None, name="test-setup")


@pytest.fixture
def service(tmp_path):
    report = validate_paths([BASE])
    compiled = compile_schema(report.schema)
    db = Database(f"sqlite:///{tmp_path / 'base.sqlite3'}")
    compiled.tables.metadata.create_all(db.engine)
    yield RecordService(db, compiled, authorizer=RoleAuthorizer(compiled))
    db.dispose()


def test_a_lead_handed_to_a_partner_moves_into_its_unit_and_to_its_staff(service):
    brand = service.create("org_unit", {"name": "品牌", "code": "B", "kind": "brand"}, SYSTEM)
    dealer = service.create("org_unit", {"name": "浦东店", "code": "PD", "kind": "dealer",
                                         "parent": brand["id"]}, SYSTEM)  # fmt: skip
    users = UserStore(service.db, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    staff = [users.create_user(f"pd{i}", None, f"浦东销售{i}", roles=["dealer_staff"],
                               org_unit=dealer["id"]) for i in (1, 2)]  # fmt: skip
    partner = service.create("partner", {"name": "浦东店", "kind": "dealer", "partner_code": "P1",
                                         "partner_unit": dealer["id"]}, SYSTEM)  # fmt: skip
    hq = users.actor_for(users.create_user("hq", None, "总部", roles=["administrator"],
                                           org_unit=brand["id"]))  # fmt: skip
    owners = []
    for name in ("线索甲", "线索乙"):
        lead = service.create("lead", {"name": name, "phone": "13812345678",
                                       "assigned_partner": partner["id"]}, hq)  # fmt: skip
        assert lead["org_unit"] == dealer["id"]  # now visible to the dealer
        assert lead["assigned_at"] is not None
        owners.append(lead["owner"])
    assert sorted(owners) == sorted(u.id for u in staff)  # shared out in turn
