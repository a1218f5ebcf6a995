"""The car business (汽车经销商业务) walked end to end through the HTTP API.

A brand (星辰汽车) with two sales regions: 华东大区 (east) with dealers A (上海浦东) and
B (杭州西湖), 华南大区 (south) with dealer C (广州天河). Everyone works through the REST
API with their own API token and the auto pack's roles; the engine's clock is moved by
hand and time-based work runs in the real worker. Only the network is set up through
the record service as the system (org units, users, models, trims, the brand's stock of
vehicles and an existing owner's car); every business step is an HTTP request made by
the person who would make it.

Runs on SQLite and on PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import Actor, RecordService
from engine.security import RoleAuthorizer
from engine.worker import Worker

PACKS = Path(__file__).resolve().parents[2] / "industry_packs"
SYSTEM = Actor(user_id=None, name="scenario-setup")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Valid VINs (ISO 3779 check digit): the first three are the brand's stock, the last two
# are free for the cars existing owners already drive.
VINS = [
    "1M8GDM9AXKP042788",
    "1HGCM82633A004352",
    "JH4KA7561PC008269",
    "LSVAU218XN2183294",
    "LFV2A21K4G4000001",
]
STOCK, OWNED = VINS[:3], VINS[3:]

# Who works where: username → (name, role, org unit).
STAFF = {
    "a.sales.wang": ("王磊", "sales_consultant", "dealer_a"),
    "a.sales.li": ("李娜", "sales_consultant", "dealer_a"),
    "a.showroom": ("陈静", "showroom_manager", "dealer_a"),
    "a.service": ("赵强", "service_advisor", "dealer_a"),
    "a.gm": ("刘洋", "dealer_general_manager", "dealer_a"),
    "b.sales": ("孙悦", "sales_consultant", "dealer_b"),
    "b.gm": ("周涛", "dealer_general_manager", "dealer_b"),
    "c.sales": ("黄磊", "sales_consultant", "dealer_c"),
    "east.rm": ("吴刚", "oem_regional_manager", "east"),
    "south.rm": ("郑敏", "oem_regional_manager", "south"),
    "hq": ("钱总", "oem_headquarters", "brand"),
}
PDI = ("pdi_exterior", "pdi_interior", "pdi_electrics", "pdi_fluids", "pdi_tyres",
       "pdi_documents")  # fmt: skip


class Clock:
    """The engine's clock, moved by hand: Monday 2 March 2026, 09:30 in Shanghai."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def today(self) -> str:
        """Today in Shanghai, as the API writes dates."""
        return self.now.astimezone(SHANGHAI).date().isoformat()

    def later(self, **delta: float) -> str:
        return (self.now + dt.timedelta(**delta)).isoformat()


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def money(value: Any) -> Decimal:
    return Decimal(str(value))


class Person:
    """One user at the API, with their own token (zh-CN answers)."""

    def __init__(self, client: TestClient[Any], user_id: str, token: str):
        self.client = client
        self.id = user_id
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, **kwargs)

    def get(self, obj: str, record_id: str) -> Any:
        return self.call("GET", f"/objects/{obj}/records/{record_id}")

    def read(self, obj: str, record_id: str) -> dict[str, Any]:
        response = self.get(obj, record_id)
        assert response.status_code == 200, response.text
        return response.json()

    def list(self, obj: str, **params: Any) -> list[dict[str, Any]]:
        response = self.call("GET", f"/objects/{obj}/records", params=params)
        assert response.status_code == 200, response.text
        return response.json()["records"]

    def create(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        response = self.call("POST", f"/objects/{obj}/records", json=values)
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, obj: str, record_id: str, values: dict[str, Any]) -> Any:
        return self.call("PATCH", f"/objects/{obj}/records/{record_id}", json=values)

    def update(self, obj: str, record_id: str, values: dict[str, Any]) -> dict[str, Any]:
        response = self.patch(obj, record_id, values)
        assert response.status_code == 200, response.text
        return response.json()

    def attempt(self, obj: str, record_id: str, transition: str, values: dict | None = None) -> Any:
        path = f"/objects/{obj}/records/{record_id}/transitions/{transition}"
        return self.call("POST", path, json={"values": values or {}})

    def move(self, obj: str, record_id: str, transition: str, values: dict | None = None) -> dict:
        response = self.attempt(obj, record_id, transition, values)
        assert response.status_code == 200, response.text
        return response.json()

    def inbox(self) -> list[dict[str, Any]]:
        response = self.call("GET", "/approvals/inbox")
        assert response.status_code == 200, response.text
        return response.json()["approvals"]

    def decide(self, approval_id: str, decision: str, comment: str) -> dict[str, Any]:
        response = self.call("POST", f"/approvals/{approval_id}/{decision}",
                             json={"comment": comment})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    def notifications(self) -> list[dict[str, Any]]:
        response = self.call("GET", "/notifications")
        assert response.status_code == 200, response.text
        return response.json()["notifications"]


