"""A formula or rollup added or redefined by a migration is filled on the records that
exist, with the values a save of each would compute, batch by batch and resumable after a
kill; the plan says so before anything runs."""

from __future__ import annotations

import datetime as dt
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.compiled import compile_schema
from engine.records import RecordService
from engine.records.backfill import run_backfills
from engine.storage.migrate import apply_migration, plan_migration, sync
from engine.validate import validate_paths
from metadata import ResolvedSchema

from .conftest import ALICE

PACK = "name: orders\nversion: 1.0.0\nlabel: {en: Orders, zh-CN: 订单}\n"
ORDER = """
- {name: name, type: text, label: {en: Name, zh-CN: 名称}}
- {name: amount, type: decimal, precision: 12, scale: 2, label: {en: Amount, zh-CN: 金额}}
- {name: discount, type: integer, label: {en: Discount, zh-CN: 折扣}}
"""
NET = """
- {name: net, type: formula, result_type: decimal, scale: 2, label: {en: Net, zh-CN: 净额},
   expression: {"*": [{var: amount}, {"-": [1, {"/": [{var: discount}, 100]}]}]}}
"""
LINE = """
- {name: order, type: master_detail, to: order, label: {en: Order, zh-CN: 订单}}
- {name: price, type: decimal, precision: 12, scale: 2, label: {en: Price, zh-CN: 单价}}
"""
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
ROLLUP = """
- {name: line_total, type: rollup, of: order_line, function: sum, field: price,
   label: {en: Line total, zh-CN: 明细合计}}
- {name: with_tax, type: formula, result_type: decimal, scale: 2,
   expression: {"*": [{var: line_total}, 1.1]}, label: {en: With tax, zh-CN: 含税}}
"""


def _schema(root: Path, version: str, objects: dict[str, str]) -> ResolvedSchema:
    folder = root / version / "orders"
    (folder / "objects").mkdir(parents=True)
    (folder / "pack.yaml").write_text(PACK, encoding="utf-8")
    for name, fields in objects.items():
        body = textwrap.indent(textwrap.dedent(fields).strip(), "  ")
        text = f"name: {name}\nlabel: {{en: {name}, zh-CN: {name}}}\nfields:\n{body}\n"
        (folder / "objects" / f"{name}.yaml").write_text(text, encoding="utf-8")
    report = validate_paths([folder])
    assert not report.errors, [p.render() for p in report.errors]
    return report.schema


def _insert(db, schema: ResolvedSchema, obj: str, rows: list[dict]) -> list[str]:
    """Rows straight into the table, as records that existed before the migration."""
    table = compile_schema(schema).tables[obj]
    ids = [str(uuid.UUID(int=n + 1)) for n in range(len(rows))]
    stamp = {"created_at": NOW, "updated_at": NOW}
    with db.engine.begin() as conn:
        conn.execute(
            table.insert(), [{"id": i, **stamp, **r} for i, r in zip(ids, rows, strict=True)]
        )
    return ids


def _amount(n: int) -> Decimal:
    return Decimal(n % 10_000) + Decimal("0.37")


def _net(amount: Decimal, discount: int) -> Decimal:
    """The formula worked by hand: amount × (1 − discount / 100), to cents."""
    return (amount * (1 - Decimal(discount) / 100)).quantize(Decimal("0.01"))


def _values(db, schema, obj: str, *columns: str) -> dict[str, tuple]:
    table = compile_schema(schema).tables[obj]
    with db.read() as conn:
        rows = conn.execute(sa.select(table.c.id, *(table.c[c] for c in columns)))
        return {str(r[0]): tuple(r[1:]) for r in rows}


def test_a_new_formula_is_backfilled_on_100k_rows(database, tmp_path):
    before = _schema(tmp_path, "v1", {"order": ORDER})
    sync(database, before, "test")
    count = 100_000
    rows = [{"name": f"O{n}", "amount": _amount(n), "discount": n % 40} for n in range(count)]
    ids = _insert(database, before, "order", rows)

    after = _schema(tmp_path, "v2", {"order": ORDER + NET})
    plan = plan_migration(database, after)
    assert plan.describe() == [
        "add field order.net (decimal 38,2)",
        f"backfill order.net (new formula) on {count} records, as saving each would compute them",
    ]
    apply_migration(database, after, plan, "test")
    assert set(_values(database, after, "order", "net").values()) == {(None,)}  # not yet

    seen: list[int] = []
    [done] = run_backfills(database, compile_schema(after),
                           progress=lambda obj, n, total: seen.append(n))  # fmt: skip
    assert (done.object, done.records, done.changed) == ("order", count, count)
    assert seen[0] == 1000 and seen[-1] == count  # a batch at a time

    stored = _values(database, after, "order", "net", "version")
    for n, record_id in enumerate(ids):
        assert stored[record_id] == (_net(_amount(n), n % 40), 2), n
    # the same value a save computes
    service = RecordService(database, compile_schema(after))
    made = service.create("order", {"name": "new", "amount": _amount(7), "discount": 7}, ALICE)
    assert made["net"] == stored[ids[7]][0]

    assert plan_migration(database, after).describe() == []  # done: nothing left to plan


