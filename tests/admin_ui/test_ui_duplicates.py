"""Duplicate rules on the UI's forms: a blocked save shows the rule's message beside the
field, a warned or merged one lands on the record page saying so (linking the existing
record only for a user who may read it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from litestar.testing import TestClient

from admin_ui import with_ui
from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, UserStore
from engine.storage.database import Database

from .conftest import PASSWORD, SYSTEM

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "shop_pack"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["block", "warn", "merge"])
def shop(request, tmp_path):
    """The UI over a shop whose customers match on phone with each action; a sales rep
    (reads every customer) and a clerk (reads their own) may sign in."""
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(
        customer.read_text()
        + f"""
duplicate_rules:
  - name: same_phone
    fields: [{{field: phone, normalise: phone}}]
    action: {request.param}
    message: {{en: "Same phone as {{existing}}", zh-CN: "与{{existing}}电话相同"}}
"""
    )
    db = Database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    runtime = Runtime(db, [pack])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(db, tables, hasher=PasswordHasher(n=2**4))
    users.create_user("rep", PASSWORD, "Rep", roles=["sales_rep"], locale="en")
    users.create_user("cai", PASSWORD, "Cai", roles=["clerk"], locale="zh-CN")
    app = create_app(with_ui(AppConfig(runtime=runtime, authenticator=Authenticator(db, tables))))
    yield request.param, app, runtime
    db.dispose()


def _signed_in(app, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    client.__enter__()
    token = _TOKEN.search(client.get("/ui/login").text).group(1)
    client.post(
        "/ui/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    form = client.get("/ui/o/customer/new")
    return client, _TOKEN.search(form.text).group(1)


def test_a_form_save_meets_the_duplicate_rule(shop):
    action, app, runtime = shop
    service = runtime.snapshot.service
    first = service.create("customer", {"name": "Zhang", "phone": "+86 139 0000 1111"}, SYSTEM)
    client, token = _signed_in(app, "rep")
    answer = client.post(
        "/ui/o/customer/new",
        follow_redirects=False,
        data={
            "csrf_token": token,
            "name": "Zhang 2",
            "phone": "139 0000 1111",
            "email": "z@example.com",
        },
    )
    if action == "block":
        assert answer.status_code == 422
        error = re.search(r'id="f-phone-error"[^>]*>([^<]*)<', answer.text).group(1)
        assert error == "Same phone as Zhang"
        assert len(service.list("customer", SYSTEM).records) == 1
        return
    assert answer.status_code in (302, 303)
    landed = client.get(answer.headers["location"])
    notices = re.search(r'<section class="card notices"[^>]*>(.*?)</section>', landed.text, re.S)
    assert notices is not None
    if action == "warn":
        assert "Same phone as Zhang" in notices.group(1)
        assert f'href="/ui/o/customer/{first["id"]}"' in notices.group(1)
        assert len(service.list("customer", SYSTEM).records) == 2
    else:
        assert answer.headers["location"].startswith(f"/ui/o/customer/{first['id']}")
        assert "added to that record" in notices.group(1)
        assert service.get("customer", first["id"], SYSTEM)["email"] == "z@example.com"
        assert len(service.list("customer", SYSTEM).records) == 1
    client.__exit__(None, None, None)


def test_a_match_the_user_may_not_read_is_not_named_or_linked(shop):
    action, app, runtime = shop
    service = runtime.snapshot.service
    secret = service.create("customer", {"name": "Secret Client", "phone": "13900001111"}, SYSTEM)
    client, token = _signed_in(app, "cai")
    answer = client.post(
        "/ui/o/customer/new",
        follow_redirects=False,
        data={"csrf_token": token, "name": "Probe", "phone": "13900001111"},
    )
    shown = answer.text
    if answer.status_code in (302, 303):
        assert action == "warn" and secret["id"] not in answer.headers["location"]
        shown = client.get(answer.headers["location"]).text
        assert "已存在匹配的客户（查重规则same_phone）" in shown
    else:  # block, and a merge into a record the clerk may not change
        assert action != "warn" and answer.status_code == 422
        assert "已存在匹配的客户（查重规则same_phone）" in shown
    assert "Secret" not in shown and secret["id"] not in shown
    # and a forged notice naming the record does not name it either
    forged = client.get(
        f"/ui/o/customer/{service.list('customer', SYSTEM).records[0]['id']}"
        f"?duplicate=same_phone:{secret['id']}"
    )
    assert "Secret" not in forged.text
    client.__exit__(None, None, None)


def test_the_browser_shows_the_warning_after_saving_a_lead_with_a_known_phone(live, sign_in):
    """The base pack warns of an open lead with the same mobile in the same unit."""
    owner = live.users.by_username("pudong.sales")
    known = live.service.create(
        "lead",
        {
            "name": "查重 老客户",
            "phone": "13766660001",
            "org_unit": live.units["pudong"],
            "owner": owner.id,
        },
        SYSTEM,
    )
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/lead/new")
    page.fill("#f-name", "查重 新客户")
    page.fill("#f-phone", "+86 137 6666 0001")
    page.click("button.primary")
    page.wait_for_load_state("load")
    notice = page.locator("section.notices")
    # the name is personal data: named as this user sees it on the lead itself, masked
    seen = live.service.get("lead", known["id"], live.users.actor_for(owner))["name"]
    assert seen != "查重 老客户"
    assert f"本单位已有相同手机号的未关闭线索：{seen}。" in notice.inner_text()
    notice.get_by_role("link").click()
    page.wait_for_url(f"{live.url}/ui/o/lead/{known['id']}")
