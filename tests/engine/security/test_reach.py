"""Writes that stay inside the writer's reach, and the permissions beyond reading.

The auto pack's dealer network: a brand with two regions, east (dealers A and B) and
south (dealer C). What a hostile tester tried on the demo is refused: re-parenting a dealer
under another region's dealer, handing a record to another dealer's user as its owner or
through a share, passing an edit share on, purging with only the right to delete,
exporting with only the right to read. What each role may do still works, and is audited.
Service-level tests first, then the same over HTTP with API tokens.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import Actor, Forbidden, NotFound, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.transfer.csv_export import export_csv

PACKS = Path(__file__).resolve().parents[3] / "industry_packs"
SYSTEM = Actor(user_id=None, name="setup")
UNITS = [  # key, kind, parent
    ("brand", "brand", None),
    ("east", "region", "brand"),
    ("south", "region", "brand"),
    ("dealer_a", "dealer", "east"),
    ("dealer_b", "dealer", "east"),
    ("dealer_c", "dealer", "south"),
]
PEOPLE = {  # username: role, unit
    "east.rm": ("oem_regional_manager", "east"),
    "a.gm": ("dealer_general_manager", "dealer_a"),
    "c.gm": ("dealer_general_manager", "dealer_c"),
    "a.sc": ("sales_consultant", "dealer_a"),
    "a.sc2": ("sales_consultant", "dealer_a"),
    "c.sc": ("sales_consultant", "dealer_c"),
    "admin": ("administrator", "brand"),
    "analyst": ("hq_analyst", "brand"),
}


@dataclass
class Network:
    service: RecordService
    runtime: Runtime
    units: dict[str, str]
    people: dict[str, Actor]
    tokens: dict[str, str]
    leads: int = 0

    def lead(self, who: str, name: str = "张伟", **values: Any) -> dict[str, Any]:
        """A lead of a person of its own (a phone of its own: the auto pack merges a lead
        into an open one with the same phone at the same dealer)."""
        self.leads += 1
        phone = f"138{self.leads:08d}"
        values = {"name": name, "phone": phone, "source": "store_walk_in", **values}
        return self.service.create("lead", values, self.people[who])

    def audit(self, action: str, record_id: str) -> list[tuple[str, dict[str, Any]]]:
        log = self.service.effects.audit_log
        with self.service.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(log.c.actor, log.c.detail)
                .where(log.c.action == action, log.c.record_id == record_id)
                .order_by(log.c.id)
            )
            return [(r.actor, r.detail) for r in rows]

    def ids(self, object_name: str, who: str) -> set[str]:
        """What ``who`` lists in a request of its own (an actor is made per request, and
        the units it reaches are looked up once per actor)."""
        actor = dataclasses.replace(self.people[who])
        records = self.service.list(object_name, actor, limit=200).records
        return {r["id"] for r in records}


@pytest.fixture
def net(database) -> Network:
    def guarded(db: Any, compiled: Any) -> RecordService:
        return RecordService(db, compiled, authorizer=RoleAuthorizer(compiled))

    runtime = Runtime(database, [PACKS / "base", PACKS / "auto"], service_factory=guarded)
    service = runtime.snapshot.service
    units: dict[str, str] = {}
    for key, kind, parent in UNITS:
        values = {"name": key, "code": key.upper(), "kind": kind}
        if parent:
            values["parent"] = units[parent]
        units[key] = service.create("org_unit", values, SYSTEM)["id"]
    users = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    people, tokens = {}, {}
    for username, (role, unit) in PEOPLE.items():
        user = users.create_user(username, None, username, roles=[role], org_unit=units[unit],
                                 locale="en")  # fmt: skip
        people[username] = users.actor_for(user)
        tokens[username], _ = TokenStore(users).create(user, "tests", ["records:write"])
    return Network(service, runtime, units, people, tokens)


def _refusal(refused: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[str | None, str]]:
    return [(e.field, e.code) for e in refused.value.errors]


# -- the org tree --------------------------------------------------------------------------


def test_a_regional_manager_arranges_the_region_but_hands_no_dealer_to_another(net):
    service, units, rm = net.service, net.units, net.people["east.rm"]
    a_lead = net.lead("a.sc")
    for unit, parent in (
        ("dealer_a", "dealer_c"),  # under another region's dealer
        ("dealer_a", "south"),  # under another region
        ("east", "south"),  # the region itself: its parent (the brand) is not theirs
    ):
        with pytest.raises(ValidationFailed) as refused:
            service.update("org_unit", units[unit], {"parent": units[parent]}, rm)
        assert _refusal(refused) == [("parent", "out_of_scope")]
    with pytest.raises(ValidationFailed) as refused:
        service.create("org_unit", {"name": "new", "code": "NEW", "kind": "dealer",
                                    "parent": units["south"]}, rm)  # fmt: skip
    assert _refusal(refused) == [("parent", "out_of_scope")]
    assert service.get("org_unit", units["dealer_a"], SYSTEM)["parent"] == units["east"]
    assert a_lead["id"] not in net.ids("lead", "c.gm")

    moved = service.update("org_unit", units["dealer_b"], {"parent": units["dealer_a"]}, rm)
    assert moved["parent"] == units["dealer_a"]
    [(actor, detail)] = net.audit("update", units["dealer_b"])
    assert actor == rm.user_id and "parent" in detail["fields"]
    with pytest.raises(ValidationFailed) as refused:  # below itself: still a cycle
        service.update("org_unit", units["dealer_a"], {"parent": units["dealer_b"]}, rm)
    assert _refusal(refused) == [("parent", "cycle")]
    admin = net.people["admin"]
    service.update("org_unit", units["dealer_a"], {"parent": units["dealer_c"]}, admin)
    assert a_lead["id"] in net.ids("lead", "c.gm")  # the administrator's call, and it holds


# -- owners --------------------------------------------------------------------------------


def test_an_owner_is_someone_the_writer_reaches(net):
    service, people = net.service, net.people
    with pytest.raises(ValidationFailed) as refused:
        net.lead("a.sc", owner=people["c.sc"].user_id)
    assert _refusal(refused) == [("owner", "out_of_scope")]
    assert net.ids("lead", "c.sc") == set()
    colleague = net.lead("a.sc", owner=people["a.sc2"].user_id)
    assert colleague["owner"] == people["a.sc2"].user_id

    gm = people["a.gm"]
    with pytest.raises(ValidationFailed) as refused:
        service.update("lead", colleague["id"], {"owner": people["c.sc"].user_id}, gm)
    assert _refusal(refused) == [("owner", "out_of_scope")]
    with pytest.raises(ValidationFailed) as refused:  # `own`: only themselves
        service.update("lead", colleague["id"], {"owner": people["a.sc"].user_id},
                       people["a.sc2"])  # fmt: skip
    assert _refusal(refused) == [("owner", "out_of_scope")]
    handed = service.update("lead", colleague["id"], {"owner": people["a.sc"].user_id}, gm)
    assert handed["owner"] == people["a.sc"].user_id
    assert (gm.user_id, ["owner"]) in [(a, d["fields"]) for a, d in net.audit("update",
                                                                             colleague["id"])]


# -- sharing -------------------------------------------------------------------------------


def test_sharing_stays_inside_the_sharers_reach_and_is_not_passed_on(net):
    service, people = net.service, net.people
    lead = net.lead("a.sc")
    gm, holder = people["a.gm"], people["a.sc2"]
    with pytest.raises(ValidationFailed) as refused:
        service.share("lead", lead["id"], gm, user=people["c.sc"].user_id)
    assert _refusal(refused) == [("user", "out_of_scope")]
    with pytest.raises(ValidationFailed) as refused:
        service.share("lead", lead["id"], gm, org_unit=net.units["dealer_c"])
    assert _refusal(refused) == [("org_unit", "out_of_scope")]
    assert service.shares("lead", lead["id"], gm) == []

    share = service.share("lead", lead["id"], gm, user=holder.user_id, access="edit")
    service.update("lead", lead["id"], {"company": "星辰物流"}, holder)  # the share works
    for attempt in (
        lambda: service.share("lead", lead["id"], holder, user=people["a.sc"].user_id),
        lambda: service.share("lead", lead["id"], holder, user=holder.user_id, access="read"),
        lambda: service.unshare("lead", lead["id"], share["id"], holder),
    ):
        with pytest.raises(Forbidden):
            attempt()
    assert [s["id"] for s in service.shares("lead", lead["id"], gm)] == [share["id"]]
    with pytest.raises(NotFound):  # another dealer's GM does not see it, so cannot share it
        service.share("lead", lead["id"], people["c.gm"], user=people["c.sc"].user_id)

    admin = people["admin"]  # `all`: anyone
    service.share("lead", lead["id"], admin, user=people["c.sc"].user_id)
    assert lead["id"] in net.ids("lead", "c.sc")
    assert [(a, d["user"]) for a, d in net.audit("share", lead["id"])] == [
        (gm.user_id, holder.user_id),
        (admin.user_id, people["c.sc"].user_id),
    ]


# -- purge and export ----------------------------------------------------------------------


def test_purging_is_a_permission_of_its_own(net):
    service, gm, admin = net.service, net.people["a.gm"], net.people["admin"]
    first, second = net.lead("a.sc", name="甲"), net.lead("a.sc", name="乙")
    with pytest.raises(Forbidden) as refused:
        service.delete("lead", first["id"], gm, hard=True)
    assert refused.value.text("zh-CN") == "您无权彻底删除此线索"
    assert service.get("lead", first["id"], gm)["name"] == "甲"
    service.delete("lead", first["id"], gm)  # deleting (archiving) is still theirs
    assert first["id"] not in net.ids("lead", "a.gm")
    assert net.audit("delete", first["id"])[0][0] == gm.user_id

    service.delete("lead", second["id"], admin, hard=True)
    table = service.compiled.tables["lead"]
    with service.db.engine.connect() as conn:
        left = conn.execute(sa.select(table.c.id).where(table.c.id == second["id"])).all()
    assert left == []
    assert [a for a, _ in net.audit("purge", second["id"])] == [admin.user_id]


def test_exporting_is_a_permission_of_its_own_and_takes_the_readers_fields(net):
    service = net.service
    net.lead("a.sc", phone="13812345678")
    with pytest.raises(Forbidden):
        export_csv(service, "lead", io.StringIO(), net.people["a.sc"])

    out = io.StringIO()
    assert export_csv(service, "lead", out, net.people["a.gm"], header="name") == 1
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[header.index("phone")] == "+8613812345678"  # view_pii and export: unmasked

    out = io.StringIO()  # phone is hidden from the analyst: not a column, not refused
    assert export_csv(service, "lead", out, net.people["analyst"], header="name") == 1
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert "phone" not in header and row[header.index("name")] == "张*"  # no view_pii
    log = service.effects.audit_log
    with service.db.engine.connect() as conn:
        actors = conn.execute(sa.select(log.c.actor).where(log.c.action == "export")).scalars()
        assert sorted(actors) == sorted([net.people["a.gm"].user_id,
                                         net.people["analyst"].user_id])  # fmt: skip


# -- the same over HTTP --------------------------------------------------------------------


@pytest.fixture
def http(net):
    tables = net.service.compiled.tables
    authenticator = Authenticator(net.service.db, tables)
    app = create_app(AppConfig(runtime=net.runtime, authenticator=authenticator))
    with TestClient(app) as client:

        def call(who: str, method: str, path: str, **kwargs: Any):
            headers = {"Authorization": f"Bearer {net.tokens[who]}", "Accept-Language": "en"}
            return client.request(method, f"/api/v1/objects/{path}", headers=headers, **kwargs)

        yield call


def test_over_http_placement_stays_inside_reach(net, http):
    units, people = net.units, net.people
    reparent = http("east.rm", "PATCH", f"org_unit/records/{units['dealer_a']}",
                    json={"parent": units["dealer_c"]})  # fmt: skip
    assert reparent.status_code == 422
    assert [e["field"] for e in reparent.json()["errors"]] == ["parent"]
    rearrange = http("east.rm", "PATCH", f"org_unit/records/{units['dealer_b']}",
                     json={"parent": units["dealer_a"]})  # fmt: skip
    assert rearrange.status_code == 200 and rearrange.json()["parent"] == units["dealer_a"]

    lead = {"name": "张伟", "phone": "13812345678", "source": "store_walk_in"}
    foreign = http("a.sc", "POST", "lead/records", json={**lead, "owner": people["c.sc"].user_id})
    assert foreign.status_code == 422
    assert [(e["field"], e["code"]) for e in foreign.json()["errors"]] == [
        ("owner", "out_of_scope")
    ]
    local = http("a.sc", "POST", "lead/records", json={**lead, "owner": people["a.sc2"].user_id})
    assert local.status_code == 201 and local.json()["owner"] == people["a.sc2"].user_id


def test_over_http_sharing_stays_inside_reach(net, http):
    people = net.people
    lead = net.lead("a.sc")
    shares = f"lead/records/{lead['id']}/shares"
    outside = http("a.gm", "POST", shares, json={"user": people["c.sc"].user_id})
    assert outside.status_code == 422
    inside = http("a.gm", "POST", shares, json={"user": people["a.sc2"].user_id, "access": "edit"})
    assert inside.status_code == 201, inside.text
    passed_on = http("a.sc2", "POST", shares, json={"user": people["a.sc"].user_id})
    assert passed_on.status_code == 403
    listed = http("a.gm", "GET", shares).json()["shares"]
    assert [s["user_id"] for s in listed] == [people["a.sc2"].user_id]


def test_over_http_purge_and_export_need_their_permissions(net, http):
    lead = net.lead("a.sc")
    refused = http("a.gm", "DELETE", f"lead/records/{lead['id']}?hard=true")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "you may not purge this Lead"
    assert http("a.gm", "GET", f"lead/records/{lead['id']}").status_code == 200
    assert http("admin", "DELETE", f"lead/records/{lead['id']}?hard=true").status_code == 204
    assert net.audit("purge", lead["id"])[0][0] == net.people["admin"].user_id

    net.lead("a.sc", name="李娜")
    assert http("a.sc", "GET", "lead/export").status_code == 403
    exported = http("a.gm", "GET", "lead/export", params={"fields": "name", "header": "name"})
    assert exported.status_code == 200
    assert exported.text.lstrip("\ufeff").splitlines() == ["name", "李娜"]
