"""Derived changes are writes: a parent whose rollup moves, the units below a moved unit
and the records automations change go through every write step (version, history with
its cause, audit, the record's own automations), and a cascade that loops is refused
with its chain named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.compiled import compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.validate import validate_paths

from .conftest import ALICE, shop_pack

SYSTEM = Actor(user_id=None)
#: When a deal's lines pass 1,000 in all, it gets a 5% discount, in the same transaction.
BIG_DEAL = """
name: big_deal
object: deal
trigger:
  kind: record
  "on": [update]
  condition: {">": [{var: line_total}, 1000]}
  only_when_becomes_true: true
actions:
  - type: set_fields
    values: {discount: 5}
run: in_transaction
"""
#: Every deal with lines gets one more: its own rollup fires it again, without end.
ECHO = """
name: echo_line
object: deal
trigger: {kind: record, "on": [update], condition: {">": [{var: line_count}, 0]}}
actions:
  - type: create_record
    object: deal_line
    values: {deal: {var: id}, product: Echo, quantity: 1, price: 1}
run: in_transaction
"""


def _shop(database, clock, tmp_path, **automations: str) -> RecordService:
    pack = shop_pack(tmp_path)
    for name, text in automations.items():
        (pack / "automations" / f"{name}.yaml").write_text(text)
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    return RecordService(database, compiled, clock=clock)


def _audit(service, object_name, record_id):
    log = service.compiled.tables.system["audit_log"]
    with service.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(log.c.action, log.c.detail)
            .where(log.c.object == object_name, log.c.record_id == record_id)
            .order_by(log.c.id)
        )
        return [(r.action, r.detail) for r in rows]


def test_a_rollup_that_moves_is_a_write_of_the_parent(database, clock, tmp_path):
    service = _shop(database, clock, tmp_path, big_deal=BIG_DEAL)
    customer = service.create("customer", {"name": "Acme"}, ALICE)
    deal = service.create("deal", {"customer": customer["id"]}, ALICE)
    assert deal["version"] == 1

    service.create("deal_line", {"deal": deal["id"], "product": "X", "price": 600}, ALICE)
    after_one = service.get("deal", deal["id"], ALICE)
    # the parent's version moved with its content, so an ETag taken before is stale
    assert (after_one["version"], after_one["line_total"]) == (2, Decimal("600"))
    assert after_one["discount"] is None
    # the engine made the write, on behalf of the user whose line caused it
    assert after_one["updated_by"] == ALICE.user_id

    service.create("deal_line", {"deal": deal["id"], "product": "Y", "price": 500}, ALICE)
    after_two = service.get("deal", deal["id"], ALICE)
    # crossing 1,000 ran the deal's automation in the same transaction
    assert after_two["line_total"] == Decimal("1100")
    assert after_two["discount"] == Decimal("5")
    assert after_two["version"] == 4  # the rollup's write, then the automation's

    history = service.history("deal", deal["id"], ALICE)
    totals = [(h["old_value"], h["new_value"], h["cause"]) for h in history
              if h["field"] == "line_total"]  # fmt: skip
    assert totals == [
        ("0.000000", "600.000000", "rollup deal ← deal_line"),
        ("600.000000", "1100.000000", "rollup deal ← deal_line"),
    ]
    assert {h["changed_by"] for h in history} == {ALICE.user_id}
    [discount] = [h for h in history if h["field"] == "discount"]
    assert discount["cause"] == "automation big_deal"
    updates = [d for action, d in _audit(service, "deal", deal["id"]) if action == "update"]
    assert [u["cause"] for u in updates] == [
        ["rollup deal ← deal_line"],
        ["rollup deal ← deal_line"],
        ["rollup deal ← deal_line", "automation big_deal"],
    ]


def test_a_child_change_that_leaves_the_totals_writes_nothing_to_the_parent(
    database, clock, tmp_path
):
    service = _shop(database, clock, tmp_path)
    customer = service.create("customer", {"name": "Acme"}, ALICE)
    deal = service.create("deal", {"customer": customer["id"]}, ALICE)
    line = service.create("deal_line", {"deal": deal["id"], "product": "X", "price": 5}, ALICE)
    version = service.get("deal", deal["id"], ALICE)["version"]
    service.update("deal_line", line["id"], {"product": "X2"}, ALICE)
    assert service.get("deal", deal["id"], ALICE)["version"] == version


def test_a_cascade_that_loops_is_refused_with_its_chain(database, clock, tmp_path):
    service = _shop(database, clock, tmp_path, echo_line=ECHO)
    customer = service.create("customer", {"name": "Acme"}, ALICE)
    deal = service.create("deal", {"customer": customer["id"]}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.create("deal_line", {"deal": deal["id"], "product": "X", "price": 5}, ALICE)
    [error] = refused.value.errors
    assert error.code == "cascade_loop"
    chain = "rollup deal ← deal_line → automation echo_line → rollup deal ← deal_line"
    assert chain in error.text("en")
    assert chain in error.text("zh-CN")
    assert service.list("deal_line", SYSTEM, count=True).total == 0  # nothing kept


@pytest.fixture
def tree(database, clock, base_schema):
    base_schema.tables.metadata.create_all(database.engine)
    service = RecordService(database, base_schema, clock=clock)

    def unit(code, kind, parent=None):
        values = {"name": code, "code": code, "kind": kind, "parent": parent}
        return service.create("org_unit", values, SYSTEM)

    return service, unit


def test_the_units_below_a_moved_unit_are_written_with_their_new_paths(tree):
    service, unit = tree
    north, south = unit("N", "brand"), unit("S", "brand")
    city = unit("C", "region", north["id"])
    shop = unit("SH", "dealer", city["id"])
    service.update("org_unit", city["id"], {"parent": south["id"]}, SYSTEM)
    moved = service.get("org_unit", shop["id"], SYSTEM)
    assert moved["path"] == f"/{south['id']}/{city['id']}/{shop['id']}/"
    assert moved["depth"] == 2
    assert moved["version"] == 2
    [detail] = [d for action, d in _audit(service, "org_unit", shop["id"]) if action == "update"]
    assert detail["cause"] == [f"org path below {city['id']}"]
    assert sorted(detail["fields"]) == ["path"]  # the depth stays: the whole branch moved



#: The first and the latest close date of a customer's deals.
CLOSE_DATES = """
extends: customer
fields:
  - {name: first_close, type: rollup, of: deal, function: min, field: close_date,
     label: {en: First close, zh-CN: 首次成交}}
  - {name: last_close, type: rollup, of: deal, function: max, field: close_date,
     label: {en: Last close, zh-CN: 最近成交}}
