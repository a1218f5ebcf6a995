"""A tenant pack over the base pack adds picklist values (to ``org_unit.kind`` and to the
``lead_source`` value set) and switches off a base validation, automation and list view:
what it adds is writable once the database is migrated, and what it switches off is gone
through the real HTTP API and UI, on SQLite and PostgreSQL. Each effect is shown against
the base pack alone in the same kind of database, so the test says what changed."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from litestar.testing import TestClient

from admin_ui import with_ui
from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import Actor, ValidationFailed

BASE = Path(__file__).resolve().parents[2] / "industry_packs" / "base"
SYSTEM = Actor(user_id=None, name="extension test setup")
PASSWORD = "correct horse"
ACME = {
    "pack.yaml": """\
        name: acme
        version: 0.1.0
        layer: tenant
        requires: {packs: {base: ">=1.0.0,<2.0.0"}}
        """,
    "objects/org_unit.yaml": """\
        extends: org_unit
        add_values:
          kind:
            - {value: showroom, label: {en: Showroom, zh-CN: 展厅}, order: 45}
        disable:
          validations: [parent_required_below_brand]
        """,
    "objects/lead.yaml": """\
        extends: lead
        disable:
          automations: [lead_assignment]
          list_views: [hot_leads]
        """,
    "value_sets/lead_source.yaml": """\
        extends: lead_source
        values:
          - {value: autohome, label: {en: Autohome, zh-CN: 汽车之家}}
        """,
}


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    for rel, text in ACME.items():
        target = tmp_path / "acme" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path / "acme"


def _refused_fields(call) -> set[tuple[str | None, str]]:
    with pytest.raises(ValidationFailed) as refused:
        call()
    return {(e.field, e.code) for e in refused.value.errors}


def test_added_values_are_writable_once_migrated_onto_a_base_database(database, acme):
    service = Runtime(database, [BASE]).snapshot.service
    brand = service.create("org_unit", {"name": "品牌", "code": "HQ", "kind": "brand"}, SYSTEM)
    showroom = {"name": "城市展厅", "code": "SR1", "kind": "showroom", "parent": brand["id"]}
    assert _refused_fields(lambda: service.create("org_unit", showroom, SYSTEM)) == {
        ("kind", "not_a_choice")
    }
    lead = {"name": "王先生", "phone": "13800000000", "source": "autohome"}
    assert _refused_fields(lambda: service.create("lead", lead, SYSTEM)) == {
        ("source", "not_a_choice")
    }

    service = Runtime(database, [BASE, acme]).snapshot.service
    made = service.create("org_unit", showroom, SYSTEM)
    assert service.get("org_unit", made["id"], SYSTEM)["kind"] == "showroom"
    written = service.create("lead", lead, SYSTEM)
    assert service.get("lead", written["id"], SYSTEM)["source"] == "autohome"
    unknown = {**showroom, "code": "SR2", "kind": "kiosk"}
    assert _refused_fields(lambda: service.create("org_unit", unknown, SYSTEM)) == {
        ("kind", "not_a_choice")
    }


def _app(database, packs: list[Path]):
    runtime = Runtime(database, packs)
    service = runtime.snapshot.service
    hq = service.create("org_unit", {"name": "品牌", "code": "HQ", "kind": "brand"}, SYSTEM)
    users = UserStore(database, runtime.snapshot.compiled.tables, hasher=PasswordHasher(n=2**4))
    boss = users.create_user("boss", PASSWORD, "Boss", roles=["administrator"],
                             org_unit=hq["id"], locale="en")  # fmt: skip
    rep = users.create_user("rep", PASSWORD, "Rep", roles=["sales_rep"], org_unit=hq["id"])
    token, _ = TokenStore(users).create(boss, "tests", ["records:write"])
    authenticator = Authenticator(database, runtime.snapshot.compiled.tables)
    app = create_app(with_ui(AppConfig(runtime=runtime, authenticator=authenticator)))
    return app, {"Authorization": f"Bearer {token}"}, hq["id"], boss.id, rep.id


@pytest.mark.parametrize("extended", [False, True], ids=["base", "base+acme"])
def test_disabled_validation_and_automation_no_longer_act_through_the_api(
    database, acme, extended
):
    packs = [BASE, acme] if extended else [BASE]
    app, auth, _hq, boss, rep = _app(database, packs)
    records = "/api/v1/objects/{}/records"
    with TestClient(app) as client:
        orphan = {"name": "无上级经销商", "code": "D1", "kind": "dealer"}
        answer = client.post(records.format("org_unit"), json=orphan, headers=auth)
        # A website lead without a partner is shared out to the unit's sales reps by the
        # base's lead_assignment; switched off, it stays with whoever created it.
        lead = {"name": "李女士", "phone": "13900000000", "source": "website"}
        made = client.post(records.format("lead"), json=lead, headers=auth)
        assert made.status_code == 201, made.text
        owner = client.get(f"{records.format('lead')}/{made.json()['id']}", headers=auth)
    if extended:
        assert answer.status_code == 201, answer.text
        assert owner.json()["owner"] == boss
    else:
        assert answer.status_code == 422
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [
            ("parent", "parent_required_below_brand")
        ]
        assert owner.json()["owner"] == rep


@pytest.mark.parametrize("extended", [False, True], ids=["base", "base+acme"])
def test_a_disabled_list_view_is_gone_from_the_ui(database, acme, extended):
    packs = [BASE, acme] if extended else [BASE]
    app, _auth, _hq, _boss, _rep = _app(database, packs)
    with TestClient(app) as client:
        page = client.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed_in = client.post("/ui/login", data={"csrf_token": token, "username": "boss",
                                                   "password": PASSWORD},
                                follow_redirects=False)  # fmt: skip
        assert signed_in.status_code == 302
        listed = client.get("/ui/o/lead")
        asked = client.get("/ui/o/lead?view=hot_leads")
    tabs = re.findall(r'<a href="\?view=(\w+)"', listed.text)
    current = re.findall(r'<a href="\?view=(\w+)" aria-current="page"', asked.text)
    base_tabs = ["my_open_leads", "all_leads", "new_not_contacted", "hot_leads",
                 "follow_up_overdue", "lost_leads"]  # fmt: skip
    if extended:
        assert tabs == [t for t in base_tabs if t != "hot_leads"]
        assert current == ["my_open_leads"]  # the default, as for any unknown view
    else:
        assert tabs == base_tabs
        assert current == ["hot_leads"]