def test_a_redefined_formula_and_a_new_rollup_are_filled_as_a_save_would(database, tmp_path):
    v1 = _schema(tmp_path, "v1", {"order": ORDER + NET, "order_line": LINE})
    sync(database, v1, "test")
    orders = _insert(database, v1, "order", [
        {"name": f"O{n}", "amount": _amount(n), "discount": n % 40} for n in range(300)
    ])  # fmt: skip
    table = compile_schema(v1).tables["order_line"]
    lines = [{"id": str(uuid.uuid4()), "order": orders[n % 200], "price": Decimal(n) + 1,
              "created_at": NOW, "updated_at": NOW} for n in range(900)]  # fmt: skip
    with database.engine.begin() as conn:
        conn.execute(table.insert(), lines)
    run_backfills(database, compile_schema(v1))  # nothing recorded: nothing to do

    doubled = NET.replace('{"-": [1,', '2, {"-": [1,')  # net is now twice what it was
    v2 = _schema(tmp_path, "v2", {"order": ORDER + doubled + ROLLUP, "order_line": LINE})
    plan = plan_migration(database, v2)
    assert plan.describe()[-1] == (
        "backfill order.net (changed formula), order.line_total (new rollup), "
        "order.with_tax (new formula) on 300 records, as saving each would compute them"
    )
    apply_migration(database, v2, plan, "test")
    run_backfills(database, compile_schema(v2), batch=64)

    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line["order"]] = totals.get(line["order"], Decimal(0)) + line["price"]
    stored = _values(database, v2, "order", "net", "line_total", "with_tax")
    for n, record_id in enumerate(orders):
        total = totals.get(record_id, Decimal(0))
        expected = (
            (2 * _amount(n) * (1 - Decimal(n % 40) / 100)).quantize(Decimal("0.01")),
            total,
            (total * Decimal("1.1")).quantize(Decimal("0.01")),
        )
        assert stored[record_id] == expected, n


class Killed(Exception):
    """Stands for the process dying between two batches."""


def test_a_killed_backfill_goes_on_where_it_stopped(database, tmp_path):
    before = _schema(tmp_path, "v1", {"order": ORDER})
    sync(database, before, "test")
    rows = [{"name": f"O{n}", "amount": _amount(n), "discount": n % 40} for n in range(5000)]
    ids = _insert(database, before, "order", rows)
    after = _schema(tmp_path, "v2", {"order": ORDER + NET})
    apply_migration(database, after, plan_migration(database, after), "test")

    def die(obj: str, done: int, total: int) -> None:
        if done >= 2000:
            raise Killed

    with pytest.raises(Killed):
        run_backfills(database, compile_schema(after), progress=die)
    plan = plan_migration(database, after)
    assert plan.describe() == ["resume backfill of order.net (2000 of 5000 records done)"]
    assert not plan.changes_schema  # resuming records no new schema version

    [done] = run_backfills(database, compile_schema(after))
    assert (done.records, done.changed) == (5000, 5000)
    stored = _values(database, after, "order", "net", "version")
    # every record filled exactly once: the first 2000 were not filled again
    assert {stored[i] for i in ids[:3]} == {(_net(_amount(n), n % 40), 2) for n in range(3)}
    assert {v for _, v in stored.values()} == {2}
    assert plan_migration(database, after).describe() == []


def test_records_created_after_the_plan_was_shown_are_filled_too(database, tmp_path):
    before = _schema(tmp_path, "v1", {"order": ORDER})
    sync(database, before, "test")
    _insert(database, before, "order", [{"name": "A", "amount": Decimal("10.00"), "discount": 0}])
    after = _schema(tmp_path, "v2", {"order": ORDER + NET})
    plan = plan_migration(database, after)  # shown to the consultant: 1 record
    table = compile_schema(before).tables["order"]
    late = str(uuid.uuid4())
    with database.engine.begin() as conn:  # a user saves a record meanwhile
        values = {"id": late, "name": "B", "amount": Decimal("20.00"), "discount": 50}
        conn.execute(table.insert().values(created_at=NOW, updated_at=NOW, **values))
    apply_migration(database, after, plan, "test")  # the plan still stands
    [done] = run_backfills(database, compile_schema(after))
    assert done.records == 2
    assert _values(database, after, "order", "net")[late] == (Decimal("10.00"),)
