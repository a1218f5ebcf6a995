"""What an approver sees of the record they decide: what their roles let them read.

The process names its approvers, whatever their roles open; so an approver decides in any
case, and their inbox and the approval show the record as they may read it (hidden
fields out), or, when they may not open it at all, no value of it: not its fields, not
the stage it was submitted from.
"""

from __future__ import annotations

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import NotFound, RecordService
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import shop_pack

REVIEWER = """
  - name: reviewer
    label: {en: Reviewer, zh-CN: 审核员}
    objects:
      customer: {read: all}
      deal: {read: all, fields: {amount: none}}
"""
APPROVAL = """
name: deal_discount
object: deal
entry_criteria: {">": [{var: discount}, 20]}
steps:
  - name: review
    approvers: [{kind: role, role: reviewer}, {kind: role, role: clerk}]
lock_record: true
on_approve:
  set_fields: {note: approved}
"""


#: Winning at a discount asks for it: the approval keeps the stage it was asked from.
ASKING = """  - {name: win_at_discount, from: [open], to: won, approval: deal_discount}
"""


@pytest.fixture
def shop(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    roles = pack / "security" / "roles.yaml"
    roles.write_text(roles.read_text() + REVIEWER)
    (pack / "approvals" / "deal_discount.yaml").write_text(APPROVAL)
    stages = pack / "workflows" / "deal_stage.yaml"
    stages.write_text(stages.read_text() + ASKING)
    report = validate_paths([pack])
    assert not report.errors, report.errors
    compiled = compile_schema(report.schema)
    compiled.tables.metadata.create_all(database.engine)
    service = RecordService(database, compiled, clock=clock, authorizer=RoleAuthorizer(compiled))
    store = UserStore(database, compiled.tables, hasher=PasswordHasher(n=2**4))
    people = {
        name: store.actor_for(store.create_user(name, None, name, roles=[role]))
        for name, role in (("rep", "sales_rep"), ("reviewer", "reviewer"), ("clerk", "clerk"))
    }
    customer = service.create("customer", {"name": "Acme"}, people["rep"])
    values = {"customer": customer["id"], "amount": 9000, "discount": 25,
              "close_date": "2026-12-01"}  # fmt: skip
    deal = service.create("deal", values, people["rep"])
    service.transition("deal", deal["id"], "win_at_discount", people["rep"], comment="please")
    return service, people, deal


def test_an_approver_sees_the_record_as_their_roles_let_them_read_it(shop):
    service, people, deal = shop
    [waiting] = service.inbox(people["reviewer"])
    assert waiting["record_id"] == deal["id"] and waiting["comment"] == "please"
    assert waiting["record"]["discount"] == 25 and "amount" not in waiting["record"]
    assert waiting["from_state"] == "open"
    assert "amount" not in service.approval(waiting["id"], people["reviewer"])["record"]


def test_an_approver_who_may_not_open_the_record_sees_no_value_of_it_and_decides(shop):
    """The clerk reads only their own deals: the inbox names the approval, not the deal."""
    service, people, deal = shop
    with pytest.raises(NotFound):
        service.get("deal", deal["id"], people["clerk"])
    [waiting] = service.inbox(people["clerk"])
    assert (waiting["record"], waiting["from_state"]) == (None, None)
    shown = service.approval(waiting["id"], people["clerk"])
    assert (shown["record"], shown["from_state"]) == (None, None)
    assert [t["approver"] for t in shown["tasks"]] == sorted(
        [people["reviewer"].user_id, people["clerk"].user_id]
    )
    assert service.approve(waiting["id"], people["clerk"], "fine")["status"] == "approved"
    assert service.get("deal", deal["id"], people["rep"])["note"] == "approved"


def test_the_approval_is_no_one_elses_to_see(shop, database):
    """Someone who neither reads the record nor is an approver gets no such approval."""
    service, people, _ = shop
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    other = store.actor_for(store.create_user("other", None, "Other", roles=["cashier"]))
    [waiting] = service.inbox(people["clerk"])
    assert service.inbox(other) == []
    with pytest.raises(NotFound):
        service.approval(waiting["id"], other)