def refusal(response: Any) -> list[tuple[str, str, str]]:
    """(field, rule, code) of each error of a 422."""
    assert response.status_code == 422, response.text
    return [(e["field"], e["rule"], e["code"]) for e in response.json()["errors"]]


@dataclass
class World:
    client: TestClient[Any]
    runtime: Runtime
    clock: Clock
    units: dict[str, str]
    people: dict[str, Person]
    model: str = ""  # 星辰 X7
    trim: str = ""  # 2026款 X7 四驱旗舰版, MSRP 200,000
    vehicles: dict[str, str] = field(default_factory=dict)  # VIN → id

    def __getitem__(self, username: str) -> Person:
        return self.people[username]

    def run_worker(self) -> None:
        """What the worker beside the server does (due timers, escalations, the outbox),
        round after round until a round finds nothing; a failing round fails the test
        (``Worker.run`` would log it and try again forever)."""
        worker = Worker(lambda: self.runtime.snapshot.service)
        for _ in range(20):
            if not worker.run_round().busy:
                return
        raise AssertionError("the worker still finds work after 20 rounds")

    def owners_car(self, vin: str, account: str, delivered_on: str) -> str:
        """Setup: a car the dealer delivered to ``account`` before the story starts."""
        values = {"vin": vin, "model": self.model, "configuration": self.trim,
                  "colour": "white", "dealer": self.units["dealer_a"], "status": "delivered",
                  "owner_account": account, "delivery_date": delivered_on}  # fmt: skip
        vehicle = self.runtime.snapshot.service.create("vehicle", values, SYSTEM)
        self.vehicles[vin] = vehicle["id"]
        return vehicle["id"]


@pytest.fixture
def world(database) -> Any:
    clock = Clock()

    def service_factory(db: Any, compiled: Any) -> RecordService:
        return RecordService(db, compiled, authorizer=RoleAuthorizer(compiled), clock=clock)

    runtime = Runtime(database, [PACKS / "base", PACKS / "auto"], service_factory=service_factory)
    service = runtime.snapshot.service
    tables = runtime.snapshot.compiled.tables

    # The dealer network (渠道网络). Dealer A's GM approves discounts above 5 %, the OEM
    # region above 8 %.
    units: dict[str, str] = {}
    for key, name, kind, parent, extra in [
        ("brand", "星辰汽车", "brand", None, {}),
        ("east", "华东大区", "region", "brand", {}),
        ("south", "华南大区", "region", "brand", {}),
        ("dealer_a", "上海浦东星辰4S店", "dealer", "east",
         {"dealer_level": "4s", "discount_approval_threshold": 5,
          "regional_approval_threshold": 8}),
        ("dealer_b", "杭州西湖星辰4S店", "dealer", "east", {"dealer_level": "4s"}),
        ("dealer_c", "广州天河星辰城市展厅", "dealer", "south", {"dealer_level": "city_showroom"}),
    ]:  # fmt: skip
        values = {"name": name, "code": key.upper(), "kind": kind, **extra}
        if parent:
            values["parent"] = units[parent]
        units[key] = service.create("org_unit", values, SYSTEM)["id"]

    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    tokens = TokenStore(users)
    people: dict[str, tuple[str, str]] = {}
    for username, (name, role, unit) in STAFF.items():
        user = users.create_user(username, None, name, roles=[role], org_unit=units[unit])
        token, _ = tokens.create(user, "scenario", ["records:write"])
        people[username] = (user.id, token)

    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        world = World(client, runtime, clock, units,
                      {name: Person(client, *pair) for name, pair in people.items()})  # fmt: skip
        # The brand's catalogue and its stock (厂家车型、配置与库存车辆).
        model = {"name": "星辰 X7", "code": "X7", "body_type": "suv", "powertrain": "phev"}
        world.model = service.create("vehicle_model", model, SYSTEM)["id"]
        trim = {"name": "2026款 X7 四驱旗舰版", "code": "X7-AWD", "model": world.model,
                "msrp": 200000}  # fmt: skip
        world.trim = service.create("vehicle_configuration", trim, SYSTEM)["id"]
        for vin in STOCK:
            values = {"vin": vin, "model": world.model, "configuration": world.trim,
                      "colour": "white"}  # fmt: skip
            world.vehicles[vin] = service.create("vehicle", values, SYSTEM)["id"]
        yield world


