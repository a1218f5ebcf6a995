"""The base pack's quote discount approval, end to end through the record service.

A dealer salesperson submits a discounted quote (the workflow transition starts the
approval); the dealer's general manager (the manager of the owner's unit) decides the
first step; above 30 % the region's sales manager decides a second one. The quote is
locked meanwhile; the outcome moves it on (approved with a time stamp, or rejected).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.records import Actor, Forbidden, NotFound, RecordService, ValidationFailed

SYSTEM = Actor(user_id=None)


@pytest.fixture
def shop(database, clock, base_schema):
    base = base_schema
    base.tables.metadata.create_all(database.engine)
    service = RecordService(database, base, clock=clock)
    store = UserStore(database, base.tables, hasher=PasswordHasher(n=2**4))
    unit = {}
    for key, kind, parent in (("brand", "brand", None), ("east", "region", "brand"),
                              ("pudong", "dealer", "east")):  # fmt: skip
        values = {"name": key, "code": key.upper(), "kind": kind}
        if parent:
            values["parent"] = unit[parent]["id"]
        unit[key] = service.create("org_unit", values, SYSTEM)
    people = {}
    for name, role, where in (("seller", "dealer_staff", "pudong"),
                              ("gm", "dealer_manager", "pudong"),
                              ("region", "sales_manager", "east")):  # fmt: skip
        user = store.create_user(name, None, name, roles=[role], org_unit=unit[where]["id"])
        people[name] = store.actor_for(user)
    service.update("org_unit", unit["pudong"]["id"], {"manager": people["gm"].user_id}, SYSTEM)
    account = service.create("account", {"name": "Acme", "account_type": "company"}, SYSTEM)
    book = service.create(
        "price_book",
        {"name": "Retail", "code": "RT", "price_type": "retail", "currency": "CNY"},
        SYSTEM,
    )
    product = service.create(
        "product",
        {
            "name": "Sofa",
            "product_code": "S1",
            "product_type": "goods",
            "unit": "piece",
            "list_price": 1000,
        },
        SYSTEM,
    )
    return service, people, {"account": account, "book": book, "product": product}


def _quote(shop, discount):
    service, people, refs = shop
    quote = service.create(
        "quote",
        {
            "name": f"Quote at {discount}%",
            "account": refs["account"]["id"],
            "price_book": refs["book"]["id"],
            "valid_until": "2026-12-31",
            "discount": discount,
            "approval_comment": "a large order",
            "owner": people["seller"].user_id,
        },
        SYSTEM,
    )
    service.create(
        "quote_line",
        {"quote": quote["id"], "product": refs["product"]["id"], "quantity": 1,
         "unit_price": 1000},
        SYSTEM,
    )  # fmt: skip
    return quote


def test_a_line_manager_approves_and_the_quote_moves_on(shop):
    service, people, _ = shop
    quote = _quote(shop, 20)
    service.transition("quote", quote["id"], "submit_for_approval", people["seller"])
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "in_review"
    [task] = service.inbox(people["gm"])
    assert (task["record_id"], task["process"]) == (quote["id"], "quote_discount_approval")
    assert service.inbox(people["region"]) == []

    with pytest.raises(Forbidden):  # locked for the submitter while pending
        service.update("quote", quote["id"], {"notes": "sneaky"}, people["seller"])
    with pytest.raises(Forbidden):
        service.delete("quote", quote["id"], people["seller"])
    with pytest.raises(NotFound):  # not an approver: no such approval as far as they know
        service.approve(task["id"], people["region"])

    decided = service.approve(task["id"], people["gm"], "fine")
    assert decided["status"] == "approved"  # the > 30 % step did not apply
    done = service.get("quote", quote["id"], SYSTEM)
    assert done["status"] == "approved" and done["approved_at"] is not None
    service.update("quote", quote["id"], {"notes": "unlocked"}, people["seller"])
    assert service.inbox(people["gm"]) == []


def test_a_deep_discount_needs_the_region_and_a_rejection_sends_it_back(shop):
    service, people, _ = shop
    quote = _quote(shop, 40)
    service.transition("quote", quote["id"], "submit_for_approval", people["seller"])
    [first] = service.inbox(people["gm"])
    service.approve(first["id"], people["gm"])
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "in_review"
    [second] = service.inbox(people["region"])
    outcome = service.reject(second["id"], people["region"], "too deep")
    assert outcome["status"] == "rejected"
    assert [(t["step"], t["status"], t["comment"]) for t in outcome["tasks"]] == [
        (0, "approved", None),
        (1, "rejected", "too deep"),
    ]
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "rejected"
    log = service.effects.audit_log
    with service.db.engine.connect() as conn:
        actions = (
            conn.execute(
                sa.select(log.c.action).where(log.c.action.like("approval_%")).order_by(log.c.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["approval_submit", "approval_approve", "approval_reject"]


def test_the_first_approver_cannot_approve_the_quote_past_the_regions_step(shop):
    service, people, _ = shop
    quote = _quote(shop, 40)
    service.transition("quote", quote["id"], "submit_for_approval", people["seller"])
    gm = people["gm"]  # a dealer_manager, one of the roles on the workflow's approve
    for attempt in (
        lambda: service.update("quote", quote["id"], {"status": "approved"}, gm),
        lambda: service.transition("quote", quote["id"], "approve", gm),
        lambda: service.transition("quote", quote["id"], "reject", gm),
    ):
        with pytest.raises(ValidationFailed) as refused:
            attempt()
        assert [(e.field, e.code) for e in refused.value.errors] == [
            ("status", "approval_outcome")
        ]
    stored = service.get("quote", quote["id"], SYSTEM)
    assert (stored["status"], stored["approved_at"]) == ("in_review", None)
    [first] = service.inbox(gm)
    service.approve(first["id"], gm)
    [second] = service.inbox(people["region"])
    service.approve(second["id"], people["region"])
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "approved"


def test_the_submitter_may_recall_and_nobody_else(shop):
    service, people, _ = shop
    quote = _quote(shop, 20)
    service.transition("quote", quote["id"], "submit_for_approval", people["seller"])
    [task] = service.inbox(people["gm"])
    with pytest.raises(Forbidden):
        service.recall(task["id"], people["gm"])
    recalled = service.recall(task["id"], people["seller"])
    assert recalled["status"] == "recalled"
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "draft"
    assert service.inbox(people["gm"]) == []


def test_entry_criteria_are_checked_on_submit(shop):
    service, people, _ = shop
    quote = _quote(shop, 5)
    with pytest.raises(ValidationFailed) as refused:
        service.submit("quote", quote["id"], "quote_discount_approval", people["seller"])
    assert refused.value.errors[0].code == "approval_not_applicable"


def test_a_step_left_waiting_escalates_to_the_declared_approvers(shop, clock):
    service, people, _ = shop
    quote = _quote(shop, 20)
    service.transition("quote", quote["id"], "submit_for_approval", people["seller"])
    clock.advance(hours=23)
    assert service.escalate_due() == 0
    assert service.inbox(people["region"]) == []
    clock.advance(hours=2)
    assert service.escalate_due() == 1
    assert service.escalate_due() == 0  # once is enough
    [task] = service.inbox(people["region"])  # the sales manager above joins the step
    assert service.approve(task["id"], people["region"], "covering")["status"] == "approved"
    assert service.get("quote", quote["id"], SYSTEM)["status"] == "approved"
