"""Changing metadata is a permission of its own: a consultant (``manage_metadata``, no
record access) sees the pending plan and applies it; a sales rep with every record right
cannot; every applied version keeps who applied which plan, and the audit log says so."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import Actor

from .conftest import SHOP

CONSULTANT = """
roles:
  - name: consultant
    label: {en: Consultant, zh-CN: 实施顾问}
    manage_metadata: true
"""


@pytest.fixture
def shop(database, tmp_path):
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    (pack / "security" / "consultant.yaml").write_text(CONSULTANT)
    runtime = Runtime(database, [pack], auto_apply=False)
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    tokens = TokenStore(users)
    consultant = users.create_user("cons", None, "Chen", roles=["consultant"], locale="en")
    rep = users.create_user("rep", None, "Rep", roles=["sales_rep"], locale="en")
    admin_scopes = ["admin"]
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        yield {
            "client": client,
            "pack": pack,
            "runtime": runtime,
            "consultant": tokens.create(consultant, "t", admin_scopes)[0],
            "consultant_reader": tokens.create(consultant, "r", ["metadata:read"])[0],
            "rep": tokens.create(rep, "t", admin_scopes)[0],
            "consultant_id": str(consultant.id),
        }


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _add_field(pack) -> None:
    path = pack / "objects" / "customer.yaml"
    text = path.read_text().replace(
        "fields:\n",
        "fields:\n  - {name: wechat_id, type: text, label: {en: WeChat, zh-CN: 微信号}}\n",
        1,
    )
    path.write_text(text)


def test_a_consultant_reviews_and_applies_a_change_and_it_is_recorded(shop, database):
    client, runtime = shop["client"], shop["runtime"]
    _add_field(shop["pack"])
    serving = runtime.snapshot.content_hash
    # not applied by itself: the server waits for someone allowed to
    assert runtime.snapshot.content_hash == serving
    plan = client.get("/api/v1/metadata/plan", headers=_as(shop["consultant"]))
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["serving"] == serving and body["changes"] is True
    assert [op["kind"] for op in body["operations"]] == ["AddColumn"]
    assert "wechat_id" in body["operations"][0]["description"]

    applied = client.post("/api/v1/metadata/apply", headers=_as(shop["consultant"]))
    assert applied.status_code == 200, applied.text
    version = applied.json()
    assert version["content_hash"] == body["content_hash"] != serving
    assert shop["consultant_id"] in version["applied_by"]
    assert runtime.snapshot.content_hash == version["content_hash"]
    assert "wechat_id" in runtime.snapshot.compiled.tables["customer"].c

    versions = client.get("/api/v1/metadata/versions", headers=_as(shop["consultant"])).json()
    latest = versions["versions"][0]
    assert (latest["id"], latest["applied_by"]) == (version["id"], version["applied_by"])
    assert "wechat_id" in latest["plan"]["operations"][0]["description"]
    audit = runtime.snapshot.compiled.tables.system["audit_log"]
    with database.read() as conn:
        entry = conn.execute(sa.select(audit).where(audit.c.action == "metadata_apply")).one()
    assert str(entry.actor) == shop["consultant_id"]
    assert entry.detail["content_hash"] == version["content_hash"]
    assert any("wechat_id" in op for op in entry.detail["operations"])


def test_record_rights_do_not_allow_changing_metadata(shop):
    client, runtime = shop["client"], shop["runtime"]
    _add_field(shop["pack"])
    serving = runtime.snapshot.content_hash
    for method, path in (("get", "plan"), ("get", "versions"), ("post", "apply")):
        response = getattr(client, method)(f"/api/v1/metadata/{path}", headers=_as(shop["rep"]))
        assert response.status_code == 403, (path, response.text)
    assert runtime.snapshot.content_hash == serving


def test_applying_needs_an_admin_token_even_for_a_consultant(shop):
    client = shop["client"]
    reader = _as(shop["consultant_reader"])
    assert client.get("/api/v1/metadata/plan", headers=reader).status_code == 200
    assert client.post("/api/v1/metadata/apply", headers=reader).status_code == 403


def test_a_consultant_reads_no_records(shop):
    shop["runtime"].snapshot.service.create("customer", {"name": "Acme"}, Actor(None))
    response = shop["client"].get(
        "/api/v1/objects/customer/records", headers=_as(shop["consultant"])
    )
    assert response.status_code == 200 and response.json()["records"] == []


def test_invalid_packs_are_not_applied_and_say_why(shop):
    client, runtime = shop["client"], shop["runtime"]
    serving = runtime.snapshot.content_hash
    path = shop["pack"] / "objects" / "customer.yaml"
    path.write_text(path.read_text().replace("type: text", "type: txt", 1))
    for method, route in (("get", "plan"), ("post", "apply")):
        response = getattr(client, method)(
            f"/api/v1/metadata/{route}", headers=_as(shop["consultant"])
        )
        assert response.status_code == 422, response.text
        assert "customer.yaml" in response.json()["detail"]
    assert runtime.snapshot.content_hash == serving


def test_a_change_that_would_lose_data_is_refused(shop):
    client = shop["client"]
    service = shop["runtime"].snapshot.service
    service.create("customer", {"name": "A very long customer name indeed"}, Actor(None))
    path = shop["pack"] / "objects" / "customer.yaml"
    path.write_text(path.read_text().replace("max_length: 40", "max_length: 5", 1))
    response = client.post("/api/v1/metadata/apply", headers=_as(shop["consultant"]))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "migration_refused"
    assert any("name" in r for r in response.json()["refusals"])