def hand_over_car(world: World, seller: Person, lead: dict, order: dict, vin: str) -> dict:
    """配车与交车: the region allocates a stock car to dealer A, the consultant assigns it
    to the confirmed order, reserves it, hands it over with the PDI done, and closes the
    order, the vehicle and the lead as delivered. Returns the delivery."""
    clock, vehicle = world.clock, world.vehicles[vin]
    world["east.rm"].move("vehicle", vehicle, "allocate", {"dealer": world.units["dealer_a"]})
    seller.move("vehicle_order", order["id"], "assign_vehicle", {"vehicle": vehicle})
    seller.move("vehicle", vehicle, "reserve_for_order")
    seller.move("lead", lead["id"], "place_order")
    delivery = seller.create("delivery", {"order": order["id"], "vehicle": vehicle,
                             "account": order["account"], "scheduled_at": clock.later(days=1),
                             **dict.fromkeys(PDI, True)})  # fmt: skip
    clock.advance(days=1)
    delivery = seller.move("delivery", delivery["id"], "hand_over",
                           {"handover_date": clock.today()})  # fmt: skip
    seller.move("vehicle_order", order["id"], "mark_delivered")
    seller.move("vehicle", vehicle, "deliver",
                {"owner_account": order["account"], "delivery_date": clock.today()})  # fmt: skip
    assert seller.move("lead", lead["id"], "deliver")["lead_stage"] == "delivered"
    return delivery


# -- 1-4: a walk-in customer buys a car ------------------------------------------------------


