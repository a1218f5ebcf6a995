from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.storage.database import Database
from engine.storage.migrate import sync
from engine.validate import validate_paths

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
ALICE = Actor(user_id="00000000-0000-4000-8000-00000000a11c", locale="en", name="alice")
BOB = Actor(user_id="00000000-0000-4000-8000-000000000b0b", locale="zh-CN", name="bob")


@pytest.fixture(scope="session")
def shop_compiled() -> CompiledSchema:
    report = validate_paths([SHOP])
    assert not report.errors
    return compile_schema(report.schema)


def shop_service(db: Database, compiled: CompiledSchema) -> RecordService:
    sync(db, compiled.schema, applied_by="tests")
    return RecordService(db, compiled)


@pytest.fixture
def shop(database, shop_compiled) -> RecordService:
    """The record service on an empty, synced shop database (SQLite and PostgreSQL)."""
    return shop_service(database, shop_compiled)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream).writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def count(service: RecordService, object_name: str) -> int:
    return service.list(object_name, ALICE, limit=1, count=True).total or 0
