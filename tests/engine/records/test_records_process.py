"""Writes respect the process: a create starts where the workflow lets records start, an
approval's outcome is the approval's alone, and read-only fields are the engine's on a
create as on an update (shop pack and auto pack, SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import ALICE, BOB, Clock

PACKS = Path(__file__).resolve().parents[3] / "industry_packs"
SYSTEM = Actor(user_id=None, name="test-setup")


def codes(failed: pytest.ExceptionInfo[ValidationFailed]) -> set[tuple[str | None, str]]:
    return {(e.field, e.code) for e in failed.value.errors}


# -- where a new record may start (shop pack: deals start open, or won when recorded) -------


def test_a_create_in_a_state_records_do_not_start_in_is_refused_naming_it(service, customer):
    with pytest.raises(ValidationFailed) as failed:
        service.create("deal", {"customer": customer["id"], "stage": "lost"}, BOB)
    [error] = failed.value.errors
    assert (error.field, error.code) == ("stage", "not_initial_state")
    assert error.text("en") == "a new record cannot start as Lost: Stage starts as Open, Won"
    assert error.text("zh-CN") == "新记录不能直接为“输单”：阶段只能从进行中、赢单开始"
    assert service.list("deal", ALICE).records == []


def test_a_declared_initial_state_needs_the_fields_that_state_requires(service, customer):
    with pytest.raises(ValidationFailed) as failed:
        service.create("deal", {"customer": customer["id"], "stage": "won"}, ALICE)
    assert ("close_date", "required_for_state") in codes(failed)
    won = service.create(
        "deal", {"customer": customer["id"], "stage": "won", "close_date": "2026-11-20"}, ALICE
    )
    assert won["stage"] == "won"
    assert service.moves("deal", won["id"], ALICE) == []  # a creation, not a move
    assert service.create("deal", {"customer": customer["id"]}, ALICE)["stage"] == "open"


def test_bulk_create_lands_the_good_rows_and_refuses_the_one_in_a_reserved_state(
    service, customer
):
    rows = [{"customer": customer["id"], "amount": 10}, {"customer": customer["id"],
            "amount": 20, "stage": "lost"}]  # fmt: skip
    first, second = service.bulk_create("deal", rows, ALICE, all_or_none=False)
    assert first.ok and not second.ok
    assert [(e.field, e.code) for e in second.errors] == [("stage", "not_initial_state")]
    assert [r["amount"] for r in service.list("deal", ALICE).records] == [10]


def test_a_system_actor_is_held_to_the_initial_states_too(service, customer):
    with pytest.raises(ValidationFailed) as failed:
        service.create("deal", {"customer": customer["id"], "stage": "lost"}, SYSTEM)
    assert codes(failed) == {("stage", "not_initial_state")}


# -- the auto pack, as its own roles -------------------------------------------------------


@pytest.fixture(scope="module")
def auto() -> CompiledSchema:
    report = validate_paths([PACKS / "base", PACKS / "auto"])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def dealer(database, auto):
    """A dealer under a region, its staff, a trim at 200,000 and a customer: the service
    and everything a vehicle order needs. The dealer's GM approves above 5 %, the region
    above 8 %."""
    auto.tables.metadata.create_all(database.engine)
    service = RecordService(database, auto, clock=Clock(), authorizer=RoleAuthorizer(auto))
    brand = service.create("org_unit", {"name": "星辰", "code": "BRAND", "kind": "brand"}, SYSTEM)
    region = service.create("org_unit", {"name": "华东", "code": "EAST", "kind": "region",
                            "parent": brand["id"]}, SYSTEM)  # fmt: skip
    unit = service.create(
        "org_unit",
        {"name": "浦东店", "code": "PD", "kind": "dealer", "parent": region["id"],
         "discount_approval_threshold": 5, "regional_approval_threshold": 8},
        SYSTEM,
    )  # fmt: skip
    store = UserStore(database, auto.tables, hasher=PasswordHasher(n=2**4))
    people = {}
    for name, role, where in [("seller", "sales_consultant", unit), ("sm", "showroom_manager",
                              unit), ("gm", "dealer_general_manager", unit),
                              ("rm", "oem_regional_manager", region),
                              ("admin", "administrator", brand)]:  # fmt: skip
        user = store.create_user(name, None, name, roles=[role], org_unit=where["id"])
        people[name] = store.actor_for(user)
    model = service.create("vehicle_model", {"name": "X7", "code": "X7", "body_type": "suv",
                           "powertrain": "phev"}, SYSTEM)  # fmt: skip
    trim = service.create("vehicle_configuration", {"name": "X7 旗舰版", "code": "X7-AWD",
                          "model": model["id"], "msrp": 200000}, SYSTEM)  # fmt: skip
    account = service.create("account", {"name": "王先生", "account_type": "person",
                              "phone": "13812345678"}, people["seller"])  # fmt: skip
    return service, people, {"model": model, "trim": trim, "account": account, "unit": unit}


def order_values(things: dict, discount: int) -> dict:
    return {"account": things["account"]["id"], "configuration": things["trim"]["id"],
            "discount": discount, "approval_comment": "matching a competitor"}  # fmt: skip


def test_a_vehicle_order_cannot_be_created_confirmed_with_an_approved_discount(dealer):
    service, people, things = dealer
    forged = order_values(things, 60000) | {"status": "confirmed", "approved_discount": 60000}
    for who in ("seller", "gm", "admin"):
        with pytest.raises(ValidationFailed) as failed:
            service.create("vehicle_order", forged, people[who])
        assert {("status", "not_initial_state"), ("approved_discount", "read_only")} <= codes(
            failed
        ), who
    assert service.list("vehicle_order", SYSTEM).records == []
    # an empty read-only field is as if not given: the order starts as a draft
    draft = service.create(
        "vehicle_order", order_values(things, 6000) | {"approved_discount": None}, people["seller"]
    )
    assert (draft["status"], draft["approved_discount"]) == ("draft", None)


def test_a_lead_cannot_be_created_lost_without_the_loss_approval(dealer):
    service, people, _ = dealer
    for who in ("seller", "sm"):
        with pytest.raises(ValidationFailed) as failed:
            service.create("lead", {"name": "赵先生", "phone": "13900002222", "lead_stage": "lost",
                           "lost_reason": "no_budget"}, people[who])  # fmt: skip
        assert ("lead_stage", "not_initial_state") in codes(failed), who
    with pytest.raises(ValidationFailed) as failed:
        service.create("lead", {"name": "赵先生", "phone": "13900002222",
                       "lost_at": "2026-11-01T00:00:00Z"}, people["seller"])  # fmt: skip
    assert codes(failed) == {("lost_at", "read_only")}
    assert service.list("lead", SYSTEM).records == []


def test_a_delivery_cannot_be_created_handed_over_without_the_pdi(dealer):
    service, people, things = dealer
    seller = people["seller"]
    order = service.create("vehicle_order", order_values(things, 6000), seller)
    car = service.create("vehicle", {"vin": "LSVAU218XN2183294", "model": things["model"]["id"],
                         "dealer": things["unit"]["id"]}, SYSTEM)  # fmt: skip
    values = {"order": order["id"], "vehicle": car["id"], "account": things["account"]["id"],
              "status": "completed", "handover_date": "2026-11-23"}  # fmt: skip
    with pytest.raises(ValidationFailed) as failed:
        service.create("delivery", values, seller)
    assert ("status", "not_initial_state") in codes(failed)
    assert service.list("delivery", SYSTEM).records == []


def test_a_registered_customer_car_may_start_delivered_with_its_owner_and_date(dealer):
    service, _, things = dealer
    car = {"vin": "LSVAU218XN2183294", "model": things["model"]["id"], "status": "delivered",
           "dealer": things["unit"]["id"]}  # fmt: skip
    with pytest.raises(ValidationFailed) as failed:
        service.create("vehicle", car, SYSTEM)
    assert {("owner_account", "required_for_state"), ("delivery_date", "required_for_state")
            } <= codes(failed)  # fmt: skip
    done = car | {"owner_account": things["account"]["id"], "delivery_date": "2025-06-01"}
    assert service.create("vehicle", done, SYSTEM)["status"] == "delivered"
    with pytest.raises(ValidationFailed) as failed:  # but never allocated or ordered
        service.create("vehicle", car | {"vin": "1HGCM82633A004352", "status": "ordered"}, SYSTEM)
    assert ("status", "not_initial_state") in codes(failed)


def test_an_upsert_that_creates_cannot_name_a_reserved_state(dealer):
    service, _, things = dealer
    row = {"vin": "JH4KA7561PC008269", "model": things["model"]["id"], "status": "ordered",
           "dealer": things["unit"]["id"]}  # fmt: skip
    [result] = service.upsert("vehicle", [row], SYSTEM, all_or_none=False)
    assert not result.ok
    assert [(e.field, e.code) for e in result.errors] == [("status", "not_initial_state")]
    assert service.list("vehicle", SYSTEM).records == []


# -- an approval's outcome is the approval's ------------------------------------------------


def pending_order(dealer) -> dict:
    """A 12 % discount submitted for approval by the consultant (GM, then the region)."""
    service, people, things = dealer
    order = service.create("vehicle_order", order_values(things, 24000), people["seller"])
    return service.transition("vehicle_order", order["id"], "submit_for_approval",
                              people["seller"])  # fmt: skip


def test_no_user_takes_the_transition_an_approval_outcome_names(dealer):
    service, people, _ = dealer
    order = pending_order(dealer)
    assert order["status"] == "pending_approval"
    # the GM decides the first step, so the locked record is open to them; confirming it
    # themselves would skip the region's step
    gm = people["gm"]
    with pytest.raises(ValidationFailed) as failed:
        service.update("vehicle_order", order["id"], {"status": "confirmed"}, gm)
    assert ("status", "approval_outcome") in codes(failed)
    with pytest.raises(ValidationFailed) as failed:
        service.transition("vehicle_order", order["id"], "approve", gm)
    assert ("status", "approval_outcome") in codes(failed)
    [error] = [e for e in failed.value.errors if e.field == "status"]
    assert error.text("en") == (
        "Confirmed is reached only through the approval Vehicle order discount approval"
    )
    offered = {t["name"] for t in service.transitions("vehicle_order", order["id"], gm)}
    assert offered.isdisjoint({"approve", "reject"})
    assert service.get("vehicle_order", order["id"], SYSTEM)["status"] == "pending_approval"


def test_the_approvals_outcome_takes_it_and_its_audit_entry_names_the_process(dealer):
    service, people, _ = dealer
    order = pending_order(dealer)
    [first] = service.inbox(people["gm"])
    service.approve(first["id"], people["gm"])
    [second] = service.inbox(people["rm"])
    service.approve(second["id"], people["rm"])
    done = service.get("vehicle_order", order["id"], SYSTEM)
    assert (done["status"], done["approved_discount"]) == ("confirmed", 24000)
    log = service.effects.audit_log
    with service.db.read() as conn:
        details = conn.execute(
            sa.select(log.c.detail).where(
                log.c.record_id == order["id"], log.c.action == "update"
            )
        ).scalars().all()
    assert [d.get("process") for d in details] == [None, "vehicle_order_discount_approval"]


def test_writing_the_target_of_an_approval_transition_submits_the_approval(dealer):
    service, people, things = dealer
    order = service.create("vehicle_order", order_values(things, 24000), people["seller"])
    moved = service.update("vehicle_order", order["id"], {"status": "pending_approval"},
                           people["seller"])  # fmt: skip
    assert moved["status"] == "pending_approval"
    [task] = service.inbox(people["gm"])
    assert (task["process"], task["record_id"]) == ("vehicle_order_discount_approval", order["id"])


def test_a_loss_is_confirmed_only_by_the_loss_approval(dealer):
    service, people, _ = dealer
    seller, manager = people["seller"], people["sm"]
    lead = service.create("lead", {"name": "李女士", "phone": "13900001111"}, seller)
    service.transition("lead", lead["id"], "request_loss", seller, {"lost_reason": "no_budget"})
    with pytest.raises(ValidationFailed) as failed:  # the approver, writing the outcome
        service.update("lead", lead["id"], {"lead_stage": "lost"}, manager)
    assert codes(failed) == {("lead_stage", "approval_outcome")}
    [task] = service.inbox(manager)
    service.approve(task["id"], manager)
    assert service.get("lead", lead["id"], SYSTEM)["lead_stage"] == "lost"


# -- an upsert matches only what its writer may read ---------------------------------------


def test_an_upsert_does_not_match_a_record_its_writer_may_not_read(dealer):
    """An account of another unit, with the name the consultant upserts on: matching it
    would tell her it exists (a 'not found', where a create was due). For her it is not
    there, so her row creates her own account, and the other stays as it was."""
    service, people, things = dealer
    region = things["unit"]["parent"]
    theirs = service.create("account", {"name": "李女士", "account_type": "person",
                            "phone": "13900003333", "org_unit": region}, SYSTEM)  # fmt: skip
    row = {"name": "李女士", "account_type": "person", "phone": "13900004444"}
    [result] = service.upsert("account", [row], people["seller"], key="name", all_or_none=False)
    assert (result.ok, result.created, result.errors) == (True, True, ())
    assert service.get("account", theirs["id"], SYSTEM)["version"] == theirs["version"]
    [again] = service.upsert("account", [row | {"phone": "13900005555"}], people["seller"],
                             key="name", all_or_none=False)  # fmt: skip
    assert (again.ok, again.created, again.record["id"]) == (True, False, result.record["id"])