def test_a_walk_in_customer_buys_a_car_with_an_approved_discount(world: World):
    clock = world.clock
    wang, li = world["a.sales.wang"], world["a.sales.li"]
    gm, east, south = world["a.gm"], world["east.rm"], world["south.rm"]

    # 1. 展厅到店: 张伟 walks into dealer A; consultant 王磊 records the lead.
    lead = wang.create("lead", {"name": "张伟", "phone": "138 1234 5678",
                       "source": "store_walk_in", "intention_level": "A",
                       "intended_model": world.model})  # fmt: skip
    assert (lead["lead_stage"], lead["status"]) == ("new", "new")
    assert (lead["owner"], lead["org_unit"]) == (wang.id, world.units["dealer_a"])
    assert lead["phone"] == "138****5678"  # personal data masked, even for its consultant
    assert lead["next_follow_up_date"] == "2026-03-17"  # A: within 15 days

    # 首次联系 (log_contact): contacted in time, so the 24-hour reclaim will not fire.
    lead = wang.move("lead", lead["id"], "log_contact")
    assert (lead["lead_stage"], lead["status"]) == ("contacted", "contacted")
    assert moment(lead["last_contacted_at"]) == clock.now

    # 预约试驾 → 完成试驾: only with the licence checked, the agreement signed and feedback.
    drive = wang.create("test_drive", {"lead": lead["id"], "model": world.model,
                        "scheduled_at": clock.later(hours=2), "route": "mixed"})  # fmt: skip
    assert drive["status"] == "scheduled"
    refused = wang.attempt("lead", lead["id"], "complete_test_drive")
    assert refusal(refused) == [("lead_stage", "complete_test_drive", "guard_failed")]
    clock.advance(hours=2)
    assert set(refusal(wang.attempt("test_drive", drive["id"], "complete"))) == {
        ("feedback", "complete", "required_for_stage"),
        ("status", "complete", "guard_failed"),
    }
    drive = wang.move("test_drive", drive["id"], "complete",
                      {"licence_checked": True, "agreement_signed": True, "rating": 5,
                       "feedback": "动力平顺，后排空间满意"})  # fmt: skip
    assert drive["status"] == "completed" and moment(drive["completed_at"]) == clock.now

    # 线索推进: test driven, then negotiating (an H-level buyer now).
    lead = wang.move("lead", lead["id"], "complete_test_drive")
    assert (lead["lead_stage"], lead["completed_test_drives"]) == ("test_drive", 1)
    lead = wang.move("lead", lead["id"], "start_negotiation", {"intention_level": "H"})
    assert (lead["lead_stage"], lead["status"]) == ("negotiating", "qualified")
    assert lead["next_follow_up_date"] == "2026-03-09"  # H: within 7 days of this contact

    # 2. 下订: the order carries a 24,000 discount on 200,000 (12 %): above dealer A's 5 %
    # and the region's 8 %, so the GM and then the OEM regional manager must approve.
    account = wang.create("account", {"name": "张伟", "account_type": "person",
                          "phone": "13812345678", "source": "store_walk_in"})  # fmt: skip
    order = wang.create("vehicle_order", {
        "lead": lead["id"], "account": account["id"], "configuration": world.trim,
        "colour": "white", "discount": 24000, "deposit": 5000,
        "approval_comment": "竞品报价更低，客户今天可付定金",
    })  # fmt: skip
    assert order["status"] == "draft" and order["dealer"] == world.units["dealer_a"]
    assert [money(order[f]) for f in ("list_price", "discount_rate", "deal_price",
            "dealer_discount_threshold", "regional_discount_threshold")] == [
        200000, 12, 176000, 5, 8]  # fmt: skip
    assert set(refusal(wang.attempt("vehicle_order", order["id"], "confirm"))) == {
        ("status", "confirm", "guard_failed"),
        ("discount", "discount_within_authority", "validation"),
    }
    order = wang.move("vehicle_order", order["id"], "submit_for_approval")
    assert order["status"] == "pending_approval"
    locked = wang.patch("vehicle_order", order["id"], {"discount": 30000})
    assert locked.status_code == 403  # locked while the approval runs

    # Step 1: dealer A's general manager, nobody else yet.
    assert east.inbox() == [] and south.inbox() == [] and world["b.gm"].inbox() == []
    [task] = gm.inbox()
    assert (task["process"], task["record_id"]) == ("vehicle_order_discount_approval", order["id"])
    gm.decide(task["id"], "approve", "同意，尽快交车")
    assert wang.read("vehicle_order", order["id"])["status"] == "pending_approval"
    # Step 2: the OEM regional manager of the east region (not the south's).
    assert gm.inbox() == [] and south.inbox() == []
    [task] = east.inbox()
    assert task["record_id"] == order["id"]
    outcome = east.decide(task["id"], "approve", "大区同意，本月冲量")
    assert outcome["status"] == "approved"
    assert [(t["approver"], t["status"], t["comment"]) for t in outcome["tasks"]] == [
        (gm.id, "approved", "同意，尽快交车"),
        (east.id, "approved", "大区同意，本月冲量"),
    ]
    order = wang.read("vehicle_order", order["id"])
    assert order["status"] == "confirmed"
    assert money(order["approved_discount"]) == 24000
    assert moment(order["approved_at"]) == clock.now

    # 3. 配车: the region allocates a stock car to dealer A; the consultant only sees it then.
    vin = STOCK[0]
    vehicle = world.vehicles[vin]
    assert wang.get("vehicle", vehicle).status_code == 404  # brand stock: not the dealer's
    grab = wang.attempt("vehicle", vehicle, "allocate", {"dealer": world.units["dealer_a"]})
    assert grab.status_code == 404
    allocated = east.move("vehicle", vehicle, "allocate", {"dealer": world.units["dealer_a"]})
    assert (allocated["status"], allocated["org_unit"]) == ("allocated", world.units["dealer_a"])
    assert wang.read("vehicle", vehicle)["vin"] == vin
    # Reserving needs an order holding the car; assign it to the order first.
    refused = wang.attempt("vehicle", vehicle, "reserve_for_order")
    assert refusal(refused) == [("status", "reserve_for_order", "guard_failed")]
    order = wang.move("vehicle_order", order["id"], "assign_vehicle", {"vehicle": vehicle})
    assert order["status"] == "vehicle_assigned"
    reserved = wang.move("vehicle", vehicle, "reserve_for_order")
    assert (reserved["status"], reserved["open_order_count"]) == ("ordered", 1)
    lead = wang.move("lead", lead["id"], "place_order")
    assert (lead["lead_stage"], lead["status"], lead["open_order_count"]) == (
        "ordered", "converted", 1)  # fmt: skip

    # 交车: PDI checklist first, then the handover with its date.
    delivery = wang.create("delivery", {
        "order": order["id"], "vehicle": vehicle, "account": account["id"],
        "scheduled_at": clock.later(days=1),
    })  # fmt: skip
    assert (delivery["status"], delivery["pdi_complete"]) == ("scheduled", False)
    clock.advance(days=1)  # Tuesday 3 March
    handover = {"handover_date": clock.today()}
    refused = wang.attempt("delivery", delivery["id"], "hand_over", handover)
    assert refusal(refused) == [("status", "hand_over", "guard_failed")]
    delivery = wang.update("delivery", delivery["id"], dict.fromkeys(PDI, True))
    assert delivery["pdi_complete"] is True
    delivery = wang.move("delivery", delivery["id"], "hand_over",
                         {"handover_date": clock.today(), "delivery_mileage": 12})  # fmt: skip
    assert (delivery["status"], delivery["handover_date"]) == ("completed", "2026-03-03")
    order = wang.move("vehicle_order", order["id"], "mark_delivered")
    assert (order["status"], order["completed_delivery_count"]) == ("delivered", 1)
    car = wang.move("vehicle", vehicle, "deliver",
                    {"owner_account": account["id"], "delivery_date": clock.today()})  # fmt: skip
    assert (car["status"], car["owner_account"], car["warranty_end"]) == (
        "delivered", account["id"], "2029-03-03")  # fmt: skip
    lead = wang.move("lead", lead["id"], "deliver")
    assert (lead["lead_stage"], lead["status"], lead["delivered_order_count"]) == (
        "delivered", "converted", 1)  # fmt: skip
    assert lead["next_follow_up_date"] is None
    # Delivered business is frozen for the consultant.
    assert wang.patch("vehicle_order", order["id"], {"notes": "改一下"}).status_code == 403
    assert wang.patch("delivery", delivery["id"], {"notes": "改一下"}).status_code == 403

    # 4. 交车 3 天后满意度回访: due 72 hours after the handover day began in Shanghai
    # (3 March 00:00 +08:00 = 2 March 16:00 UTC), i.e. 5 March 16:00 UTC.
    due = dt.datetime(2026, 3, 5, 16, 0, tzinfo=dt.UTC)
    clock.now = due - dt.timedelta(minutes=1)
    world.run_worker()
    assert wang.list("activity", delivery=delivery["id"]) == []
    clock.now = due + dt.timedelta(minutes=1)
    world.run_worker()
    [survey] = wang.list("activity", delivery=delivery["id"])
    assert survey["subject"] == f"交车满意度回访 / Delivery satisfaction survey: {delivery['delivery_number']}"  # noqa: E501
    assert (survey["activity_type"], survey["status"], survey["owner"]) == (
        "call", "not_started", wang.id)  # fmt: skip
    assert (survey["vehicle_order"], survey["vehicle"], survey["account"]) == (
        order["id"], vehicle, account["id"])  # fmt: skip
    assert moment(survey["due_at"]) == clock.now + dt.timedelta(days=1)
    world.run_worker()  # runs once, not again
    assert len(wang.list("activity", delivery=delivery["id"])) == 1
    assert wang.read("lead", lead["id"])["owner"] == wang.id  # contacted in time: never reclaimed

    # 谁能看到: dealer A's records stay in dealer A and its region.
    records = [("lead", lead["id"]), ("test_drive", drive["id"]), ("vehicle_order", order["id"]),
               ("vehicle", vehicle), ("delivery", delivery["id"])]  # fmt: skip
    for outsider in ("b.sales", "b.gm", "c.sales", "south.rm", "a.sales.li"):
        person = world[outsider]
        for obj, record_id in records:
            if (outsider, obj) == ("a.sales.li", "vehicle"):
                continue  # a colleague at dealer A sees the dealer's vehicles (below)
            assert person.get(obj, record_id).status_code == 404, (outsider, obj)
            assert person.list(obj, id=record_id) == [], (outsider, obj)
        assert person.list("lead") == [] and person.list("vehicle_order") == [], outsider
        assert person.list("delivery") == [], outsider
    assert world["b.sales"].list("vehicle") == []
    assert li.read("vehicle", vehicle)["vin"] == vin
    for insider in ("east.rm", "hq", "a.showroom", "a.gm"):
        person = world[insider]
        for obj, record_id in records:
            assert person.get(obj, record_id).status_code == 200, (insider, obj)
        assert [r["id"] for r in person.list("lead")] == [lead["id"]], insider
        assert [r["id"] for r in person.list("delivery")] == [delivery["id"]], insider


