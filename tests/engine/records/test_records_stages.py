"""Stage workflows on the base pack's lead lifecycle, enforced on every write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, NotFound, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import Clock

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
STAFF = Actor(
    user_id="00000000-0000-4000-8000-00000000057a", roles=("dealer_staff",), locale="zh-CN"
)
MANAGER = Actor(user_id="00000000-0000-4000-8000-0000000003a9", roles=("sales_manager",))
SYSTEM = Actor(user_id=None, name="stage tests")
ANALYST = Actor(user_id="00000000-0000-4000-8000-0000000000a1", roles=("hq_analyst",))


@pytest.fixture(scope="session")
def base() -> CompiledSchema:
    return compile_schema(validate_paths([BASE]).schema)


@pytest.fixture
def leads(database, base, clock: Clock) -> RecordService:
    base.tables.metadata.create_all(database.engine)
    return RecordService(database, base, clock=clock)


@pytest.fixture
def lead(leads):
    return leads.create("lead", {"name": "Han Meimei", "email": "han@example.cn"}, STAFF)


def test_a_record_starts_in_the_initial_stage(leads, lead):
    assert lead["status"] == "new"
    assert leads.moves("lead", lead["id"], STAFF) == []


def test_a_direct_update_along_a_transition_is_accepted_and_enters_the_stage(leads, lead, clock):
    clock.advance(hours=1)
    updated = leads.update("lead", lead["id"], {"status": "contacted"}, STAFF)
    assert updated["status"] == "contacted"
    assert updated["first_contacted_at"] == dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    [move] = leads.moves("lead", lead["id"], STAFF)
    assert (move["transition"], move["from_state"], move["to_state"]) == (
        "log_contact",
        "new",
        "contacted",
    )


def test_a_direct_update_that_no_transition_allows_is_refused_with_the_reason(leads, lead):
    with pytest.raises(ValidationFailed) as refused:
        leads.update("lead", lead["id"], {"status": "converted"}, STAFF)
    [error] = refused.value.errors
    assert (error.field, error.code) == ("status", "no_transition")
    assert error.text("zh-CN") == "状态不能从新线索变为已转化"
    assert leads.get("lead", lead["id"], STAFF)["status"] == "new"


def test_required_fields_and_guards_are_reported_together(leads):
    bare = leads.create("lead", {"name": "No Contact", "phone": "13812345678"}, STAFF)
    with pytest.raises(ValidationFailed) as refused:
        leads.transition("lead", bare["id"], "qualify", STAFF)
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("rating", "required_for_stage"),
        ("product_interest", "required_for_stage"),
    }
    assert refused.value.errors[0].text("zh-CN").startswith("执行“确认意向”须填写")
    with pytest.raises(ValidationFailed) as lost:
        leads.update("lead", bare["id"], {"status": "lost"}, STAFF)
    assert ("lost_reason", "required_for_stage") in {(e.field, e.code) for e in lost.value.errors}
    done = leads.transition(
        "lead", bare["id"], "disqualify", STAFF, {"lost_reason": "no_budget"}, comment="no money"
    )
    assert done["status"] == "lost"
    assert leads.moves("lead", bare["id"], STAFF)[-1]["comment"] == "no money"


def test_roles_decide_who_may_take_a_transition(leads, lead):
    leads.transition("lead", lead["id"], "disqualify", STAFF, {"lost_reason": "duplicate"})
    with pytest.raises(ValidationFailed) as refused:
        leads.transition("lead", lead["id"], "recycle", STAFF)
    assert "transition_role" in {e.code for e in refused.value.errors}
    offered = {t["name"] for t in leads.transitions("lead", lead["id"], STAFF)}
    assert offered == set()
    assert [t["name"] for t in leads.transitions("lead", lead["id"], MANAGER)] == ["recycle"]
    recycled = leads.transition("lead", lead["id"], "recycle", MANAGER)
    assert (recycled["status"], recycled["lost_reason"]) == ("new", None)  # entry clears it


def test_a_reader_who_may_not_change_the_record_is_offered_no_transition(leads, database, base):
    """The guard of qualify reads the phone and email, hidden from an analyst, who reads
    every lead and changes none: an offer would tell whether they are filled."""
    guarded = RecordService(database, base, authorizer=RoleAuthorizer(base))  # tables: leads'
    written = guarded.create("lead", {"name": "Li Lei", "email": "li@example.cn"}, SYSTEM)
    assert "email" not in guarded.get("lead", written["id"], ANALYST)
    assert guarded.transitions("lead", written["id"], ANALYST) == []
    assert "qualify" in {t["name"] for t in guarded.transitions("lead", written["id"], SYSTEM)}


def test_offered_transitions_say_what_is_missing(leads, lead):
    offered = {t["name"]: t for t in leads.transitions("lead", lead["id"], STAFF)}
    assert set(offered) == {"log_contact", "qualify", "disqualify"}
    assert offered["qualify"]["required_fields"] == ["rating", "product_interest"]
    assert offered["qualify"]["guard_met"] is True
    assert offered["disqualify"]["required_fields"] == ["lost_reason"]


def test_an_unknown_transition_is_not_found(leads, lead):
    with pytest.raises(NotFound):
        leads.transition("lead", lead["id"], "teleport", STAFF)
