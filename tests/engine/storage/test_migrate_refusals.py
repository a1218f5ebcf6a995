"""Type changes convert every value or change nothing; data in the way is listed, not lost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.storage.migrate import (
    MigrationRefused,
    apply_migration,
    plan_migration,
    sync,
)

LEAD = """
- {name: company, type: text}
- {name: score, type: text, max_length: 20}
- {name: amount, type: decimal, precision: 18, scale: 4}
- {name: status, type: picklist, values: [new, working, won, lost]}
"""


@pytest.fixture
def v1(database, make_schema):
    schema = make_schema({"lead": LEAD})
    sync(database, schema, "t")
    return schema


def _refused(database, schema, code: str):
    """The plan's one refusal, after checking that applying it changes nothing."""
    plan = plan_migration(database, schema)
    assert [r.code for r in plan.refusals] == [code], plan.refusals
    with pytest.raises(MigrationRefused) as caught:
        apply_migration(database, schema, plan, "t")
    assert caught.value.refusals == plan.refusals
    return plan.refusals[0]


def test_text_to_integer_converts_when_every_value_does(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"score": "12"}, {"score": " 7 "}, {"company": "no score"}])
    v2 = make_schema(
        {"lead": LEAD.replace("score, type: text, max_length: 20", "score, type: integer")}
    )
    plan = plan_migration(database, v2)
    assert plan.describe() == ["change lead.score from text(20) to integer (2 rows convert)"]
    sync(database, v2, "t")
    assert live.fetch("lead", "score") == {ids[0]: (12,), ids[1]: (7,), ids[2]: (None,)}


def test_text_to_integer_refused_with_offending_rows(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"score": "12"}, {"score": "abc"}, {"score": "1.5"}])
    before = live.fetch("lead", "score")
    v2 = make_schema(
        {"lead": LEAD.replace("score, type: text, max_length: 20", "score, type: integer")}
    )
    refusal = _refused(database, v2, "unconvertible_values")
    assert refusal.location == "lead.score" and refusal.total == 2
    assert {(r.id, r.value) for r in refusal.rows} == {(ids[1], "abc"), (ids[2], "1.5")}
    assert "text(20) to integer" in refusal.message
    assert live.fetch("lead", "score") == before
    assert live.columns("lead")["score"]["type"].python_type is str


def test_decimal_scale_shrink_refused_when_digits_would_go(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"amount": Decimal("1.5")}, {"amount": Decimal("2.125")}])
    v2 = make_schema({"lead": LEAD.replace("scale: 4", "scale: 2")})
    refusal = _refused(database, v2, "unconvertible_values")
    assert [r.id for r in refusal.rows] == [ids[1]]
    assert "more than 2 decimal place" in refusal.message
    assert Decimal(str(live.fetch("lead", "amount")[ids[1]][0])) == Decimal("2.125")


def test_decimal_scale_shrink_converts_when_exact(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"amount": Decimal("1.5")}, {"amount": Decimal("2.25")}])
    v2 = make_schema({"lead": LEAD.replace("scale: 4", "scale: 2")})
    assert plan_migration(database, v2).describe() == [
        "change lead.amount from decimal 18,4 to decimal 18,2 (2 rows convert)"
    ]
    sync(database, v2, "t")
    values = {k: Decimal(str(v[0])) for k, v in live.fetch("lead", "amount").items()}
    assert values == {ids[0]: Decimal("1.5"), ids[1]: Decimal("2.25")}


def test_shorter_text_refused_when_values_are_longer(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"score": "short"}, {"score": "much too long"}])
    v2 = make_schema({"lead": LEAD.replace("max_length: 20", "max_length: 8")})
    refusal = _refused(database, v2, "unconvertible_values")
    assert [(r.id, r.value) for r in refusal.rows] == [(ids[1], "much too long")]
    assert "longer than 8" in refusal.message


def test_unique_with_duplicates_refused_with_the_duplicates(database, live, make_schema, v1):
    ids = live.insert(
        v1, "lead", [{"company": "Acme"}, {"company": "Beta"}, {"company": "Acme"}, {}, {}]
    )
    v2 = make_schema(
        {
            "lead": LEAD.replace(
                "{name: company, type: text}", "{name: company, type: text, unique: true}"
            )
        }
    )
    refusal = _refused(database, v2, "duplicate_values")
    assert sorted(r.id for r in refusal.rows) == sorted([ids[0], ids[2]])  # nulls never clash
    assert {r.value for r in refusal.rows} == {"Acme"}
    live.insert(v1, "lead", [{"company": "Acme"}])  # still allowed: no constraint was added
    live_ids = live.fetch("lead", "company")
    # once the duplicates are fixed, the constraint goes in
    with database.engine.begin() as conn:
        table = f'"{database.schema}".lead' if database.schema else "lead"
        conn.exec_driver_sql(f"UPDATE {table} SET company = NULL WHERE company = 'Acme'")
    assert plan_migration(database, v2).describe() == [
        "add unique constraint uq_lead_company on lead (company)"
    ]
    sync(database, v2, "t")
    assert set(live.fetch("lead", "company")) == set(live_ids)


def test_removed_picklist_value_in_use_refused(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"status": "new"}, {"status": "lost"}, {"status": "won"}])
    v2 = make_schema({"lead": LEAD.replace(", lost]", "]")})
    refusal = _refused(database, v2, "picklist_value_in_use")
    assert [(r.id, r.value) for r in refusal.rows] == [(ids[1], "lost")]
    assert "active: false" in (refusal.suggestion or "")
    retired = make_schema({"lead": LEAD.replace(", lost]", ", {value: lost, active: false}]")})
    sync(database, retired, "t")  # retiring keeps the value, so nothing is refused
    assert live.fetch("lead", "status")[ids[1]] == ("lost",)


def test_new_required_field_refused_on_existing_rows(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"company": "Acme"}])
    v2 = make_schema(
        {
            "account": "- {name: title, type: text}",
            "lead": LEAD + "- {name: account, type: master_detail, to: account}\n",
        }
    )
    refusal = _refused(database, v2, "null_values")
    assert refusal.location == "lead.account" and [r.id for r in refusal.rows] == ids
    assert "account" not in live.tables()  # refused means nothing at all was created


def test_required_on_existing_nulls_refused(database, live, make_schema):
    with_lookup = "- {name: title, type: text}\n- {name: parent, type: lookup, to: account}"
    v1 = make_schema({"account": with_lookup})
    sync(database, v1, "t")
    (top,) = live.insert(v1, "account", [{"title": "top"}])
    orphan, child = live.insert(v1, "account", [{"title": "orphan"}, {"title": "c", "parent": top}])
    v2 = make_schema({"account": with_lookup.replace("type: lookup", "type: master_detail")})
    refusal = _refused(database, v2, "null_values")
    assert sorted(r.id for r in refusal.rows) == sorted([top, orphan])
    assert set(live.fetch("account", "title")) == {top, orphan, child}


def test_data_written_after_the_plan_is_checked_again(database, live, make_schema, v1):
    live.insert(v1, "lead", [{"score": "12"}])
    v2 = make_schema(
        {"lead": LEAD.replace("score, type: text, max_length: 20", "score, type: integer")}
    )
    plan = plan_migration(database, v2)
    assert plan.ok
    (late,) = live.insert(v1, "lead", [{"score": "n/a"}])
    with pytest.raises(MigrationRefused) as caught:
        apply_migration(database, v2, plan, "t")
    assert [(r.id, r.value) for r in caught.value.refusals[0].rows] == [(late, "n/a")]