# -- 6: 老带新 --------------------------------------------------------------------------------


def test_a_referred_friend_takes_delivery_and_the_referrer_is_rewarded(world: World):
    li, showroom = world["a.sales.li"], world["a.showroom"]

    # 张伟 bought his X7 at dealer A last autumn (setup: his customer record and his car).
    referrer = li.create("account", {"name": "张伟", "account_type": "person",
                         "phone": "13812345678", "customer_status": "customer"})  # fmt: skip
    world.owners_car(OWNED[0], referrer["id"], "2025-10-08")

    # 老带新: he brings his friend 李芳; consultant 李娜 records the lead naming him.
    lead = li.create("lead", {"name": "李芳", "phone": "139 0000 1111", "source": "referral",
                     "referrer": referrer["id"], "intention_level": "B",
                     "intended_model": world.model})  # fmt: skip
    [referral] = li.list("owner_referral", referred_lead=lead["id"])
    assert (referral["referrer"], referral["reward_status"], referral["owner"]) == (
        referrer["id"], "pending", li.id)  # fmt: skip
    # No reward before the friend's car is delivered.
    refused = li.attempt("owner_referral", referral["id"], "mark_eligible")
    assert refusal(refused) == [("reward_status", "reward_only_after_delivery", "validation")]

    # The sale: contacted, negotiating, an order within dealer A's 5 % confirmed directly.
    li.move("lead", lead["id"], "log_contact")
    li.move("lead", lead["id"], "start_negotiation")
    buyer = li.create("account", {"name": "李芳", "account_type": "person",
                      "phone": "13900001111"})  # fmt: skip
    order = li.create("vehicle_order", {
        "lead": lead["id"], "account": buyer["id"], "configuration": world.trim,
        "colour": "white", "discount": 6000,
    })  # fmt: skip
    assert money(order["discount_rate"]) == 3
    order = li.move("vehicle_order", order["id"], "confirm")
    assert order["status"] == "confirmed" and order["approved_discount"] is None
    assert world["a.gm"].inbox() == [] and world["east.rm"].inbox() == []
    hand_over_car(world, li, lead, order, STOCK[1])

    # 转介绍奖励: the consultant gets a task to reward the referring owner.
    [task] = li.list("activity", lead=lead["id"])
    assert task["subject"].startswith("转介绍奖励发放 / Reward the referring owner: ")
    assert task["subject"].endswith(lead["lead_number"])
    assert (task["activity_type"], task["priority"], task["owner"], task["account"]) == (
        "task", "high", li.id, referrer["id"])  # fmt: skip
    # The reward is now due; the showroom manager issues it, the consultant may not.
    assert li.move("owner_referral", referral["id"], "mark_eligible")["reward_status"] == "eligible"
    refused = li.attempt("owner_referral", referral["id"], "issue",
                         {"reward_type": "maintenance_package"})  # fmt: skip
    assert ("reward_status", "issue", "transition_role") in refusal(refused)
    reward = {"reward_type": "maintenance_package", "reward_amount": 1500}
    issued = showroom.move("owner_referral", referral["id"], "issue", reward)
    assert issued["reward_status"] == "issued"
    assert moment(issued["issued_at"]) == world.clock.now


