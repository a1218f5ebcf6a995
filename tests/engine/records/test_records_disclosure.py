"""What a refused write says: never a stored value, never a value an automation made, and
a rule that fails to run is named rather than quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import ALICE, shop_pack

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
THROWING_RULE = """
validations:
  - name: walk_ins_are_checked
    rule: {"or": [{"!=": [{var: name}, Walk-in]}, {"throw": {var: phone}}]}
    message: {en: Walk-ins are checked by hand, zh-CN: 散客需人工核对}
    fields: [phone]
"""


def _service(database, clock, pack, roles=False) -> RecordService:
    report = validate_paths([pack])
    assert not report.errors, report.errors
    compiled = compile_schema(report.schema)
    compiled.tables.metadata.create_all(database.engine)
    authorizer = RoleAuthorizer(compiled) if roles else None
    return RecordService(database, compiled, clock=clock, authorizer=authorizer)


def _texts(refused: pytest.ExceptionInfo[ValidationFailed]) -> str:
    return " ".join(e.text(loc) for e in refused.value.errors for loc in ("en", "zh-CN"))


def test_a_rule_that_fails_on_a_stored_value_does_not_quote_it(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(customer.read_text() + THROWING_RULE)
    service = _service(database, clock, pack, roles=True)
    users = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    clerk = users.actor_for(users.create_user("cai", None, "Cai", roles=["clerk"]))
    mine = service.create("customer", {"name": "Zhang", "phone": "13812345678"}, clerk)
    with pytest.raises(ValidationFailed) as refused:
        service.update("customer", mine["id"], {"name": "Walk-in"}, clerk)
    [error] = refused.value.errors
    assert (error.field, error.code, error.value) == ("phone", "rule_error", None)
    assert "walk_ins_are_checked" in error.text("en")
    assert "12345678" not in _texts(refused)


def test_a_write_an_automation_made_quotes_nothing_it_made(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "twin.yaml").write_text("""
name: twin
object: customer
trigger: {kind: record, "on": [create], condition: {"!=": [{var: name}, Twin]}}
actions:
  - type: create_record
    object: customer
    values: {name: Twin, code: {cat: [{var: code}, "-TWIN"]}}
run: in_transaction
""")
    service = _service(database, clock, pack)
    service.create("customer", {"name": "Taken", "code": "K-1-TWIN"}, ALICE)
    with pytest.raises(ValidationFailed) as refused:  # its twin would take K-1-TWIN again
        service.create("customer", {"name": "First", "code": "K-1"}, ALICE)
    [error] = refused.value.errors
    assert (error.field, error.code, error.value) == ("code", "not_unique", None)
    assert error.text("en") == "Code: another record already has this value"
    assert "TWIN" not in _texts(refused)


def test_the_base_packs_id_number_rule_does_not_quote_the_stored_number(database, clock):
    """The case a tester found: turning a person account into a company is refused for its
    stored ID card number, and the refusal does not carry the number."""
    service = _service(database, clock, BASE)
    number = "110101199003071234"
    person = {"name": "张三", "account_type": "person", "phone": "13812345678",
              "id_number": number}  # fmt: skip
    account = service.create("account", person, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.update("account", account["id"], {"account_type": "company"}, ALICE)
    blamed = {(e.field, e.rule, e.value) for e in refused.value.errors}
    assert ("id_number", "id_number_persons_only", None) in blamed
    assert number not in _texts(refused) + repr(refused.value.errors)
