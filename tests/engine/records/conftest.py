from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.validate import validate_paths

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
ALICE = Actor(user_id="00000000-0000-4000-8000-00000000a11c", locale="en", name="alice")
BOB = Actor(user_id="00000000-0000-4000-8000-000000000b0b", locale="zh-CN", name="bob")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def shop_pack(tmp_path: Path) -> Path:
    """A copy of the shop pack with an empty ``automations/`` folder, for a test to add to."""
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    (pack / "automations").mkdir()
    return pack


@pytest.fixture(scope="session")
def shop_schema() -> CompiledSchema:
    report = validate_paths([SHOP])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture(scope="session")
def base_schema() -> CompiledSchema:
    """The base pack, compiled once: a compiled schema is frozen, so tests share it, each
    creating its tables in a database of its own."""
    report = validate_paths([BASE])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database, shop_schema, clock) -> RecordService:
    shop_schema.tables.metadata.create_all(database.engine)
    return RecordService(database, shop_schema, clock=clock)


@pytest.fixture
def customer(service) -> dict:
    return service.create("customer", {"name": "Acme", "code": "C-1"}, ALICE)
