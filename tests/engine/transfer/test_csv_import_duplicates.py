"""A CSV import meets the duplicate rules row by row: blocked rows go to the reject file
with the rule's message, warned rows land and are reported, merged rows fill the match."""

from __future__ import annotations

import shutil

import pytest

from engine.compiled import compile_schema
from engine.transfer import import_csv
from engine.validate import validate_paths

from .conftest import ALICE, BOB, SHOP, read_csv, shop_service, write_csv


def _service(database, tmp_path, action: str):
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(
        customer.read_text()
        + f"""
duplicate_rules:
  - name: same_phone
    fields: [{{field: phone, normalise: phone}}]
    action: {action}
    message: {{en: "Same phone as {{existing}}", zh-CN: "与{{existing}}电话相同"}}
"""
    )
    report = validate_paths([pack])
    assert not report.errors
    return shop_service(database, compile_schema(report.schema))


def _rows(service) -> dict[str, dict]:
    return {r["name"]: r for r in service.list("customer", ALICE, limit=100).records}


@pytest.mark.parametrize("action", ["block", "warn", "merge"])
def test_an_import_meets_the_duplicate_rules(database, tmp_path, action):
    service = _service(database, tmp_path, action)
    service.create("customer", {"name": "老客户", "phone": "+86 139 0000 1111"}, ALICE)
    source = write_csv(
        tmp_path / "c.csv",
        [
            ["名称", "电话", "邮箱"],
            ["新客户", "13900002222", ""],
            ["老客户（重复）", "139 0000 1111", "old@example.cn"],
            ["新客户（重复）", "+8613900002222", ""],
        ],
    )
    report = import_csv(service, "customer", source, BOB, reject_path=tmp_path / "r.csv")
    stored = _rows(service)
    if action == "block":
        assert (report.created, report.rejected, report.merged) == (1, 2, 0)
        assert [(r["_row"], r["_errors"]) for r in read_csv(tmp_path / "r.csv")] == [
            ("3", "电话: 与老客户电话相同"),
            ("4", "电话: 与新客户电话相同"),
        ]
        assert sorted(stored) == ["新客户", "老客户"]
    elif action == "warn":
        assert (report.created, report.rejected, report.merged) == (3, 0, 0)
        assert [(w.row, w.rule, w.message) for w in report.warnings] == [
            (3, "same_phone", "与老客户电话相同"),
            (4, "same_phone", "与新客户电话相同"),
        ]
        assert len(stored) == 4
    else:
        assert (report.created, report.rejected, report.merged) == (1, 0, 2)
        assert sorted(stored) == ["新客户", "老客户"]
        assert stored["老客户"]["email"] == "old@example.cn"
