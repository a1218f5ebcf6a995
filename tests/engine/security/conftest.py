"""The shop pack with its roles enforced: a sales rep who may do everything, and a clerk
who may work on their own customers and deals only (see the pack's security/roles.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
REP = Actor(user_id="00000000-0000-4000-8000-0000000000a1", roles=("sales_rep",), name="rep")
CLERK = Actor(
    user_id="00000000-0000-4000-8000-0000000000c1", roles=("clerk",), name="clerk", locale="zh-CN"
)
OTHER_CLERK = Actor(user_id="00000000-0000-4000-8000-0000000000c2", roles=("clerk",))
SYSTEM = Actor(user_id=None, name="setup")


@pytest.fixture(scope="session")
def shop() -> CompiledSchema:
    report = validate_paths([SHOP])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def guarded(database, shop) -> RecordService:
    shop.tables.metadata.create_all(database.engine)
    return RecordService(database, shop, authorizer=RoleAuthorizer(shop))