"""


def test_min_and_max_rollups_of_a_date_follow_the_children(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "objects" / "customer_close_dates.yaml").write_text(CLOSE_DATES)
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    service = RecordService(database, compiled, clock=clock)
    customer = service.create("customer", {"name": "Acme"}, ALICE)
    dates = {}

    def deal(day):
        row = service.create("deal", {"customer": customer["id"], "close_date": day}, ALICE)
        dates[row["id"]] = dt.date.fromisoformat(day)
        return row

    def expected():
        return (min(dates.values(), default=None), max(dates.values(), default=None))

    def seen():
        row = service.get("customer", customer["id"], ALICE)
        return row["first_close"], row["last_close"]

    assert seen() == (None, None)
    march, _, june = deal("2026-03-14"), deal("2026-01-02"), deal("2026-06-30")
    assert seen() == expected() == (dt.date(2026, 1, 2), dt.date(2026, 6, 30))
    service.update("deal", june["id"], {"close_date": "2025-12-31"}, ALICE)
    dates[june["id"]] = dt.date(2025, 12, 31)
    assert seen() == expected()
    service.delete("deal", march["id"], ALICE)
    del dates[march["id"]]
    assert seen() == expected() == (dt.date(2025, 12, 31), dt.date(2026, 1, 2))


def test_a_min_or_max_rollup_of_text_is_refused_by_validate(tmp_path):
    pack = shop_pack(tmp_path)
    text = CLOSE_DATES.replace("field: close_date", "field: note")
    (pack / "objects" / "customer_close_dates.yaml").write_text(text)
    report = validate_paths([pack])
    problems = [p for p in report.errors if p.code == "wrong_field_type"]
    assert [(p.path, p.expected) for p in problems] == [
        ("fields[0].field", "a number, date or datetime field"),
        ("fields[1].field", "a number, date or datetime field"),
    ]
    assert all(p.file.endswith("customer_close_dates.yaml") and p.line for p in problems)


#: A deal whose lines pass 1,000 needs a note saying why.
BIG_NEEDS_NOTE = """
extends: deal
validations:
  - name: big_deal_needs_note
    rule: {or: [{"<=": [{var: line_total}, 1000]}, {"!!": [{var: note}]}]}
    message: {en: A deal over 1000 needs a note, zh-CN: 超过1000的交易需填写备注}
    fields: [note]
"""


def test_a_parents_rules_wait_for_its_own_next_save(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "objects" / "deal_big_needs_note.yaml").write_text(BIG_NEEDS_NOTE)
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    service = RecordService(database, compiled, clock=clock)
    customer = service.create("customer", {"name": "Acme"}, ALICE)
    deal = service.create("deal", {"customer": customer["id"]}, ALICE)
    # the line lands: its writer cannot answer for the deal's note
    service.create("deal_line", {"deal": deal["id"], "product": "X", "price": 1500}, ALICE)
    assert service.get("deal", deal["id"], ALICE)["line_total"] == Decimal("1500")
    # the deal's own next save is held to it
    with pytest.raises(ValidationFailed) as refused:
        service.update("deal", deal["id"], {"amount": 1500}, ALICE)
    assert [(e.field, e.rule) for e in refused.value.errors] == [("note", "big_deal_needs_note")]
    service.update("deal", deal["id"], {"amount": 1500, "note": "fleet order"}, ALICE)