# -- 5: 售后 ----------------------------------------------------------------------------------


def test_a_service_visit_becomes_a_repair_order_whose_lines_roll_up(world: World):
    clock, advisor = world.clock, world["a.service"]

    # An owner of dealer A (setup: the customer the advisor keeps, and the car).
    owner = advisor.create("account", {"name": "黄先生", "account_type": "person",
                           "phone": "13700002222", "customer_status": "customer"})  # fmt: skip
    vehicle = world.owners_car(OWNED[1], owner["id"], "2025-09-01")

    # 预约保养: the advisor books the first service for the day after tomorrow; a reminder
    # comes the day before.
    booking = advisor.create("service_appointment", {"vehicle": vehicle, "account": owner["id"],
                             "service_type": "maintenance", "appointment_at": clock.later(days=2),
                             "mileage": 4980, "service_advisor": advisor.id,
                             "customer_concern": "首保，顺便检查空调"})  # fmt: skip
    assert booking["status"] == "booked"
    clock.advance(days=1, minutes=1)
    world.run_worker()
    [reminder] = advisor.notifications()
    assert reminder["subject"] == f"明日维保预约：{booking['appointment_number']}"

    # 到店接车 → 开工单.
    clock.advance(days=1)
    assert advisor.move("service_appointment", booking["id"], "check_in")["status"] == "arrived"
    refused = advisor.attempt("service_appointment", booking["id"], "open_repair_order")
    assert refusal(refused) == [("status", "open_repair_order", "guard_failed")]
    ro = advisor.create("repair_order", {"appointment": booking["id"], "vehicle": vehicle,
                        "account": owner["id"], "service_type": "maintenance", "mileage": 5012,
                        "customer_concern": "首保，空调异味"})  # fmt: skip
    assert (ro["status"], moment(ro["opened_at"])) == ("open", clock.now)
    converted = advisor.move("service_appointment", booking["id"], "open_repair_order")
    assert (converted["status"], converted["repair_order_count"]) == ("converted", 1)
    assert advisor.move("repair_order", ro["id"], "start_work")["status"] == "in_progress"

    # 配件与工时: 1 × 68.00 + 4.5 L × 98.00 at 10 % off = 464.90; 1.5 h × 300.00 = 450.00.
    lines = [
        ("repair_order_part", {"part_number": "X7-15400", "part_name": "机油滤清器",
                               "quantity": 1, "unit_price": 68}),
        ("repair_order_part", {"part_number": "OIL-0W20", "part_name": "全合成机油 0W-20 (升)",
                               "quantity": 4.5, "unit_price": 98, "discount": 10}),
        ("repair_order_labour", {"operation_code": "M-001", "description": "更换机油机滤",
                                 "hours": 1.5, "hourly_rate": 300}),
    ]  # fmt: skip
    amounts = [advisor.create(obj, {"repair_order": ro["id"], **values})["amount"]
               for obj, values in lines]  # fmt: skip
    assert [money(a) for a in amounts] == [Decimal("68.00"), Decimal("396.90"), Decimal("450.00")]
    # The order's totals follow its lines at once, without saving the repair order again
    # (total_amount is a formula over the two rollups).
    ro = advisor.read("repair_order", ro["id"])
    assert (ro["part_line_count"], ro["labour_line_count"]) == (2, 1)
    assert [money(ro[f]) for f in ("parts_amount", "labour_amount", "total_amount")] == [
        Decimal("464.90"), Decimal("450.00"), Decimal("914.90")]  # fmt: skip

    # 完工结算: closing records the work done; a satisfaction callback follows.
    refused = advisor.attempt("repair_order", ro["id"], "close")
    assert refusal(refused) == [("work_summary", "close", "required_for_stage")]
    ro = advisor.move("repair_order", ro["id"], "close",
                      {"work_summary": "更换机油机滤，空调滤芯检查正常"})  # fmt: skip
    assert (ro["status"], moment(ro["closed_at"])) == ("closed", clock.now)
    assert money(ro["total_amount"]) == Decimal("914.90")
    [callback] = advisor.list("activity", repair_order=ro["id"])
    assert callback["subject"] == f"维修满意度回访 / Service satisfaction callback: {ro['ro_number']}"  # noqa: E501
    assert (callback["owner"], callback["vehicle"], callback["account"]) == (
        advisor.id, vehicle, owner["id"])  # fmt: skip
    car = advisor.read("vehicle", vehicle)
    assert (car["service_count"], money(car["last_service_mileage"])) == (1, 5012)
    assert world["east.rm"].read("repair_order", ro["id"])["ro_number"] == ro["ro_number"]
    assert world["south.rm"].get("repair_order", ro["id"]).status_code == 404
    assert world["b.gm"].get("repair_order", ro["id"]).status_code == 404

    # A settled repair order is frozen for the advisor: the order itself and its lines
    # (record rules closed_repair_orders_are_frozen, parts_of_open_repair_orders_only and
    # labour_of_open_repair_orders_only: create, update and delete).
    [oil_filter, oil] = advisor.list("repair_order_part", repair_order=ro["id"], sort="amount")
    assert advisor.patch("repair_order", ro["id"], {"diagnosis": "补记"}).status_code == 403
    assert advisor.patch("repair_order_part", oil_filter["id"], {"quantity": 2}).status_code == 403
    removed = advisor.call("DELETE", f"/objects/repair_order_part/records/{oil['id']}")
    assert removed.status_code == 403
    cabin_filter = {"repair_order": ro["id"], "part_number": "AC-1", "part_name": "空调滤芯",
                    "quantity": 1, "unit_price": 120}  # fmt: skip
    late = advisor.call("POST", "/objects/repair_order_part/records", json=cabin_filter)
    settled = advisor.read("repair_order", ro["id"])
    assert (late.status_code, money(settled["total_amount"])) == (403, Decimal("914.90")), (
        "a parts line was added to a closed repair order and changed its settled total: "
        f"{late.status_code} {late.text}"
    )


