"""Export writes what a list shows, plainly, and the file imports back unchanged."""

from __future__ import annotations

import csv
import io

from engine.storage.database import Database
from engine.transfer import export_csv, import_csv, plain

from .conftest import ALICE, BOB, shop_service

FIELDS = ["name", "code", "phone", "email", "tier", "tags", "since"]


def seed(service) -> None:
    rows = [
        {
            "name": f"客户 {i:04d}",
            "code": f"C-{i:04d}",
            "phone": "13800138000" if i % 2 else None,
            "email": f"c{i}@example.com" if i % 3 else None,
            "tier": "gold" if i % 4 == 0 else "silver",
            "tags": ["vip", "new"] if i % 5 == 0 else [],
            "since": f"2025-0{1 + i % 9}-1{i % 10}",
        }
        for i in range(1200)  # more than two pages of the service's list
    ]
    assert all(r.ok for r in service.bulk_create("customer", rows, ALICE))


def snapshot(service) -> dict[str, dict]:
    out, cursor = {}, None
    while True:
        page = service.list("customer", ALICE, fields=FIELDS, limit=500, cursor=cursor)
        # An empty multi-picklist is stored as [] or NULL depending on how it was left empty.
        out.update({r["code"]: {f: r[f] or None for f in FIELDS} for r in page.records})
        if (cursor := page.next_cursor) is None:
            return out


def test_round_trip_into_a_fresh_database(shop, shop_compiled, tmp_path):
    seed(shop)
    target = tmp_path / "export.csv"
    with target.open("w", encoding="utf-8-sig", newline="") as stream:
        assert export_csv(shop, "customer", stream, BOB, locale="zh-CN") == 1200
    with target.open(encoding="utf-8-sig") as stream:
        assert next(csv.reader(stream)) == [
            "名称",
            "编码",
            "电话",
            "邮箱",
            "等级",
            "标签",
            "起始日期",
            "文件",
            "简介",
        ]
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        other = shop_service(fresh, shop_compiled)
        report = import_csv(other, "customer", target, ALICE, reject_path=tmp_path / "r.csv")
        assert (report.created, report.rejected) == (1200, 0)
        assert snapshot(other) == snapshot(shop)
    finally:
        fresh.dispose()


def test_filter_fields_and_name_headers(shop):
    seed_small = [("Acme", "A-1", "gold"), ("Beta", "B-1", "silver"), ("Core", "C-1", "gold")]
    for name, code, tier in seed_small:
        shop.create("customer", {"name": name, "code": code, "tier": tier}, ALICE)
    stream = io.StringIO()
    rule = {"==": [{"var": "tier"}, "gold"]}
    written = export_csv(
        shop, "customer", stream, ALICE, filter=rule, fields=["code", "name"], header="name"
    )
    assert written == 2
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows[0] == ["code", "name"] and sorted(rows[1:]) == [["A-1", "Acme"], ["C-1", "Core"]]


def test_deals_export_lookups_as_ids_and_numbers_as_written(shop):
    customer = shop.create("customer", {"name": "Acme", "code": "A-1"}, ALICE)
    shop.create(
        "deal",
        {
            "customer": customer["id"],
            "amount": "1234.50",
            "stage": "won",
            "close_date": "2026-01-31",
        },
        ALICE,
    )
    stream = io.StringIO()
    export_csv(shop, "deal", stream, ALICE, fields=["customer", "amount", "close_date", "net"])
    header, row = list(csv.reader(io.StringIO(stream.getvalue())))
    assert header == ["Customer", "Amount", "Close date", "Net"]
    assert row == [str(customer["id"]), "1234.50", "2026-01-31", "1234.50"]


def test_plain_values():
    import datetime as dt
    from decimal import Decimal

    assert plain(Decimal("1E+3")) == "1000" and plain(True) == "true" and plain(None) == ""
    moment = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert plain(moment) == "2026-01-01T19:04:00+00:00"
    assert (
        plain(["a", "b"]) == "a;b" and plain({"lat": 1.0, "lng": 2.0}) == '{"lat": 1.0, "lng": 2.0}'
    )
