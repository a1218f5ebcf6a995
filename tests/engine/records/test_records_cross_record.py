"""Automations that change other records than the one that fired them: through a lookup
(one hop or a path), the records pointing back at it, a record found or created by a key,
a transition on another record. Each write goes through the write steps as the
automation's actor, and names the automation as its cause."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.compiled import compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.validate import validate_paths

from .conftest import ALICE, shop_pack

SYSTEM = Actor(user_id=None)
AUTOMATIONS = {
    # a line added to a deal notes it on the deal, and on the deal's customer
    "line_marks_deal": """
name: line_marks_deal
object: deal_line
trigger: {kind: record, "on": [create]}
actions:
  - type: set_fields
    target: deal
    values: {note: {cat: ["last line: ", {var: product}]}}
  - type: set_fields
    target: deal.customer
    values: {profile: {cat: ["buys ", {var: product}]}}
run: in_transaction
""",
    # a line named LOSE gives its deal up (a transition on another record, with its guard)
    "lose_line": """
name: lose_line
object: deal_line
trigger: {kind: record, "on": [create], condition: {"==": [{var: product}, LOSE]}}
actions:
  - {type: transition, workflow: deal_stage, transition: lose, target: deal}
run: in_transaction
""",
    # a customer turning gold gets 10% on its open deals, except one noted with its name
    "gold_discount": """
name: gold_discount
object: customer
trigger:
  kind: record
  "on": [update]
  condition: {"==": [{var: tier}, gold]}
  only_when_becomes_true: true
actions:
  - type: update_related
    object: deal
    where:
      and:
        - {"==": [{var: stage}, open]}
        - {"!=": [{var: note}, {var: "$trigger.name"}]}
    values: {discount: 10}
run: in_transaction
""",
    # a deal whose note names a customer code moves to that customer, made if need be
    "deal_moves_to_code": """
name: deal_moves_to_code
object: deal
trigger:
  kind: record
  "on": [update]
  condition: {"and": [{changed: note}, {starts_with: [{var: note}, "to:"]}]}
actions:
  - type: find_or_create
    object: customer
    match: {code: {substr: [{var: note}, 3]}}
    values: {name: {cat: ["Customer ", {substr: [{var: note}, 3]}]}}
    link: customer
run: in_transaction
""",
}


@pytest.fixture
def shop(database, clock, tmp_path) -> RecordService:
    pack = shop_pack(tmp_path)
    for name, text in AUTOMATIONS.items():
        (pack / "automations" / f"{name}.yaml").write_text(text)
    report = validate_paths([pack])
    assert not report.errors, report.errors
    compiled = compile_schema(report.schema)
    compiled.tables.metadata.create_all(database.engine)
    return RecordService(database, compiled, clock=clock)


def _line(shop, deal, product, price=10):
    values = {"deal": deal["id"], "product": product, "price": price}
    return shop.create("deal_line", values, ALICE)


def test_an_action_changes_the_record_a_lookup_or_a_path_reaches(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    deal = shop.create("deal", {"customer": customer["id"]}, ALICE)
    _line(shop, deal, "Tyres")
    assert shop.get("deal", deal["id"], ALICE)["note"] == "last line: Tyres"
    assert shop.get("customer", customer["id"], ALICE)["profile"] == "buys Tyres"
    history = shop.history("customer", customer["id"], ALICE)
    assert [h["cause"] for h in history if h["field"] == "profile"] == []  # not tracked
    causes = [h["cause"] for h in shop.history("deal", deal["id"], ALICE)
              if h["field"] == "line_count"]  # fmt: skip
    assert causes == ["rollup deal ← deal_line"]


def test_a_transition_on_another_record_keeps_its_guard(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    deal = shop.create("deal", {"customer": customer["id"]}, ALICE)
    _line(shop, deal, "LOSE")
    assert shop.get("deal", deal["id"], ALICE)["stage"] == "lost"
    [move] = shop.moves("deal", deal["id"], ALICE)
    assert (move["transition"], move["comment"]) == ("lose", "automation lose_line")

    gold = shop.create("customer", {"name": "Gold", "tier": "gold"}, ALICE)
    kept = shop.create("deal", {"customer": gold["id"], "amount": 500}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        _line(shop, kept, "LOSE")  # a gold customer's deal is never given up
    assert [e.code for e in refused.value.errors] == ["guard_failed"]
    assert shop.get("deal", kept["id"], ALICE)["line_count"] == 0  # the line went too


def test_update_related_changes_the_matching_records_pointing_back(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    other = shop.create("customer", {"name": "Other"}, ALICE)
    open_deal = shop.create("deal", {"customer": customer["id"], "amount": 200}, ALICE)
    named = shop.create("deal", {"customer": customer["id"], "note": "Acme"}, ALICE)
    won = shop.create("deal", {"customer": customer["id"], "stage": "won",
                               "close_date": "2026-11-01"}, ALICE)  # fmt: skip
    elsewhere = shop.create("deal", {"customer": other["id"]}, ALICE)
    shop.update("customer", customer["id"], {"tier": "gold"}, ALICE)

    def discount(deal):
        return shop.get("deal", deal["id"], ALICE)["discount"]

    assert discount(open_deal) == Decimal("10")
    assert discount(open_deal) == Decimal("10")
    assert [discount(named), discount(won), discount(elsewhere)] == [None, None, None]
    [change] = [h for h in shop.history("deal", open_deal["id"], ALICE)
                if h["field"] == "discount"]  # fmt: skip
    assert change["cause"] == "automation gold_discount"


def test_find_or_create_links_the_record_it_finds_or_makes(shop):
    acme = shop.create("customer", {"name": "Acme", "code": "A1"}, ALICE)
    start = shop.create("customer", {"name": "Start"}, ALICE)
    deal = shop.create("deal", {"customer": start["id"]}, ALICE)
    shop.update("deal", deal["id"], {"note": "to:A1"}, ALICE)
    assert shop.get("deal", deal["id"], ALICE)["customer"] == acme["id"]

    shop.update("deal", deal["id"], {"note": "to:Z9"}, ALICE)
    made = shop.list("customer", SYSTEM, filter={"==": [{"var": "code"}, "Z9"]}).records
    assert [(c["name"], c["code"]) for c in made] == [("Customer Z9", "Z9")]
    assert shop.get("deal", deal["id"], ALICE)["customer"] == made[0]["id"]

    again = shop.create("deal", {"customer": start["id"]}, ALICE)
    shop.update("deal", again["id"], {"note": "to:Z9"}, ALICE)  # found, not made twice
    assert shop.list("customer", SYSTEM, count=True).total == 3
    assert shop.get("deal", again["id"], ALICE)["customer"] == made[0]["id"]


def test_validate_names_a_target_that_is_no_lookup(tmp_path):
    pack = shop_pack(tmp_path)
    text = AUTOMATIONS["line_marks_deal"].replace("target: deal.customer", "target: deal.note")
    (pack / "automations" / "line_marks_deal.yaml").write_text(text)
    report = validate_paths([pack])
    [problem] = [p for p in report.errors if p.code == "bad_target"]
    assert problem.path == "actions[1].target"
    assert problem.file.endswith("line_marks_deal.yaml") and problem.line
    assert "deal.note is not a lookup" in problem.message