# -- 24 小时未联系自动回收 ------------------------------------------------------------------


def test_a_lead_not_contacted_within_24_hours_goes_round_the_dealers_consultants(world: World):
    clock = world.clock
    wang, li, showroom = world["a.sales.wang"], world["a.sales.li"], world["a.showroom"]
    forgotten = wang.create("lead", {"name": "钱先生", "phone": "13900003333",
                            "source": "store_walk_in"})  # fmt: skip
    called = wang.create("lead", {"name": "周女士", "phone": "13900005555",
                         "source": "store_walk_in"})  # fmt: skip
    assert moment(forgotten["owner_assigned_at"]) == clock.now
    wang.move("lead", called["id"], "log_contact")
    start = clock.now

    # 23 hours on: still 王磊's, nobody told.
    clock.now = start + dt.timedelta(hours=23, minutes=59)
    world.run_worker()
    assert wang.read("lead", forgotten["id"])["owner"] == wang.id
    assert showroom.notifications() == []

    # Past 24 hours: handed to another of the dealer's consultants, and the showroom
    # manager and the lead's new consultant are told.
    clock.now = start + dt.timedelta(hours=24, minutes=1)
    world.run_worker()
    first = showroom.read("lead", forgotten["id"])
    assert first["owner"] == li.id and first["assignment_round"] == 1
    assert moment(first["owner_assigned_at"]) == clock.now
    subject = f"线索 {forgotten['lead_number']} 超过 24 小时未联系，已自动回收重新分配"
    assert [n["subject"] for n in showroom.notifications()] == [subject]
    assert subject in [n["subject"] for n in li.notifications()]
    # The lead that was called stays where it was; dealer B's people hear nothing.
    assert showroom.read("lead", called["id"])["owner"] == wang.id
    assert world["b.sales"].notifications() == [] and world["b.gm"].notifications() == []

    # Still nobody calls: 24 hours later the next turn gives it to the other consultant.
    clock.now = start + dt.timedelta(hours=48, minutes=2)
    world.run_worker()
    second = showroom.read("lead", forgotten["id"])
    assert second["assignment_round"] == 2 and second["owner"] == wang.id
    assert len(showroom.notifications()) == 2
    # Whoever has lost it cannot see it any more; the new consultant can and calls.
    previous, current = li, wang
    assert previous.get("lead", forgotten["id"]).status_code == 404
    assert current.move("lead", forgotten["id"], "log_contact")["lead_stage"] == "contacted"
    clock.advance(days=2)
    world.run_worker()
    assert showroom.read("lead", forgotten["id"])["owner"] == current.id
    assert len(showroom.notifications()) == 2


