"""Errors say nothing a writer could not read: a refused write quotes only what its
request sent, and a conflict names only fields the writer may see.

The writer is a clerk of the shop pack: ``code`` (and here ``email``) hidden, personal
data (``phone``) masked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
URL = "/api/v1/objects/customer/records"
#: A phone number as stored (E.164), and the parts of it that must not show.
STORED_PHONE = "+8613812345678"
RULES = """
validations:
  - name: walk_ins_leave_no_phone
    rule: {"or": [{"!=": [{var: name}, Walk-in]}, {"!": [{var: phone}]}]}
    message: {en: A walk-in leaves no phone number, zh-CN: 散客不留电话}
    fields: [phone]
indexes:
  - {fields: [name, email], unique: true}
"""


@pytest.fixture
def shop(database, tmp_path):
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(customer.read_text() + RULES)
    roles = pack / "security" / "roles.yaml"
    hidden = "code: none, documents: none"
    roles.write_text(roles.read_text().replace(hidden, f"{hidden}, email: none"))
    runtime = Runtime(database, [pack])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    tokens = TokenStore(users)
    alice = users.create_user("alice", None, "Alice", roles=["sales_rep"], locale="en")
    carl = users.create_user("carl", None, "Carl", roles=["clerk"], locale="en")
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        yield {
            "client": client,
            "carl": carl,
            "alice": {"Authorization": f"Bearer {tokens.create(alice, 'a', ['records:write'])[0]}"},
            "clerk": {"Authorization": f"Bearer {tokens.create(carl, 'c', ['records:write'])[0]}"},
        }


def _post(shop, headers, **values):
    response = shop["client"].post(URL, json=values, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _patch(shop, headers, record, **values):
    return shop["client"].patch(f"{URL}/{record['id']}", json=values, headers=headers)


def test_a_rule_that_blames_a_stored_personal_field_quotes_only_what_was_sent(shop):
    mine = _post(shop, shop["clerk"], name="Zhang", phone="13812345678")
    refused = _patch(shop, shop["clerk"], mine, name="Walk-in")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["field"], error["rule"], error["value"]) == (
        "phone",
        "walk_ins_leave_no_phone",
        None,
    )
    assert "12345678" not in refused.text
    # a number the writer sends in this request is theirs to see again
    refused = _patch(shop, shop["clerk"], mine, name="Walk-in", phone="13900001111")
    [error] = refused.json()["errors"]
    assert (error["field"], error["value"]) == ("phone", "13900001111")
    assert "12345678" not in refused.text


def test_a_taken_key_quotes_only_the_parts_the_request_sent(shop):
    _post(shop, shop["alice"], name="Acme", email="boss@acme.cn")
    carls = _post(shop, shop["alice"], name="Other", email="boss@acme.cn", owner=shop["carl"].id)
    refused = _patch(shop, shop["clerk"], carls, name="Acme")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"], error["value"]) == ("name", "not_unique", "Acme")
    assert error["message"] == "Name: another record already has this value"
    assert "boss" not in refused.text
    whole = shop["client"].post(
        URL, json={"name": "Acme", "email": "boss@acme.cn"}, headers=shop["alice"]
    )
    [error] = whole.json()["errors"]
    assert error["message"] == "Name: another record already has Acme / boss@acme.cn"


def test_a_conflict_names_only_fields_the_second_writer_may_read(shop):
    carls = _post(shop, shop["alice"], name="Mine", phone="13812345678", owner=shop["carl"].id)
    changed = _patch(shop, shop["alice"], carls, name="Mine too", code="SECRET-2",
                     email="boss@acme.cn", tier="gold")  # fmt: skip
    assert changed.status_code == 200
    conflict = _patch(shop, shop["clerk"], carls, name="Late", version=1)
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["current_version"] == 2
    assert body["changed_fields"] == ["name", "tier"]  # the clerk may not read code or email
    assert "email" not in conflict.text
    assert "SECRET" not in conflict.text and "boss" not in conflict.text
    assert STORED_PHONE not in conflict.text
