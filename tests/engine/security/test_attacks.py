"""What a hostile user tries, refused with nothing leaked or changed.

The clerk may create, read and update their own customers and deals; ``tier`` is
read-only for them and ``code`` hidden; gold customers are readable by every clerk (a
grant rule) and lost deals by none (a restrict rule).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.records import BadQuery, Forbidden, NotFound, ValidationFailed

from .conftest import CLERK, OTHER_CLERK, REP, SYSTEM


@pytest.fixture
def theirs(guarded):
    """Records of the rep, of another clerk, and the clerk's own."""
    rep_customer = guarded.create("customer", {"name": "Rep Co", "code": "R-1"}, REP)
    other = guarded.create("customer", {"name": "Other Co"}, OTHER_CLERK)
    mine = guarded.create("customer", {"name": "Mine Co", "phone": "13812345678"}, CLERK)
    return {"rep": rep_customer, "other": other, "mine": mine}


def _count(service, table_name: str) -> int:
    table = service.compiled.tables[table_name]
    with service.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_guessed_ids_of_other_records_are_not_found(guarded, theirs):
    for record in (theirs["rep"], theirs["other"]):
        with pytest.raises(NotFound):
            guarded.get("customer", record["id"], CLERK)
        with pytest.raises(NotFound):
            guarded.update("customer", record["id"], {"name": "Taken"}, CLERK)
        with pytest.raises(NotFound):
            guarded.delete("customer", record["id"], CLERK)
        with pytest.raises(NotFound):
            guarded.history("customer", record["id"], CLERK)
    assert guarded.get("customer", theirs["rep"]["id"], REP)["name"] == "Rep Co"


def test_a_visible_record_without_the_right_to_change_it_is_forbidden(guarded, theirs):
    with pytest.raises(Forbidden):
        guarded.delete("customer", theirs["mine"]["id"], CLERK)  # clerks delete nothing
    assert guarded.get("customer", theirs["mine"]["id"], CLERK)["name"] == "Mine Co"


@pytest.mark.parametrize(
    "options",
    [
        {"filter": {"==": [{"var": "code"}, "R-1"]}},
        {"filter": {"in": ["R", {"var": "code"}]}},
        {"sort": ["-code"]},
        {"fields": ["name", "code"]},
    ],
)
def test_a_hidden_field_cannot_be_filtered_sorted_or_chosen(guarded, theirs, options):
    with pytest.raises(BadQuery):
        guarded.list("customer", CLERK, **options)


def test_hidden_fields_are_absent_and_read_only_fields_refused(guarded, theirs):
    record = guarded.get("customer", theirs["mine"]["id"], CLERK)
    assert "code" not in record and record["tier"] == "silver"
    with pytest.raises(ValidationFailed) as refused:
        guarded.update("customer", theirs["mine"]["id"], {"tier": "gold", "code": "X"}, CLERK)
    by_field = {e.field: (e.code, e.text("zh-CN")) for e in refused.value.errors}
    assert by_field == {
        "tier": ("read_only", "等级不可修改"),
        "code": ("unknown_field", "客户没有字段code"),
    }
    assert guarded.get("customer", theirs["mine"]["id"], REP)["tier"] == "silver"


def test_a_lookup_to_a_record_one_cannot_read_is_no_such_record(guarded, theirs):
    with pytest.raises(ValidationFailed) as refused:
        guarded.create("deal", {"customer": theirs["other"]["id"], "amount": 5}, CLERK)
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (
        "customer",
        "bad_reference",
    )


def test_expanding_a_lookup_into_a_forbidden_record_leaves_the_id(guarded, theirs):
    moved = guarded.create("deal", {"customer": theirs["mine"]["id"], "amount": 5}, CLERK)
    guarded.create("deal", {"customer": theirs["mine"]["id"], "amount": 6}, CLERK)
    guarded.update("deal", moved["id"], {"customer": theirs["rep"]["id"]}, REP)
    deals = guarded.list("deal", CLERK, expand=["customer"], sort=["amount"]).records
    assert deals[0]["customer"] == theirs["rep"]["id"]  # not expanded: not the clerk's
    assert deals[1]["customer"]["name"] == "Mine Co"
    assert "code" not in deals[1]["customer"]


def test_bulk_update_with_one_forbidden_id_writes_nothing(guarded, theirs):
    rows = [
        {"id": theirs["mine"]["id"], "name": "Mine Renamed"},
        {"id": theirs["other"]["id"], "name": "Hijacked"},
    ]
    results = guarded.bulk_update("customer", rows, CLERK)
    assert [r.ok for r in results] == [True, False]
    assert results[1].errors[0].code == "not_found"
    assert guarded.get("customer", theirs["mine"]["id"], CLERK)["name"] == "Mine Co"
    assert guarded.get("customer", theirs["other"]["id"], REP)["name"] == "Other Co"


def test_writes_cannot_place_records_outside_the_writers_scope(guarded, theirs):
    before = _count(guarded, "customer")
    results = guarded.bulk_create(
        "customer",
        [{"name": "Escapee", "owner": OTHER_CLERK.user_id}, {"name": "Fine"}],
        CLERK,
    )
    assert [r.ok for r in results] == [False, True]
    assert (results[0].errors[0].field, results[0].errors[0].code) == ("owner", "out_of_scope")
    assert _count(guarded, "customer") == before
    with pytest.raises(ValidationFailed) as refused:
        guarded.update("customer", theirs["mine"]["id"], {"owner": REP.user_id}, CLERK)
    assert refused.value.errors[0].code == "out_of_scope"
    assert guarded.get("customer", theirs["mine"]["id"], CLERK)["owner"] == CLERK.user_id


def test_system_columns_cannot_be_mass_assigned(guarded, theirs):
    before = _count(guarded, "customer")
    with pytest.raises(ValidationFailed) as refused:
        guarded.create(
            "customer",
            {"name": "Forged", "id": theirs["rep"]["id"], "version": 9, "created_by": REP.user_id,
             "archived": True},
            CLERK,
        )  # fmt: skip
    assert {e.field for e in refused.value.errors} == {"id", "version", "created_by", "archived"}
    assert _count(guarded, "customer") == before


def test_user_in_a_filter_is_always_the_caller_and_scope_still_applies(guarded, theirs):
    mine_only = {"==": [{"var": "owner"}, {"var": "$user.id"}]}
    assert [r["name"] for r in guarded.list("customer", CLERK, filter=mine_only).records] == [
        "Mine Co"
    ]
    someone_else = {"==": [{"var": "owner"}, OTHER_CLERK.user_id]}
    assert guarded.list("customer", CLERK, filter=someone_else).records == []


def test_grant_rules_widen_and_restrict_rules_narrow(guarded, theirs):
    gold = guarded.create("customer", {"name": "Gold Co", "tier": "gold"}, REP)
    visible = {r["name"] for r in guarded.list("customer", CLERK).records}
    assert visible == {"Mine Co", "Gold Co"}
    assert guarded.get("customer", gold["id"], CLERK)["name"] == "Gold Co"
    with pytest.raises(Forbidden):  # the grant is for reading only
        guarded.update("customer", gold["id"], {"name": "Mine now"}, CLERK)
    deal = guarded.create("deal", {"customer": theirs["mine"]["id"], "amount": 1}, CLERK)
    guarded.update("deal", deal["id"], {"stage": "lost"}, REP)
    assert guarded.list("deal", CLERK).records == []
    with pytest.raises(NotFound):
        guarded.get("deal", deal["id"], CLERK)


def test_the_system_actor_is_unrestricted(guarded, theirs):
    assert len(guarded.list("customer", SYSTEM).records) == 3