def test_a_logged_call_moves_its_lead_on_and_the_reclaim_leaves_it_alone(world: World):
    clock = world.clock
    wang, showroom = world["a.sales.wang"], world["a.showroom"]
    lead = wang.create("lead", {"name": "吴先生", "phone": "13900007777",
                                "source": "store_walk_in"})  # fmt: skip
    start = clock.now
    clock.now = start + dt.timedelta(hours=3)
    # 王磊 rings and gets no answer: logged, but that is no contact.
    call = {"subject": "首次电话", "activity_type": "call", "lead": lead["id"],
            "status": "completed", "call_result": "no_answer", "outcome": "无人接听"}  # fmt: skip
    missed = wang.create("activity", call)
    assert wang.read("lead", lead["id"])["lead_stage"] == "new"
    # He rings again an hour later and reaches the customer: the lead moves on by itself.
    clock.now = start + dt.timedelta(hours=4)
    wang.update("activity", missed["id"], {"call_result": "connected",
                                          "outcome": "约周六到店试驾"})  # fmt: skip
    called = wang.read("lead", lead["id"])
    assert called["lead_stage"] == "contacted"
    assert moment(called["last_contacted_at"]) == clock.now
    assert moment(called["first_contacted_at"]) == clock.now
    moves = wang.call("GET", f"/objects/lead/records/{lead['id']}/transitions").json()
    [move] = moves["history"]
    assert (move["transition"], move["comment"]) == (
        "log_contact", "automation lead_first_contact_by_activity")

    # A day and more on, the reclaim finds nothing to take.
    clock.now = start + dt.timedelta(hours=25)
    world.run_worker()
    assert showroom.read("lead", lead["id"])["owner"] == wang.id
    assert showroom.notifications() == []

    # A later visit stamps the last contact again; the stage stays where it is.
    clock.now = start + dt.timedelta(days=3)
    wang.create("activity", {"subject": "到店", "activity_type": "store_visit",
                             "lead": lead["id"], "status": "completed",
                             "due_at": clock.now.isoformat(), "outcome": "看车"})  # fmt: skip
    later = wang.read("lead", lead["id"])
    assert later["lead_stage"] == "contacted"
    assert moment(later["last_contacted_at"]) == clock.now


# -- 战败审批 ------------------------------------------------------------------------------


def test_marking_a_lead_lost_needs_the_showroom_managers_approval(world: World):
    clock = world.clock
    wang, showroom, gm = world["a.sales.wang"], world["a.showroom"], world["a.gm"]
    lead = wang.create("lead", {"name": "赵先生", "phone": "13900002222",
                       "source": "store_walk_in", "intended_model": world.model})  # fmt: skip
    wang.move("lead", lead["id"], "log_contact")
    wang.move("lead", lead["id"], "start_negotiation", {"intention_level": "C"})

    # 申请战败: needs a reason; the lead waits for the showroom manager, locked.
    refused = wang.attempt("lead", lead["id"], "request_loss")
    assert ("lost_reason", "request_loss", "required_for_stage") in refusal(refused)
    pending = wang.move("lead", lead["id"], "request_loss",
                        {"lost_reason": "bought_competitor", "lost_to_competitor": "某品牌 Y7"})
    assert (pending["lead_stage"], pending["status"], pending["stage_before_loss"]) == (
        "loss_pending", "lost", "negotiating")  # fmt: skip
    assert wang.patch("lead", lead["id"], {"intention_level": "B"}).status_code == 403
    assert wang.attempt("lead", lead["id"], "confirm_loss").status_code == 403
    assert gm.inbox() == [] and world["b.gm"].inbox() == []

    # 驳回: back to negotiating, still 王磊's, the lost reason cleared.
    [task] = showroom.inbox()
    assert (task["process"], task["record_id"]) == ("lead_loss_approval", lead["id"])
    showroom.decide(task["id"], "reject", "客户还在比价，再跟进一周")
    back = wang.read("lead", lead["id"])
    assert (back["lead_stage"], back["status"], back["owner"]) == (
        "negotiating", "qualified", wang.id)  # fmt: skip
    assert back["lost_reason"] is None and back["lost_at"] is None
    assert wang.update("lead", lead["id"], {"intention_level": "B"})["intention_level"] == "B"

    # 再次申请: the manager does not answer for a day, so it goes up to the GM, who approves.
    wang.move("lead", lead["id"], "request_loss", {"lost_reason": "no_budget"})
    clock.advance(hours=25)
    world.run_worker()
    [escalated] = gm.inbox()
    assert escalated["record_id"] == lead["id"]
    gm.decide(escalated["id"], "approve", "确认战败")
    lost = wang.read("lead", lead["id"])
    assert (lost["lead_stage"], lost["status"], lost["lost_reason"]) == (
        "lost", "lost", "no_budget")  # fmt: skip
    assert moment(lost["lost_at"]) == clock.now
    assert showroom.inbox() == []
    # 战败激活 is the showroom manager's call, not the consultant's.
    refused = wang.attempt("lead", lead["id"], "reactivate")
    assert ("lead_stage", "reactivate", "transition_role") in refusal(refused)
    assert showroom.move("lead", lead["id"], "reactivate")["lead_stage"] == "new"
