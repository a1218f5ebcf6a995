"""Duplicate rules over HTTP: a create is refused (422 naming rule and field), saved with
``_warnings``, or merged (200, ``_merged``); bulk rows say the same per row."""

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
RECORDS = "/api/v1/objects/customer/records"


def _pack(tmp_path: Path, action: str) -> Path:
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(
        customer.read_text()
        + f"""
duplicate_rules:
  - name: same_phone
    fields: [{{field: phone, normalise: phone}}]
    action: {action}
    message: {{en: "Same phone as {{existing}}", zh-CN: "与{{existing}}电话相同"}}
"""
    )
    return pack


@pytest.fixture(params=["block", "warn", "merge"])
def shop(request, database, tmp_path):
    """A client of a shop whose customers match on phone with each action, and the tokens
    of a sales rep (reads every customer) and a clerk (reads their own)."""
    runtime = Runtime(database, [_pack(tmp_path, request.param)])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    tokens = TokenStore(users)
    rep = users.create_user("rep", None, "Rep", roles=["sales_rep"], locale="en")
    clerk = users.create_user("cai", None, "Cai", roles=["clerk"], locale="zh-CN")
    rep_token, _ = tokens.create(rep, "tests", ["records:write"])
    clerk_token, _ = tokens.create(clerk, "tests", ["records:write"])
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        yield request.param, client, rep_token, clerk_token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_create_matching_a_stored_phone(shop):
    action, client, rep, _ = shop
    first = client.post(
        RECORDS, headers=_auth(rep), json={"name": "Zhang", "phone": "+86 139 0000 1111"}
    )
    assert first.status_code == 201 and "_warnings" not in first.json()
    again = client.post(
        RECORDS,
        headers=_auth(rep),
        json={"name": "Zhang 2", "phone": "13900001111", "email": "z@example.com"},
    )
    body = again.json()
    if action == "block":
        assert again.status_code == 422
        [error] = body["errors"]
        assert (error["field"], error["rule"], error["code"]) == (
            "phone",
            "same_phone",
            "duplicate",
        )
        assert error["message"] == "Same phone as Zhang"
    elif action == "warn":
        assert again.status_code == 201 and body["name"] == "Zhang 2"
        assert body["_warnings"] == [
            {
                "rule": "same_phone",
                "code": "duplicate",
                "fields": ["phone"],
                "message": "Same phone as Zhang",
                "record_id": first.json()["id"],
            }
        ]
    else:
        assert again.status_code == 200 and body["_merged"] is True
        assert (body["id"], body["name"], body["email"]) == (
            first.json()["id"],
            "Zhang",
            "z@example.com",
        )
    listed = client.get(RECORDS, headers=_auth(rep)).json()["records"]
    assert len(listed) == (2 if action == "warn" else 1)


def test_bulk_rows_say_what_each_rule_did(shop):
    action, client, rep, _ = shop
    client.post(RECORDS, headers=_auth(rep), json={"name": "Stored", "phone": "13900001111"})
    rows = [
        {"name": "Fresh", "phone": "13900002222"},
        {"name": "Copy", "phone": "+86 139 0000 1111", "email": "c@example.com"},
    ]
    answer = client.post(
        f"{RECORDS}/bulk",
        headers=_auth(rep),
        json={"operation": "create", "records": rows, "all_or_none": False},
    )
    assert answer.status_code == 200
    fresh, copy = answer.json()["results"]
    assert fresh["ok"] and fresh["created"] and "warnings" not in fresh
    if action == "block":
        assert not copy["ok"]
        assert [(e["field"], e["rule"]) for e in copy["errors"]] == [("phone", "same_phone")]
    elif action == "warn":
        assert copy["ok"] and copy["created"]
        assert [w["message"] for w in copy["warnings"]] == ["Same phone as Stored"]
    else:
        assert copy["ok"] and copy["merged"] and "created" not in copy
        assert (copy["record"]["name"], copy["record"]["email"]) == ("Stored", "c@example.com")


def test_a_match_the_writer_may_not_read_names_nothing(shop):
    action, client, rep, clerk = shop
    secret = client.post(
        RECORDS, headers=_auth(rep), json={"name": "Secret Client", "phone": "13900001111"}
    ).json()
    probe = client.post(
        RECORDS,
        headers={**_auth(clerk), "Accept-Language": "zh-CN"},
        json={"name": "Probe", "phone": "139 0000 1111"},
    )
    text = probe.text
    for hidden in ("Secret", secret["id"], "13900001111"):
        assert hidden not in text
    generic = "已存在匹配的客户（查重规则same_phone）"
    if action == "warn":
        assert probe.status_code == 201
        assert probe.json()["_warnings"] == [
            {"rule": "same_phone", "code": "duplicate", "fields": ["phone"], "message": generic}
        ]
    else:  # a merge into a record the clerk cannot change refuses like a block
        assert probe.status_code == 422
        assert [e["message"] for e in probe.json()["errors"]] == [generic]
