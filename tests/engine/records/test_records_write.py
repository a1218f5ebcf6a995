"""The write path on SQLite and PostgreSQL: what a user relies on when saving a record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.records import NotFound, ValidationFailed, VersionConflict

from .conftest import ALICE, BOB


def test_create_normalises_and_fills_defaults(service, customer):
    created = service.create(
        "customer",
        {
            "name": "  Zhang San  ",
            "phone": "138 1234 5678",
            "email": "Zhang@Example.CN",
            "tags": "vip;online",
        },
        ALICE,
    )
    assert created["name"] == "Zhang San"
    assert created["phone"] == "+8613812345678"
    assert created["email"] == "zhang@example.cn"
    assert created["tier"] == "silver"
    assert created["since"] == dt.date(2026, 11, 23)  # 10:00 in Shanghai
    stored = service.get("customer", created["id"], ALICE)
    assert stored["tags"] == ["vip", "online"]
    assert stored["owner"] == ALICE.user_id and stored["version"] == 1
    assert stored["created_at"] == dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def test_every_failure_is_reported_together_in_the_users_language(service, customer):
    with pytest.raises(ValidationFailed) as failed:
        service.create(
            "deal",
            {
                "customer": customer["id"],
                "stage": "won",
                "discount": 80,
                "amount": "12.345",
                "colour": "red",
            },
            BOB,
        )
    by_field = {(e.field, e.rule): e.text("zh-CN") for e in failed.value.errors}
    assert by_field == {
        ("amount", "too_many_digits"): "金额最多18位数字、2位小数",
        ("colour", "unknown_field"): "交易没有字段colour",
        ("close_date", "won_needs_close_date"): "赢单须填写成交日期",
        ("close_date", "deal_stage.won"): "处于“赢单”阶段须填写成交日期",
        ("discount", "discount_range"): "折扣须在0到50%之间",
    }
    assert service.list("deal", ALICE).records == []


def test_required_inactive_choice_and_mass_assignment_are_refused(service):
    with pytest.raises(ValidationFailed) as failed:
        service.create("customer", {"tier": "bronze", "version": 7, "id": "x"}, ALICE)
    codes = {(e.field, e.code) for e in failed.value.errors}
    assert codes == {
        ("name", "required"),
        ("tier", "inactive_choice"),
        ("version", "read_only"),
        ("id", "read_only"),
    }


def test_lookup_must_point_at_a_live_record(service):
    with pytest.raises(ValidationFailed) as failed:
        service.create("deal", {"customer": "00000000-0000-4000-8000-000000000000"}, ALICE)
    assert [(e.field, e.code) for e in failed.value.errors] == [("customer", "bad_reference")]


def test_owner_must_be_an_active_user(service, shop_schema, customer):
    carol = "00000000-0000-4000-8000-0000000ca201"
    users = shop_schema.tables.system["users"]
    with service.db.engine.begin() as conn:
        conn.execute(
            sa.insert(users),
            [
                {
                    "id": BOB.user_id,
                    "username": "bob",
                    "display_name": "Bob",
                    "roles": [],
                    "disabled": False,
                    "created_at": dt.datetime.now(dt.UTC),
                },
                {
                    "id": carol,
                    "username": "carol",
                    "display_name": "Carol",
                    "roles": [],
                    "disabled": True,
                    "created_at": dt.datetime.now(dt.UTC),
                },
            ],
        )
    url = customer["id"]
    assert service.update("customer", url, {"owner": BOB.user_id}, ALICE)["owner"] == BOB.user_id
    for nobody in (carol, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(ValidationFailed) as failed:
            service.update("customer", url, {"owner": nobody}, BOB)
        [error] = failed.value.errors
        assert (error.field, error.code, error.text("zh-CN")) == (
            "owner",
            "bad_reference",
            "负责人：记录不存在",
        )


def test_formula_autonumber_and_update(service, customer, clock):
    deal = service.create(
        "deal", {"customer": customer["id"], "amount": 1000, "discount": 10}, ALICE
    )
    assert deal["number"] == "D-2026-0001"
    assert deal["net"] == Decimal("900.00")
    clock.advance(hours=1)
    updated = service.update("deal", deal["id"], {"discount": 20}, BOB, expected_version=1)
    assert updated["net"] == Decimal("800.00") and updated["version"] == 2
    assert updated["updated_by"] == BOB.user_id


def test_stale_version_conflicts_and_names_the_other_writers_fields(service, customer):
    deal = service.create("deal", {"customer": customer["id"], "amount": 100}, ALICE)
    service.update(
        "deal", deal["id"], {"amount": 200, "note": "call back"}, BOB, expected_version=1
    )
    with pytest.raises(VersionConflict) as conflict:
        service.update("deal", deal["id"], {"amount": 150}, ALICE, expected_version=1)
    assert conflict.value.current == 2
    assert conflict.value.changed_fields == ["amount", "net", "note"]
    assert service.get("deal", deal["id"], ALICE)["amount"] == Decimal("200.00")


def test_field_history_and_audit_are_written(service, customer, clock):
    deal = service.create("deal", {"customer": customer["id"], "amount": 100}, ALICE)
    clock.advance(minutes=5)
    service.update("deal", deal["id"], {"stage": "lost", "note": "too pricey"}, BOB)
    history = service.history("deal", deal["id"], ALICE)
    assert [(h["field"], h["old_value"], h["new_value"], h["changed_by"]) for h in history] == [
        ("stage", "open", "lost", BOB.user_id)
    ]  # note opts out of history; formulas are not tracked
    assert history[0]["changed_at"] == clock.now
    audit = service.effects.audit_log
    with service.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit.c.action, audit.c.actor, audit.c.detail)
            .where(audit.c.record_id == deal["id"])
            .order_by(audit.c.id)
        ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("create", ALICE.user_id),
        ("update", BOB.user_id),
    ]
    assert rows[1].detail["fields"] == ["note", "stage"]


def test_soft_delete_hides_keeps_and_cascades_to_details(service, customer):
    deal = service.create("deal", {"customer": customer["id"]}, ALICE)
    line = service.create("deal_line", {"deal": deal["id"], "product": "A", "price": 5}, ALICE)
    service.delete("deal", deal["id"], ALICE)
    for obj, rid in (("deal", deal["id"]), ("deal_line", line["id"])):
        with pytest.raises(NotFound):
            service.get(obj, rid, ALICE)
        table = service.compiled.tables[obj]
        with service.db.engine.connect() as conn:
            assert conn.execute(sa.select(table.c.archived).where(table.c.id == rid)).scalar()


@pytest.mark.parametrize("hard", [False, True])
def test_restrict_blocks_deleting_a_referenced_record(service, customer, hard):
    service.create("deal", {"customer": customer["id"]}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.delete("customer", customer["id"], BOB, hard=hard)
    assert refused.value.errors[0].text("zh-CN") == "仍有1条交易引用此记录"
    assert service.get("customer", customer["id"], ALICE)["name"] == "Acme"


def test_hard_delete_removes_the_row(service):
    gone = service.create("customer", {"name": "Temp"}, ALICE)
    service.delete("customer", gone["id"], ALICE, hard=True)
    table = service.compiled.tables["customer"]
    with service.db.engine.connect() as conn:
        assert conn.execute(sa.select(table.c.id).where(table.c.id == gone["id"])).first() is None


def test_rollups_follow_children_created_moved_updated_and_deleted(service, customer):
    a = service.create("deal", {"customer": customer["id"]}, ALICE)
    b = service.create("deal", {"customer": customer["id"]}, ALICE)
    one = service.create(
        "deal_line", {"deal": a["id"], "product": "X", "price": 600, "quantity": 2}, ALICE
    )
    service.create("deal_line", {"deal": a["id"], "product": "Y", "price": 50}, ALICE)

    def totals(deal):
        row = service.get("deal", deal["id"], ALICE)
        return row["line_count"], row["line_total"], row["big_lines"]

    assert totals(a) == (2, Decimal("1250"), 1)
    # A formula over a rollup follows the children without the deal being saved again.
    assert service.get("deal", a["id"], ALICE)["lines_with_tax"] == Decimal("1412.50")
    service.update("deal_line", one["id"], {"quantity": 1}, ALICE)
    assert totals(a) == (2, Decimal("650"), 0)
    service.update("deal_line", one["id"], {"deal": b["id"], "quantity": 3}, ALICE)
    assert totals(a) == (1, Decimal("50"), 0)
    assert totals(b) == (1, Decimal("1800"), 1)
    assert service.get("deal", b["id"], ALICE)["lines_with_tax"] == Decimal("2034.00")
    service.delete("deal_line", one["id"], ALICE)
    assert totals(b) == (0, Decimal("0"), 0)
    assert service.get("deal", b["id"], ALICE)["lines_with_tax"] == Decimal("0.00")


def test_bulk_create_all_or_none_and_partial(service, customer):
    rows = [{"name": "One"}, {"name": ""}, {"name": "Three", "email": "nope"}]
    results = service.bulk_create("customer", rows, ALICE)
    assert [r.ok for r in results] == [True, False, False]
    assert service.list("customer", ALICE, count=True).total == 1  # only the fixture's
    results = service.bulk_create("customer", rows, ALICE, all_or_none=False)
    assert [r.ok for r in results] == [True, False, False]
    assert [e.code for e in results[2].errors] == ["bad_email"]
    assert service.list("customer", ALICE, count=True).total == 2


def test_upsert_by_external_id(service, customer):
    results = service.upsert(
        "customer", [{"code": "C-1", "name": "Acme Ltd"}, {"code": "C-2", "name": "Beta"}], ALICE
    )
    assert [(r.ok, r.created) for r in results] == [(True, False), (True, True)]
    assert service.get("customer", customer["id"], ALICE)["name"] == "Acme Ltd"
    bad = service.upsert(
        "customer", [{"code": "C-3", "name": "Gamma"}, {"code": "C-1", "email": "x"}], ALICE
    )
    assert [r.ok for r in bad] == [True, False]
    assert service.list("customer", ALICE, filter={"==": [{"var": "code"}, "C-3"]}).records == []


def test_upsert_without_all_or_none_keeps_the_good_rows(service, customer):
    results = service.upsert(
        "customer",
        [{"code": "C-4", "name": "Delta"}, {"code": "C-1", "email": "x"}],
        ALICE,
        all_or_none=False,
    )
    assert [r.ok for r in results] == [True, False]
    assert [
        r["name"]
        for r in service.list("customer", ALICE, filter={"==": [{"var": "code"}, "C-4"]}).records
    ] == ["Delta"]
    assert service.get("customer", customer["id"], ALICE)["email"] is None


def test_bulk_update_by_id_reports_each_row(service, customer):
    other = service.create("customer", {"name": "Beta"}, ALICE)
    service.update("customer", other["id"], {"tier": "gold"}, BOB)  # now at version 2
    rows = [
        {"id": customer["id"], "version": 1, "tier": "gold"},
        {"id": other["id"], "version": 1, "name": "Beta Two"},  # stale
        {"id": "00000000-0000-4000-8000-000000000000", "name": "Ghost"},
        {"name": "No id", "version": "2"},
        {"id": customer["id"], "email": "not-an-email"},
    ]
    results = service.bulk_update("customer", rows, ALICE)
    assert [r.ok for r in results] == [True, False, False, False, False]
    assert [r.record for r in results] == [None] * 5  # all or none: nothing was kept
    stale = results[1].errors[0]
    assert (stale.field, stale.code, stale.value) == ("version", "version_conflict", 2)
    assert "tier" in stale.text("en") and "版本" in stale.text("zh-CN")
    assert (results[2].errors[0].field, results[2].errors[0].code) == ("id", "not_found")
    assert {(e.field, e.code) for e in results[3].errors} == {
        ("id", "required"),
        ("version", "not_an_integer"),
    }
    assert [e.code for e in results[4].errors] == ["bad_email"]
    assert service.get("customer", customer["id"], ALICE)["tier"] == "silver"

    results = service.bulk_update("customer", rows, ALICE, all_or_none=False)
    assert [r.ok for r in results] == [True, False, False, False, False]
    assert results[0].record["tier"] == "gold" and results[0].record["version"] == 2
    assert service.get("customer", customer["id"], ALICE)["tier"] == "gold"
    assert service.get("customer", other["id"], ALICE)["name"] == "Beta"


def test_bulk_update_records_history_and_audit_per_row(service, customer):
    deals = [
        service.create("deal", {"customer": customer["id"], "amount": n}, ALICE) for n in (10, 20)
    ]
    rows = [{"id": d["id"], "version": 1, "stage": "lost"} for d in deals]
    assert all(r.ok for r in service.bulk_update("deal", rows, BOB))
    audit = service.effects.audit_log
    for deal in deals:
        history = service.history("deal", deal["id"], ALICE)
        assert [(h["field"], h["old_value"], h["new_value"], h["changed_by"]) for h in history] == [
            ("stage", "open", "lost", BOB.user_id)
        ]
        with service.db.engine.connect() as conn:
            logged = conn.execute(
                sa.select(audit.c.action, audit.c.actor, audit.c.detail).where(
                    audit.c.record_id == deal["id"], audit.c.action == "update"
                )
            ).all()
        assert [(a, who, d["version"], d["fields"]) for a, who, d in logged] == [
            ("update", BOB.user_id, 2, ["stage"])
        ]


def test_rules_read_through_lookups_like_sql_does(service):
    gold = service.create("customer", {"name": "Gold", "tier": "gold"}, ALICE)
    silver = service.create("customer", {"name": "Silver"}, ALICE)
    with pytest.raises(ValidationFailed) as failed:
        service.create("deal", {"customer": gold["id"], "amount": 50}, BOB)
    assert [e.text("zh-CN") for e in failed.value.errors] == ["金牌客户的交易金额不低于100"]
    service.create("deal", {"customer": gold["id"], "amount": 150}, ALICE)
    service.create("deal", {"customer": silver["id"], "amount": 50}, ALICE)
    rule = {"==": [{"var": "customer.tier"}, "gold"]}
    found = service.list("deal", ALICE, filter=rule).records
    assert [r["amount"] for r in found] == [Decimal("150.00")]


def test_the_engine_may_set_the_owner_and_unit_like_any_field(shop_schema):
    """Stage entry and approval outcomes set fields through ``set_by_engine``; the system
    columns a user may assign (owner, org unit) are among what they may set."""
    from engine.records.prepare import Prepared, set_by_engine
    from engine.rules import EvalEnv

    cobj = shop_schema.object("deal")
    prepared = Prepared(row={"owner": ALICE.user_id})
    set_by_engine(cobj, prepared, {"owner": ALICE.user_id}, [("owner", BOB.user_id)], ALICE,
                  EvalEnv(), "on_reject")  # fmt: skip
    assert not prepared.errors
    assert prepared.changed == {"owner": (ALICE.user_id, BOB.user_id)}


def test_guards_and_approval_rules_read_through_lookups(service):
    """``customer.tier`` in a transition's guard and an approval step's auto-approve rule
    reads the linked customer, as formulas and validations do."""
    gold = service.create("customer", {"name": "Gold Co", "tier": "gold"}, ALICE)
    silver = service.create("customer", {"name": "Silver Co"}, ALICE)
    kept = service.create("deal", {"customer": gold["id"], "amount": 500, "discount": 25}, ALICE)
    given_up = service.create("deal", {"customer": silver["id"]}, ALICE)

    offered = {t["name"]: t for t in service.transitions("deal", kept["id"], ALICE)}
    assert offered["lose"]["guard_met"] is False
    with pytest.raises(ValidationFailed) as refused:
        service.transition("deal", kept["id"], "lose", ALICE)
    assert refused.value.errors[0].code == "guard_failed"
    assert service.transition("deal", given_up["id"], "lose", ALICE)["stage"] == "lost"

    approval = service.submit("deal", kept["id"], "deal_discount", ALICE)
    assert approval["status"] == "approved"  # a gold customer's discount passes by itself
